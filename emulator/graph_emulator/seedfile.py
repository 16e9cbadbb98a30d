"""Seed files: YAML (or JSON, which YAML reads too) checked against the seed schema, every problem reported with its
file, line and column, then handed to ``state.Directory`` (the format of ``GET /_emulator/state``).

What a file may leave out, and this module fills in:

- ``tenant``, ``apps``, ``managed_identity``: the packaged default seed's (so the automation credentials work);
- a service principal's ``id``/``appId`` and a user's ``id``: derived from its name, the same on every load;
- in a grant, ``clientId``/``resourceId`` may name a service principal by id, appId or displayName, and
  ``principalId`` a user by id or userPrincipalName; ``scope`` may be a list of values;
- an application's ``appId``/``id``: derived from its displayName (the appId is the one a service principal of the
  same displayName gets, so the two pair up);
- in an app role assignment, ``principalId`` may name a service principal or a user as above, ``resourceId`` a
  service principal, and ``appRoleId`` a role by its value (``User.Read.All``) among the resource's appRoles.
"""

import uuid

import yaml

from .state import CONSENT_TYPES, Directory, SeedError, is_guid

# Namespace of the ids derived for objects a seed file gives without one (uuid5: stable across loads).
ID_NAMESPACE = uuid.UUID("5f0b7a52-6f4e-4f7e-9a38-0c1d2e3f4a5b")
DEFAULTED_FROM_BASE = ("tenant", "apps", "managed_identity")

# A field spec is a type name, ("list", spec), ("map", fields, open) or ("enum", values). Maps list their fields as
# name -> (spec, required); an open map also takes other properties (Graph objects carry many).
_STRS = "str_or_list"
_SCOPE = {"id": ("guid", True), "value": ("str", True), "isEnabled": ("bool", False), "type": (("enum", ("User", "Admin")), False)}
_APP_ROLE = {"id": ("guid", True), "value": ("str", True), "isEnabled": ("bool", False), "allowedMemberTypes": (_STRS, False)}
_ACCESS = {"resourceAppId": ("guid", True), "resourceAccess": (("list", ("map", {
    "id": ("guid", True), "type": (("enum", ("Scope", "Role")), True)}, False)), True)}
_FEDERATED = {"issuer": ("str", True), "subject": ("str", True), "audiences": (_STRS, False)}
_PERMISSION = {
    "id": ("str", False), "roles": (("list", ("enum", ("read", "write", "owner"))), False), "user": ("str", False),
    "group": ("guid", False), "siteGroup": ("str", False), "users": (("list", "str"), False), "expirationDateTime": ("str", False),
    "link": (("map", {"scope": (("enum", ("anonymous", "organization", "users")), True),
                      "type": (("enum", ("view", "edit")), True)}, False), False),
    "invitation": (("map", {"email": ("str", True), "signInRequired": ("bool", False)}, False), False),
}
_DRIVE_ITEM = {"path": ("str", True), "id": ("str", False), "folder": ("bool", False), "inherits": ("bool", False),
               "permissions": (("list", ("map", _PERMISSION, False)), False)}
