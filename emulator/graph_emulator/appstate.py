"""Applications, the catalog of apps without a service principal here, and app role assignments (admin consent
as code; docs/dev/emulator.md, "Applications and app role assignments").

Kept apart from ``state.Directory`` so that module stays about grants; ``Directory`` owns one ``AppStore``.
Assignments have two views like grants: ``assignments`` is the truth writes act on, lists read ``visible()``,
which can lag behind recent writes (the ``replication_delay_*`` knobs).
"""

import base64
import copy
import datetime
import time
import uuid
from dataclasses import dataclass
from typing import Optional

from .state import SeedError, canonical_guid, check_app_roles, is_guid

DEFAULT_ROLE_ID = "00000000-0000-0000-0000-000000000000"
ACCESS_TYPES = ("Scope", "Role")


def _require(condition: bool, message: str):
    if not condition:
        raise SeedError(message)


def assignment_id(principal_id: str) -> str:
    """base64url (no padding) of the principal's little-endian GUID bytes + 16 random bytes: the documented ids
    decode that way, and the second half is neither the resource nor the role, so ids cannot be derived."""
    raw = uuid.UUID(principal_id).bytes_le + uuid.uuid4().bytes_le
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def is_wellformed_assignment_id(value: str) -> bool:
    if len(value) != 43 or not all(c.isalnum() or c in "-_" for c in value):
        return False
    return len(base64.urlsafe_b64decode(value + "=")) == 32


def graph_timestamp(seconds: float) -> str:
    """``2022-05-18T15:37:21.8215423Z``: seven fractional digits, as Graph writes createdDateTime."""
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


def check_required_resource_access(value, owner: str) -> list:
    _require(isinstance(value, list), f"{owner}: requiredResourceAccess must be a list")
    out = []
    for entry in value:
        _require(isinstance(entry, dict) and is_guid(entry.get("resourceAppId")) and isinstance(entry.get("resourceAccess"), list),
                 f"{owner}: each requiredResourceAccess entry needs a GUID resourceAppId and a resourceAccess list")
        accesses = []
        for access in entry["resourceAccess"]:
            _require(isinstance(access, dict) and is_guid(access.get("id")) and access.get("type") in ACCESS_TYPES,
                     f"{owner}: each resourceAccess needs a GUID id and a type Scope or Role")
            accesses.append({"id": canonical_guid(access["id"]), "type": access["type"]})
        out.append({"resourceAppId": canonical_guid(entry["resourceAppId"]), "resourceAccess": accesses})
    return out


@dataclass
class _Stale:
    old: Optional[dict]  # what reads still see (None: the assignment did not exist before)
    reads_left: int
    until: float


