"""Permission writes on a driveItem: PATCH ``roles`` (200 + the permission), DELETE (204), ``invite`` (200 +
``{"value": [...]}``), the ``If-Match`` precondition (412), and the interfering writer of the
``drive_concurrent_writer`` knob (docs/dev/emulator.md, "Drives and sharing permissions").

Every write runs: item found -> (another writer changes the item) -> If-Match -> body -> the permission's rules ->
applied, tags bumped (``permission_change_bump_etag``). Nothing is written on any error.
"""

import json
from typing import Callable, Optional

from .drivestate import guest_permission_id, group_permission_id, user_permission_id
from .messages import ODATA_JSON_CONTENT_TYPE, GraphApiError, Response

# The user the interfering writer grants `read` under drive_concurrent_change: add_permission (default seed:
# "Backup service account").
OTHER_WRITER_GRANTEE = "3b4d5e6f-7081-4293-9dae-2f3a4b5c6d7e"
INVITE_PROPERTIES = ("recipients", "message", "requireSignIn", "sendInvitation", "roles", "expirationDateTime", "password",
                     "retainInheritedPermissions")
INVITE_ROLES = ("read", "write")
PATCH_ROLES = ("read", "write")
PRECONDITION_MESSAGE = "ETag does not match current item's value"
# The error a 207 entry carries under notify_fail (the documented example's shape).
NOTIFY_ERROR = {"code": "notAllowed", "message": "The sharing invitation could not be sent to this recipient.",
                "localizedMessage": "The sharing invitation could not be sent to this recipient.",
                "fixItUrl": "https://account.live.com/reputationcheck", "innererror": {"code": "accountVerificationRequired"}}


def _bad_argument() -> GraphApiError:
    return GraphApiError(400, "badArgument", "One of the provided arguments is not acceptable.")


def _invalid(message: str = "The request is malformed or incorrect.", inner: Optional[str] = None) -> GraphApiError:
    return GraphApiError(400, "invalidRequest", message, inner={"code": inner} if inner else None)


def _not_found() -> GraphApiError:
    return GraphApiError(404, "itemNotFound", "Item not found")