PERMISSION_KINDS = ("user", "group", "siteGroup", "link", "invitation")
SCHEMA = ("map", {
    "tenant": (("map", {"id": ("guid", True), "domain": ("str", False), "displayName": ("str", False)}, False), False),
    "apps": (("list", ("map", {
        "client_id": ("guid", True), "display_name": ("str", False), "client_secret": (_STRS, False),
        "client_secrets": (_STRS, False), "certificate_pem": (_STRS, False), "certificates": (("list", "any"), False),
        "federated": (("list", ("map", _FEDERATED, False)), False), "permissions": (_STRS, False), "default": ("bool", False),
    }, False)), False),
    "managed_identity": (("map", {"header": ("str", True), "client_id": ("guid", True), "principal_id": ("guid", False),
                                  "resource_id": ("str", False), "permissions": (_STRS, False)}, False), False),
    "servicePrincipals": (("list", ("map", {
        "id": ("guid", False), "appId": ("guid", False), "displayName": ("str", True),
        "oauth2PermissionScopes": (("list", ("map", _SCOPE, True)), False),
        "publishedPermissionScopes": (("list", ("map", _SCOPE, True)), False),
        "appRoles": (("list", ("map", _APP_ROLE, True)), False), "_created_seconds_ago": ("number", False),
    }, True)), False),
    "users": (("list", ("map", {"id": ("guid", False), "userPrincipalName": ("upn", True), "displayName": ("str", False),
                                "_created_seconds_ago": ("number", False)}, True)), False),
    "grants": (("list", ("map", {
        "clientId": ("str", True), "resourceId": ("str", True), "consentType": (("enum", CONSENT_TYPES), True),
        "principalId": ("str", False), "scope": (_STRS, False), "id": ("str", False), "startTime": ("str", False),
        "expiryTime": ("str", False),
    }, False)), False),
    "applications": (("list", ("map", {
        "id": ("guid", False), "appId": ("guid", False), "displayName": ("str", True),
        "requiredResourceAccess": (("list", ("map", _ACCESS, False)), False),
        "appRoles": (("list", ("map", _APP_ROLE, True)), False), "_created_seconds_ago": ("number", False),
    }, True)), False),
    "appCatalog": (("list", ("map", {
        "appId": ("guid", True), "displayName": ("str", True), "appOwnerOrganizationId": ("guid", False),
        "oauth2PermissionScopes": (("list", ("map", _SCOPE, True)), False),
        "appRoles": (("list", ("map", _APP_ROLE, True)), False), "_created_seconds_ago": ("number", False),
    }, True)), False),
    "appRoleAssignments": (("list", ("map", {
        "principalId": ("str", True), "resourceId": ("str", True), "appRoleId": ("str", True), "id": ("str", False),
        "_created_seconds_ago": ("number", False),
    }, True)), False),  # open: GET /_emulator/state adds the read-only properties, recomputed on load
    "groups": (("list", ("map", {"id": ("guid", True), "displayName": ("str", True), "mail": ("str", False)}, False)), False),
    "sites": (("list", ("map", {"id": ("str", True), "displayName": ("str", False), "webUrl": ("str", False),
                                "group": ("guid", False)}, False)), False),
    "drives": (("list", ("map", {"id": ("str", False), "name": ("str", False), "user": ("str", False), "site": ("str", False),
                                 "items": (("list", ("map", _DRIVE_ITEM, False)), False)}, False)), False),
    "_seed_age_seconds": ("number", False),
    "replication_pending": ("any", False),  # in GET /_emulator/state output; not loaded
}, False)

_TAGS = {"str": "tag:yaml.org,2002:str", "bool": "tag:yaml.org,2002:bool", "null": "tag:yaml.org,2002:null",
         "int": "tag:yaml.org,2002:int", "float": "tag:yaml.org,2002:float"}


class SeedFileError(ValueError):
    """A seed file that cannot be loaded: ``str()`` is ``FILE:LINE:COLUMN: reason`` (no line when none applies)."""

    def __init__(self, path: str, reason: str, mark=None):
        self.path = path
        self.reason = reason
        self.line = mark.line + 1 if mark is not None else None
        self.column = mark.column + 1 if mark is not None else None
        super().__init__(f"{path}:{self.line}:{self.column}: {reason}" if mark is not None else f"{path}: {reason}")


