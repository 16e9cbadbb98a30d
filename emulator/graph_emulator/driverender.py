"""JSON shapes of drives, driveItems and permissions as Graph returns them (docs/dev/emulator.md, "Drives and sharing
permissions"; the shapes follow the permission and driveItem resource pages cited in docs/dev/graph-behaviour.md)."""

import hashlib
from typing import Optional
from urllib.parse import quote

from .drivestate import DriveStore, iso

DEPRECATED_GRANTED_TO = "GrantedTo has been deprecated. Refer to GrantedToV2"
DEPRECATED_GRANTED_TO_IDENTITIES = "GrantedToIdentities has been deprecated. Refer to GrantedToIdentitiesV2"
MIME_TYPES = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
              "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
              "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
              "pdf": "application/pdf", "txt": "text/plain", "csv": "text/csv"}


def site_user_id(login_name: str) -> str:
    """SharePoint's per-site user number (a string): stable per login name."""
    return str(int(hashlib.sha1(login_name.encode("utf-8")).hexdigest()[:6], 16) % 900 + 10)


def user_identity(user: dict) -> dict:
    return {"id": user["id"], "displayName": user.get("displayName"), "email": user.get("mail") or user["userPrincipalName"]}


def user_identity_set(user: dict) -> dict:
    login = "i:0#.f|membership|" + user["userPrincipalName"].lower()
    ident = user_identity(user)
    site_user = {"id": site_user_id(login), "displayName": ident["displayName"], "email": ident["email"], "loginName": login}
    return {"user": ident, "siteUser": site_user}


class Renderer:
    def __init__(self, store: DriveStore):
        self.store = store

    def drive(self, drive: dict) -> dict:
        store = self.store
        if drive["user"]:
            owner = {"user": user_identity(store.directory.user(drive["user"]))}
        else:
            site = store.sites[drive["site"].lower()]
            group = store.groups.get(site["group"]) if site["group"] else None
            owner = {"group": {"id": group["id"], "displayName": group["displayName"], "email": group.get("mail")}} if group \
                else {"user": {"displayName": "System Account"}}
        root = store.items[drive["rootId"]]
        return {"id": drive["id"], "driveType": drive["driveType"], "name": drive["name"], "description": "",
                "createdDateTime": iso(root["created"]), "lastModifiedDateTime": iso(root["modified"]),
                "webUrl": drive["webUrl"], "owner": owner}

    def item_reference(self, item: dict, full: bool = True) -> dict:
        store = self.store
        drive = store.drives[item["driveId"]]
        ref = {"driveType": drive["driveType"], "driveId": drive["id"]}
        if full:
            path = store.path_of(item)
            ref.update(id=item["id"], name=item["name"], path=f"/drives/{drive['id']}/root:" + (f"/{path}" if path else ""))
            if drive["site"]:
                ref["siteId"] = drive["site"]
        return ref

    def item(self, item: dict) -> dict:
        store = self.store
        drive = store.drives[item["driveId"]]
        path = store.path_of(item)
        out = {"createdDateTime": iso(item["created"]), "eTag": store.etag(item), "id": item["id"],
               "lastModifiedDateTime": iso(item["modified"]), "name": item["name"],
               "webUrl": drive["webUrl"] + (f"/{quote(path)}" if path else "")}
        if not item["folder"]:
            out["cTag"] = store.ctag(item)
            out["size"] = 1024 * (len(item["name"]) % 7 + 1)
        if item["parentId"] is None:
            out["parentReference"] = self.item_reference(item, full=False)
            out["root"] = {}
        else:
            out["parentReference"] = self.item_reference(store.items[item["parentId"]])
        if item["folder"]:
            out["folder"] = {"childCount": len(item["children"])}
        else:
            extension = item["name"].rsplit(".", 1)[-1].lower() if "." in item["name"] else ""
            out["file"] = {"mimeType": MIME_TYPES.get(extension, "application/octet-stream")}
        return out

    def permission(self, perm: dict, source: Optional[dict], inherited_from: str) -> dict:
        """One permission. ``source`` is the item it is inherited from (None: direct); ``inherited_from`` is the
        ``drive_inherited_from`` reading: full itemReference, ``{}``, or omitted."""
        store = self.store
        out = {"id": perm["id"], "roles": list(perm["roles"])}
        kind = perm["kind"]
        if kind == "user":
            user = store.directory.user(perm["user"])
            out["grantedToV2"] = user_identity_set(user)
            out["@deprecated.GrantedTo"] = DEPRECATED_GRANTED_TO
            out["grantedTo"] = {"user": {k: v for k, v in user_identity(user).items() if k != "email"}}
        elif kind == "group":
            group = store.groups[perm["group"]]
            login = "c:0t.c|tenant|" + group["id"]
            out["grantedToV2"] = {"group": {"id": group["id"], "displayName": group["displayName"], "email": group.get("mail")},
                                  "siteUser": {"id": site_user_id(login), "displayName": group["displayName"], "loginName": login}}
        elif kind == "siteGroup":
            name = perm["siteGroup"]
            out["grantedToV2"] = {"siteGroup": {"id": site_user_id(name), "displayName": name, "loginName": name}}
        elif kind == "link":
            out.update(self.link(perm))
        else:
            out["invitation"] = {"email": perm["email"], "signInRequired": perm["signInRequired"]}
        if "expirationDateTime" in perm:
            out["expirationDateTime"] = perm["expirationDateTime"]
        if source is not None and inherited_from != "omitted":
            out["inheritedFrom"] = self.item_reference(source) if inherited_from == "full" else {}
        return out

    def link(self, perm: dict) -> dict:
        store = self.store
        identities = [user_identity_set(store.directory.user(uid)) for uid in perm["users"] if store.directory.user(uid)]
        letter = {"view": "v", "edit": "e"}[perm["link"]["type"]]
        token = perm["id"].replace("-", "")[:22]
        return {"link": {"scope": perm["link"]["scope"], "type": perm["link"]["type"], "preventsDownload": False,
                         "webUrl": f"https://{store.tenant_host()}.sharepoint.com/:{letter}:/s/{token}"},
                "shareId": "u!" + token, "hasPassword": False, "grantedToIdentitiesV2": identities,
                "@deprecated.GrantedToIdentities": DEPRECATED_GRANTED_TO_IDENTITIES,
                "grantedToIdentities": [{"user": {k: v for k, v in i["user"].items() if k != "email"}} for i in identities]}
