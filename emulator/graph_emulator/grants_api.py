"""Graph ``/oauth2PermissionGrants``: list, ``/$count``, get, create, update (``scope``), delete, and the read-only
navigation ``.../oauth2PermissionGrants`` under a service principal or user (docs/dev/graph-behaviour.md; emulator
choices in docs/dev/emulator.md).
"""

import datetime
import json
import time
from typing import Optional

from . import grant_index, odata, readings
from .graph import GraphContext, method_not_allowed, not_found, segment_not_found, selectable_names
from .messages import ODATA_JSON_CONTENT_TYPE, GraphApiError, Response
from .state import CONSENT_TYPES, is_guid, is_wellformed_grant_id, new_grant_record

GRANT_TYPE = "microsoft.graph.oAuth2PermissionGrant"
MAX_SCOPE_LENGTH = 3850

# Application permissions (token "roles") that allow each kind of call (docs/dev/graph-behaviour.md#clouds-and-tokens).
GRANT_WRITE_ROLES = frozenset({"DelegatedPermissionGrant.ReadWrite.All", "Directory.ReadWrite.All"})
GRANT_READ_ROLES = GRANT_WRITE_ROLES | {"DelegatedPermissionGrant.Read.All", "Directory.Read.All", "Application.Read.All"}

NAV_WRITE_MESSAGE = "Write requests are only supported on contained entities or navigation properties with bindings."

GRANT_PROPERTIES = {
    "v1.0": ("clientId", "consentType", "id", "principalId", "resourceId", "scope"),
    "beta": ("clientId", "consentType", "expiryTime", "id", "principalId", "resourceId", "scope", "startTime"),
}


def _unsupported_grant_filter(prop):
    return GraphApiError(400, "Request_UnsupportedQuery", f"Filter is invalid. {prop}" if prop else "Filter is invalid.")


GRANT_FILTER = odata.FilterSchema(
    {"clientid": ("clientId", "guid"), "consenttype": ("consentType", "cs"), "principalid": ("principalId", "guid"),
     "resourceid": ("resourceId", "guid")},
    _unsupported_grant_filter)


def invalid_value(prop: str) -> GraphApiError:
    return GraphApiError(400, "Request_BadRequest", f"Invalid value specified for property '{prop}' of resource 'OAuth2PermissionGrant'.")


def render_grant(grant: dict, version: str) -> dict:
    return {name: grant.get(name) for name in GRANT_PROPERTIES[version]}