class DriveWrites:
    def __init__(self, drives):
        self.drives = drives  # drives.DriveApi

    @property
    def store(self):
        return self.drives.store

    @property
    def faults(self):
        return self.drives.faults

    # ============================================================ preconditions
    def before_write(self, ctx, call, item: dict, change: Callable):
        """The interfering writer (if the knob says so), then If-Match against the item's tags as they are now."""
        if self.faults.take_counted("drive_concurrent_writer"):
            mode = self.faults.get("drive_concurrent_change")
            call.fault = f"drive_concurrent_writer:{mode}"
            self.other_writer(item, mode, change)
        self.check_if_match(ctx, item)

    def other_writer(self, item: dict, mode: str, change: Callable):
        """Not a request of the client: nothing goes into the request log for it."""
        if mode == "same_change":
            try:
                change()
                return
            except GraphApiError:  # the request's change cannot be applied (e.g. an unknown permission): edit instead
                mode = "content"
        if mode == "add_permission":
            user = self.store.directory.user(OTHER_WRITER_GRANTEE)
            if user is not None:
                perm_id = user_permission_id(user["userPrincipalName"])
                item["perms"].setdefault(perm_id, {"kind": "user", "user": user["id"], "id": perm_id, "roles": ["read"]})
                self.permission_changed(item)
                return
        self.store.bump(item)  # content: the file (or folder) itself was edited

    def permission_changed(self, item: dict):
        if self.faults.get("permission_change_bump_etag"):
            self.store.bump(item)

    def check_if_match(self, ctx, item: dict):
        value = ctx.request.header("if-match")
        if value is None:
            return
        value = value.strip()
        if value == "*":
            return
        if len(value) < 2 or not (value.startswith('"') and value.endswith('"')):
            raise _invalid("ETag header is malformed. ETags must be quoted strings.", "malformedEntityTag")
        if value not in (self.store.etag(item), self.store.ctag(item)):
            raise GraphApiError(412, self.faults.get("drive_precondition_code"), PRECONDITION_MESSAGE,
                                inner={"code": "entityTagDoesNotMatch"})

    # ====================================================================== PATCH
    def update(self, ctx, call, item: dict, perm_id: str) -> Response:
        body_text = ctx.request.body

        def change():
            return self.apply_update(item, perm_id, self.parse_object(body_text))

        self.before_write(ctx, call, item, change)
        perm, source = change()
        entry = self.drives.render().permission(perm, source, self.faults.get("drive_inherited_from"))
        return self.drives.json(ctx, 200, entry, f"drives('{item['driveId']}')/items('{item['id']}')/permissions/$entity")

    @staticmethod
    def parse_object(raw: bytes) -> dict:
        if not raw.strip():
            raise _invalid("Empty Payload. JSON content expected.")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _invalid("Unable to read JSON request payload.") from exc
        if not isinstance(body, dict):
            raise _invalid("Unable to read JSON request payload.")
        return body

    def apply_update(self, item: dict, perm_id: str, body: dict):  # pylint: disable=too-many-branches
        for name in body:
            if not name.startswith("@") and name not in ("roles", "expirationDateTime"):
                raise _invalid(f"Property '{name}' cannot be updated.")
        roles = body.get("roles")
        if "roles" in body and not (isinstance(roles, list) and roles and all(isinstance(r, str) for r in roles)):
            raise _invalid("Invalid value for role")
        perm, source = self.store.find_effective(item, perm_id)
        if perm is None:
            raise _not_found()
        if source is not None:
            raise _invalid("Cannot update inherited permission.")
        if "owner" in perm["roles"]:
            raise _invalid("Cannot update the owner permission.")
        kind = perm["kind"]
        if kind == "link":
            # Organization and people links cannot be modified; an anonymous link only its expiration.
            if perm["link"]["scope"] != "anonymous" or "roles" in body:
                raise _bad_argument()
        elif "expirationDateTime" in body:
            raise _bad_argument()
        if roles is not None and any(r not in PATCH_ROLES for r in roles):
            raise _invalid("Invalid value for role")
        if roles is not None:
            perm["roles"] = sorted(set(roles), key=roles.index)
        if "expirationDateTime" in body:
            if body["expirationDateTime"] is None:
                perm.pop("expirationDateTime", None)
            elif isinstance(body["expirationDateTime"], str):
                perm["expirationDateTime"] = body["expirationDateTime"]
            else:
                raise _invalid()
        self.permission_changed(item)
        return perm, None

    # ===================================================================== DELETE
    def delete(self, ctx, call, item: dict, perm_id: str) -> Response:
        self.before_write(ctx, call, item, lambda: self.apply_delete(item, perm_id))
        self.apply_delete(item, perm_id)
        return Response(204)

    def apply_delete(self, item: dict, perm_id: str):
        perm, source = self.store.find_effective(item, perm_id)
        if perm is None:
            raise _not_found()
        if source is not None:
            raise _invalid("Inherited permissions cannot be deleted.")
        if "owner" in perm["roles"]:
            if self.faults.get("drive_owner_delete") == "refused":
                raise GraphApiError(403, "notAllowed", "Operation not allowed")
            return  # "succeeds but does nothing" (reported for the owners' entry)
        del item["perms"][perm_id]
        self.permission_changed(item)

    # ===================================================================== invite
    def invite(self, ctx, call, item: dict) -> Response:
        body_text = ctx.request.body

        def change():
            return self.apply_invite(item, self.parse_object(body_text))

        self.before_write(ctx, call, item, change)
        granted = change()
        render, reading = self.drives.render(), self.faults.get("drive_inherited_from")
        # notify_fail: the mail could not be sent, the permission is granted all the same (207, `error` per entry)
        failed = self.faults.get("notify_fail") and self.parse_object(body_text).get("sendInvitation") is True
        value = []
        for perm, invitation in granted:
            entry = render.permission(perm, None, reading)
            entry["invitation"] = invitation
            if failed:
                entry["error"] = dict(NOTIFY_ERROR)
            value.append(entry)
        payload = {"@odata.context": self.drives.api.context_url(ctx, "Collection(microsoft.graph.permission)"), "value": value}
        return Response(207 if failed else 200, payload, content_type=ODATA_JSON_CONTENT_TYPE)

    def apply_invite(self, item: dict, body: dict) -> list:  # pylint: disable=too-many-branches
        for name in body:
            if not name.startswith("@") and name not in INVITE_PROPERTIES:
                raise _invalid(f"Property '{name}' does not exist on the invite action.")
        recipients, roles = body.get("recipients"), body.get("roles")
        if not isinstance(recipients, list) or not recipients:
            raise _invalid("recipients is required.")
        if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
            raise _invalid("roles is required.")
        if any(r not in INVITE_ROLES for r in roles):
            raise _invalid("Invalid value for role")
        for flag in ("requireSignIn", "sendInvitation", "retainInheritedPermissions"):
            if body.get(flag) is not None and not isinstance(body[flag], bool):
                raise _invalid(f"{flag} must be true or false.")
        if body.get("message") is not None and (not isinstance(body["message"], str) or len(body["message"]) > 2000):
            raise _invalid("message must be text of at most 2000 characters.")
        targets = [self.resolve_recipient(r) for r in recipients]  # every recipient checked before anything is written
        sign_in = bool(body.get("requireSignIn", False))
        if body.get("retainInheritedPermissions") is False and item["inherits"]:
            item["inherits"] = False  # first share without inheritance: the inherited entries go
        granted = []
        for kind, principal, email in targets:
            if kind == "user":
                perm = {"kind": "user", "user": principal["id"], "id": user_permission_id(principal["userPrincipalName"])}
            elif kind == "group":
                perm = {"kind": "group", "group": principal["id"], "id": group_permission_id(principal["id"])}
            else:
                perm = {"kind": "invitation", "email": email, "signInRequired": sign_in, "id": guest_permission_id(email)}
            existing = next((p for p in item["perms"].values() if p["kind"] == perm["kind"] and
                             all(p.get(k) == perm.get(k) for k in ("user", "group")) and
                             (p.get("email") or "").lower() == (perm.get("email") or "").lower()), None)
            merged = list(roles)
            if existing is not None:  # the same grantee again: same id, roles replaced or merged (invite_merge)
                perm = existing
                if self.faults.get("invite_merge") == "union":
                    merged = list(existing["roles"]) + [r for r in roles if r not in existing["roles"]]
            perm["roles"] = sorted(set(merged), key=merged.index)
            item["perms"][perm["id"]] = perm
            granted.append((perm, {"email": email, "signInRequired": sign_in}))
        self.permission_changed(item)
        return granted

    def resolve_recipient(self, recipient) -> tuple:
        """(kind, principal, email): a known user or group, or an invitation for an unknown e-mail address."""
        if not isinstance(recipient, dict):
            raise _invalid()
        given = [k for k in ("email", "alias", "objectId") if recipient.get(k) is not None]
        if len(given) != 1 or not isinstance(recipient[given[0]], str) or any(
                k not in ("email", "alias", "objectId") and not k.startswith("@") for k in recipient):
            raise _invalid()  # exactly one of email, alias, objectId ("multiple values are not accepted")
        value = recipient[given[0]].strip()
        store = self.store
        if given[0] != "alias":
            user = store.find_user(value)
            if user is not None:
                return "user", user, user.get("mail") or user["userPrincipalName"]
        group = store.find_group(value)
        if group is not None:
            return "group", group, group.get("mail")
        if given[0] == "email" and "@" in value:
            if self.faults.get("app_only_new_guest") == "refused":  # "new guests cannot be invited app-only"
                raise GraphApiError(403, "accessDenied", "Access denied")
            return "invitation", None, value
        raise _invalid()