class _Checker:
    def __init__(self, path: str):
        self.path = path

    def fail(self, node, where: str, reason: str):
        raise SeedFileError(self.path, f"{where}: {reason}" if where else reason, node.start_mark)

    def check(self, node, spec, where: str):  # pylint: disable=too-many-branches
        if spec == "any":
            return
        if isinstance(spec, tuple) and spec[0] == "map":
            self.check_map(node, spec[1], spec[2], where)
        elif isinstance(spec, tuple) and spec[0] == "list":
            if not isinstance(node, yaml.SequenceNode):
                self.fail(node, where, "must be a list")
            for index, item in enumerate(node.value):
                self.check(item, spec[1], f"{where}[{index}]")
        elif isinstance(spec, tuple) and spec[0] == "enum":
            if not self.is_scalar(node, "str") or node.value not in spec[1]:
                self.fail(node, where, f"must be one of {', '.join(spec[1])} (case matters), got {node.value!r}")
        elif spec == _STRS:
            is_list = isinstance(node, yaml.SequenceNode) and all(self.is_scalar(v, "str") for v in node.value)
            if not self.is_scalar(node, "str") and not is_list:
                self.fail(node, where, "must be a string or a list of strings")
        elif spec == "number":
            if not (self.is_scalar(node, "int") or self.is_scalar(node, "float")):
                self.fail(node, where, "must be a number")
        elif spec == "bool":
            if not self.is_scalar(node, "bool"):
                self.fail(node, where, "must be true or false")
        else:  # str, guid, upn
            if not self.is_scalar(node, "str"):
                self.fail(node, where, "must be a string (quote it if YAML reads it as a number, date or boolean)")
            if spec == "guid" and not is_guid(node.value):
                self.fail(node, where, f"must be a GUID (8-4-4-4-12 hex digits), got {node.value!r}")
            if spec == "upn" and "@" not in node.value:
                self.fail(node, where, f"must be a user principal name (name@domain), got {node.value!r}")

    @staticmethod
    def is_scalar(node, kind: str) -> bool:
        return isinstance(node, yaml.ScalarNode) and node.tag == _TAGS[kind]

    def check_map(self, node, fields: dict, is_open: bool, where: str):
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, where, "must be a mapping (name: value)")
        seen = set()
        for key_node, value_node in node.value:
            name = key_node.value
            here = f"{where}.{name}" if where else str(name)
            if name in seen:
                self.fail(key_node, here, "is given twice")
            seen.add(name)
            if name in fields:
                if not (self.is_scalar(value_node, "null") and not fields[name][1]):
                    self.check(value_node, fields[name][0], here)
            elif not is_open and not str(name).startswith("_"):
                self.fail(key_node, here, f"unknown property; known: {', '.join(sorted(fields))}")
            else:  # open maps take any Graph property, but a known one in the wrong case is a typo
                for known in fields:
                    if known.lower() == str(name).lower():
                        self.fail(key_node, here, f"unknown property; did you mean '{known}'?")
        for name, (_spec, required) in fields.items():
            if required and name not in seen:
                self.fail(node, where or "the seed", f"missing required property '{name}'")


def _items(node, name: str) -> list:
    """The value nodes of the list under ``name`` in a mapping node (empty when absent or null)."""
    for key_node, value_node in node.value:
        if key_node.value == name and isinstance(value_node, yaml.SequenceNode):
            return value_node.value
    return []


def _field_node(node, name: str):
    for key_node, value_node in node.value:
        if key_node.value == name:
            return value_node
    return node


def _derived_id(kind: str, name: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, f"{kind}:{name.lower()}"))


