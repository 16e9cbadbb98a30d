"""The emulated directory: tenant, apps (credentials), service principals, users and delegated permission grants.

Grants have two views. ``grants`` is the truth that writes act on; reads go through ``visible_grant(s)``, which
can lag behind recent writes (the ``replication_delay_*`` knobs, docs/dev/graph-behaviour.md#replication-lag).
"""

import base64
import binascii
import copy
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Optional

from . import certs

GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
GRANT_ID_RE = re.compile(r"^[A-Za-z0-9_-]+$")
CONSENT_TYPES = ("AllPrincipals", "Principal")
# Seed objects are treated as this old, so reference_lag_seconds only bites objects created "just now".
DEFAULT_SEED_AGE_SECONDS = 86400.0
FEDERATED_DEFAULT_AUDIENCE = "api://AzureADTokenExchange"


class SeedError(ValueError):
    """A seed (or a control-plane object) is malformed."""


def is_guid(value) -> bool:
    return isinstance(value, str) and bool(GUID_RE.match(value))


def canonical_guid(value: str) -> str:
    """Lower-case 8-4-4-4-12 form (what the directory returns)."""
    return str(uuid.UUID(value))


def grant_id(client_id: str, resource_id: str, principal_id: Optional[str] = None) -> str:
    """The grant id as the service builds it (docs/dev/graph-behaviour.md#grant-id, derived from 11 documented ids).

    base64url without padding of the little-endian GUID bytes of clientId + resourceId (+ principalId).
    """
    raw = uuid.UUID(client_id).bytes_le + uuid.UUID(resource_id).bytes_le
    if principal_id:
        raw += uuid.UUID(principal_id).bytes_le
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def is_wellformed_grant_id(value: str) -> bool:
    """True for base64url text of 32 or 48 bytes (43 or 64 characters): the only shapes §2.2 produces."""
    if len(value) not in (43, 64) or not GRANT_ID_RE.match(value):
        return False
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return False
    return len(raw) in (32, 48)


@dataclass
class App:
    """An application registration that can authenticate at the token endpoint."""

    client_id: str
    display_name: str = ""
    client_secrets: list = field(default_factory=list)
    certificates: list = field(default_factory=list)  # dicts: pem, x5t, x5t#S256
    federated: list = field(default_factory=list)  # dicts: issuer, subject, audiences
    permissions: list = field(default_factory=list)  # application permissions (token "roles")
    default: bool = False

    def to_dict(self) -> dict:
        return {
            "client_id": self.client_id,
            "display_name": self.display_name,
            "client_secrets": list(self.client_secrets),
            "certificates": [dict(c) for c in self.certificates],
            "federated": [dict(f) for f in self.federated],
            "permissions": list(self.permissions),
            "default": self.default,
        }


def _require(condition: bool, message: str):
    if not condition:
        raise SeedError(message)


def _str_list(value, what: str) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    _require(isinstance(value, list) and all(isinstance(v, str) for v in value), f"{what} must be a string or a list of strings")
    return list(value)


def check_app_roles(roles, owner: str) -> list:
    _require(isinstance(roles, list), f"{owner}: appRoles must be a list")
    out = []
    for role in roles:
        _require(isinstance(role, dict) and is_guid(role.get("id")) and isinstance(role.get("value"), str),
                 f"{owner}: each app role needs a GUID id and a value")
        role = copy.deepcopy(role)
        role["id"] = canonical_guid(role["id"])
        role.setdefault("isEnabled", True)
        role.setdefault("allowedMemberTypes", ["Application"])
        role.setdefault("displayName", role["value"])
        role.setdefault("description", role["displayName"])
        role.setdefault("origin", "Application")
        out.append(role)
    return out


