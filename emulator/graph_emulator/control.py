"""The control plane under ``/_emulator`` (no auth; loopback only): reset, seed, state, request log, faults,
apps, plus small helpers for tests (add one object, mint a token, health)."""

import json
import time
from urllib.parse import parse_qsl

from .faults import FaultError
from .messages import Response, json_response
from .state import SeedError, build_app


class ControlError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _json(request):
    if not request.body.strip():
        return {}
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ControlError(400, f"body is not JSON: {exc}") from exc


class ControlPlane:
    def __init__(self, app):
        self.app = app
        self.routes = {
            ("health", "GET"): self.health,
            ("reset", "POST"): self.reset,
            ("seed", "POST"): self.seed,
            ("state", "GET"): self.state,
            ("requests", "GET"): self.requests,
            ("requests", "DELETE"): self.clear_requests,
            ("requests/summary", "GET"): self.summary,
            ("faults", "GET"): self.faults,
            ("faults", "POST"): self.set_faults,
            ("faults", "DELETE"): self.clear_faults,
            ("apps", "GET"): self.apps,
            ("apps", "POST"): self.register_app,
            ("serviceprincipals", "POST"): self.add_service_principal,
            ("users", "POST"): self.add_user,
            ("token", "POST"): self.mint_token,
        }

    def handle(self, request, segments: list) -> Response:
        name = "/".join(segments).lower()
        handler = self.routes.get((name, request.method))
        if handler is None:
            known = any(key[0] == name for key in self.routes)
            status = 405 if known else 404
            return json_response(status, {"error": f"{request.method} /_emulator/{name} is not a control endpoint"})
        try:
            return handler(request)
        except ControlError as err:
            return json_response(err.status, {"error": err.message})
        except (SeedError, FaultError) as err:
            return json_response(400, {"error": str(err)})

    # ------------------------------------------------------------------ handlers
    def health(self, request):
        del request
        return json_response(200, {"status": "ok", "url": self.app.canonical_url, "pid": self.app.pid})

    def reset(self, request):
        del request
        self.app.reset()
        return json_response(200, {"status": "reset"})

    def seed(self, request):
        seed = _json(request)
        if not isinstance(seed, dict):
            raise ControlError(400, "a seed must be a JSON object")
        self.app.load_seed(seed)
        return json_response(200, {"status": "seeded", "tenant_id": self.app.directory.tenant["id"]})

    def state(self, request):
        del request
        with self.app.lock:
            return json_response(200, self.app.directory.dump())

    def requests(self, request):
        params = dict(parse_qsl(request.query))
        try:
            since = int(params.get("since", "0"))
        except ValueError as exc:
            raise ControlError(400, "since must be an integer") from exc
        entries = self.app.log.entries(since)
        return json_response(200, {"requests": entries, "summary": self.app.log.summarize(entries)})

    def clear_requests(self, request):
        del request
        self.app.log.clear()
        return json_response(200, {"status": "cleared"})

    def summary(self, request):
        del request
        return json_response(200, self.app.log.summary())

    def faults(self, request):
        del request
        return json_response(200, self.app.faults.snapshot())

    def set_faults(self, request):
        return json_response(200, self.app.faults.merge(_json(request)))

    def clear_faults(self, request):
        del request
        self.app.faults.clear()
        return json_response(200, self.app.faults.snapshot())

    def apps(self, request):
        del request
        with self.app.lock:
            return json_response(200, {"apps": [a.to_dict() for a in self.app.directory.apps.values()]})

    def register_app(self, request):
        """Add an app or extend one (new secret, certificate, federated credential; permissions replace)."""
        spec = _json(request)
        with self.app.lock:
            apps = self.app.directory.apps
            existing = apps.get(str(spec.get("client_id", "")).lower()) if isinstance(spec, dict) else None
            app = build_app(spec, existing)
            apps[app.client_id] = app
            return json_response(200, app.to_dict())

    def add_service_principal(self, request):
        """One new service principal, created now (so reference_lag_seconds applies to it)."""
        spec = _json(request)
        with self.app.lock:
            sp = self.app.directory.add_service_principal(spec, time.time())
            return json_response(201, {k: v for k, v in sp.items() if not k.startswith("_")})

    def add_user(self, request):
        spec = _json(request)
        with self.app.lock:
            user = self.app.directory.add_user(spec, time.time())
            return json_response(201, {k: v for k, v in user.items() if not k.startswith("_")})

    def mint_token(self, request):
        """A Graph access token with chosen claims: ``{client_id?, aud?, roles?, expires_in?, ...extra claims}``."""
        spec = _json(request)
        if not isinstance(spec, dict):
            raise ControlError(400, "body must be an object")
        with self.app.lock:
            issued = self.app.tokens.mint(spec)
        return json_response(200, {"access_token": issued["access_token"], "claims": issued["claims"]})
