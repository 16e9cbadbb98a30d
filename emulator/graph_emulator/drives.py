"""Graph drive endpoints: ``/drives/{d}``, ``/users/{id|upn}/drive``, ``/groups/{id}/drive``, ``/sites/{id}/drive``,
items by id or by path (``root:/a/b:``), their permissions (list, get, PATCH, DELETE) and ``invite``
(docs/dev/emulator.md, "Drives and sharing permissions").

Paths are parsed from the raw URL: each segment is percent-decoded once, on its own, as Graph does; the ``:`` that
open and close a path are raw (a name cannot contain one).
"""

import base64
import json
import re
from typing import Optional
from urllib.parse import parse_qsl, quote, unquote

from .drivestate import DriveStore
from .driverender import Renderer
from .drivewrites import DriveWrites
from .graph import method_not_allowed
from .messages import ODATA_JSON_CONTENT_TYPE, GraphApiError, Response
from .state import is_guid

READ_ROLES = frozenset({"Files.Read.All", "Files.ReadWrite.All", "Sites.Read.All", "Sites.ReadWrite.All", "Sites.Manage.All",
                        "Sites.FullControl.All"})
WRITE_ROLES = frozenset({"Files.ReadWrite.All", "Sites.ReadWrite.All", "Sites.Manage.All", "Sites.FullControl.All"})
OWNER_SETS = ("users", "groups", "sites")
# Permission lists page at this size unless page_size or $top says otherwise: the paging contract is unknown, and a
# client that follows nextLinks copes with both readings (docs/dev/emulator.md).
PERMISSIONS_PAGE = 4
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ANCHOR = re.compile(r"^/(root|items/([^/:]+))(.*)$", re.IGNORECASE | re.DOTALL)


def item_not_found() -> GraphApiError:
    return GraphApiError(404, "itemNotFound", "Item not found")


def invalid_request(message: str = "The request is malformed or incorrect.", inner: Optional[str] = None) -> GraphApiError:
    return GraphApiError(400, "invalidRequest", message, inner={"code": inner} if inner else None)


def decode_segment(raw: str) -> str:
    """One path segment, percent-decoded once (UTF-8). A bare ``%`` is a bogus escape: 400."""
    if _BAD_ESCAPE.search(raw):
        raise invalid_request()
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError as exc:
        raise invalid_request() from exc


class _Call:
    """What one drive request found: the fault marker of an interfering writer, if any."""

    def __init__(self):
        self.fault = None


