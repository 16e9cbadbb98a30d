"""OneDrive / SharePoint drives: groups, sites, drives, the item tree, sharing permissions and eTag/cTag
(docs/dev/emulator.md, "Drives and sharing permissions").

Kept apart from ``state.Directory`` (which owns one ``DriveStore``) so that module stays about grants. Users come from
the directory. Permissions are stored per item as *direct* entries; an item that inherits (``inherits``, the default
below the root) also shows its parent's effective entries, marked inherited. A direct entry hides an inherited one
with the same id (ids are the grantee's claim, so one grantee has one entry per item).
"""

import base64
import copy
import datetime
import hashlib
import time
import uuid
from typing import Optional

from .state import SeedError, canonical_guid, is_guid

ID_NAMESPACE = uuid.UUID("9d4c2a61-3b7e-4f15-8c0a-6e2d1f4b7a93")
LINK_ROLES = {"view": ["read"], "edit": ["write"]}
LINK_SCOPES = ("anonymous", "organization", "users")
ROLES = ("read", "write", "owner")
KINDS = ("user", "group", "siteGroup", "link", "invitation")


def _require(condition: bool, message: str):
    if not condition:
        raise SeedError(message)


def _b64(text: str) -> str:
    """Unpadded standard base64, the shape of SharePoint's claim-based permission ids."""
    return base64.b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def user_permission_id(upn: str) -> str:
    return _b64("i:0#.f|membership|" + upn.lower())


def group_permission_id(group_id: str) -> str:
    return _b64("c:0t.c|tenant|" + group_id.lower())


def guest_permission_id(email: str) -> str:
    return _b64("i:0#.f|membership|urn:spo:guest#" + email.lower())


def derived_guid(*parts: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, ":".join(p.lower() for p in parts)))


def drive_id_for(key: str) -> str:
    """``b!`` + base64url of three GUIDs (site, web, list), as ODB/SharePoint drive ids decode."""
    raw = b"".join(uuid.UUID(derived_guid(part, key)).bytes for part in ("site", "web", "list"))
    return "b!" + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def item_id_for(drive_id: str, path: str) -> str:
    """``01`` + 32 base32 characters, the shape of ODB/SharePoint item ids."""
    digest = hashlib.sha1(f"{drive_id}:{path.lower()}".encode("utf-8")).digest()
    return "01" + base64.b32encode(digest).decode("ascii")[:32]


