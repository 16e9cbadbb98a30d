"""Fault-injection knobs (docs/dev/emulator.md, fault knobs): validation, merging and the decisions they drive.

Counted knobs (``throttle_next``, ``fail_next``, ``drop_next``, ``apply_then_fail_next``) decrement as they fire.
``methods`` (list of HTTP methods) and ``paths`` (a regex searched in ``/{version}/{path}``) narrow the
request-level faults (throttle_*, fail_next, drop_next, apply_then_fail_next) to matching Graph operations.
"""

import copy
import email.utils
import re
import threading
import time
from dataclasses import dataclass
from typing import Optional

from .clouds import CLOUD_GRAPH_ROOTS

DEFAULTS = {
    "duplicate_status": 409,
    "nonexistent_client_filter": "empty",
    "replication_delay_reads": 0,
    "replication_delay_seconds": 0,
    "reference_lag_seconds": 0,
    "reference_lag_status": 404,
    "throttle_next": 0,
    "throttle_every": 0,
    "retry_after": 1,
    "fail_next": 0,
    "fail_status": 503,
    "fail_retry_after": None,
    "apply_then_fail_next": 0,
    "apply_then_fail_mode": "503",
    "drop_next": 0,
    "latency_ms": 0,
    "empty_page_with_nextlink": 0,
    "strict_scopes": False,
    "shuffle_batch": False,
    "cloud": None,
    "token_ttl": 3599,
    "search_status": 400,
    "methods": None,
    "paths": None,
    # Readings of Graph where Microsoft's sources are silent or disagree (docs/dev/emulator.md, "Readings").
    "page_size": None,
    "navigation_filter": "honoured",
    "batch_envelope_on_throttle": 200,
    "listing_completeness": "complete",
    "count_offset": 0,
    "write_lag_seconds": 0,
    "batch_special_user_names": "supported",
    "duplicate_message": "permission_entry",
    "alternate_key_miss_status": 404,
    "msi_resource_form": "any",
    # Admin consent as code: app role assignments and service principal creation.
    "assignment_filter": "honoured",
    "assignment_duplicate_message": "permission_exists",
    "strict_default_role": False,
    "app_lag_seconds": 0,
    # Drives and sharing permissions (docs/dev/emulator.md, "Drives and sharing permissions").
    "permission_change_bump_etag": True,
    "drive_inherited_from": "full",
    "drive_precondition_code": "resourceModified",
    "drive_owner_delete": "ignored",
    "drive_concurrent_writer": 0,
    "drive_concurrent_change": "content",
    "drive_pending_invitations_listed": True,
    "invite_merge": "replace",
    "truncate_after": None,
    "notify_fail": False,
    "app_only_new_guest": "invited",
    # The throttling model (throttle.py): operations per application and window, 0 = off.
    "throttle_budget": 0,
    "throttle_window_seconds": 10,
}

# Knobs whose value is one of a fixed set (the readings' knobs among them).
CHOICES = {
    "duplicate_status": (409, 400),
    "reference_lag_status": (404, 400),
    "fail_status": (500, 503, 504),
    "search_status": (400, 500),
    "batch_envelope_on_throttle": (200, 424),
    "alternate_key_miss_status": (404, 400),
    "navigation_filter": ("honoured", "ignored", "rejected"),
    "listing_completeness": ("complete", "advanced_only"),
    "batch_special_user_names": ("supported", "not_found"),
    "duplicate_message": ("permission_entry", "other"),
    "msi_resource_form": ("any", "slash", "no_slash"),
    "assignment_filter": ("honoured", "ignored", "rejected"),
    "assignment_duplicate_message": ("permission_exists", "entitlement_grant"),
    "drive_inherited_from": ("full", "empty", "omitted"),
    "drive_precondition_code": ("resourceModified", "notAllowed"),
    "drive_owner_delete": ("ignored", "refused"),
    "drive_concurrent_change": ("content", "add_permission", "same_change"),
    "invite_merge": ("replace", "union"),
    "app_only_new_guest": ("invited", "refused"),
}

COUNTED = ("throttle_next", "fail_next", "drop_next", "apply_then_fail_next", "drive_concurrent_writer")
WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")


class FaultError(ValueError):
    """A knob name or value is not accepted."""


def _non_negative_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FaultError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def _non_negative_number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise FaultError(f"{name} must be a non-negative number, got {value!r}")
    return value


def _choice(name, value, choices):
    if value not in choices:
        raise FaultError(f"{name} must be one of {sorted(map(str, choices))}, got {value!r}")
    return value