def build_app(spec: dict, existing: Optional[App] = None) -> App:
    """Build (or extend) an App from a seed/control entry ``{client_id, client_secret(s)?, certificate_pem?, ...}``."""
    _require(isinstance(spec, dict), "an app must be an object")
    client_id = spec.get("client_id")
    _require(is_guid(client_id), f"app client_id must be a GUID, got {client_id!r}")
    app = copy.deepcopy(existing) if existing else App(client_id=canonical_guid(client_id))
    if "display_name" in spec:
        app.display_name = str(spec["display_name"])
    for secret in _str_list(spec.get("client_secret"), "client_secret") + _str_list(spec.get("client_secrets"), "client_secrets"):
        if secret not in app.client_secrets:
            app.client_secrets.append(secret)
    pems = _str_list(spec.get("certificate_pem"), "certificate_pem")
    for entry in spec.get("certificates") or []:
        pems.append(entry["pem"] if isinstance(entry, dict) else entry)
    for pem in pems:
        try:
            thumbs = certs.thumbprints(pem)
        except ValueError as exc:
            raise SeedError(f"app {client_id}: certificate is not a PEM X.509 certificate ({exc})") from exc
        if all(c["x5t"] != thumbs["x5t"] for c in app.certificates):
            app.certificates.append({"pem": pem, **thumbs})
    for fic in spec.get("federated") or []:
        _require(isinstance(fic, dict) and isinstance(fic.get("issuer"), str) and isinstance(fic.get("subject"), str),
                 "a federated credential needs string 'issuer' and 'subject'")
        entry = {"issuer": fic["issuer"], "subject": fic["subject"],
                 "audiences": _str_list(fic.get("audiences"), "audiences") or [FEDERATED_DEFAULT_AUDIENCE]}
        if entry not in app.federated:
            app.federated.append(entry)
    if "permissions" in spec:
        app.permissions = _str_list(spec["permissions"], "permissions")
    if "default" in spec:
        app.default = bool(spec["default"])
    return app


@dataclass
class _StaleView:
    """What reads still see for one grant after a write, until replication 'catches up'."""

    old: Optional[dict]  # None: the grant did not exist before (reads do not see it yet)
    reads_left: int
    until: float


