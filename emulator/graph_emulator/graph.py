"""Graph ``/v1.0`` and ``/beta``: routing, authorization, and the resource handlers (docs/dev/graph-behaviour.md; emulator choices in docs/dev/emulator.md).

``GraphApi.handle`` serves one HTTP request (authentication, then either one operation or a ``$batch``);
``GraphApi.run_operation`` serves one operation (request-level faults, routing, the handler, apply-then-fail),
and is what ``$batch`` items go through too.
"""

import datetime
import json
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Optional
from urllib.parse import parse_qsl

from . import batch, directory_objects, grant_index, odata, readings, throttle
from .messages import ODATA_JSON_CONTENT_TYPE, TEXT_CONTENT_TYPE, GraphApiError, Request, Response
from .state import CONSENT_TYPES, is_guid, is_wellformed_grant_id, new_grant_record
from .faults import Failure, Throttle, WRITE_METHODS

VERSIONS = ("v1.0", "beta")
GRANT_TYPE = "microsoft.graph.oAuth2PermissionGrant"
SP_TYPE = "microsoft.graph.servicePrincipal"
USER_TYPE = "microsoft.graph.user"
MAX_SCOPE_LENGTH = 3850

# Application permissions (token "roles") that allow each kind of call (docs/dev/graph-behaviour.md#clouds-and-tokens).
GRANT_WRITE_ROLES = frozenset({"DelegatedPermissionGrant.ReadWrite.All", "Directory.ReadWrite.All"})
GRANT_READ_ROLES = GRANT_WRITE_ROLES | {"DelegatedPermissionGrant.Read.All", "Directory.Read.All", "Application.Read.All"}
SP_READ_ROLES = frozenset({"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"})
USER_READ_ROLES = frozenset({"User.Read.All", "User.ReadBasic.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"})

NAV_WRITE_MESSAGE = "Write requests are only supported on contained entities or navigation properties with bindings."
METHOD_NOT_ALLOWED_MESSAGE = "Specified HTTP method is not allowed for the request target."

GRANT_PROPERTIES = {
    "v1.0": ("clientId", "consentType", "id", "principalId", "resourceId", "scope"),
    "beta": ("clientId", "consentType", "expiryTime", "id", "principalId", "resourceId", "scope", "startTime"),
}
SP_BASE_PROPERTIES = ("id", "deletedDateTime", "accountEnabled", "alternativeNames", "appDisplayName", "appDescription", "appId",
                      "appOwnerOrganizationId", "appRoleAssignmentRequired", "description", "displayName", "homepage", "notes",
                      "servicePrincipalNames", "servicePrincipalType", "signInAudience", "tags", "appRoles")
SP_DEFAULTS = {"deletedDateTime": None, "alternativeNames": [], "appDescription": None, "appOwnerOrganizationId": None,
               "appRoleAssignmentRequired": False, "description": None, "homepage": None, "notes": None,
               "servicePrincipalNames": [], "signInAudience": "AzureADMyOrg", "tags": [], "appRoles": []}
SP_SCOPES_PROPERTY = {"v1.0": "oauth2PermissionScopes", "beta": "publishedPermissionScopes"}
USER_DEFAULT_PROPERTIES = ("businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation",
                           "preferredLanguage", "surname", "userPrincipalName", "id")
USER_EXTRA_PROPERTIES = ("accountEnabled", "userType", "mailNickname", "createdDateTime", "department", "companyName",
                         "employeeId", "otherMails")


def _unsupported_grant_filter(prop):
    return GraphApiError(400, "Request_UnsupportedQuery", f"Filter is invalid. {prop}" if prop else "Filter is invalid.")


def _unsupported_directory_filter(resource):
    def build(prop):
        if prop:
            return GraphApiError(400, "Request_UnsupportedQuery",
                                 f"Unsupported or invalid query filter clause specified for property '{prop}' of resource '{resource}'.")
        return GraphApiError(400, "Request_UnsupportedQuery", "Unsupported query.")
    return build


GRANT_FILTER = odata.FilterSchema(
    {"clientid": ("clientId", "guid"), "consenttype": ("consentType", "cs"), "principalid": ("principalId", "guid"),
     "resourceid": ("resourceId", "guid")},
    _unsupported_grant_filter)
SP_FILTER = odata.FilterSchema(
    {"appid": ("appId", "guid"), "displayname": ("displayName", "ci"), "id": ("id", "guid")},
    _unsupported_directory_filter("ServicePrincipal"))
USER_FILTER = odata.FilterSchema(
    {"id": ("id", "guid"), "userprincipalname": ("userPrincipalName", "ci"), "displayname": ("displayName", "ci"),
     "mail": ("mail", "ci")},
    _unsupported_directory_filter("User"))


def not_found(identifier: str) -> GraphApiError:
    return GraphApiError(404, "Request_ResourceNotFound",
                         f"Resource '{identifier}' does not exist or one of its queried reference-property objects are not present.")