class _Resolver:
    """Fills in derived ids and turns names in grants into object ids, failing at the line of the bad reference."""

    def __init__(self, checker: _Checker):
        self.checker = checker
        self.sp_keys = {}  # lower-cased id, appId or displayName -> list of SP ids
        self.user_keys = {}  # lower-cased id or UPN -> user id
        self.sp_by_id = {}  # SP id -> the SP (its appRoles name roles in assignments)

    def service_principals(self, nodes: list, sps: list):
        seen = {}
        for index, (node, sp) in enumerate(zip(nodes, sps)):
            derived = "appId" not in sp
            sp.setdefault("appId", _derived_id("appId", sp["displayName"]))
            sp.setdefault("id", _derived_id("servicePrincipal", sp["appId"]))
            for key in ("appId", "id"):
                value = sp[key].lower()
                if (key, value) in seen:
                    other = f"servicePrincipals[{seen[(key, value)]}]"
                    reason = f"{other} has the same displayName: give each an appId" if derived else f"{sp[key]} is already used by {other}"
                    self.checker.fail(_field_node(node, key), f"servicePrincipals[{index}].{key}", reason)
                seen[(key, value)] = index
            self.sp_by_id[sp["id"]] = sp
            for value in sorted({sp["id"].lower(), sp["appId"].lower(), sp["displayName"].lower()}):
                self.sp_keys.setdefault(value, []).append(sp["id"])

    def users(self, nodes: list, users: list):
        for index, (node, user) in enumerate(zip(nodes, users)):
            user.setdefault("id", _derived_id("user", user["userPrincipalName"]))
            for key in ("userPrincipalName", "id"):
                if user[key].lower() in self.user_keys:
                    self.checker.fail(_field_node(node, key), f"users[{index}].{key}", f"{user[key]} is already used by another user")
            self.user_keys[user["id"].lower()] = self.user_keys[user["userPrincipalName"].lower()] = user["id"]

    def service_principal_id(self, node, where: str, value: str) -> str:
        matches = self.sp_keys.get(value.lower(), [])
        if len(matches) != 1:
            reason = "names more than one service principal: give its id or appId" if matches else \
                "is not a service principal of this seed (give its id, appId or displayName)"
            self.checker.fail(node, where, f"{value!r} {reason}")
        return matches[0]

    def applications(self, nodes: list, apps: list):
        seen = {}
        for index, (node, app) in enumerate(zip(nodes, apps)):
            app.setdefault("appId", _derived_id("appId", app["displayName"]))
            app.setdefault("id", _derived_id("application", app["appId"]))
            for key in ("appId", "id"):
                if (key, app[key].lower()) in seen:
                    self.checker.fail(_field_node(node, key), f"applications[{index}].{key}",
                                      f"{app[key]} is already used by applications[{seen[(key, app[key].lower())]}]")
                seen[(key, app[key].lower())] = index

    def assignments(self, nodes: list, assignments: list):
        for index, (node, item) in enumerate(zip(nodes, assignments)):
            where = f"appRoleAssignments[{index}]"
            principal = item["principalId"]
            if principal.lower() in self.user_keys and principal.lower() not in self.sp_keys:
                item["principalId"] = self.user_keys[principal.lower()]
            else:
                item["principalId"] = self.service_principal_id(_field_node(node, "principalId"), f"{where}.principalId", principal)
            item["resourceId"] = self.service_principal_id(_field_node(node, "resourceId"), f"{where}.resourceId", item["resourceId"])
            if not is_guid(item["appRoleId"]):
                resource = self.sp_by_id[item["resourceId"]]
                role = next((r for r in resource.get("appRoles") or [] if r.get("value") == item["appRoleId"]), None)
                if role is None:
                    values = ", ".join(r.get("value", "?") for r in resource.get("appRoles") or []) or "none"
                    self.checker.fail(_field_node(node, "appRoleId"), f"{where}.appRoleId",
                                      f"{item['appRoleId']!r} is neither a GUID nor the value of an app role of "
                                      f"{resource['displayName']} (its roles: {values})")
                item["appRoleId"] = role["id"]

    def grants(self, nodes: list, grants: list):
        for index, (node, grant) in enumerate(zip(nodes, grants)):
            where = f"grants[{index}]"
            for key in ("clientId", "resourceId"):
                grant[key] = self.service_principal_id(_field_node(node, key), f"{where}.{key}", grant[key])
            principal = grant.get("principalId")
            if grant["consentType"] == "Principal":
                if principal is None:
                    self.checker.fail(node, where, "a Principal grant needs principalId (a user's id or userPrincipalName)")
                if principal.lower() not in self.user_keys:
                    self.checker.fail(_field_node(node, "principalId"), f"{where}.principalId",
                                      f"{principal!r} is not a user of this seed (give its id or userPrincipalName)")
                grant["principalId"] = self.user_keys[principal.lower()]
            elif principal is not None:
                self.checker.fail(_field_node(node, "principalId"), f"{where}.principalId", "an AllPrincipals grant has no principalId")
            if isinstance(grant.get("scope"), list):
                grant["scope"] = " ".join(grant["scope"])