def iso(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class DriveStore:  # pylint: disable=too-many-instance-attributes
    """Groups (id, displayName, mail), SharePoint sites, drives, items and their permissions."""

    def __init__(self):
        self.groups: dict = {}  # id -> group
        self.sites: dict = {}  # lower id -> site
        self.drives: dict = {}  # id -> drive
        self.items: dict = {}  # id -> item
        self.directory = None
        self.site_user_ids: dict = {}  # login name -> SharePoint site user id ("7", "8", ...)

    # ----------------------------------------------------------------- seed
    def load(self, seed: dict, directory, now: float):
        self.directory = directory
        for spec in seed.get("groups") or []:
            _require(isinstance(spec, dict) and is_guid(spec.get("id")) and isinstance(spec.get("displayName"), str),
                     "a group needs a GUID id and a displayName")
            group = {"id": canonical_guid(spec["id"]), "displayName": spec["displayName"], "mail": spec.get("mail")}
            _require(group["id"] not in self.groups, f"duplicate group {group['id']}")
            self.groups[group["id"]] = group
        for spec in seed.get("sites") or []:
            _require(isinstance(spec, dict) and isinstance(spec.get("id"), str) and spec["id"].count(",") == 2,
                     "a site needs an id 'hostname,siteCollectionGuid,webGuid'")
            group = spec.get("group")
            _require(group is None or (is_guid(str(group)) and canonical_guid(str(group)) in self.groups),
                     f"site {spec['id']}: group must be the id of a seeded group")
            site = {"id": spec["id"], "displayName": spec.get("displayName") or spec["id"].split(",")[0],
                    "webUrl": spec.get("webUrl") or f"https://{spec['id'].split(',')[0]}",
                    "group": canonical_guid(spec["group"]) if spec.get("group") else None}
            _require(site["id"].lower() not in self.sites, f"duplicate site {site['id']}")
            self.sites[site["id"].lower()] = site
        for spec in seed.get("drives") or []:
            self.add_drive(spec, now)

    def add_drive(self, spec: dict, now: float):
        _require(isinstance(spec, dict), "a drive must be an object")
        owners = [k for k in ("user", "site") if spec.get(k) is not None]
        _require(len(owners) == 1, "a drive needs exactly one of 'user' (a OneDrive) or 'site' (a document library)")
        drive = {"name": spec.get("name"), "user": None, "site": None}
        if owners[0] == "user":
            user = self.find_user(str(spec["user"]))
            _require(user is not None, f"drive: user {spec['user']!r} is not a seeded user")
            drive.update(user=user["id"], driveType="business", name=drive["name"] or "OneDrive",
                         webUrl=f"https://{self.tenant_host()}-my.sharepoint.com/personal/{user['userPrincipalName'].split('@')[0]}/Documents")
        else:
            site = self.sites.get(str(spec["site"]).lower())
            _require(site is not None, f"drive: site {spec['site']!r} is not a seeded site")
            _require(site.get("driveId") is None, f"site {site['id']} already has a drive")
            drive.update(site=site["id"], driveType="documentLibrary", name=drive["name"] or "Documents",
                         webUrl=f"{site['webUrl']}/Shared%20Documents")
        drive["id"] = spec.get("id") or drive_id_for(drive["user"] or drive["site"])
        _require(isinstance(drive["id"], str) and drive["id"] not in self.drives, f"duplicate or bad drive id {drive['id']!r}")
        if drive["site"]:
            self.sites[drive["site"].lower()]["driveId"] = drive["id"]
        self.drives[drive["id"]] = drive
        root = self.new_item(drive, None, "root", True, now, item_id=(spec.get("root") or {}).get("id"))
        drive["rootId"] = root["id"]
        for item_spec in spec.get("items") or []:
            self.add_seed_item(drive, item_spec, now)

    def add_seed_item(self, drive: dict, spec: dict, now: float):
        _require(isinstance(spec, dict) and isinstance(spec.get("path"), str), "a drive item needs a 'path' (relative to the root; '' is the root)")
        names = [n for n in spec["path"].split("/") if n]
        parent = self.items[drive["rootId"]]
        for depth, name in enumerate(names):
            child = self.child(parent, name)
            last = depth == len(names) - 1
            if child is None:
                folder = bool(spec.get("folder")) if last else True
                child = self.new_item(drive, parent, name, folder, now, item_id=spec.get("id") if last else None)
            parent = child
        item = parent
        if "inherits" in spec:
            item["inherits"] = bool(spec["inherits"])
        if isinstance(spec.get("_version"), list) and len(spec["_version"]) == 2:  # from GET /_emulator/state
            item["etagN"], item["ctagN"] = (int(v) for v in spec["_version"])
        for perm_spec in spec.get("permissions") or []:
            perm = self.seed_permission(drive, item, perm_spec)
            _require(perm["id"] not in item["perms"], f"item {spec['path']!r}: two permissions with id {perm['id']}")
            item["perms"][perm["id"]] = perm

    def new_item(self, drive: dict, parent: Optional[dict], name: str, folder: bool, now: float, item_id=None) -> dict:
        path = self.item_path(parent, name) if parent else ""
        item = {"id": item_id or item_id_for(drive["id"], path), "driveId": drive["id"], "parentId": parent["id"] if parent else None,
                "name": name, "folder": folder, "guid": derived_guid("etag", drive["id"], path).upper(), "etagN": 1, "ctagN": 1,
                "inherits": parent is not None, "perms": {}, "children": [], "created": now - 86400, "modified": now - 86400}
        _require(item["id"] not in self.items, f"duplicate drive item id {item['id']}")
        self.items[item["id"]] = item
        if parent:
            _require(parent["folder"], f"{parent['name']!r} is a file: it cannot hold {name!r}")
            parent["children"].append(item["id"])
        return item

    def seed_permission(self, drive, item, spec: dict) -> dict:  # pylint: disable=too-many-branches
        _require(isinstance(spec, dict), "a permission must be an object")
        kinds = [k for k in KINDS if k in spec]
        _require(len(kinds) == 1, f"a permission needs exactly one of {', '.join(KINDS)}")
        kind = kinds[0]
        perm = {"kind": kind}
        if kind == "user":
            user = self.find_user(str(spec["user"]))
            _require(user is not None, f"permission: user {spec['user']!r} is not a seeded user")
            perm.update(user=user["id"], id=user_permission_id(user["userPrincipalName"]))
        elif kind == "group":
            group = self.groups.get(str(spec["group"]).lower())
            _require(group is not None, f"permission: group {spec['group']!r} is not a seeded group")
            perm.update(group=group["id"], id=group_permission_id(group["id"]))
        elif kind == "siteGroup":
            _require(isinstance(spec["siteGroup"], str), "siteGroup must be the SharePoint group's name")
            perm.update(siteGroup=spec["siteGroup"], id=_b64("SharePointGroup|" + spec["siteGroup"]))
        elif kind == "link":
            link = spec["link"]
            _require(isinstance(link, dict) and link.get("scope") in LINK_SCOPES and link.get("type") in LINK_ROLES,
                     f"link needs scope ({', '.join(LINK_SCOPES)}) and type (view, edit), got {link!r}")
            users = []
            for key in spec.get("users") or []:
                user = self.find_user(str(key))
                _require(user is not None, f"link: user {key!r} is not a seeded user")
                users.append(user["id"])
            _require(link["scope"] == "users" or not users, "only a 'users' link names users")
            perm.update(link={"scope": link["scope"], "type": link["type"]}, users=users,
                        id=derived_guid("link", item["id"], link["scope"], link["type"]))
            spec = dict(spec, roles=spec.get("roles") or LINK_ROLES[link["type"]])
        else:
            invitation = spec["invitation"]
            _require(isinstance(invitation, dict) and isinstance(invitation.get("email"), str),
                     "invitation needs an email")
            perm.update(email=invitation["email"], signInRequired=bool(invitation.get("signInRequired", True)),
                        id=guest_permission_id(invitation["email"]))
        roles = spec.get("roles")
        _require(isinstance(roles, list) and roles and all(r in ROLES for r in roles), f"permission roles must be a list of {', '.join(ROLES)}")
        perm["roles"] = list(roles)
        if spec.get("expirationDateTime") is not None:
            perm["expirationDateTime"] = str(spec["expirationDateTime"])
        if spec.get("id") is not None:
            perm["id"] = str(spec["id"])
        return perm

    def dump(self) -> dict:
        drives = []
        for drive in self.drives.values():
            items = []
            for item in self.walk(self.items[drive["rootId"]]):
                entry = {"path": self.path_of(item), "id": item["id"], "folder": item["folder"], "inherits": item["inherits"],
                         "_version": [item["etagN"], item["ctagN"]], "permissions": [self.dump_permission(p) for p in item["perms"].values()]}
                items.append(entry)
            spec = {"id": drive["id"], "name": drive["name"], "items": items}
            spec["user" if drive["user"] else "site"] = drive["user"] or drive["site"]
            drives.append(spec)
        return {"groups": [dict(g) for g in self.groups.values()],
                "sites": [{k: v for k, v in s.items() if k != "driveId"} for s in self.sites.values()],
                "drives": drives}

    @staticmethod
    def dump_permission(perm: dict) -> dict:
        out = {"id": perm["id"], "roles": list(perm["roles"])}
        kind = perm["kind"]
        if kind == "link":
            out.update(link=dict(perm["link"]), users=list(perm["users"]))
        elif kind == "invitation":
            out["invitation"] = {"email": perm["email"], "signInRequired": perm["signInRequired"]}
        else:
            out[kind] = perm[kind]
        if "expirationDateTime" in perm:
            out["expirationDateTime"] = perm["expirationDateTime"]
        return out

    # ---------------------------------------------------------------- lookups
    def tenant_host(self) -> str:
        domain = (self.directory.tenant.get("domain") if self.directory else None) or "contoso.onmicrosoft.com"
        return domain.split(".")[0]

    def find_user(self, key: str) -> Optional[dict]:
        directory = self.directory
        if is_guid(key):
            return directory.user(key)
        user = directory.user_by_upn(key)
        if user is None:
            user = next((u for u in directory.users() if (u.get("mail") or "").lower() == key.lower()), None)
        return user

    def find_group(self, key: str) -> Optional[dict]:
        if is_guid(key):
            return self.groups.get(key.lower())
        key = key.lower()
        return next((g for g in self.groups.values()
                     if key in ((g.get("mail") or "").lower(), (g.get("mail") or "").split("@")[0].lower())), None)

    def drive_of_user(self, user_id: str) -> Optional[dict]:
        return next((d for d in self.drives.values() if d["user"] == user_id), None)

    def drive_of_site(self, site_id: str) -> Optional[dict]:
        site = self.sites.get(site_id.lower())
        return self.drives.get(site.get("driveId")) if site else None

    def drive_of_group(self, group_id: str) -> Optional[dict]:
        site = next((s for s in self.sites.values() if s["group"] == group_id.lower()), None)
        return self.drives.get(site.get("driveId")) if site else None

    def child(self, parent: dict, name: str) -> Optional[dict]:
        """Names compare case-insensitively (SharePoint semantics)."""
        folded = name.casefold()
        return next((self.items[c] for c in parent["children"] if self.items[c]["name"].casefold() == folded), None)

    def item_path(self, parent: dict, name: str) -> str:
        base = self.path_of(parent)
        return f"{base}/{name}" if base else name

    def path_of(self, item: dict) -> str:
        names = []
        while item["parentId"] is not None:
            names.append(item["name"])
            item = self.items[item["parentId"]]
        return "/".join(reversed(names))

    def walk(self, item: dict):
        yield item
        for child_id in item["children"]:
            yield from self.walk(self.items[child_id])

    # ------------------------------------------------------------ permissions
    def effective(self, item: dict) -> list:
        """(permission, inherited_from item or None) for every entry a list shows, direct first, each ordered by id."""
        out = [(item["perms"][key], None) for key in sorted(item["perms"])]
        if item["inherits"] and item["parentId"] is not None:
            parent = self.items[item["parentId"]]
            for perm, source in self.effective(parent):
                if perm["id"] not in item["perms"] and perm["kind"] != "invitation":
                    out.append((perm, source or parent))
        return out

    def find_effective(self, item: dict, perm_id: str):
        return next(((p, s) for p, s in self.effective(item) if p["id"] == perm_id), (None, None))

    # ------------------------------------------------------------------- tags
    @staticmethod
    def etag(item: dict) -> str:
        return f'"{{{item["guid"]}}},{item["etagN"]}"'

    @staticmethod
    def ctag(item: dict) -> Optional[str]:
        """Files only: ODB/SharePoint never return cTag on folders."""
        return None if item["folder"] else f'"c:{{{item["guid"]}}},{item["ctagN"]}"'

    @staticmethod
    def bump(item: dict):
        """A change of the item: both tags move on (the conservative reading), the modified time too."""
        item["etagN"] += 1
        item["ctagN"] += 1
        item["modified"] = time.time()

    @staticmethod
    def copy_permission(perm: dict) -> dict:
        return copy.deepcopy(perm)