class AppStore:
    """Applications (home tenant), the app catalog and app role assignments."""

    def __init__(self):
        self.applications: dict = {}  # id -> application
        self.catalog: dict = {}  # appId -> {appId, displayName, appRoles, oauth2PermissionScopes, appOwnerOrganizationId}
        self.assignments: dict = {}  # id -> assignment (with _created_at)
        self._stale: dict = {}

    # ----------------------------------------------------------------- seed
    def load(self, seed: dict, directory, now: float, default_age: float):
        for spec in seed.get("applications") or []:
            self.add_application(spec, now, default_age)
        for spec in seed.get("appCatalog") or []:
            self.add_catalog_app(spec, now, default_age)
        for spec in seed.get("appRoleAssignments") or []:
            self.add_seed_assignment(spec, directory, now, default_age)

    def dump(self, now: float) -> dict:
        def plain(obj):
            out = {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}
            out["_created_seconds_ago"] = round(now - obj["_created_at"], 3)
            return out

        return {
            "applications": [plain(self.applications[k]) for k in sorted(self.applications)],
            "appCatalog": [plain(self.catalog[k]) for k in sorted(self.catalog)],
            "appRoleAssignments": [plain(self.assignments[k]) for k in sorted(self.assignments)],
        }

    def add_application(self, spec: dict, now: float, default_age: float = 0.0) -> dict:
        _require(isinstance(spec, dict), "an application must be an object")
        _require(is_guid(spec.get("id")) and is_guid(spec.get("appId")), "an application needs GUID id and appId")
        _require(isinstance(spec.get("displayName"), str), "application displayName must be a string")
        app = copy.deepcopy(spec)
        app["id"], app["appId"] = canonical_guid(app["id"]), canonical_guid(app["appId"])
        _require(app["id"] not in self.applications, f"duplicate application id {app['id']}")
        _require(self.application_by_app_id(app["appId"]) is None and app["appId"] not in self.catalog,
                 f"duplicate application appId {app['appId']}")
        owner = f"application {app['displayName']}"
        app["requiredResourceAccess"] = check_required_resource_access(app.get("requiredResourceAccess") or [], owner)
        app["appRoles"] = check_app_roles(app.get("appRoles") or [], owner)
        app.setdefault("signInAudience", "AzureADMyOrg")
        app["_created_at"] = now - float(app.pop("_created_seconds_ago", default_age))
        app.setdefault("createdDateTime", graph_timestamp(app["_created_at"])[:19] + "Z")
        self.applications[app["id"]] = app
        return app

    def add_catalog_app(self, spec: dict, now: float, default_age: float = 0.0) -> dict:
        _require(isinstance(spec, dict) and is_guid(spec.get("appId")) and isinstance(spec.get("displayName"), str),
                 "an appCatalog entry needs a GUID appId and a displayName")
        entry = copy.deepcopy(spec)
        entry["appId"] = canonical_guid(entry["appId"])
        _require(entry["appId"] not in self.catalog and self.application_by_app_id(entry["appId"]) is None,
                 f"duplicate appCatalog appId {entry['appId']}")
        entry["appRoles"] = check_app_roles(entry.get("appRoles") or [], f"appCatalog {entry['displayName']}")
        entry.setdefault("oauth2PermissionScopes", [])
        entry["_created_at"] = now - float(entry.pop("_created_seconds_ago", default_age))
        self.catalog[entry["appId"]] = entry
        return entry

    def add_seed_assignment(self, spec: dict, directory, now: float, default_age: float):
        _require(isinstance(spec, dict), "an app role assignment must be an object")
        principal = directory.service_principal(spec.get("principalId") or "") or directory.user(spec.get("principalId") or "")
        _require(principal is not None, f"appRoleAssignment principalId {spec.get('principalId')!r} is not a seeded service principal or user")
        resource = directory.service_principal(spec.get("resourceId") or "")
        _require(resource is not None, f"appRoleAssignment resourceId {spec.get('resourceId')!r} is not a seeded service principal")
        _require(is_guid(spec.get("appRoleId")), f"appRoleAssignment appRoleId must be a GUID, got {spec.get('appRoleId')!r}")
        record = self.new_assignment(principal, resource, spec["appRoleId"], now - float(spec.get("_created_seconds_ago", default_age)))
        if isinstance(spec.get("createdDateTime"), str):  # GET /_emulator/state output loads back unchanged
            record["createdDateTime"] = spec["createdDateTime"]
        if spec.get("id") is not None:
            _require(isinstance(spec["id"], str) and is_wellformed_assignment_id(spec["id"]),
                     f"appRoleAssignment id {spec['id']!r} is not 43 characters of base64url")
            record["id"] = spec["id"]
        _require(self.find(record["principalId"], record["resourceId"], record["appRoleId"]) is None,
                 f"duplicate appRoleAssignment {record['principalId']} -> {record['resourceId']} role {record['appRoleId']}")
        _require(record["id"] not in self.assignments, f"duplicate appRoleAssignment id {record['id']}")
        self.assignments[record["id"]] = record

    # ---------------------------------------------------------------- lookups
    def application(self, object_id: str) -> Optional[dict]:
        return self.applications.get(object_id.lower()) if isinstance(object_id, str) else None

    def application_by_app_id(self, app_id: str) -> Optional[dict]:
        app_id = app_id.lower()
        return next((a for a in self.applications.values() if a["appId"] == app_id), None)

    def application_list(self) -> list:
        return [self.applications[k] for k in sorted(self.applications)]

    @staticmethod
    def new_assignment(principal: dict, resource: dict, app_role_id: str, created_at: float) -> dict:
        is_user = "userPrincipalName" in principal
        return {
            "id": assignment_id(principal["id"]),
            "deletedDateTime": None,
            "appRoleId": canonical_guid(app_role_id),
            "createdDateTime": graph_timestamp(created_at),
            "principalDisplayName": principal.get("displayName"),
            "principalId": principal["id"],
            "principalType": "User" if is_user else "ServicePrincipal",
            "resourceDisplayName": resource.get("displayName"),
            "resourceId": resource["id"],
            "_created_at": created_at,
        }

    def find(self, principal_id: str, resource_id: str, app_role_id: str) -> Optional[dict]:
        key = (principal_id.lower(), resource_id.lower(), app_role_id.lower())
        return next((a for a in self.assignments.values() if (a["principalId"], a["resourceId"], a["appRoleId"]) == key), None)

    # ------------------------------------------------------- writes and views
    def _remember(self, aid: str, replication: Optional[tuple]):
        reads, seconds = replication or (0, 0)
        if reads <= 0 and seconds <= 0:
            return
        until = time.time() + seconds
        view = self._stale.get(aid)
        if view is None:
            self._stale[aid] = _Stale(copy.deepcopy(self.assignments.get(aid)), reads, until)
        else:  # an older unreplicated view stays the one readers see
            view.reads_left, view.until = max(view.reads_left, reads), max(view.until, until)

    def create(self, record: dict, replication: Optional[tuple] = None):
        self._remember(record["id"], replication)
        self.assignments[record["id"]] = record

    def delete(self, aid: str, replication: Optional[tuple] = None):
        self._remember(aid, replication)
        del self.assignments[aid]

    def _expire(self):
        now = time.time()
        for aid in [a for a, v in self._stale.items() if v.reads_left <= 0 and v.until <= now]:
            del self._stale[aid]

    def visible(self) -> list:
        """What a list sees now, ordered by id (stable keyset paging)."""
        self._expire()
        out = []
        for aid in sorted(set(self.assignments) | set(self._stale)):
            item = self._stale[aid].old if aid in self._stale else self.assignments.get(aid)
            if item is not None:
                out.append(item)
        return out

    def visible_one(self, aid: str) -> Optional[dict]:
        self._expire()
        return self._stale[aid].old if aid in self._stale else self.assignments.get(aid)

    def note_read(self):
        for view in self._stale.values():
            view.reads_left -= 1
        self._expire()