class DriveApi:
    def __init__(self, api):
        self.api = api  # graph.GraphApi: app, error_response, context_url, json_body
        self.writes = DriveWrites(self)

    @property
    def store(self) -> DriveStore:
        return self.api.app.directory.drivestore

    @property
    def faults(self):
        return self.api.app.faults

    def render(self) -> Renderer:
        return Renderer(self.store)

    # ================================================================ routing
    def route(self, ctx) -> Optional[Response]:
        """The answer to a drive request, or None when the path is not a drive path."""
        parts = ctx.request.path.split("/")[1:]
        if not parts:
            return None
        first = parts[0].lower()
        if first == "drives" and len(parts) >= 2 and parts[1]:
            consumed = 2
        elif first in OWNER_SETS and len(parts) >= 3 and parts[2].lower() == "drive":
            consumed = 3
        else:
            return None
        call = _Call()
        try:
            return self._route(ctx, call, first, decode_segment(parts[1]), "/" + "/".join(parts[consumed:]) if parts[consumed:] else "")
        except GraphApiError as err:
            if call.fault is None:
                raise
            response = self.api.error_response(ctx, err)
            response.fault = call.fault
            return response

    def _route(self, ctx, call, owner_set: str, key: str, rest: str) -> Response:
        if not set(ctx.claims.get("roles") or []) & (READ_ROLES if ctx.method == "GET" else WRITE_ROLES):
            raise GraphApiError(403, "accessDenied", "Access denied")
        drive = self.find_drive(owner_set, key)
        if rest in ("", "/"):
            if ctx.method != "GET":
                raise method_not_allowed()
            return self.json(ctx, 200, self.render().drive(drive), "drives/$entity")
        match = _ANCHOR.match(rest)
        if match is None:
            raise GraphApiError(400, "BadRequest", f"Resource not found for the segment '{decode_segment(rest.split('/')[1])}'.")
        if match.group(2) is not None and match.group(2).lower() != "root":
            item = self.store.items.get(decode_segment(match.group(2)))
            if item is None or item["driveId"] != drive["id"]:
                raise item_not_found()
        else:
            item = self.store.items[drive["rootId"]]
        tail = match.group(3)
        if tail.startswith(":"):
            path, closed, tail = tail[1:].partition(":")
            item = self.walk_path(item, path)
            if closed and tail and not tail.startswith("/"):
                raise invalid_request()
        elif tail and not tail.startswith("/"):
            raise GraphApiError(400, "BadRequest", f"Resource not found for the segment '{decode_segment(rest.split('/')[1])}'.")
        segments = [decode_segment(s) for s in tail.split("/") if s]
        return self.item_operation(ctx, call, item, segments)

    def find_drive(self, owner_set: str, key: str) -> dict:
        store = self.store
        if owner_set == "drives":
            drive = store.drives.get(key)
            if drive is None:
                raise item_not_found()
            return drive
        if owner_set == "users":
            user = store.find_user(key) if (is_guid(key) or "@" in key) else None
            if user is None:
                raise GraphApiError(404, "Request_ResourceNotFound",
                                    f"Resource '{key}' does not exist or one of its queried reference-property objects are not present.")
            drive = store.drive_of_user(user["id"])
            if drive is None:  # a user without a provisioned OneDrive
                raise GraphApiError(404, "ResourceNotFound", "User's mysite not found.")
            return drive
        if owner_set == "groups":
            group = store.groups.get(key.lower()) if is_guid(key) else None
            if group is None:
                raise GraphApiError(404, "Request_ResourceNotFound",
                                    f"Resource '{key}' does not exist or one of its queried reference-property objects are not present.")
            drive = store.drive_of_group(group["id"])
        else:
            drive = store.drive_of_site(key)
        if drive is None:
            raise GraphApiError(404, "itemNotFound", "The resource could not be found.")
        return drive

    def walk_path(self, item: dict, raw_path: str) -> dict:
        """``/a%20b/c`` relative to ``item``: every segment decoded on its own; names compare case-insensitively."""
        segments = raw_path.split("/")
        if segments and segments[0] == "":
            segments = segments[1:]
        if segments and segments[-1] == "":
            segments = segments[:-1]
        for raw in segments:
            name = decode_segment(raw)
            child = self.store.child(item, name) if raw and item["folder"] else None
            if child is None:
                raise item_not_found()
            item = child
        return item

    def item_operation(self, ctx, call, item: dict, segments: list) -> Response:  # pylint: disable=too-many-return-statements
        method = ctx.method
        if not segments:
            if method != "GET":
                raise method_not_allowed()
            return self.get_item(ctx, item)
        name = segments[0].lower()
        if name == "children" and len(segments) == 1:
            if method != "GET":
                raise method_not_allowed()
            return self.list_children(ctx, item)
        if name in ("invite", "microsoft.graph.invite") and len(segments) == 1:
            if method != "POST":
                raise method_not_allowed()
            return self.writes.invite(ctx, call, item)
        if name in ("createlink", "microsoft.graph.createlink") and len(segments) == 1:
            raise GraphApiError(501, "notSupported", "createLink is not emulated.")
        if name != "permissions" or len(segments) > 2:
            raise GraphApiError(400, "BadRequest", f"Resource not found for the segment '{segments[-1]}'.")
        if len(segments) == 1:
            if method != "GET":
                raise method_not_allowed()
            return self.list_permissions(ctx, item)
        perm_id = segments[1]
        if method == "GET":
            return self.get_permission(ctx, item, perm_id)
        if method == "PATCH":
            return self.writes.update(ctx, call, item, perm_id)
        if method == "DELETE":
            return self.writes.delete(ctx, call, item, perm_id)
        raise method_not_allowed()

    # ================================================================== reads
    def json(self, ctx, status: int, payload: dict, fragment: Optional[str]) -> Response:
        out = {"@odata.context": self.api.context_url(ctx, fragment)} if fragment else {}
        out.update(payload)
        return Response(status, out, content_type=ODATA_JSON_CONTENT_TYPE)

    def not_modified(self, ctx, item: dict) -> bool:
        tag = (ctx.request.header("if-none-match") or "").strip()
        return bool(tag) and tag in (self.store.etag(item), self.store.ctag(item))

    def query(self, ctx) -> dict:
        params = {}
        for name, value in parse_qsl(ctx.request.query, keep_blank_values=True):
            params[name.lower().lstrip("$")] = value
        if "expand" in params:  # permissions "cannot be expanded": read them through /permissions
            raise invalid_request("Expanding permissions is not supported; access the permissions property directly.")
        return params

    @staticmethod
    def select(entity: dict, params: dict) -> dict:
        if not params.get("select"):
            return entity
        wanted = {name.strip().lower() for name in params["select"].split(",")}
        return {k: v for k, v in entity.items() if k.lower() in wanted or k.startswith("@odata.")}

    def get_item(self, ctx, item: dict) -> Response:
        params = self.query(ctx)
        if self.not_modified(ctx, item):
            return Response(304)
        return self.json(ctx, 200, self.select(self.render().item(item), params), f"drives('{item['driveId']}')/items/$entity")

    def list_children(self, ctx, item: dict) -> Response:
        params = self.query(ctx)
        children = [self.store.items[c] for c in item["children"]]
        render = self.render()
        return self.page(ctx, params, [self.select(render.item(c), params) for c in children],
                         f"drives('{item['driveId']}')/items('{item['id']}')/children", 200)

    def list_permissions(self, ctx, item: dict) -> Response:
        params = self.query(ctx)
        if self.not_modified(ctx, item):
            return Response(304)
        render, reading = self.render(), self.faults.get("drive_inherited_from")
        effective = self.store.effective(item)
        if not self.faults.get("drive_pending_invitations_listed"):  # listed only once accepted (a reading)
            effective = [(p, s) for p, s in effective if p["kind"] != "invitation"]
        cut = self.faults.get("truncate_after")
        entries = [self.select(render.permission(p, s, reading), params) for p, s in effective[:cut]]
        return self.page(ctx, params, entries, f"drives('{item['driveId']}')/items('{item['id']}')/permissions", PERMISSIONS_PAGE)

    def get_permission(self, ctx, item: dict, perm_id: str) -> Response:
        params = self.query(ctx)
        perm, source = self.store.find_effective(item, perm_id)
        if perm is None:
            raise item_not_found()
        entry = self.render().permission(perm, source, self.faults.get("drive_inherited_from"))
        return self.json(ctx, 200, self.select(entry, params), f"drives('{item['driveId']}')/items('{item['id']}')/permissions/$entity")

    def page(self, ctx, params: dict, entries: list, fragment: str, default_size: int) -> Response:
        """Offset paging with an absolute nextLink; ``page_size`` (knob) or ``$top`` set the size; empty pages with a
        nextLink first under ``empty_page_with_nextlink``."""
        size = self.faults.get("page_size") or default_size
        if params.get("top") is not None:
            if not params["top"].isdigit() or not 1 <= int(params["top"]) <= 999:
                raise invalid_request(f"Invalid page size specified: '{params['top']}'.")
            size = min(size, int(params["top"]))
        state = {"o": 0, "e": 0}
        if params.get("skiptoken"):
            try:
                state = json.loads(base64.urlsafe_b64decode(params["skiptoken"] + "=" * (-len(params["skiptoken"]) % 4)))
                offset, empties = int(state["o"]), int(state["e"])
            except (ValueError, KeyError, TypeError) as exc:
                raise invalid_request("Invalid paging token (skip token).") from exc
            state = {"o": offset, "e": empties}
        if state["e"] < self.faults.get("empty_page_with_nextlink"):
            value, following = [], {"o": state["o"], "e": state["e"] + 1}
        else:
            value = entries[state["o"]:state["o"] + size]
            following = {"o": state["o"] + size, "e": 0} if state["o"] + size < len(entries) else None
        payload = {"value": value}
        if following is not None:
            kept = [f"{quote(k, safe='$')}={quote(v, safe=',')}" for k, v in parse_qsl(ctx.request.query, keep_blank_values=True)
                    if k.lower().lstrip("$") != "skiptoken"]
            token = base64.urlsafe_b64encode(json.dumps(following).encode()).decode().rstrip("=")
            payload["@odata.nextLink"] = f"{ctx.request.base_url}/{ctx.version}{ctx.request.path}?" + "&".join(kept + [f"$skiptoken={token}"])
        return self.json(ctx, 200, payload, fragment)
