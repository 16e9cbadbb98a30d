"""The Entra ID (token) side: OIDC discovery, the v2.0 token endpoint (client credentials with a secret, a
certificate assertion or a federated assertion), the App Service managed identity endpoint, and validation of
the access tokens Graph receives.

Access tokens are JWT-shaped and HMAC-signed with a key kept in the state directory (so tokens survive a restart
of the emulator on the same state directory, as real tokens survive a service restart).
"""

import base64
import binascii
import datetime
import hmac
import os
import time
import uuid
from typing import Optional
from urllib.parse import parse_qsl, urlsplit

from . import jwtutil
from .clouds import CLOUD_GRAPH_ROOTS
from .messages import GraphApiError, Response, json_response

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_CLOCK_SKEW = 300  # seconds; Entra ID tolerates about five minutes of skew on assertions
MSI_API_VERSION = "2019-08-01"
SIGNING_KEY_FILE = "token-signing.key"


def normalize_root(url: str) -> Optional[str]:
    """``HTTPS://Graph.Microsoft.com:443/`` -> ``https://graph.microsoft.com`` (None if not an absolute URL)."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.hostname:
        return None
    host = parts.hostname.lower()
    port = parts.port
    netloc = host if port in (None, 443) else f"{host}:{port}"
    return f"{parts.scheme.lower()}://{netloc}"


def load_signing_key(state_dir: str) -> bytes:
    path = os.path.join(state_dir, SIGNING_KEY_FILE)
    try:
        with open(path, "rb") as handle:
            key = bytes.fromhex(handle.read().decode("ascii").strip())
        if len(key) >= 32:
            return key
    except (OSError, ValueError):
        pass
    key = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex())
    return key


class TokenService:
    """Issues and validates tokens. ``app`` is the server's Emulator (directory, lock, faults, local roots)."""

    def __init__(self, app, signing_key: bytes):
        self.app = app
        self.signing_key = signing_key

    # ------------------------------------------------------------------ audiences
    def accepted_audiences(self) -> set:
        """Audiences Graph accepts now: the emulator itself, or the cloud's Graph root when the ``cloud`` knob is set."""
        cloud = self.app.faults.get("cloud")
        return {CLOUD_GRAPH_ROOTS[cloud]} if cloud else set(self.app.local_roots())

    def issuable_resources(self) -> set:
        """Resources the token endpoint issues tokens for: the emulator and the four national Graph roots."""
        return set(self.app.local_roots()) | set(CLOUD_GRAPH_ROOTS.values())

    # ------------------------------------------------------------------ issuing
    def issue(self, *, appid: str, roles: list, audience: str, oid: str, display_name: str, acr: str, extra: Optional[dict] = None) -> dict:
        ttl = int(self.app.faults.get("token_ttl"))
        now = int(time.time())
        tenant_id = self.app.directory.tenant["id"]
        claims = {
            "aud": audience,
            "iss": f"{self.app.canonical_url}/{tenant_id}/",
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "app_displayname": display_name,
            "appid": appid,
            "appidacr": acr,
            "idp": f"{self.app.canonical_url}/{tenant_id}/",
            "idtyp": "app",
            "oid": oid,
            "sub": oid,
            "tid": tenant_id,
            "uti": jwtutil.b64url_encode(uuid.uuid4().bytes),
            "ver": "1.0",
        }
        if roles:
            claims["roles"] = list(roles)
        claims.update(extra or {})
        token = jwtutil.encode_hs256(claims, self.signing_key, {"kid": "graph-emulator"})
        return {"access_token": token, "expires_in": ttl, "expires_on": now + ttl, "claims": claims}

    def mint(self, spec: dict) -> dict:
        """Control-plane helper: a token with chosen claims (e.g. an expired one or another audience)."""
        directory = self.app.directory
        app = directory.apps.get(str(spec.get("client_id", "")).lower()) or directory.default_app()
        audience = spec.get("aud") or self.app.canonical_url
        roles = spec["roles"] if "roles" in spec else (app.permissions if app else [])
        issued = self.issue(appid=app.client_id if app else str(uuid.uuid4()), roles=roles, audience=audience,
                            oid=self._object_id_for(app.client_id if app else ""), display_name=app.display_name if app else "",
                            acr="1", extra={k: v for k, v in spec.items() if k not in ("client_id", "aud", "roles", "expires_in")})
        if "expires_in" in spec:  # re-sign with a chosen lifetime (may be negative: already expired)
            claims = dict(issued["claims"])
            claims["exp"] = int(time.time()) + int(spec["expires_in"])
            issued["access_token"] = jwtutil.encode_hs256(claims, self.signing_key, {"kid": "graph-emulator"})
            issued["claims"] = claims
        return issued

    def _object_id_for(self, client_id: str) -> str:
        sp = self.app.directory.service_principal_by_app_id(client_id) if client_id else None
        return sp["id"] if sp else str(uuid.uuid5(uuid.NAMESPACE_URL, f"graph-emulator:sp:{client_id}"))

    # --------------------------------------------------------------- validation
    def validate_bearer(self, authorization: Optional[str]) -> dict:
        """Claims of a valid Graph access token, else GraphApiError 401 InvalidAuthenticationToken (§4.2)."""
        scheme, token = (authorization or "").strip().partition(" ")[::2]
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise self._unauthorized("Access token is empty.")
        try:
            jwtutil.split(token)
        except jwtutil.JwtError as exc:
            raise self._unauthorized("CompactToken parsing failed with error code: 80049217") from exc
        try:
            claims = jwtutil.verify_hs256(token, self.signing_key)
        except jwtutil.JwtError as exc:
            raise self._unauthorized("Access token validation failure.") from exc
        now = time.time()
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= now or claims.get("nbf", 0) > now + ASSERTION_CLOCK_SKEW:
            raise self._unauthorized("Access token has expired or is not yet valid.")
        if str(claims.get("tid", "")).lower() != self.app.directory.tenant["id"]:
            raise self._unauthorized("Access token validation failure.")
        if normalize_root(str(claims.get("aud", ""))) not in self.accepted_audiences():
            raise self._unauthorized("Access token validation failure. Invalid audience.")
        return claims

    def _unauthorized(self, message: str) -> GraphApiError:
        header = f'Bearer realm="", authorization_uri="{self.app.canonical_url}/common/oauth2/authorize", client_id="{GRAPH_APP_ID}"'
        return GraphApiError(401, "InvalidAuthenticationToken", message, headers={"WWW-Authenticate": header})

    # ------------------------------------------------------------ HTTP endpoints
    def route(self, request, segments: list):
        """(kind, handler) for a token-side path, or None. Paths: /{tenant}/v2.0/.well-known/openid-configuration,
        /{tenant}/oauth2/v2.0/token, /{tenant}/discovery/v2.0/keys, /msi/token."""
        lowered = [s.lower() for s in segments]
        if lowered == ["msi", "token"]:
            return "msi", self.handle_msi
        if len(lowered) == 4 and lowered[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            return "discovery", self.handle_discovery
        if len(lowered) == 4 and lowered[1:] == ["discovery", "v2.0", "keys"]:
            return "discovery", lambda req, segs: json_response(200, {"keys": []})
        if len(lowered) == 4 and lowered[1:] == ["oauth2", "v2.0", "token"]:
            return "token", self.handle_token
        del request
        return None

    def _aad_error(self, request, status: int, error: str, code: int, description: str) -> Response:
        trace_id = str(uuid.uuid4())
        correlation_id = request.header("client-request-id") or str(uuid.uuid4())
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        body = {
            "error": error,
            "error_description": f"AADSTS{code}: {description}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {stamp}",
            "error_codes": [code],
            "timestamp": stamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"{self.app.canonical_url}/error?code={code}",
        }
        return json_response(status, body, {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache", "x-ms-request-id": trace_id},
                             content_type="application/json; charset=utf-8")

    def _tenant_error(self, request, tenant: str) -> Response:
        return self._aad_error(request, 400, "invalid_tenant", 90002,
                               f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the "
                               "correct cloud. Check with your subscription administrator, this may happen if there are no active "
                               "subscriptions for the tenant.")

    def handle_discovery(self, request, segments: list) -> Response:
        tenant = segments[0]
        with self.app.lock:
            known = tenant.lower() in self.app.directory.tenant_names()
            tenant_id = self.app.directory.tenant["id"]
        if not known and tenant.lower() not in ("common", "organizations"):
            return self._tenant_error(request, tenant)
        base = request.base_url
        path_tenant = tenant_id if known else tenant.lower()
        issuer_tenant = tenant_id if known else "{tenantid}"
        doc = {
            "token_endpoint": f"{base}/{path_tenant}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/{path_tenant}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/{issuer_tenant}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{base}/oidc/userinfo",
            "authorization_endpoint": f"{base}/{path_tenant}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/{path_tenant}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/{path_tenant}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
                                 "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name",
                                 "tid", "ver", "at_hash", "c_hash", "email"],
            "kerberos_endpoint": f"{base}/{path_tenant}/kerberos",
            "tenant_region_scope": "NA",
            "cloud_instance_name": "graph-emulator.local",
            "cloud_graph_host_name": urlsplit(base).netloc,
            "msgraph_host": urlsplit(base).netloc,
            "rbac_url": base,
        }
        return json_response(200, doc, {"Cache-Control": "max-age=86400, private"}, content_type="application/json; charset=utf-8")

    def _token_endpoints(self, tenant_names: set) -> set:
        """Values accepted as ``aud`` of a certificate assertion: this token endpoint (v2 or v1) on either host name."""
        out = set()
        for root in self.app.local_roots():
            for tenant in tenant_names:
                out.add(f"{root}/{tenant}/oauth2/v2.0/token")
                out.add(f"{root}/{tenant}/oauth2/token")
        return out

    def handle_token(self, request, segments: list) -> Response:  # pylint: disable=too-many-return-statements
        if request.method != "POST":
            return self._aad_error(request, 405, "invalid_request", 900561, "The endpoint only accepts POST requests. Received a GET request.")
        tenant = segments[0]
        with self.app.lock:
            directory = self.app.directory
            tenant_names = directory.tenant_names()
            if tenant.lower() in ("common", "organizations", "consumers"):
                return self._aad_error(request, 400, "invalid_request", 50059,
                                       "No tenant-identifying information found in either the request or implied by any provided credentials.")
            if tenant.lower() not in tenant_names:
                return self._tenant_error(request, tenant)
            form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
            client_id, basic_secret = self._basic_auth(request)
            client_id = form.get("client_id") or client_id
            grant_type = form.get("grant_type")
            if not grant_type:
                return self._missing_parameter(request, "grant_type")
            if grant_type != "client_credentials":
                return self._aad_error(request, 400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant_type}'.")
            if not client_id:
                return self._missing_parameter(request, "client_id")
            app = directory.apps.get(client_id.lower())
            if app is None:
                return self._aad_error(request, 400, "unauthorized_client", 700016,
                                       f"Application with identifier '{client_id}' was not found in the directory '{directory.tenant['displayName']}'. "
                                       "This can happen if the application has not been installed by the administrator of the tenant or "
                                       "consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.")
            failure, acr = self._check_credential(request, app, form, basic_secret, tenant_names)
            if failure is not None:
                return failure
            resource, failure = self._resource_from_scope(request, form.get("scope"))
            if failure is not None:
                return failure
            issued = self.issue(appid=app.client_id, roles=app.permissions, audience=resource, oid=self._object_id_for(app.client_id),
                                display_name=app.display_name, acr=acr)
        body = {"token_type": "Bearer", "expires_in": issued["expires_in"], "ext_expires_in": issued["expires_in"],
                "access_token": issued["access_token"]}
        return json_response(200, body, {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache", "x-ms-request-id": str(uuid.uuid4())},
                             content_type="application/json; charset=utf-8")

    @staticmethod
    def _basic_auth(request):
        scheme, value = (request.header("authorization") or "").partition(" ")[::2]
        if scheme.lower() != "basic":
            return None, None
        try:
            user, password = base64.b64decode(value).decode("utf-8").partition(":")[::2]
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return None, None
        return user, password

    def _missing_parameter(self, request, name: str) -> Response:
        return self._aad_error(request, 400, "invalid_request", 900144, f"The request body must contain the following parameter: '{name}'.")

    def _check_credential(self, request, app, form: dict, basic_secret, tenant_names):  # pylint: disable=too-many-return-statements
        """-> (error Response or None, appidacr)."""
        secret = form.get("client_secret") or basic_secret
        assertion = form.get("client_assertion")
        if secret:
            if not any(hmac.compare_digest(secret.encode(), s.encode()) for s in app.client_secrets):
                return self._aad_error(request, 401, "invalid_client", 7000215,
                                       "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
                                       f"value, not the client secret ID, for a secret added to app '{app.client_id}'."), None
            return None, "1"
        if not assertion:
            return self._aad_error(request, 401, "invalid_client", 7000218,
                                   "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."), None
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            return self._aad_error(request, 400, "invalid_request", 700232,
                                   f"The client_assertion_type must be '{CLIENT_ASSERTION_TYPE}'."), None
        try:
            header, claims, signing_input, signature = jwtutil.split(assertion)
        except jwtutil.JwtError:
            return self._aad_error(request, 401, "invalid_client", 50027, "JWT token is invalid or malformed."), None
        now = time.time()
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] < now - ASSERTION_CLOCK_SKEW or \
                (isinstance(claims.get("nbf"), (int, float)) and claims["nbf"] > now + ASSERTION_CLOCK_SKEW):
            return self._aad_error(request, 401, "invalid_client", 700024, "Client assertion is not within its valid time range. "
                                   f"Current time: {datetime.datetime.now(datetime.timezone.utc).isoformat()}, "
                                   f"expiry time of assertion {claims.get('exp')}."), None
        if str(claims.get("iss", "")).lower() == app.client_id:
            return self._check_certificate_assertion(request, app, header, claims, signing_input, signature, tenant_names)
        return self._check_federated_assertion(request, app, claims)

    def _check_certificate_assertion(self, request, app, header, claims, signing_input, signature, tenant_names):
        thumb_256, thumb_1 = header.get("x5t#S256"), header.get("x5t")
        cert = None
        for candidate in app.certificates:
            if (thumb_256 and candidate["x5t#S256"] == thumb_256.rstrip("=")) or (thumb_1 and candidate["x5t"] == thumb_1.rstrip("=")):
                cert = candidate
                break
        if cert is None:
            return self._aad_error(request, 401, "invalid_client", 700027,
                                   "The certificate with identifier used to sign the client assertion is not registered on application. "
                                   f"[Reason - The key was not found., Thumbprint of key used by client: '{thumb_256 or thumb_1}', "
                                   f"Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id "
                                   f"'{app.client_id}'.]"), None
        try:
            jwtutil.verify_rsa(signing_input, signature, header.get("alg", ""), cert["pem"])
        except jwtutil.JwtError as exc:
            return self._aad_error(request, 401, "invalid_client", 700027, f"Client assertion failed signature validation. ({exc})"), None
        if str(claims.get("sub", "")).lower() != app.client_id:
            return self._aad_error(request, 401, "invalid_client", 700021,
                                   "Client assertion application identifier doesn't match 'client_id' parameter."), None
        audiences = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
        accepted = self._token_endpoints(tenant_names)
        if not any(isinstance(a, str) and a.rstrip("/").lower() in accepted for a in audiences):
            return self._aad_error(request, 401, "invalid_client", 700212,
                                   f"Client assertion audience claim does not match the token endpoint. Audience: '{claims.get('aud')}'."), None
        return None, "2"

    def _check_federated_assertion(self, request, app, claims):
        """Workload identity federation: the external IdP's signature is NOT verified (the emulator has no keys for
        it); issuer, subject, audience and lifetime are checked against the app's federated credentials."""
        issuer, subject = claims.get("iss"), claims.get("sub")
        audiences = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
        matches = [f for f in app.federated if f["issuer"] == issuer and f["subject"] == subject]
        if not matches:
            return self._aad_error(request, 400, "invalid_request", 70021,
                                   "No matching federated identity record found for presented assertion. "
                                   f"Assertion Issuer: '{issuer}'. Assertion Subject: '{subject}'. Assertion Audience: '{claims.get('aud')}'."), None
        if not any(a in fic["audiences"] for fic in matches for a in audiences):
            return self._aad_error(request, 400, "invalid_request", 700212,
                                   f"No matching federated identity record found for presented assertion audience '{claims.get('aud')}'."), None
        return None, "2"

    def _resource_from_scope(self, request, scope: Optional[str]):
        """-> (normalised resource root, None) or (None, error Response). Client credentials need '{resource}/.default'."""
        if not scope:
            return None, self._missing_parameter(request, "scope")
        values = scope.split()
        for value in values:
            if not value.endswith("/.default"):
                return None, self._aad_error(request, 400, "invalid_scope", 1002012,
                                             f"The provided value for scope {value} is not valid. Client credential flows must have a scope "
                                             "value with /.default suffixed to the resource identifier (application ID URI).")
        resources = {normalize_root(v[:-len("/.default")]) or v for v in values}
        if len(resources) != 1:
            return None, self._aad_error(request, 400, "invalid_scope", 28000,
                                         "Provided value for the input parameter scope is not valid because it contains more than one resource. "
                                         f"Scope {scope} is not valid.")
        resource = resources.pop()
        if resource not in self.issuable_resources():
            directory = self.app.directory
            return None, self._aad_error(request, 400, "invalid_resource", 500011,
                                         f"The resource principal named {resource} was not found in the tenant named "
                                         f"{directory.tenant['displayName']}. This can happen if the application has not been installed by the "
                                         "administrator of the tenant or consented to by any user in the tenant. You might have sent your "
                                         "authentication request to the wrong tenant.")
        return resource, None

    def _msi_form_accepted(self, resource: str) -> bool:
        """msi_resource_form: ``any`` spelling of the resource, or only with (``slash``) / without (``no_slash``) the
        trailing slash. The token's audience is the normalised root either way, the one Graph accepts."""
        form = self.app.faults.get("msi_resource_form")
        if form == "any" or resource.endswith("/.default"):
            return True
        return resource.endswith("/") == (form == "slash")

    def handle_msi(self, request, segments: list) -> Response:  # pylint: disable=too-many-return-statements
        """App Service managed identity (api-version 2019-08-01), the shape msal.managed_identity parses."""
        del segments
        params = dict(parse_qsl(request.query, keep_blank_values=True))

        def fail(status, message):
            return json_response(status, {"statusCode": status, "message": message, "correlationId": str(uuid.uuid4())})

        with self.app.lock:
            identity = self.app.directory.managed_identity
            if identity is None:
                return fail(400, "No managed identity is configured for this App Service (the emulator seed has no managed_identity).")
            presented = request.header("x-identity-header")
            if not presented or not hmac.compare_digest(presented.encode(), identity["header"].encode()):
                return fail(401, "Unauthorized. The X-IDENTITY-HEADER value is missing or wrong.")
            if params.get("api-version") != MSI_API_VERSION:
                return fail(400, f"The api-version '{params.get('api-version')}' could not be found. Supported: {MSI_API_VERSION}.")
            resource = params.get("resource")
            if not resource:
                return fail(400, "The 'resource' parameter is required.")
            for name, wanted in (("client_id", identity["client_id"]), ("object_id", identity["principal_id"]),
                                 ("mi_res_id", identity["resource_id"])):
                if params.get(name) and (wanted is None or params[name].lower() != str(wanted).lower()):
                    return fail(400, "No Managed Identity found for specified ClientId/ResourceId/PrincipalId.")
            normalized = normalize_root(resource[:-len("/.default")] if resource.endswith("/.default") else resource)
            if normalized not in self.issuable_resources() or not self._msi_form_accepted(resource):
                # App Service answers a resource it cannot issue for with a vague 500 (MSAL's managed_identity.py notes
                # it); the msi_resource_form readings refuse the other spelling of the Graph root the same way.
                return fail(500, "An unexpected error occured while fetching the AAD Token.")
            issued = self.issue(appid=identity["client_id"], roles=identity["permissions"], audience=normalized,
                                oid=identity["principal_id"] or self._object_id_for(identity["client_id"]),
                                display_name="managed identity", acr="2")
        return json_response(200, {"access_token": issued["access_token"], "expires_on": str(issued["expires_on"]),
                                   "resource": resource, "token_type": "Bearer", "client_id": identity["client_id"]})