def _validate(name, value):  # pylint: disable=too-many-return-statements,too-many-branches
    if name not in DEFAULTS:
        raise FaultError(f"unknown fault knob {name!r}; known: {', '.join(sorted(DEFAULTS))}")
    if name in ("throttle_next", "throttle_every", "fail_next", "drop_next", "apply_then_fail_next", "replication_delay_reads",
                "drive_concurrent_writer"):
        return _non_negative_int(name, value)
    if name in ("replication_delay_seconds", "reference_lag_seconds", "latency_ms", "write_lag_seconds",
                "app_lag_seconds"):
        return _non_negative_number(name, value)
    if name == "throttle_budget":
        return _non_negative_int(name, value)
    if name == "throttle_window_seconds":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise FaultError(f"{name} must be a positive number, got {value!r}")
        return value
    if name == "empty_page_with_nextlink":
        return int(value) if isinstance(value, bool) else _non_negative_int(name, value)
    if name in CHOICES:
        return _choice(name, value, CHOICES[name])
    if name in ("page_size", "truncate_after"):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise FaultError(f"{name} must be a positive integer or null, got {value!r}")
        return value
    if name == "count_offset":
        if isinstance(value, bool) or not isinstance(value, int):
            raise FaultError(f"count_offset must be an integer, got {value!r}")
        return value
    if name == "nonexistent_client_filter":
        return _choice(name, str(value), ("empty", "404"))
    if name == "apply_then_fail_mode":
        return _choice(name, str(value), ("503", "504", "drop"))
    if name in ("strict_scopes", "shuffle_batch", "strict_default_role", "permission_change_bump_etag",
                "drive_pending_invitations_listed", "notify_fail"):
        if not isinstance(value, bool):
            raise FaultError(f"{name} must be true or false")
        return value
    if name == "cloud":
        return value if value is None else _choice(name, value, tuple(CLOUD_GRAPH_ROOTS))
    if name == "token_ttl":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise FaultError("token_ttl must be a positive integer (seconds)")
        return value
    if name in ("retry_after", "fail_retry_after"):
        if value is None or value == "http-date":
            return value
        return _non_negative_number(name, value)
    if name == "methods":
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(m, str) for m in value):
            raise FaultError("methods must be a list of HTTP methods")
        return [m.upper() for m in value]
    if name == "paths":
        if value is None:
            return None
        try:
            re.compile(value)
        except (re.error, TypeError) as exc:
            raise FaultError(f"paths must be a regular expression: {exc}") from exc
        return value
    raise FaultError(f"no validator for {name}")  # unreachable: every DEFAULTS key is handled above


@dataclass
class Throttle:
    retry_after: Optional[str]  # header value, None = no header


@dataclass
class Failure:
    status: int  # 500, 503 or 504
    retry_after: Optional[str]


class Faults:
    """The current knob values plus the counters they drive. Thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._knobs = dict(DEFAULTS)
        self._every_counter = 0
        self._fired = {}

    def snapshot(self) -> dict:
        with self._lock:
            out = copy.deepcopy(self._knobs)
            out["fired"] = dict(self._fired)
            return out

    def get(self, name):
        with self._lock:
            return self._knobs[name]

    def merge(self, knobs: dict) -> dict:
        if not isinstance(knobs, dict):
            raise FaultError("faults must be a JSON object")
        validated = {name: _validate(name, value) for name, value in knobs.items()}
        with self._lock:
            self._knobs.update(validated)
            if "throttle_every" in validated:
                self._every_counter = 0
        return self.snapshot()

    def clear(self):
        with self._lock:
            self._knobs = dict(DEFAULTS)
            self._every_counter = 0
            self._fired = {}

    # ----------------------------------------------------------------- decisions
    def _matches(self, method: str, path: str) -> bool:
        methods, pattern = self._knobs["methods"] or (), self._knobs["paths"]
        if methods and method.upper() not in methods:
            return False
        return not (pattern and not re.search(pattern, path))

    def _fire(self, name: str):
        self._fired[name] = self._fired.get(name, 0) + 1
        if name in COUNTED:
            self._knobs[name] -= 1

    def latency_seconds(self) -> float:
        return self.get("latency_ms") / 1000.0

    def take_drop(self, method: str, path: str) -> bool:
        """drop_next: close this Graph HTTP request's connection without answering (nothing is applied)."""
        with self._lock:
            if self._knobs["drop_next"] > 0 and self._matches(method, path):
                self._fire("drop_next")
                return True
            return False

    def take_operation_fault(self, method: str, path: str):
        """Throttling and fail_next for one Graph operation (a batch item counts as one). Returns
        ``Throttle``, ``Failure`` or None."""
        with self._lock:
            if not self._matches(method, path):
                return None
            if self._knobs["throttle_next"] > 0:
                self._fire("throttle_next")
                return Throttle(self._retry_after_header("retry_after"))
            every = self._knobs["throttle_every"]
            if every:
                self._every_counter += 1
                if self._every_counter % every == 0:
                    self._fire("throttle_every")
                    return Throttle(self._retry_after_header("retry_after"))
            if self._knobs["fail_next"] > 0:
                self._fire("fail_next")
                return Failure(self._knobs["fail_status"], self._retry_after_header("fail_retry_after"))
            return None

    def take_counted(self, name: str) -> bool:
        """One firing of a counted knob that is not narrowed by ``methods``/``paths`` (e.g. drive_concurrent_writer)."""
        with self._lock:
            if self._knobs[name] > 0:
                self._fire(name)
                return True
            return False

    def take_apply_then_fail(self, method: str, path: str) -> Optional[str]:
        """For a write that was applied: '503', '504' or 'drop' when the answer must be lost, else None."""
        with self._lock:
            if method.upper() in WRITE_METHODS and self._knobs["apply_then_fail_next"] > 0 and self._matches(method, path):
                self._fire("apply_then_fail_next")
                return self._knobs["apply_then_fail_mode"]
            return None

    def _retry_after_header(self, knob: str) -> Optional[str]:
        value = self._knobs[knob]
        if value is None:
            return None
        if value == "http-date":
            # HTTP-dates have 1 s resolution: 2 s ahead means a client waits 1-2 s.
            return email.utils.formatdate(time.time() + 2, usegmt=True)
        if isinstance(value, float) and not value.is_integer():
            return repr(value)
        return str(int(value))