def segment_not_found(name: str) -> GraphApiError:
    return GraphApiError(400, "BadRequest", f"Resource not found for the segment '{name}'.")


def invalid_value(prop: str) -> GraphApiError:
    return GraphApiError(400, "Request_BadRequest", f"Invalid value specified for property '{prop}' of resource 'OAuth2PermissionGrant'.")


def method_not_allowed() -> GraphApiError:
    return GraphApiError(405, "Request_BadRequest", METHOD_NOT_ALLOWED_MESSAGE)


@dataclass(frozen=True)
class DirectorySet:
    """What differs between ``/servicePrincipals`` and ``/users`` (``GraphApi.route_directory_set`` has the rest)."""

    roles: frozenset  # application permissions that may read the set
    filter: odata.FilterSchema
    list: Callable  # (ctx) -> Response: the collection
    items: Callable  # () -> every object, for /$count
    check_key: Callable  # (key) -> None; raises for a key the set refuses before any lookup
    resolve: Callable  # (ctx, key_name, key_value, keyed) -> the object, or raises 404
    owns: Optional[Callable]  # (object) -> predicate on grants of its oauth2PermissionGrants navigation; None: no navigation
    entity: Callable  # (ctx, resolve, key_value) -> Response: GET of one object
    create: Optional[Callable] = None  # (ctx) -> Response: POST to the collection; None: 405
    navigate: Optional[Callable] = None  # (ctx, rest, resolve) -> Response: the app role assignment navigations


@dataclass
class GraphContext:
    """One Graph operation: the request with the version stripped from its path, plus who is calling."""

    request: Request  # .path is relative to the version root, e.g. "/oauth2PermissionGrants"
    version: str
    claims: dict
    request_id: str
    client_request_id: str
    in_batch: bool = False

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def full_path(self) -> str:
        return f"/{self.version}{self.request.path}"


def render_grant(grant: dict, version: str) -> dict:
    return {name: grant.get(name) for name in GRANT_PROPERTIES[version]}


def render_service_principal(sp: dict, version: str) -> dict:
    out = {}
    for name in SP_BASE_PROPERTIES:
        out[name] = sp.get(name, SP_DEFAULTS.get(name))
    for name, value in sp.items():  # anything else the seed gave (e.g. info, replyUrls)
        if not name.startswith("_") and name not in out and name != "oauth2PermissionScopes":
            out[name] = value
    out[SP_SCOPES_PROPERTY[version]] = sp.get("oauth2PermissionScopes", [])
    return out


def render_user(user: dict, select: Optional[list]) -> dict:
    if select is None:
        return {name: user.get(name, [] if name == "businessPhones" else None) for name in USER_DEFAULT_PROPERTIES}
    return {name: user.get(name, [] if name in ("businessPhones", "otherMails") else None) for name in select}


def _selectable(names) -> dict:
    return {name.lower(): name for name in names}


def _iso_utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