class GrantsApi:
    """The handlers; ``graph`` is the GraphApi (routing helpers, paging, errors) and ``graph.app`` the emulator."""

    def __init__(self, graph):
        self.graph = graph

    @property
    def app(self):
        return self.graph.app

    def route(self, ctx: GraphContext, segments: list) -> Response:
        """``/oauth2PermissionGrants[/$count|/{id}|('{id}')]``."""
        first = segments[0]
        if first.key is not None:  # oauth2PermissionGrants('{id}')
            segments = [odata.Segment(first.name), odata.Segment(odata.parse_key(first.key)[1])] + segments[1:]
        if len(segments) == 1:
            if ctx.method == "GET":
                self.graph.require(ctx, GRANT_READ_ROLES)
                return self.list_grants(ctx, check_client_filter=True)
            if ctx.method == "POST":
                self.graph.require(ctx, GRANT_WRITE_ROLES)
                return self.create_grant(ctx)
            raise method_not_allowed()
        second = segments[1]
        if len(segments) > 2:
            raise segment_not_found(segments[2].name)
        if second.lname == "$count":
            if ctx.method != "GET":
                raise method_not_allowed()
            self.graph.require(ctx, GRANT_READ_ROLES)
            return self.count_grants(ctx)
        if second.key is not None and second.lname in ("delta", "microsoft.graph.delta"):
            raise GraphApiError(501, "NotImplemented", "delta() is not emulated.")
        grant_id = second.name if second.key is None else f"{second.name}({second.key})"
        if ctx.method == "GET":
            self.graph.require(ctx, GRANT_READ_ROLES)
            return self.get_grant(ctx, grant_id)
        if ctx.method == "PATCH":
            self.graph.require(ctx, GRANT_WRITE_ROLES)
            return self.update_grant(ctx, grant_id)
        if ctx.method == "DELETE":
            self.graph.require(ctx, GRANT_WRITE_ROLES)
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
        self.graph.require(ctx, GRANT_READ_ROLES)
        owner = resolve()
        belongs = owner_check(owner)
        if len(rest) == 1:
            return self.list_grants(ctx, base_filter=belongs, navigation=True)
        if rest[1].lname == "$count":
            return self.count_grants(ctx, base_filter=belongs)
        return self.get_grant(ctx, rest[1].name, belongs=belongs)

    def list_grants(self, ctx: GraphContext, base_filter=None, check_client_filter: bool = False, navigation: bool = False) -> Response:
        directory, faults = self.app.directory, self.app.faults
        opts = self.graph.query(ctx)
        select = odata.parse_select(opts.get("select"), selectable_names(GRANT_PROPERTIES[ctx.version]), GRANT_TYPE)
        count = self.graph.wants_count(ctx, opts)
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
                                                             self.graph.eventual(ctx), count):
            items = readings.omit_for_incomplete_listing(items)
        response = self.graph.page(ctx, opts, items, lambda g: g["id"], lambda g: render_grant(g, ctx.version), select,
                                   self.graph.set_fragment("oauth2PermissionGrants", select), count)
        directory.note_grant_read()
        response.headers["x-ms-resource-unit"] = "2" if select is None else "1"
        return response

    def count_grants(self, ctx: GraphContext, base_filter=None) -> Response:
        items = [g for g in self.app.directory.visible_grants() if base_filter is None or base_filter(g)]
        response = self.graph.count_collection(ctx, items, GRANT_FILTER)
        self.app.directory.note_grant_read()
        return response

    @staticmethod
    def check_grant_id(grant_id: str):
        if not is_wellformed_grant_id(grant_id):  # e.g. a GUID passed as a grant id (§2.2, I8)
            raise GraphApiError(400, "Request_UnsupportedQuery", "Filter is invalid. id")

    def get_grant(self, ctx: GraphContext, grant_id: str, belongs=None) -> Response:
        opts = self.graph.query(ctx)
        odata.parse_select(opts.get("select"), selectable_names(GRANT_PROPERTIES[ctx.version]), GRANT_TYPE)
        self.check_grant_id(grant_id)
        directory = self.app.directory
        grant = directory.visible_grant(grant_id)
        directory.note_grant_read()
        if grant is None or (belongs is not None and not belongs(grant)):
            raise not_found(grant_id)
        odata_id = {"@odata.id": f"{self.graph.root(ctx)}/v2/{directory.tenant['id']}/oauth2PermissionGrants/{grant_id}"}
        response = self.graph.entity_response(ctx, render_grant(grant, ctx.version), "oauth2PermissionGrants",
                                              selectable_names(GRANT_PROPERTIES[ctx.version]), GRANT_TYPE, extra=odata_id)
        response.headers["x-ms-resource-unit"] = "2"
        return response

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
        body = self.graph.json_body(ctx)
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
        directory.create_grant(record, self.graph.replication())
        payload = {"@odata.context": self.graph.context_url(ctx, "oauth2PermissionGrants/$entity")}
        payload.update(render_grant(record, ctx.version))
        return Response(201, payload, content_type=ODATA_JSON_CONTENT_TYPE)

    def update_grant(self, ctx: GraphContext, grant_id: str) -> Response:
        """Only ``scope`` can change (§3.4); 204 without a body."""
        self.check_grant_id(grant_id)
        body = self.graph.json_body(ctx)
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
            directory.update_grant_scope(grant_id, scope, self.graph.replication())
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
        directory.delete_grant(grant_id, self.graph.replication())
        return Response(204)
