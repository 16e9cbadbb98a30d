"""Graph handlers for admin consent as code: ``/applications``, ``POST /servicePrincipals`` and the app role
assignment navigations ``/servicePrincipals/{key}/appRoleAssignments`` (the SP as principal) and
``/servicePrincipals/{key}/appRoleAssignedTo`` (the SP as resource). Behaviour and sources: docs/dev/emulator.md,
"Applications and app role assignments".
"""

import time
import uuid
from typing import Optional

from . import odata, readings
from .appstate import DEFAULT_ROLE_ID, is_wellformed_assignment_id
from .directory_api import DirectorySet, _unsupported_directory_filter, render_service_principal
from .graph import method_not_allowed, not_found, segment_not_found
from .messages import ODATA_JSON_CONTENT_TYPE, GraphApiError, Response
from .state import is_guid

APP_TYPE = "microsoft.graph.application"
ASSIGNMENT_TYPE = "microsoft.graph.appRoleAssignment"
APP_READ_ROLES = frozenset({"Application.Read.All", "Application.ReadWrite.All", "Application.ReadWrite.OwnedBy",
                            "Directory.Read.All", "Directory.ReadWrite.All"})
ASSIGNMENT_WRITE_ROLE = "AppRoleAssignment.ReadWrite.All"
ASSIGNMENT_READ_ROLES = APP_READ_ROLES | {ASSIGNMENT_WRITE_ROLE}
# Creating an assignment needs AppRoleAssignment.ReadWrite.All *and* one of these (the permissions include of the API).
ASSIGNMENT_CREATE_COMPANION_ROLES = frozenset({"Application.Read.All", "Directory.Read.All", "Application.ReadWrite.All",
                                              "Directory.ReadWrite.All"})
SP_CREATE_ROLES = frozenset({"Application.ReadWrite.All", "Application.ReadWrite.OwnedBy"})

APP_PROPERTIES = ("id", "deletedDateTime", "appId", "displayName", "description", "createdDateTime", "identifierUris",
                  "publisherDomain", "signInAudience", "tags", "uniqueName", "notes", "api", "appRoles", "requiredResourceAccess")
APP_DEFAULTS = {"deletedDateTime": None, "description": None, "identifierUris": [], "publisherDomain": "contoso.onmicrosoft.com",
                "tags": [], "uniqueName": None, "notes": None, "api": {"oauth2PermissionScopes": []}, "appRoles": [],
                "requiredResourceAccess": []}
ASSIGNMENT_PROPERTIES = ("id", "deletedDateTime", "appRoleId", "createdDateTime", "principalDisplayName", "principalId",
                         "principalType", "resourceDisplayName", "resourceId")
ASSIGNMENT_READ_ONLY = ("id", "deletedDateTime", "createdDateTime", "principalDisplayName", "principalType", "resourceDisplayName")
ASSIGNMENT_IDS = ("principalId", "resourceId", "appRoleId")
NAVIGATIONS = {"approleassignments": ("appRoleAssignments", "principalId"), "approleassignedto": ("appRoleAssignedTo", "resourceId")}

NOT_A_VALID_REFERENCE = "Not a valid reference update."
DUPLICATE_MESSAGES = {"permission_exists": "Permission being assigned already exists on the object",
                      "entitlement_grant": "EntitlementGrant entry already exists"}
FORBIDDEN = "Insufficient privileges to complete the operation."


def _selectable(names) -> dict:
    return {name.lower(): name for name in names}


APP_FILTER = odata.FilterSchema({"appid": ("appId", "guid"), "displayname": ("displayName", "ci"), "id": ("id", "guid"),
                                 "uniquename": ("uniqueName", "ci")}, _unsupported_directory_filter("Application"))


class AssignmentFilter:
    """``$filter`` on the assignment navigations: ``resourceId eq <unquoted GUID>``, ``principalDisplayName eq '…'``
    and ``startswith(principalDisplayName,'…')``, joined with ``and``; everything else is refused the way the
    service refuses it (quoted GUID, ``appRoleId``, ``principalId``)."""

    unsupported = staticmethod(_unsupported_directory_filter("AppRoleAssignment"))

    def compile(self, text: Optional[str]):
        if text is None or not text.strip():
            return lambda item: True
        try:
            clauses = odata.parse_filter(text)
        except odata.FilterSyntaxError as exc:
            raise odata.bad_request(f"Invalid filter clause: Syntax error at position {exc.position} in '{text}'.") from exc
        except odata.FilterUnsupported as exc:
            raise self.unsupported(exc.prop) from exc
        checks = [self.check(clause) for clause in clauses]
        return lambda item: all(check(item) for check in checks)

    def check(self, clause):
        name, value = clause.prop.lower(), clause.value
        if name == "approleid":
            raise GraphApiError(400, "Request_BadRequest", "Invalid filter clause appRoleId: System.Guid")
        if name == "resourceid" and clause.op == "eq":
            if value.kind != "guid":  # Edm.Guid: the literal must not be quoted
                raise GraphApiError(400, "Request_BadRequest", "Invalid filter clause")
            wanted = value.value.lower()
            return lambda item: item["resourceId"] == wanted
        if name == "principaldisplayname" and clause.op in ("eq", "startswith") and value.kind == "string":
            wanted, op = value.value.lower(), clause.op
            return lambda item: (item.get("principalDisplayName") or "").lower().startswith(wanted) if op == "startswith" \
                else (item.get("principalDisplayName") or "").lower() == wanted
        raise self.unsupported(clause.prop)