class GraphApi:
    """Graph request handling. ``app`` is the server's Emulator (directory, lock, faults, tokens, log)."""

    def __init__(self, app):
        self.app = app
        # consent.py builds on this module, so it is imported here rather than at the top.
        from .consent import ConsentApi  # pylint: disable=import-outside-toplevel
        self.consent = ConsentApi(self)
        from .drives import DriveApi  # pylint: disable=import-outside-toplevel
        self.drives = DriveApi(self)

    # ================================================================ entry points
    def handle(self, request: Request, seq: int) -> Response:
        """One HTTP request under /v1.0 or /beta (``request.path`` still includes the version)."""
        request_id = str(uuid.uuid4())
        client_request_id = request.header("client-request-id") or request_id
        version, rest = request.path.lstrip("/").partition("/")[::2]
        version = version.lower()
        inner = Request(request.method, "/" + rest, request.query, request.headers, request.body, request.base_url)
        ctx = GraphContext(inner, version, {}, request_id, client_request_id)
        try:
            ctx.claims = self.app.tokens.validate_bearer(request.header("authorization"))
        except GraphApiError as err:
            return self.finish(ctx, self.error_response(ctx, err))
        segments = odata.split_path(inner.path)
        if len(segments) == 1 and segments[0].lower() == "$batch":
            return self.finish(ctx, batch.run_batch(self, ctx, seq))
        return self.finish(ctx, self.run_operation(ctx))

    def run_operation(self, ctx: GraphContext) -> Response:
        """Faults that hit a single operation, then the handler, then apply-then-fail for writes."""
        fault = self.app.faults.take_operation_fault(ctx.method, ctx.full_path)
        retry_after = throttle.check(ctx, self.app.faults)  # the throttling model: one operation of the app's budget
        if retry_after is not None and fault is None:
            fault = Throttle(str(retry_after))
        if isinstance(fault, Throttle):
            return self.throttled_response(ctx, fault)
        if isinstance(fault, Failure):
            err = self.server_error(fault.status)
            if fault.retry_after is not None:
                err.headers["Retry-After"] = fault.retry_after
            response = self.error_response(ctx, err)
            response.fault = f"fail_next:{fault.status}"
            return response
        try:
            with self.app.lock:
                response = self.dispatch(ctx)
        except GraphApiError as err:
            return self.error_response(ctx, err)
        if ctx.method in WRITE_METHODS and 200 <= response.status < 300:
            mode = self.app.faults.take_apply_then_fail(ctx.method, ctx.full_path)
            if mode == "drop":
                response.drop = True
                response.fault = "apply_then_fail:drop"
            elif mode is not None:
                response = self.error_response(ctx, self.server_error(int(mode)))
                response.fault = f"apply_then_fail:{mode}"
        return response

    # ============================================================ response shaping
    def error_response(self, ctx: GraphContext, err: GraphApiError) -> Response:
        inner = {"date": _iso_utc_now(), "request-id": ctx.request_id, "client-request-id": ctx.client_request_id}
        inner.update(err.inner)
        payload = {"error": {"code": err.code, "message": err.message, "innerError": inner}}
        return Response(err.status, payload, dict(err.headers), content_type="application/json")

    def throttled_response(self, ctx: GraphContext, throttle: Throttle) -> Response:
        err = GraphApiError(429, "TooManyRequests", "Please retry again later.",
                            inner={"code": "429", "message": "Please retry after", "status": "429"})
        appid = ctx.claims.get("appid", "")
        err.headers.update({"x-ms-throttle-scope": f"Tenant_Application/ReadWrite/{appid}/{ctx.claims.get('tid', '')}",
                            "x-ms-throttle-information": "ResourceUnitLimitExceeded"})
        if throttle.retry_after is not None:
            err.headers["Retry-After"] = throttle.retry_after
        response = self.error_response(ctx, err)
        response.fault = "throttle"
        return response

    @staticmethod
    def server_error(status: int) -> GraphApiError:
        if status == 500:
            return GraphApiError(500, "Service_InternalServerError", "Encountered an internal server error.")
        if status == 504:
            return GraphApiError(504, "gatewayTimeout", "The gateway did not receive a timely response from the upstream service.")
        return GraphApiError(503, "serviceNotAvailable", "The service is temporarily unavailable. Please retry later.")

    def finish(self, ctx: GraphContext, response: Response) -> Response:
        """Headers every top-level Graph response carries (§3.7)."""
        headers = {
            "Cache-Control": "no-cache",
            "Strict-Transport-Security": "max-age=31536000",
            "request-id": ctx.request_id,
            "client-request-id": ctx.client_request_id,
            "x-ms-ags-diagnostic": json.dumps({"ServerInfo": {"DataCenter": "Emulator", "Slice": "E", "Ring": "0", "ScaleUnit": "000",
                                                              "RoleInstance": "GRAPH-EMULATOR"}}, separators=(",", ":")),
            "x-ms-resource-unit": "1",
        }
        if response.payload is not None and (response.content_type or "").startswith("application/json"):
            headers["OData-Version"] = "4.0"
        headers.update(response.headers)
        response.headers = headers
        return response

    def root(self, ctx: GraphContext) -> str:
        """Host used in @odata.context/@odata.id: the emulator, or the cloud's Graph root (``cloud`` knob)."""
        cloud = self.app.faults.get("cloud")
        return self.app.cloud_root(cloud) if cloud else ctx.request.base_url

    def context_url(self, ctx: GraphContext, fragment: str) -> str:
        return f"{self.root(ctx)}/{ctx.version}/$metadata#{fragment}"

    # ================================================================== routing
    def dispatch(self, ctx: GraphContext) -> Response:
        if ctx.version not in VERSIONS:
            raise GraphApiError(400, "BadRequest", f"Invalid version: {ctx.version}")
        segments = [odata.parse_segment(s) for s in odata.split_path(ctx.request.path)]
        if not segments:
            return self.service_document(ctx)
        first = segments[0].lname
        drive_response = self.drives.route(ctx)  # drives, and users/groups/sites .../drive (drives.py)
        if drive_response is not None:
            return drive_response
        if first == "oauth2permissiongrants":
            return self.route_grants(ctx, segments)
        if first == "serviceprincipals":
            return self.route_directory_set(ctx, segments, self.service_principal_set())
        if first == "users":
            return self.route_directory_set(ctx, segments, self.user_set())
        if first == "applications":
            return self.route_directory_set(ctx, segments, self.consent.application_set())
        if first == "directoryobjects":
            return directory_objects.route(self, ctx, segments)
        if first == "me":
            raise GraphApiError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
        if first == "$batch":
            raise GraphApiError(400, "BadRequest", "Nested batch requests are not supported.")
        if first == "$metadata":
            raise GraphApiError(501, "NotImplemented", "The emulator does not serve $metadata.")
        raise segment_not_found(segments[0].name)

    def service_document(self, ctx: GraphContext) -> Response:
        if ctx.method != "GET":
            raise method_not_allowed()
        sets = ("applications", "oauth2PermissionGrants", "servicePrincipals", "users")
        payload = {"@odata.context": f"{self.root(ctx)}/{ctx.version}/$metadata",
                   "value": [{"name": name, "kind": "EntitySet", "url": name} for name in sets]}
        return Response(200, payload, content_type=ODATA_JSON_CONTENT_TYPE)

    def require(self, ctx: GraphContext, roles: frozenset):
        if not set(ctx.claims.get("roles") or []) & roles:
            raise GraphApiError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")

    def route_grants(self, ctx: GraphContext, segments: list) -> Response:
        first = segments[0]
        if first.key is not None:  # oauth2PermissionGrants('{id}')
            segments = [odata.Segment(first.name), odata.Segment(odata.parse_key(first.key)[1])] + segments[1:]
        if len(segments) == 1:
            if ctx.method == "GET":
                self.require(ctx, GRANT_READ_ROLES)
                return self.list_grants(ctx, check_client_filter=True)
            if ctx.method == "POST":
                self.require(ctx, GRANT_WRITE_ROLES)
                return self.create_grant(ctx)
            raise method_not_allowed()
        second = segments[1]
        if len(segments) > 2:
            raise segment_not_found(segments[2].name)
        if second.lname == "$count":
            if ctx.method != "GET":
                raise method_not_allowed()
            self.require(ctx, GRANT_READ_ROLES)
            return self.count_grants(ctx)
        if second.key is not None and second.lname in ("delta", "microsoft.graph.delta"):
            raise GraphApiError(501, "NotImplemented", "delta() is not emulated.")
        grant_id = second.name if second.key is None else f"{second.name}({second.key})"
        if ctx.method == "GET":
            self.require(ctx, GRANT_READ_ROLES)
            return self.get_grant(ctx, grant_id)
        if ctx.method == "PATCH":
            self.require(ctx, GRANT_WRITE_ROLES)
            return self.update_grant(ctx, grant_id)
        if ctx.method == "DELETE":
            self.require(ctx, GRANT_WRITE_ROLES)
            return self.delete_grant(ctx, grant_id)
        raise method_not_allowed()

    def route_navigation(self, ctx: GraphContext, rest: list, owner_check, resolve):
        """``.../oauth2PermissionGrants[/$count|/{id}]`` under a service principal or user. Read-only (§3.1 E11)."""
        if rest[0].lname != "oauth2permissiongrants":
            raise segment_not_found(rest[0].name)
        if len(rest) > 2:
            raise segment_not_found(rest[2].name)
        if ctx.method != "GET":
            raise GraphApiError(400, "BadRequest", NAV_WRITE_MESSAGE)
        self.require(ctx, GRANT_READ_ROLES)
        owner = resolve()
        belongs = owner_check(owner)
        if len(rest) == 1:
            return self.list_grants(ctx, base_filter=belongs, navigation=True)
        if rest[1].lname == "$count":
            return self.count_grants(ctx, base_filter=belongs)
        return self.get_grant(ctx, rest[1].name, belongs=belongs)

    def route_directory_set(self, ctx: GraphContext, segments: list, entity_set: "DirectorySet") -> Response:
        """The shape ``/servicePrincipals`` and ``/users`` share: the collection, ``/$count``, one entity by key
        (``/{key}`` or ``({key})``), and the read-only grant navigation under it."""
        first = segments[0]
        if first.key is not None:
            key_name, key_value = odata.parse_key(first.key)
            rest = segments[1:]
        elif len(segments) == 1:
            if ctx.method == "POST" and entity_set.create is not None:
                return entity_set.create(ctx)
            self.require_get(ctx, entity_set.roles)
            return entity_set.list(ctx)
        elif segments[1].lname == "$count" and len(segments) == 2:
            self.require_get(ctx, entity_set.roles)
            return self.count_collection(ctx, entity_set.items(), entity_set.filter)
        else:
            key_name, key_value = None, segments[1].name
            entity_set.check_key(key_value)
            rest = segments[2:]

        def resolve():
            return entity_set.resolve(ctx, key_name, key_value, first.key is not None)

        if rest and entity_set.navigate is not None and rest[0].lname in ("approleassignments", "approleassignedto"):
            return entity_set.navigate(ctx, rest, resolve)
        if rest and entity_set.owns is None:
            raise segment_not_found(rest[0].name)
        if rest:
            return self.route_navigation(ctx, rest, entity_set.owns, resolve)
        self.require_get(ctx, entity_set.roles)
        return entity_set.entity(ctx, resolve, key_value)

    def require_get(self, ctx: GraphContext, roles: frozenset):
        if ctx.method != "GET":
            raise method_not_allowed()
        self.require(ctx, roles)

    def service_principal_set(self) -> "DirectorySet":
        def resolve(ctx, key_name, key_value, keyed):
            del ctx, keyed
            return self.resolve_service_principal(key_name, key_value)

        def entity(ctx, resolve_owner, key_value):
            try:
                sp = resolve_owner()
            except GraphApiError as err:
                if err.status == 404 and self.app.faults.get("alternate_key_miss_status") == 400:
                    raise GraphApiError(400, "Request_BadRequest", f"Invalid object identifier '{key_value}'.") from err
                raise
            return self.entity_response(ctx, render_service_principal(sp, ctx.version), "servicePrincipals",
                                        self.sp_selectable(ctx.version), SP_TYPE)

        return DirectorySet(SP_READ_ROLES, SP_FILTER, self.list_service_principals, self.app.directory.service_principals,
                            lambda key_value: None, resolve, lambda sp: (lambda g: g["clientId"] == sp["id"]), entity,
                            create=self.consent.create_service_principal, navigate=self.consent.route)

    def user_set(self) -> "DirectorySet":
        def check_key(key_value):
            if key_value.startswith("$"):  # /users/$x@y is parsed as a system segment: use /users('$x@y') (§5.2)
                raise segment_not_found(key_value)

        def resolve(ctx, key_name, key_value, keyed):
            del key_name
            if ctx.in_batch and self.app.faults.get("batch_special_user_names") == "not_found" \
                    and readings.is_special_user_key(key_value, keyed):
                raise not_found(key_value)  # the guest and ('$…') forms are documented for plain requests only
            return self.resolve_user(key_value)

        def entity(ctx, resolve_owner, key_value):
            del key_value
            user = resolve_owner()
            select = odata.parse_select(self.query(ctx).get("select"), self.user_selectable(), USER_TYPE)
            payload = {"@odata.context": self.context_url(ctx, self.set_fragment("users", select) + "/$entity")}
            payload.update(render_user(user, select))
            return Response(200, payload, content_type=ODATA_JSON_CONTENT_TYPE)

        return DirectorySet(USER_READ_ROLES, USER_FILTER, self.list_users, self.app.directory.users, check_key, resolve,
                            lambda user: (lambda g: g["consentType"] == "Principal" and g["principalId"] == user["id"]), entity)

    # ============================================================ lookups
    def resolve_service_principal(self, key_name: Optional[str], value: str) -> dict:
        directory = self.app.directory
        if key_name is not None and key_name.lower() not in ("appid", "id"):
            raise GraphApiError(400, "BadRequest", f"The key property '{key_name}' is not an alternate key of type '{SP_TYPE}'.")
        if not is_guid(value):
            raise GraphApiError(400, "Request_BadRequest", f"Invalid object identifier '{value}'.")
        if key_name is not None and key_name.lower() == "appid":
            sp = directory.service_principal_by_app_id(value)
        else:
            sp = directory.service_principal(value)
        if sp is None:
            raise not_found(value)
        return sp

    def resolve_user(self, value: str) -> dict:
        directory = self.app.directory
        user = directory.user(value) if is_guid(value) else (directory.user_by_upn(value) if "@" in value else None)
        if user is None:
            raise not_found(value)
        return user

    # ============================================================ query helpers
    def query(self, ctx: GraphContext) -> odata.QueryOptions:
        opts = odata.parse_query(ctx.request.query, ctx.version)
        if opts.get("search") is not None:
            if self.app.faults.get("search_status") == 500:
                raise GraphApiError(500, "Service_InternalServerError", "Encountered an internal server error.")
            raise GraphApiError(400, "Request_UnsupportedQuery", "Search is not supported on this resource.")
        if opts.get("orderby") is not None:
            raise GraphApiError(400, "Request_UnsupportedQuery", "Sorting not supported for current query.")
        if opts.get("skip") is not None:
            raise GraphApiError(400, "Request_BadRequest", "'$skip' is not supported by the service.")
        if opts.get("expand") is not None:
            raise GraphApiError(400, "Request_UnsupportedQuery", "The query option '$expand' is not supported by the emulator.")
        return opts

    def wants_count(self, ctx: GraphContext, opts: odata.QueryOptions) -> bool:
        # Without ConsistencyLevel: eventual, $count=true is silently ignored (aad-advanced-queries, "Error handling").
        return odata.parse_count(opts.get("count")) and self.eventual(ctx)

    @staticmethod
    def eventual(ctx: GraphContext) -> bool:
        return (ctx.request.header("consistencylevel") or "").strip().lower() == "eventual"

    @staticmethod
    def set_fragment(entity_set: str, select: Optional[list]) -> str:
        return f"{entity_set}({','.join(select)})" if select else entity_set

    def page(self, ctx, opts, items: list, key, render, select, context_fragment: str, count: bool) -> Response:
        """One page of a collection with keyset paging, optional inserted empty pages, and an absolute nextLink."""
        top = odata.parse_top(opts.get("top"))
        page_size = self.app.faults.get("page_size")
        if page_size:  # the server's own page size wins over $top (any collection may page, paging docs)
            top = min(top, page_size)
        token = opts.get("skiptoken")
        state = odata.decode_skiptoken(token) if token else {}
        after, empties = state.get("a"), state.get("e", 0)
        if not isinstance(after, (str, type(None))) or not isinstance(empties, int):
            raise GraphApiError(400, "Request_BadRequest", "Invalid paging token (skip token).")
        remaining = [item for item in items if after is None or key(item) > after]
        payload = {"@odata.context": self.context_url(ctx, context_fragment)}
        if count and not token:
            payload["@odata.count"] = len(items) + self.app.faults.get("count_offset")
        inserted = self.app.faults.get("empty_page_with_nextlink")
        if inserted and empties < inserted:
            page, next_state = [], {"a": after, "e": empties + 1}
        else:
            page = remaining[:top]
            next_state = {"a": key(page[-1]), "e": 0} if len(remaining) > top else None
        if next_state is not None:
            query = "&".join(opts.without_skiptoken() + [f"$skiptoken={odata.encode_skiptoken(next_state)}"])
            payload["@odata.nextLink"] = f"{ctx.request.base_url}/{ctx.version}{ctx.request.path}?{query}"
        payload["value"] = [odata.apply_select(render(item), select) for item in page]
        return Response(200, payload, content_type=ODATA_JSON_CONTENT_TYPE)

    def entity_response(self, ctx, entity: dict, entity_set: str, selectable: dict, type_name: str, extra: Optional[dict] = None) -> Response:
        opts = self.query(ctx)
        select = odata.parse_select(opts.get("select"), selectable, type_name)
        payload = {"@odata.context": self.context_url(ctx, self.set_fragment(entity_set, select) + "/$entity")}
        if extra and select is None:
            payload.update(extra)
        payload.update(odata.apply_select(entity, select))
        return Response(200, payload, content_type=ODATA_JSON_CONTENT_TYPE)

    def count_collection(self, ctx, items: list, schema: odata.FilterSchema) -> Response:
        if not self.eventual(ctx):
            raise GraphApiError(400, "Request_BadRequest",
                                "Raw count (/$count) is not supported because the 'ConsistencyLevel:eventual' header is missing. "
                                "Refer to https://aka.ms/graph-docs/advanced-queries for more information")
        opts = self.query(ctx)
        predicate = schema.compile(opts.get("filter"))
        return Response(200, str(sum(1 for item in items if predicate(item))), content_type=TEXT_CONTENT_TYPE)

    @staticmethod
    def sp_selectable(version: str) -> dict:
        extra = (SP_SCOPES_PROPERTY[version], "info", "replyUrls", "keyCredentials", "passwordCredentials", "preferredSingleSignOnMode",
                 "loginUrl", "logoutUrl")
        return _selectable(SP_BASE_PROPERTIES + extra)

    @staticmethod
    def user_selectable() -> dict:
        return _selectable(USER_DEFAULT_PROPERTIES + USER_EXTRA_PROPERTIES)

    # ================================================================== grants
    def list_grants(self, ctx: GraphContext, base_filter=None, check_client_filter: bool = False, navigation: bool = False) -> Response:
        directory, faults = self.app.directory, self.app.faults
        opts = self.query(ctx)
        select = odata.parse_select(opts.get("select"), _selectable(GRANT_PROPERTIES[ctx.version]), GRANT_TYPE)
        count = self.wants_count(ctx, opts)
        filter_text = opts.get("filter")
        if navigation:
            filter_text = readings.navigation_filter(faults.get("navigation_filter"), filter_text)
        predicate = GRANT_FILTER.compile(filter_text)
        if check_client_filter and faults.get("nonexistent_client_filter") == "404":
            for value in predicate.values_of("clientId"):  # the 2022 behaviour (I9): 404 instead of [] for an unknown clientId
                if directory.service_principal(value) is None:
                    raise not_found("")
        items = [g for g in grant_index.candidates(directory, predicate) if (base_filter is None or base_filter(g)) and predicate(g)]
        if not navigation and readings.listing_is_incomplete(faults.get("listing_completeness"), bool(predicate.values_of("clientId")),
                                                             self.eventual(ctx), count):
            items = readings.omit_for_incomplete_listing(items)
        response = self.page(ctx, opts, items, lambda g: g["id"], lambda g: render_grant(g, ctx.version), select,
                             self.set_fragment("oauth2PermissionGrants", select), count)
        directory.note_grant_read()
        response.headers["x-ms-resource-unit"] = "2" if select is None else "1"
        return response

    def count_grants(self, ctx: GraphContext, base_filter=None) -> Response:
        items = [g for g in self.app.directory.visible_grants() if base_filter is None or base_filter(g)]
        response = self.count_collection(ctx, items, GRANT_FILTER)
        self.app.directory.note_grant_read()
        return response

    @staticmethod
    def check_grant_id(grant_id: str):
        if not is_wellformed_grant_id(grant_id):  # e.g. a GUID passed as a grant id (§2.2, I8)
            raise GraphApiError(400, "Request_UnsupportedQuery", "Filter is invalid. id")

    def get_grant(self, ctx: GraphContext, grant_id: str, belongs=None) -> Response:
        opts = self.query(ctx)
        odata.parse_select(opts.get("select"), _selectable(GRANT_PROPERTIES[ctx.version]), GRANT_TYPE)
        self.check_grant_id(grant_id)
        directory = self.app.directory
        grant = directory.visible_grant(grant_id)
        directory.note_grant_read()
        if grant is None or (belongs is not None and not belongs(grant)):
            raise not_found(grant_id)
        odata_id = {"@odata.id": f"{self.root(ctx)}/v2/{directory.tenant['id']}/oauth2PermissionGrants/{grant_id}"}
        response = self.entity_response(ctx, render_grant(grant, ctx.version), "oauth2PermissionGrants",
                                        _selectable(GRANT_PROPERTIES[ctx.version]), GRANT_TYPE, extra=odata_id)
        response.headers["x-ms-resource-unit"] = "2"
        return response

    @staticmethod
    def json_body(ctx: GraphContext) -> dict:
        if not ctx.request.body.strip():
            raise GraphApiError(400, "BadRequest", "Empty Payload. JSON content expected.")
        try:
            body = json.loads(ctx.request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise GraphApiError(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and "
                                                   "payload is of valid JSON format.") from exc
        if not isinstance(body, dict):
            raise GraphApiError(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and "
                                                   "payload is of valid JSON format.")
        return body

    @staticmethod
    def check_body_properties(body: dict, accepted: tuple):
        """OData deserialisation: unknown properties and wrong JSON types fail before any business rule."""
        for name, value in body.items():
            if name.startswith("@"):  # instance annotations such as @odata.type
                continue
            if name not in accepted:
                raise GraphApiError(400, "BadRequest", f"Property '{name}' does not exist on type '{GRANT_TYPE}'. Make sure to only use "
                                                       "property names that are defined by the type or mark the type as open type.")
            if value is not None and not isinstance(value, str):
                edm = "Edm.DateTimeOffset" if name in ("startTime", "expiryTime") else "Edm.String"
                raise GraphApiError(400, "BadRequest", f"Cannot convert the literal '{json.dumps(value)}' to the expected type '{edm}'.")

    def replication(self) -> tuple:
        faults = self.app.faults
        return faults.get("replication_delay_reads"), faults.get("replication_delay_seconds")

    def check_scope_value(self, scope):
        if scope is not None and len(scope) > MAX_SCOPE_LENGTH:
            raise invalid_value("scope")

    def check_strict_scopes(self, scope: Optional[str], resource_sp: dict):
        if not self.app.faults.get("strict_scopes") or not scope:
            return
        enabled = {s["value"] for s in resource_sp.get("oauth2PermissionScopes", []) if s.get("isEnabled", True)}
        if any(value not in enabled for value in scope.split()):
            raise invalid_value("scope")

    def check_reference(self, value: str, obj: Optional[dict]):
        """Referenced objects must exist, and (reference_lag_seconds) be old enough to have replicated (§6)."""
        if obj is None:
            raise not_found(value)
        lag = self.app.faults.get("reference_lag_seconds")
        if lag and time.time() - obj["_created_at"] < lag:
            if self.app.faults.get("reference_lag_status") == 400:
                raise GraphApiError(400, "Request_BadRequest",
                                    f"Resource '{value}' does not exist or one of its queried reference-property objects are not present.")
            raise not_found(value)

    def create_grant(self, ctx: GraphContext) -> Response:  # pylint: disable=too-many-branches
        """Validation order (docs/dev/graph-behaviour.md#create-validation): body JSON -> required/read-only -> formats/enums -> references
        -> (strict scopes) -> uniqueness -> 201."""
        body = self.json_body(ctx)
        beta = ctx.version == "beta"
        # v1.0 accepts startTime/expiryTime and ignores them (an emulator choice: §12.25 says the real answer is unknown).
        self.check_body_properties(body, GRANT_PROPERTIES["beta"])
        if "id" in body:
            raise GraphApiError(400, "Request_BadRequest", "Property 'id' is read-only and cannot be set.")
        for prop in ("clientId", "resourceId") + (("startTime", "expiryTime") if beta else ()):
            if body.get(prop) is None:
                raise GraphApiError(400, "Request_BadRequest", f"Missing property: {prop}.")
        for prop in ("clientId", "resourceId"):
            if not is_guid(body[prop]):
                raise GraphApiError(400, "Request_BadRequest", f"Invalid object identifier '{body[prop]}'.")
        consent_type = body.get("consentType")
        if consent_type not in CONSENT_TYPES:
            raise invalid_value("consentType")
        principal_id = body.get("principalId")
        if principal_id is not None and not is_guid(principal_id):
            raise GraphApiError(400, "Request_BadRequest", f"Invalid object identifier '{principal_id}'.")
        if (consent_type == "Principal") != (principal_id is not None):
            raise invalid_value("principalId")
        scope = body.get("scope")
        self.check_scope_value(scope)
        if beta:
            for prop in ("startTime", "expiryTime"):
                try:
                    datetime.datetime.fromisoformat(body[prop].replace("Z", "+00:00"))
                except ValueError as exc:
                    raise invalid_value(prop) from exc
        directory = self.app.directory
        client = directory.service_principal(body["clientId"])
        self.check_reference(body["clientId"], client)
        resource = directory.service_principal(body["resourceId"])
        self.check_reference(body["resourceId"], resource)
        if principal_id is not None:
            self.check_reference(principal_id, directory.user(principal_id))
        self.check_strict_scopes(scope, resource)
        record = new_grant_record(body["clientId"], consent_type, principal_id, body["resourceId"], scope,
                                  body.get("startTime") if beta else None, body.get("expiryTime") if beta else None)
        if record["id"] in directory.grants:
            raise readings.duplicate_error(self.app.faults.get("duplicate_status"), self.app.faults.get("duplicate_message"))
        directory.create_grant(record, self.replication())
        payload = {"@odata.context": self.context_url(ctx, "oauth2PermissionGrants/$entity")}
        payload.update(render_grant(record, ctx.version))
        return Response(201, payload, content_type=ODATA_JSON_CONTENT_TYPE)

    def update_grant(self, ctx: GraphContext, grant_id: str) -> Response:
        """Only ``scope`` can change (§3.4); 204 without a body."""
        self.check_grant_id(grant_id)
        body = self.json_body(ctx)
        self.check_body_properties(body, GRANT_PROPERTIES["beta"])
        for name in body:
            if not name.startswith("@") and name != "scope":
                raise GraphApiError(400, "Request_BadRequest", f"Property cannot be updated: {name}")
        scope = body.get("scope")
        self.check_scope_value(scope)
        directory = self.app.directory
        grant = directory.grants.get(grant_id)
        if grant is None or self.within_write_lag(grant_id):
            raise not_found(grant_id)
        self.check_strict_scopes(scope, directory.service_principal(grant["resourceId"]) or {})
        if "scope" in body:
            directory.update_grant_scope(grant_id, scope, self.replication())
        return Response(204)

    def within_write_lag(self, grant_id: str) -> bool:
        """write_lag_seconds: a new grant is not yet writable (the replication lag hamilton retries on PATCH/DELETE)."""
        return readings.within_write_lag(self.app.directory.grant_created_at.get(grant_id), self.app.faults.get("write_lag_seconds"))

    def delete_grant(self, ctx: GraphContext, grant_id: str) -> Response:
        del ctx
        self.check_grant_id(grant_id)
        directory = self.app.directory
        if grant_id not in directory.grants or self.within_write_lag(grant_id):
            raise not_found(grant_id)
        directory.delete_grant(grant_id, self.replication())
        return Response(204)

    # ====================================================== service principals / users
    def list_service_principals(self, ctx: GraphContext) -> Response:
        opts = self.query(ctx)
        select = odata.parse_select(opts.get("select"), self.sp_selectable(ctx.version), SP_TYPE)
        count = self.wants_count(ctx, opts)
        predicate = SP_FILTER.compile(opts.get("filter"))
        items = [sp for sp in self.app.directory.service_principals() if predicate(sp)]
        return self.page(ctx, opts, items, lambda sp: sp["id"], lambda sp: render_service_principal(sp, ctx.version), select,
                         self.set_fragment("servicePrincipals", select), count)

    def list_users(self, ctx: GraphContext) -> Response:
        opts = self.query(ctx)
        select = odata.parse_select(opts.get("select"), self.user_selectable(), USER_TYPE)
        count = self.wants_count(ctx, opts)
        predicate = USER_FILTER.compile(opts.get("filter"))
        items = [u for u in self.app.directory.users() if predicate(u)]
        return self.page(ctx, opts, items, lambda u: u["id"], lambda u: render_user(u, select), None,
                         self.set_fragment("users", select), count)


def query_dict(raw_query: str) -> dict:
    """Decoded query parameters for the request log (last value wins)."""
    return dict(parse_qsl(raw_query, keep_blank_values=True))