def _check_drives(checker: _Checker, root, seed: dict, user_keys: dict):
    """References inside ``drives`` (users, groups, sites, one kind per permission), failing at their line."""
    groups = {g["id"].lower() for g in seed.get("groups") or []}
    sites = {s["id"].lower() for s in seed.get("sites") or []}
    for d_index, (d_node, drive) in enumerate(zip(_items(root, "drives"), seed.get("drives") or [])):
        where = f"drives[{d_index}]"
        owners = [k for k in ("user", "site") if drive.get(k) is not None]
        if len(owners) != 1:
            checker.fail(d_node, where, "needs exactly one of 'user' (a OneDrive) or 'site' (a document library)")
        if drive.get("user") is not None and drive["user"].lower() not in user_keys:
            checker.fail(_field_node(d_node, "user"), f"{where}.user", f"{drive['user']!r} is not a user of this seed (id or userPrincipalName)")
        if drive.get("site") is not None and drive["site"].lower() not in sites:
            checker.fail(_field_node(d_node, "site"), f"{where}.site", f"{drive['site']!r} is not the id of a site of this seed")
        for i_index, (i_node, item) in enumerate(zip(_items(d_node, "items"), drive.get("items") or [])):
            for p_index, (p_node, perm) in enumerate(zip(_items(i_node, "permissions"), item.get("permissions") or [])):
                here = f"{where}.items[{i_index}].permissions[{p_index}]"
                kinds = [k for k in PERMISSION_KINDS if perm.get(k) is not None]
                if len(kinds) != 1:
                    checker.fail(p_node, here, f"needs exactly one of {', '.join(PERMISSION_KINDS)}")
                if kinds[0] != "link" and not perm.get("roles"):
                    checker.fail(p_node, here, "needs roles (read, write or owner)")
                for key in ([perm["user"]] if kinds[0] == "user" else []) + list(perm.get("users") or []):
                    if key.lower() not in user_keys:
                        checker.fail(_field_node(p_node, "users" if kinds[0] == "link" else "user"), here,
                                     f"{key!r} is not a user of this seed (id or userPrincipalName)")
                if kinds[0] == "group" and perm["group"].lower() not in groups:
                    checker.fail(_field_node(p_node, "group"), f"{here}.group", f"{perm['group']!r} is not the id of a group of this seed")


def parse_seed(text: str, path: str, base=None) -> dict:
    """The seed in ``text`` (YAML or JSON), checked and completed; ``base`` supplies tenant/apps/managed_identity."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise SeedFileError(path, "the file is empty: a seed is a mapping with servicePrincipals, users, grants, ...")
        checker = _Checker(path)
        checker.check(node, SCHEMA, "")
        seed = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise SeedFileError(path, f"not valid YAML: {exc.problem}", exc.problem_mark) from exc
    except yaml.YAMLError as exc:
        raise SeedFileError(path, f"not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    seed.pop("replication_pending", None)
    resolver = _Resolver(checker)
    resolver.service_principals(_items(node, "servicePrincipals"), seed.get("servicePrincipals") or [])
    resolver.users(_items(node, "users"), seed.get("users") or [])
    resolver.grants(_items(node, "grants"), seed.get("grants") or [])
    resolver.applications(_items(node, "applications"), seed.get("applications") or [])
    resolver.assignments(_items(node, "appRoleAssignments"), seed.get("appRoleAssignments") or [])
    _check_drives(checker, node, seed, resolver.user_keys)
    for key in DEFAULTED_FROM_BASE:
        if key not in seed and base:
            seed[key] = base.get(key)
    if "tenant" not in seed:
        raise SeedFileError(path, "missing 'tenant' (with its id)")
    try:
        Directory.from_seed(seed)  # what the schema does not cover (certificates, ...), without a line
    except SeedError as exc:
        raise SeedFileError(path, str(exc)) from exc
    return seed


def load_seed_file(path: str, base=None) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise SeedFileError(path, f"cannot read the file: {exc}") from exc
    return parse_seed(text, path, base)