ASSIGNMENT_FILTER = AssignmentFilter()


def render_application(app: dict) -> dict:
    out = {name: app.get(name, APP_DEFAULTS.get(name)) for name in APP_PROPERTIES}
    for name, value in app.items():  # anything else the seed gave (e.g. web, spa)
        if not name.startswith("_") and name not in out:
            out[name] = value
    return out


def render_assignment(item: dict) -> dict:
    return {name: item.get(name) for name in ASSIGNMENT_PROPERTIES}


class ConsentApi:
    """The handlers; ``graph`` is the GraphApi (routing helpers, paging, errors) and ``graph.app`` the emulator."""

    def __init__(self, graph):
        self.graph = graph

    @property
    def directory(self):
        return self.graph.app.directory

    @property
    def faults(self):
        return self.graph.app.faults

    @staticmethod
    def forbid_unless(allowed: bool):
        if not allowed:
            raise GraphApiError(403, "Authorization_RequestDenied", FORBIDDEN)

    # ============================================================ applications
    def application_set(self) -> DirectorySet:
        store = self.directory.appstore

        def resolve(ctx, key_name, key_value, keyed):
            del ctx, keyed
            key = (key_name or "id").lower()
            if key not in ("id", "appid", "uniquename"):
                raise GraphApiError(400, "BadRequest", f"The key property '{key_name}' is not an alternate key of type '{APP_TYPE}'.")
            if key == "uniquename":
                found = next((a for a in store.application_list() if (a.get("uniqueName") or "").lower() == key_value.lower()), None)
            elif not is_guid(key_value):
                raise GraphApiError(400, "Request_BadRequest", f"Invalid object identifier '{key_value}'.")
            else:
                found = store.application_by_app_id(key_value) if key == "appid" else store.application(key_value)
            if found is None:
                raise not_found(key_value)
            return found

        def entity(ctx, resolve_owner, key_value):
            del key_value
            return self.graph.entity_response(ctx, render_application(resolve_owner()), "applications", _selectable(APP_PROPERTIES), APP_TYPE)

        def list_all(ctx):
            graph = self.graph
            opts = graph.query(ctx)
            select = odata.parse_select(opts.get("select"), _selectable(APP_PROPERTIES), APP_TYPE)
            predicate = APP_FILTER.compile(opts.get("filter"))
            items = [a for a in store.application_list() if predicate(a)]
            response = graph.page(ctx, opts, items, lambda a: a["id"], render_application, select,
                                  graph.set_fragment("applications", select), graph.wants_count(ctx, opts))
            response.headers["x-ms-resource-unit"] = "2" if select is None else "1"
            return response

        return DirectorySet(APP_READ_ROLES, APP_FILTER, list_all, store.application_list, lambda key_value: None, resolve,
                            None, entity)

    # ====================================================== service principals
    def create_service_principal(self, ctx) -> Response:
        """``POST /servicePrincipals {appId}``: instantiate an app of this tenant or of the catalog."""
        roles = set(ctx.claims.get("roles") or [])
        self.forbid_unless(bool(roles & SP_CREATE_ROLES))
        body = self.graph.json_body(ctx)
        app_id = body.get("appId")
        if not is_guid(app_id):
            raise GraphApiError(400, "Request_BadRequest", "One or more properties are invalid." if app_id is None
                                else "Invalid value specified for property 'appId' of resource 'ServicePrincipal'.")
        directory, store = self.directory, self.directory.appstore
        if directory.service_principal_by_app_id(app_id) is not None:
            raise GraphApiError(409, "Request_MultipleObjectsWithSameKeyValue",
                                "The service principal cannot be created, updated, or restored because the service principal name "
                                f"{app_id} is already in use.")
        home = store.application_by_app_id(app_id)
        source = home or store.catalog.get(app_id.lower())
        lag = self.faults.get("app_lag_seconds")
        replicated = source is not None and not (lag and time.time() - source["_created_at"] < lag)
        if "Application.ReadWrite.All" not in roles and (home is None or not replicated):
            raise GraphApiError(403, "Authorization_RequestDenied", "When using this permission, the backing application of the "
                                                                    "service principal being created must in the local tenant")
        if not replicated:
            raise GraphApiError(400, "Request_BadRequest",
                                f"The appId '{app_id}' of the service principal does not reference a valid application object.")
        spec = {"id": str(uuid.uuid4()), "appId": app_id, "displayName": source["displayName"], "appRoles": source.get("appRoles", []),
                "appOwnerOrganizationId": source.get("appOwnerOrganizationId") or (directory.tenant["id"] if home else None),
                "oauth2PermissionScopes": (home.get("api") or {}).get("oauth2PermissionScopes", []) if home
                else source.get("oauth2PermissionScopes", []),
                "servicePrincipalNames": [app_id] + list(source.get("identifierUris") or []),
                "signInAudience": source.get("signInAudience", "AzureADMultipleOrgs")}
        for name in ("tags", "appRoleAssignmentRequired", "notes", "description"):
            if name in body:
                spec[name] = body[name]
        sp = directory.add_service_principal(spec, time.time())  # created now: reference_lag_seconds applies to it
        payload = {"@odata.context": self.graph.context_url(ctx, "servicePrincipals/$entity")}
        payload.update(render_service_principal(sp, ctx.version))
        return Response(201, payload, content_type=ODATA_JSON_CONTENT_TYPE)

    # ============================================================ assignments
    def route(self, ctx, rest: list, resolve) -> Response:
        """``{nav}``, ``{nav}/$count``, ``{nav}/{id}`` under a service principal (any of its key forms)."""
        nav_name, side = NAVIGATIONS[rest[0].lname]
        if len(rest) > 2:
            raise segment_not_found(rest[2].name)
        roles = set(ctx.claims.get("roles") or [])
        if len(rest) == 1:
            if ctx.method == "GET":
                self.graph.require(ctx, ASSIGNMENT_READ_ROLES)
                return self.list_assignments(ctx, resolve(), nav_name, side)
            if ctx.method == "POST":
                self.forbid_unless(ASSIGNMENT_WRITE_ROLE in roles and bool(roles & ASSIGNMENT_CREATE_COMPANION_ROLES))
                return self.create_assignment(ctx, resolve(), nav_name, side)
            raise method_not_allowed()
        if rest[1].lname == "$count":
            if ctx.method != "GET":
                raise method_not_allowed()
            self.graph.require(ctx, ASSIGNMENT_READ_ROLES)
            sp = resolve()
            items = [a for a in self.directory.appstore.visible() if a[side] == sp["id"]]
            return self.graph.count_collection(ctx, items, ASSIGNMENT_FILTER)
        aid = rest[1].name
        if ctx.method == "GET":
            self.graph.require(ctx, ASSIGNMENT_READ_ROLES)
            return self.get_assignment(ctx, resolve(), nav_name, side, aid)
        if ctx.method == "DELETE":
            self.forbid_unless(ASSIGNMENT_WRITE_ROLE in roles)
            return self.delete_assignment(resolve(), side, aid)
        raise method_not_allowed()  # no update API is documented (PATCH, PUT)

    def context(self, ctx, sp: dict, nav_name: str, select=None, entity: bool = False) -> str:
        fragment = f"servicePrincipals('{sp['id']}')/{nav_name}" + (f"({','.join(select)})" if select else "")
        return self.graph.context_url(ctx, fragment + ("/$entity" if entity else ""))

    def list_assignments(self, ctx, sp: dict, nav_name: str, side: str) -> Response:
        graph, store = self.graph, self.directory.appstore
        opts = graph.query(ctx)
        select = odata.parse_select(opts.get("select"), _selectable(ASSIGNMENT_PROPERTIES), ASSIGNMENT_TYPE)
        count = graph.wants_count(ctx, opts)
        predicate = ASSIGNMENT_FILTER.compile(readings.navigation_filter(self.faults.get("assignment_filter"), opts.get("filter")))
        items = [a for a in store.visible() if a[side] == sp["id"] and predicate(a)]
        fragment = self.context(ctx, sp, nav_name, select).split("#", 1)[1]
        response = graph.page(ctx, opts, items, lambda a: a["id"], render_assignment, select, fragment, count)
        store.note_read()
        # Throttling cost table: appRoleAssignments costs 2 (1 with $select); appRoleAssignedTo is not listed (1).
        response.headers["x-ms-resource-unit"] = "2" if side == "principalId" and select is None else "1"
        return response

    def lookup(self, sp: dict, side: str, aid: str, visible: bool) -> dict:
        if not is_wellformed_assignment_id(aid):
            raise GraphApiError(400, "Request_BadRequest", f"Invalid object identifier '{aid}'.")
        store = self.directory.appstore
        item = store.visible_one(aid) if visible else store.assignments.get(aid)
        if item is None or item[side] != sp["id"]:
            raise not_found(aid)
        return item

    def get_assignment(self, ctx, sp: dict, nav_name: str, side: str, aid: str) -> Response:
        opts = self.graph.query(ctx)
        select = odata.parse_select(opts.get("select"), _selectable(ASSIGNMENT_PROPERTIES), ASSIGNMENT_TYPE)
        item = self.lookup(sp, side, aid, visible=True)
        self.directory.appstore.note_read()
        payload = {"@odata.context": self.context(ctx, sp, nav_name, select, entity=True)}
        payload.update(odata.apply_select(render_assignment(item), select))
        return Response(200, payload, content_type=ODATA_JSON_CONTENT_TYPE)

    def delete_assignment(self, sp: dict, side: str, aid: str) -> Response:
        item = self.lookup(sp, side, aid, visible=False)
        if readings.within_write_lag(item["_created_at"], self.faults.get("write_lag_seconds")):
            raise not_found(aid)
        self.directory.appstore.delete(aid, self.graph.replication())
        return Response(204)

    @staticmethod
    def check_body(body: dict):
        """Deserialisation (unknown properties, read-only ones, Edm.Guid literals), then the three required ids."""
        for name, value in body.items():
            if name.startswith("@"):
                continue
            if name not in ASSIGNMENT_PROPERTIES:
                raise GraphApiError(400, "BadRequest", f"Property '{name}' does not exist on type '{ASSIGNMENT_TYPE}'. Make sure to only "
                                                       "use property names that are defined by the type or mark the type as open type.")
            if name in ASSIGNMENT_READ_ONLY:
                raise GraphApiError(400, "Request_BadRequest", f"Property '{name}' is read-only and cannot be set.")
            if value is not None and not is_guid(value):
                raise GraphApiError(400, "BadRequest", f"Cannot convert the literal '{value}' to the expected type 'Edm.Guid'.")
        if any(body.get(name) is None for name in ASSIGNMENT_IDS):
            raise GraphApiError(400, "Request_BadRequest", "One or more properties are invalid.")

    def create_assignment(self, ctx, url_sp: dict, nav_name: str, side: str) -> Response:
        """Order: body -> URL/body agreement -> resource (404) -> principal (400) -> role -> duplicate -> 201."""
        body = self.graph.json_body(ctx)
        self.check_body(body)
        directory, store, faults = self.directory, self.directory.appstore, self.faults
        if body[side].lower() != url_sp["id"]:
            raise GraphApiError(400, "Request_BadRequest", NOT_A_VALID_REFERENCE)
        resource = directory.service_principal(body["resourceId"])
        if resource is None or self.too_young(resource):
            raise not_found(body["resourceId"])
        principal = directory.service_principal(body["principalId"]) or directory.user(body["principalId"])
        if principal is None or self.too_young(principal):
            raise GraphApiError(400, "Request_BadRequest", NOT_A_VALID_REFERENCE)
        self.check_role(resource, body["appRoleId"], "User" if "userPrincipalName" in principal else "Application")
        if store.find(principal["id"], resource["id"], body["appRoleId"]) is not None:
            raise GraphApiError(400, "Request_BadRequest", DUPLICATE_MESSAGES[faults.get("assignment_duplicate_message")])
        record = store.new_assignment(principal, resource, body["appRoleId"], time.time())
        store.create(record, self.graph.replication())
        payload = {"@odata.context": self.context(ctx, url_sp, nav_name, entity=True)}
        payload.update(render_assignment(record))
        return Response(201, payload, content_type=ODATA_JSON_CONTENT_TYPE)

    def too_young(self, obj: dict) -> bool:
        lag = self.faults.get("reference_lag_seconds")
        return bool(lag) and time.time() - obj["_created_at"] < lag

    def check_role(self, resource: dict, app_role_id: str, member_type: str):
        """Unknown, disabled, or not for this kind of principal: the same "not found" answer (the service does not
        tell them apart in any public report)."""
        roles = resource.get("appRoles") or []
        if app_role_id.lower() == DEFAULT_ROLE_ID:
            if not (roles and self.faults.get("strict_default_role")):
                return
        else:
            role = next((r for r in roles if r["id"] == app_role_id.lower()), None)
            if role is not None and role.get("isEnabled", True) and member_type in (role.get("allowedMemberTypes") or []):
                return
        raise GraphApiError(400, "Request_BadRequest", f"Permission being assigned was not found on application '{resource['appId']}'.")