class Directory:
    """All directory data. Not thread-safe by itself: the caller holds one lock per operation."""

    def __init__(self):
        self.tenant: dict = {}
        self.apps: dict = {}
        self.managed_identity: Optional[dict] = None
        self._service_principals: dict = {}
        self._users: dict = {}
        self._upn_index: dict = {}
        self.grants: dict = {}
        self.grant_created_at: dict = {}  # id -> time.time() of its POST (seeded grants are old: absent)
        self._stale: dict = {}
        self.grants_revision = 0  # bumped when a grant is created or deleted (grant_index.py caches by it)
        # appstate.py builds on this module, so it is imported here rather than at the top.
        from .appstate import AppStore  # pylint: disable=import-outside-toplevel
        self.appstore = AppStore()
        from .drivestate import DriveStore  # pylint: disable=import-outside-toplevel
        self.drivestore = DriveStore()

    # ----------------------------------------------------------------- seed
    @classmethod
    def from_seed(cls, seed: dict, now: Optional[float] = None) -> "Directory":
        now = time.time() if now is None else now
        directory = cls()
        _require(isinstance(seed, dict), "a seed must be a JSON object")
        tenant = seed.get("tenant") or {}
        _require(is_guid(tenant.get("id")), "seed tenant.id must be a GUID")
        directory.tenant = {
            "id": canonical_guid(tenant["id"]),
            "domain": tenant.get("domain") or "contoso.onmicrosoft.com",
            "displayName": tenant.get("displayName") or "Contoso",
        }
        for spec in seed.get("apps") or []:
            app = build_app(spec)
            _require(app.client_id not in directory.apps, f"duplicate app {app.client_id}")
            directory.apps[app.client_id] = app
        mi_spec = seed.get("managed_identity")
        if mi_spec:
            _require(isinstance(mi_spec.get("header"), str) and is_guid(mi_spec.get("client_id")),
                     "managed_identity needs a string 'header' and a GUID 'client_id'")
            directory.managed_identity = {
                "header": mi_spec["header"],
                "client_id": canonical_guid(mi_spec["client_id"]),
                "principal_id": canonical_guid(mi_spec["principal_id"]) if is_guid(mi_spec.get("principal_id")) else None,
                "resource_id": mi_spec.get("resource_id"),
                "permissions": _str_list(mi_spec.get("permissions"), "managed_identity.permissions"),
            }
        default_age = seed.get("_seed_age_seconds", DEFAULT_SEED_AGE_SECONDS)
        for sp in seed.get("servicePrincipals") or []:
            directory.add_service_principal(sp, now, default_age)
        for user in seed.get("users") or []:
            directory.add_user(user, now, default_age)
        for grant in seed.get("grants") or []:
            directory._add_seed_grant(grant)
        directory.appstore.load(seed, directory, now, default_age)
        directory.drivestore.load(seed, directory, now)
        return directory

    def dump(self, now: Optional[float] = None) -> dict:
        """The whole state in seed format (loadable again with POST /_emulator/seed)."""
        now = time.time() if now is None else now

        def with_age(obj):
            out = {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}
            out["_created_seconds_ago"] = round(now - obj["_created_at"], 3)
            return out

        return {
            "tenant": dict(self.tenant),
            "apps": [app.to_dict() for app in self.apps.values()],
            "managed_identity": dict(self.managed_identity) if self.managed_identity else None,
            "servicePrincipals": [with_age(sp) for sp in self.service_principals()],
            "users": [with_age(u) for u in self.users()],
            "grants": [dict(g) for g in sorted(self.grants.values(), key=lambda g: g["id"])],
            **self.appstore.dump(now),
            **self.drivestore.dump(),
            "replication_pending": [
                {"id": gid, "visible": copy.deepcopy(view.old), "reads_left": view.reads_left,
                 "seconds_left": max(0.0, round(view.until - now, 3))}
                for gid, view in sorted(self._stale.items())
            ],
        }

    def tenant_names(self) -> set:
        return {self.tenant["id"].lower(), self.tenant["domain"].lower()}

    def default_app(self) -> Optional[App]:
        for app in self.apps.values():
            if app.default:
                return app
        return next(iter(self.apps.values()), None)

    # ------------------------------------------------------- service principals
    def add_service_principal(self, spec: dict, now: float, default_age: float = 0.0) -> dict:
        _require(isinstance(spec, dict), "a service principal must be an object")
        _require(is_guid(spec.get("id")), f"servicePrincipal id must be a GUID, got {spec.get('id')!r}")
        _require(is_guid(spec.get("appId")), f"servicePrincipal appId must be a GUID, got {spec.get('appId')!r}")
        _require(isinstance(spec.get("displayName"), str), "servicePrincipal displayName must be a string")
        sp = copy.deepcopy(spec)
        sp["id"] = canonical_guid(sp["id"])
        sp["appId"] = canonical_guid(sp["appId"])
        _require(sp["id"] not in self._service_principals, f"duplicate servicePrincipal id {sp['id']}")
        _require(self.service_principal_by_app_id(sp["appId"]) is None, f"duplicate servicePrincipal appId {sp['appId']}")
        # v1.0 calls the catalogue oauth2PermissionScopes, beta publishedPermissionScopes (same data, §9).
        scopes = sp.pop("publishedPermissionScopes", None)
        sp.setdefault("oauth2PermissionScopes", scopes or [])
        for scope in sp["oauth2PermissionScopes"]:
            _require(isinstance(scope, dict) and isinstance(scope.get("value"), str) and is_guid(scope.get("id")),
                     f"servicePrincipal {sp['displayName']}: each permission scope needs a GUID id and a value")
            scope.setdefault("isEnabled", True)
            scope.setdefault("type", "User")
        sp["appRoles"] = check_app_roles(sp.get("appRoles") or [], f"servicePrincipal {sp['displayName']}")
        sp.setdefault("appDisplayName", sp["displayName"])
        sp.setdefault("servicePrincipalType", "Application")
        sp.setdefault("accountEnabled", True)
        sp["_created_at"] = now - float(sp.pop("_created_seconds_ago", default_age))
        self._service_principals[sp["id"]] = sp
        return sp

    def service_principal(self, object_id: str) -> Optional[dict]:
        return self._service_principals.get(object_id.lower()) if isinstance(object_id, str) else None

    def service_principal_by_app_id(self, app_id: str) -> Optional[dict]:
        app_id = app_id.lower()
        for sp in self._service_principals.values():
            if sp["appId"] == app_id:
                return sp
        return None

    def service_principals(self) -> list:
        return [self._service_principals[k] for k in sorted(self._service_principals)]

    # -------------------------------------------------------------------- users
    def add_user(self, spec: dict, now: float, default_age: float = 0.0) -> dict:
        _require(isinstance(spec, dict), "a user must be an object")
        _require(is_guid(spec.get("id")), f"user id must be a GUID, got {spec.get('id')!r}")
        _require(isinstance(spec.get("userPrincipalName"), str) and "@" in spec["userPrincipalName"],
                 "user userPrincipalName must be a string containing '@'")
        user = copy.deepcopy(spec)
        user["id"] = canonical_guid(user["id"])
        upn_key = user["userPrincipalName"].lower()
        _require(user["id"] not in self._users, f"duplicate user id {user['id']}")
        _require(upn_key not in self._upn_index, f"duplicate userPrincipalName {user['userPrincipalName']}")
        user.setdefault("displayName", user["userPrincipalName"].split("@")[0])
        user["_created_at"] = now - float(user.pop("_created_seconds_ago", default_age))
        self._users[user["id"]] = user
        self._upn_index[upn_key] = user["id"]
        return user

    def user(self, object_id: str) -> Optional[dict]:
        return self._users.get(object_id.lower()) if isinstance(object_id, str) else None

    def user_by_upn(self, upn: str) -> Optional[dict]:
        user_id = self._upn_index.get(upn.lower())
        return self._users.get(user_id) if user_id else None

    def users(self) -> list:
        return [self._users[k] for k in sorted(self._users)]

    # ------------------------------------------------------------------- grants
    def _add_seed_grant(self, spec: dict):
        _require(isinstance(spec, dict), "a grant must be an object")
        _require(spec.get("consentType") in CONSENT_TYPES, f"grant consentType must be one of {CONSENT_TYPES}")
        for prop in ("clientId", "resourceId"):
            _require(self.service_principal(spec.get(prop) or "") is not None, f"grant {prop} {spec.get(prop)!r} is not a seeded service principal")
        principal = spec.get("principalId")
        if spec["consentType"] == "Principal":
            _require(self.user(principal or "") is not None, f"grant principalId {principal!r} is not a seeded user")
        else:
            _require(principal is None, "an AllPrincipals grant has no principalId")
        record = new_grant_record(spec["clientId"], spec["consentType"], principal, spec["resourceId"], spec.get("scope"),
                                  spec.get("startTime"), spec.get("expiryTime"))
        _require(spec.get("id") in (None, record["id"]), f"grant id {spec.get('id')!r} does not match its key (expected {record['id']})")
        _require(record["id"] not in self.grants, f"duplicate grant {record['id']}")
        self.grants[record["id"]] = record
        self.grants_revision += 1

    def _remember_before_write(self, gid: str, replication: Optional[tuple]):
        """Keep what reads saw before this write, for N reads / T seconds (docs/dev/graph-behaviour.md#replication-lag)."""
        if not replication:
            return
        reads, seconds = replication
        if reads <= 0 and seconds <= 0:
            return
        until = time.time() + seconds
        if gid in self._stale:  # an older unreplicated view stays the one readers see
            view = self._stale[gid]
            view.reads_left = max(view.reads_left, reads)
            view.until = max(view.until, until)
        else:
            self._stale[gid] = _StaleView(copy.deepcopy(self.grants.get(gid)), reads, until)

    def create_grant(self, record: dict, replication: Optional[tuple] = None):
        self._remember_before_write(record["id"], replication)
        self.grants[record["id"]] = record
        self.grants_revision += 1
        self.grant_created_at[record["id"]] = time.time()

    def update_grant_scope(self, gid: str, scope: Optional[str], replication: Optional[tuple] = None):
        self._remember_before_write(gid, replication)
        self.grants[gid]["scope"] = scope

    def delete_grant(self, gid: str, replication: Optional[tuple] = None):
        self._remember_before_write(gid, replication)
        del self.grants[gid]
        self.grants_revision += 1
        self.grant_created_at.pop(gid, None)

    def _expire_stale(self, now: float):
        for gid in [g for g, v in self._stale.items() if v.reads_left <= 0 and v.until <= now]:
            del self._stale[gid]

    def visible_grant(self, gid: str) -> Optional[dict]:
        self._expire_stale(time.time())
        if gid in self._stale:
            return self._stale[gid].old
        return self.grants.get(gid)

    def has_pending_views(self) -> bool:
        """True while a replication-lag view of some grant is still what reads see."""
        self._expire_stale(time.time())
        return bool(self._stale)

    def visible_grants(self) -> list:
        """Every grant a read would see now, ordered by id (a stable order for keyset paging)."""
        if not self.has_pending_views():
            from .grant_index import sorted_grants  # pylint: disable=import-outside-toplevel
            return sorted_grants(self)
        ids = set(self.grants) | set(self._stale)
        out = []
        for gid in sorted(ids):
            grant = self._stale[gid].old if gid in self._stale else self.grants.get(gid)
            if grant is not None:
                out.append(grant)
        return out

    def note_grant_read(self):
        """One read of grants happened: replication moves one step on."""
        for view in self._stale.values():
            view.reads_left -= 1
        self._expire_stale(time.time())


def new_grant_record(client_id, consent_type, principal_id, resource_id, scope, start_time=None, expiry_time=None) -> dict:
    client_id = canonical_guid(client_id)
    resource_id = canonical_guid(resource_id)
    principal_id = canonical_guid(principal_id) if principal_id else None
    return {
        "id": grant_id(client_id, resource_id, principal_id),
        "clientId": client_id,
        "consentType": consent_type,
        "principalId": principal_id,
        "resourceId": resource_id,
        "scope": scope,
        "startTime": start_time,
        "expiryTime": expiry_time,
    }
