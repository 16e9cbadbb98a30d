"""Graph ``/servicePrincipals`` and ``/users``: the collection, ``/$count``, one object by key, and the routing they share
with ``/applications`` (consent.py builds its set on ``DirectorySet``). Behaviour: docs/dev/graph-behaviour.md; emulator
choices: docs/dev/emulator.md.
"""

from dataclasses import dataclass
from typing import Callable, Optional

from . import odata, readings
from .graph import GraphContext, not_found, segment_not_found, selectable_names
from .messages import ODATA_JSON_CONTENT_TYPE, GraphApiError, Response
from .state import is_guid

SP_TYPE = "microsoft.graph.servicePrincipal"
USER_TYPE = "microsoft.graph.user"

# Application permissions (token "roles") that allow each kind of call (docs/dev/graph-behaviour.md#clouds-and-tokens).
SP_READ_ROLES = frozenset({"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"})
USER_READ_ROLES = frozenset({"User.Read.All", "User.ReadBasic.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"})

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


def _unsupported_directory_filter(resource):
    def build(prop):
        if prop:
            return GraphApiError(400, "Request_UnsupportedQuery",
                                 f"Unsupported or invalid query filter clause specified for property '{prop}' of resource '{resource}'.")
        return GraphApiError(400, "Request_UnsupportedQuery", "Unsupported query.")
    return build


SP_FILTER = odata.FilterSchema(
    {"appid": ("appId", "guid"), "displayname": ("displayName", "ci"), "id": ("id", "guid")},
    _unsupported_directory_filter("ServicePrincipal"))
USER_FILTER = odata.FilterSchema(
    {"id": ("id", "guid"), "userprincipalname": ("userPrincipalName", "ci"), "displayname": ("displayName", "ci"),
     "mail": ("mail", "ci")},
    _unsupported_directory_filter("User"))


@dataclass(frozen=True)
class DirectorySet:
    """What differs between ``/servicePrincipals`` and ``/users`` (``DirectoryApi.route`` has the rest)."""

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


class DirectoryApi:
    """The handlers; ``graph`` is the GraphApi (routing helpers, paging, errors) and ``graph.app`` the emulator."""

    def __init__(self, graph):
        self.graph = graph

    @property
    def app(self):
        return self.graph.app

    def route(self, ctx: GraphContext, segments: list, entity_set: DirectorySet) -> Response:
        """The shape ``/servicePrincipals`` and ``/users`` share: the collection, ``/$count``, one entity by key
        (``/{key}`` or ``({key})``), and the read-only grant navigation under it."""
        first = segments[0]
        if first.key is not None:
            key_name, key_value = odata.parse_key(first.key)
            rest = segments[1:]
        elif len(segments) == 1:
            if ctx.method == "POST" and entity_set.create is not None:
                return entity_set.create(ctx)
            self.graph.require_get(ctx, entity_set.roles)
            return entity_set.list(ctx)
        elif segments[1].lname == "$count" and len(segments) == 2:
            self.graph.require_get(ctx, entity_set.roles)
            return self.graph.count_collection(ctx, entity_set.items(), entity_set.filter)
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
            return self.graph.grants.route_navigation(ctx, rest, entity_set.owns, resolve)
        self.graph.require_get(ctx, entity_set.roles)
        return entity_set.entity(ctx, resolve, key_value)

    def service_principal_set(self) -> DirectorySet:
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
            return self.graph.entity_response(ctx, render_service_principal(sp, ctx.version), "servicePrincipals",
                                              self.sp_selectable(ctx.version), SP_TYPE)

        return DirectorySet(SP_READ_ROLES, SP_FILTER, self.list_service_principals, self.app.directory.service_principals,
                            lambda key_value: None, resolve, lambda sp: (lambda g: g["clientId"] == sp["id"]), entity,
                            create=self.graph.consent.create_service_principal, navigate=self.graph.consent.route)

    def user_set(self) -> DirectorySet:
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
            select = odata.parse_select(self.graph.query(ctx).get("select"), self.user_selectable(), USER_TYPE)
            payload = {"@odata.context": self.graph.context_url(ctx, self.graph.set_fragment("users", select) + "/$entity")}
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

    @staticmethod
    def sp_selectable(version: str) -> dict:
        extra = (SP_SCOPES_PROPERTY[version], "info", "replyUrls", "keyCredentials", "passwordCredentials", "preferredSingleSignOnMode",
                 "loginUrl", "logoutUrl")
        return selectable_names(SP_BASE_PROPERTIES + extra)

    @staticmethod
    def user_selectable() -> dict:
        return selectable_names(USER_DEFAULT_PROPERTIES + USER_EXTRA_PROPERTIES)

    # ====================================================== service principals / users
    def list_service_principals(self, ctx: GraphContext) -> Response:
        opts = self.graph.query(ctx)
        select = odata.parse_select(opts.get("select"), self.sp_selectable(ctx.version), SP_TYPE)
        count = self.graph.wants_count(ctx, opts)
        predicate = SP_FILTER.compile(opts.get("filter"))
        items = [sp for sp in self.app.directory.service_principals() if predicate(sp)]
        return self.graph.page(ctx, opts, items, lambda sp: sp["id"], lambda sp: render_service_principal(sp, ctx.version), select,
                               self.graph.set_fragment("servicePrincipals", select), count)

    def list_users(self, ctx: GraphContext) -> Response:
        opts = self.graph.query(ctx)
        select = odata.parse_select(opts.get("select"), self.user_selectable(), USER_TYPE)
        count = self.graph.wants_count(ctx, opts)
        predicate = USER_FILTER.compile(opts.get("filter"))
        items = [u for u in self.app.directory.users() if predicate(u)]
        return self.graph.page(ctx, opts, items, lambda u: u["id"], lambda u: render_user(u, select), None,
                               self.graph.set_fragment("users", select), count)
