"""The token side (discovery, client credentials, assertions, managed identity) and Graph's 401/403 answers."""

import base64
import datetime
import functools
import json
import time
import uuid

import jwt
import msal
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from emu_helpers import AUTOMATION_APP, MI_CLIENT, TENANT_ID, error_of

GRAPH_ROLES = ["DelegatedPermissionGrant.ReadWrite.All", "Application.Read.All", "User.Read.All", "AppRoleAssignment.ReadWrite.All",
               "Application.ReadWrite.All", "Files.ReadWrite.All", "Sites.ReadWrite.All"]


class VerifyingHttpClient:
    """MSAL http_client that passes the emulator CA on every call (REQUESTS_CA_BUNDLE must not win)."""

    def __init__(self, ca_path):
        self.ca_path = ca_path
        self.session = requests.Session()
        self.calls = []

    def get(self, url, **kwargs):
        self.calls.append(url)
        return self.session.get(url, verify=self.ca_path, **kwargs)

    def post(self, url, **kwargs):
        self.calls.append(url)
        return self.session.post(url, verify=self.ca_path, **kwargs)

    def close(self):
        self.session.close()


def claims_of(token):
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


def token_request(emulator, tenant=None, **form):
    data = {"grant_type": "client_credentials", "client_id": emulator.client_id, "client_secret": emulator.client_secret,
            "scope": f"{emulator.url}/.default"}
    data.update(form)
    data = {k: v for k, v in data.items() if v is not None}
    return requests.post(f"{emulator.url}/{tenant or emulator.tenant_id}/oauth2/v2.0/token", data=data, verify=emulator.ca_path, timeout=30)


@functools.lru_cache(maxsize=None)
def make_certificate(name="emulator test app"):
    """(key PEM, certificate PEM, SHA-1 hex) of a self-signed RSA certificate; cached per name (RSA keygen is slow)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode(), cert.fingerprint(hashes.SHA1()).hex()  # nosec


# ------------------------------------------------------------------------------------------- token endpoint
@pytest.mark.usefixtures("clean_emulator")
def test_discovery_document_points_at_the_emulator(emulator):
    for tenant in (emulator.tenant_id, "contoso.onmicrosoft.com"):
        doc = requests.get(f"{emulator.url}/{tenant}/v2.0/.well-known/openid-configuration", verify=emulator.ca_path, timeout=30).json()
        assert doc["token_endpoint"] == f"{emulator.url}/{TENANT_ID}/oauth2/v2.0/token"
        assert doc["authorization_endpoint"] == f"{emulator.url}/{TENANT_ID}/oauth2/v2.0/authorize"
        assert doc["issuer"] == f"{emulator.url}/{TENANT_ID}/v2.0"
        assert all(v.startswith(emulator.url) for k, v in doc.items() if k.endswith("_endpoint") or k in ("jwks_uri", "issuer"))


@pytest.mark.usefixtures("clean_emulator")
def test_unknown_tenant(emulator):
    response = requests.get(f"{emulator.url}/{uuid.uuid4()}/v2.0/.well-known/openid-configuration", verify=emulator.ca_path, timeout=30)
    assert response.status_code == 400 and response.json()["error_codes"] == [90002]
    assert token_request(emulator, tenant="fabrikam.onmicrosoft.com").json()["error"] == "invalid_tenant"


def test_client_secret_token(api, emulator):
    response = token_request(emulator)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599 and body["ext_expires_in"] == 3599
    claims = claims_of(body["access_token"])
    assert claims["aud"] == emulator.url and claims["tid"] == TENANT_ID and claims["appid"] == AUTOMATION_APP
    assert sorted(claims["roles"]) == sorted(GRAPH_ROLES) and claims["exp"] > time.time() + 3500
    assert api.get("/oauth2PermissionGrants", token=body["access_token"]).status_code == 200


@pytest.mark.parametrize("form,status,error,code", [
    ({"client_secret": "s3cr3t-typo-XYZ"}, 401, "invalid_client", 7000215),
    ({"client_id": str(uuid.uuid4())}, 400, "unauthorized_client", 700016),
    ({"client_secret": None}, 401, "invalid_client", 7000218),
    ({"scope": "User.Read"}, 400, "invalid_scope", 1002012),
    ({"scope": "https://management.azure.com/.default"}, 400, "invalid_resource", 500011),
    ({"scope": None}, 400, "invalid_request", 900144),
    ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
])
@pytest.mark.usefixtures("clean_emulator")
def test_token_errors(emulator, form, status, error, code):
    response = token_request(emulator, **form)
    body = response.json()
    assert (response.status_code, body["error"], body["error_codes"]) == (status, error, [code])
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert uuid.UUID(body["trace_id"]) and uuid.UUID(body["correlation_id"])
    assert "s3cr3t-typo-XYZ" not in body["error_description"]


@pytest.mark.usefixtures("clean_emulator")
def test_token_request_log_never_keeps_the_secret(emulator):
    emulator.control.clear_requests()
    token_request(emulator)
    entry = emulator.control.requests(kind="token")[0]
    assert entry["body"]["credential"] == "client_secret" and emulator.client_secret not in json.dumps(entry)


@pytest.mark.usefixtures("clean_emulator")
def test_national_cloud_roots_can_be_requested(emulator):
    token = token_request(emulator, scope="https://graph.microsoft.us/.default").json()["access_token"]
    assert claims_of(token)["aud"] == "https://graph.microsoft.us"


@pytest.mark.usefixtures("clean_emulator")
def test_token_ttl_knob(emulator):
    emulator.control.set_faults(token_ttl=60)
    body = token_request(emulator).json()
    assert body["expires_in"] == 60 and claims_of(body["access_token"])["exp"] <= time.time() + 61


# ---------------------------------------------------------------------------------------------- MSAL
def confidential(emulator, client_id, credential):
    return msal.ConfidentialClientApplication(client_id, client_credential=credential, authority=emulator.authority,
                                              instance_discovery=False, http_client=VerifyingHttpClient(emulator.ca_path))


def test_msal_client_secret(api, emulator):
    http_client = VerifyingHttpClient(emulator.ca_path)
    app = msal.ConfidentialClientApplication(emulator.client_id, client_credential=emulator.client_secret, authority=emulator.authority,
                                             instance_discovery=False, http_client=http_client)
    result = app.acquire_token_for_client([f"{emulator.url}/.default"])
    assert "access_token" in result, result
    assert http_client.calls and all(url.startswith(emulator.url) for url in http_client.calls)  # MSAL talked to no one else
    assert api.get("/oauth2PermissionGrants", token=result["access_token"]).status_code == 200


@pytest.mark.parametrize("style", ["public_certificate", "thumbprint"])  # PS256 + x5t#S256, or RS256 + x5t
@pytest.mark.usefixtures("clean_emulator")
def test_msal_certificate(emulator, style):
    key_pem, cert_pem, sha1 = make_certificate()
    client_id = str(uuid.uuid4())
    emulator.control.register_app(client_id, certificate_pem=cert_pem, permissions=GRAPH_ROLES)
    credential = {"private_key": key_pem, "public_certificate": cert_pem} if style == "public_certificate" else \
        {"private_key": key_pem, "thumbprint": sha1}
    result = confidential(emulator, client_id, credential).acquire_token_for_client([f"{emulator.url}/.default"])
    assert "access_token" in result, result
    assert claims_of(result["access_token"])["appid"] == client_id


@pytest.mark.usefixtures("clean_emulator")
def test_msal_certificate_not_registered_or_tampered(emulator):
    key_pem, cert_pem = make_certificate()[:2]
    other_key, other_cert = make_certificate("another app")[:2]
    client_id = str(uuid.uuid4())
    emulator.control.register_app(client_id, certificate_pem=cert_pem, permissions=GRAPH_ROLES)
    result = confidential(emulator, client_id, {"private_key": other_key, "public_certificate": other_cert}).acquire_token_for_client(
        [f"{emulator.url}/.default"])
    assert result["error"] == "invalid_client" and result["error_codes"] == [700027]
    # the registered certificate's thumbprint, signed with another key: the signature check must catch it
    forged = confidential(emulator, client_id, {"private_key": other_key, "public_certificate": cert_pem}).acquire_token_for_client(
        [f"{emulator.url}/.default"])
    assert forged["error_codes"] == [700027] and "signature" in forged["error_description"]
    del key_pem


@pytest.mark.usefixtures("clean_emulator")
def test_certificate_assertion_audience_and_lifetime(emulator):
    key_pem, cert_pem, sha1 = make_certificate()
    client_id = str(uuid.uuid4())
    emulator.control.register_app(client_id, certificate_pem=cert_pem)
    x5t = base64.urlsafe_b64encode(bytes.fromhex(sha1)).decode().rstrip("=")

    def assertion(**claims):
        now = int(time.time())
        payload = {"iss": client_id, "sub": client_id, "aud": emulator.token_endpoint, "exp": now + 600, "nbf": now, "jti": str(uuid.uuid4())}
        payload.update(claims)
        return jwt.encode(payload, key_pem, algorithm="RS256", headers={"x5t": x5t})

    def call(token):
        return token_request(emulator, client_id=client_id, client_secret=None, client_assertion=token,
                             client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer").json()

    assert "access_token" in call(assertion())
    assert call(assertion(aud="https://login.microsoftonline.com/x/oauth2/v2.0/token"))["error_codes"] == [700212]
    assert call(assertion(exp=int(time.time()) - 3600))["error_codes"] == [700024]
    assert call("not.a.jwt")["error"] == "invalid_client"


@pytest.mark.usefixtures("clean_emulator")
def test_msal_federated_assertion(emulator):
    now = int(time.time())

    def assertion(**claims):
        payload = {"iss": "https://token.actions.githubusercontent.com", "sub": "repo:msgraph-grants/msgraph.grants:ref:refs/heads/main",
                   "aud": "api://AzureADTokenExchange", "iat": now, "exp": now + 600}
        payload.update(claims)
        return jwt.encode(payload, "external-idp-key-the-emulator-does-not-check", algorithm="HS256")

    def acquire(token):
        return confidential(emulator, emulator.client_id, {"client_assertion": lambda: token}).acquire_token_for_client([f"{emulator.url}/.default"])

    assert "access_token" in acquire(assertion())
    assert acquire(assertion(sub="repo:someone/else:ref:refs/heads/main"))["error_codes"] == [70021]
    assert acquire(assertion(aud="api://other"))["error_codes"] == [700212]
    assert acquire(assertion(exp=now - 3600))["error_codes"] == [700024]


def test_msal_managed_identity(api, emulator, monkeypatch):
    monkeypatch.setenv("IDENTITY_ENDPOINT", emulator.msi_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", emulator.msi_header)
    client = msal.ManagedIdentityClient(msal.SystemAssignedManagedIdentity(), http_client=VerifyingHttpClient(emulator.ca_path))
    result = client.acquire_token_for_client(resource=emulator.url)
    assert "access_token" in result, result
    assert claims_of(result["access_token"])["appid"] == MI_CLIENT and result["expires_in"] > 3500
    assert api.get("/oauth2PermissionGrants", token=result["access_token"]).status_code == 200
    monkeypatch.setenv("IDENTITY_HEADER", "wrong")
    wrong = msal.ManagedIdentityClient(msal.SystemAssignedManagedIdentity(), http_client=VerifyingHttpClient(emulator.ca_path))
    assert "access_token" not in wrong.acquire_token_for_client(resource=emulator.url)


@pytest.mark.parametrize("params,status", [
    ({"api-version": "2019-08-01", "resource": "https://graph.microsoft.com"}, 200),
    ({"api-version": "2017-09-01", "resource": "https://graph.microsoft.com"}, 400),
    ({"api-version": "2019-08-01"}, 400),
    ({"api-version": "2019-08-01", "resource": "https://vault.azure.net"}, 500),
    ({"api-version": "2019-08-01", "resource": "https://graph.microsoft.com", "client_id": str(uuid.uuid4())}, 400),
    ({"api-version": "2019-08-01", "resource": "https://graph.microsoft.com", "client_id": MI_CLIENT}, 200),
])
@pytest.mark.usefixtures("clean_emulator")
def test_msi_endpoint(emulator, params, status):
    response = requests.get(emulator.msi_endpoint, params=params, headers={"X-IDENTITY-HEADER": emulator.msi_header},
                            verify=emulator.ca_path, timeout=30)
    assert response.status_code == status
    if status == 200:
        body = response.json()
        assert set(body) >= {"access_token", "expires_on", "resource", "token_type"} and body["expires_on"].isdigit()


# ---------------------------------------------------------------------------------------------- Graph 401/403
@pytest.mark.parametrize("make_token,message", [
    (lambda e: False, "Access token is empty."),
    (lambda e: "not-a-jwt", "CompactToken parsing failed with error code: 80049217"),
    (lambda e: e.token()[:-4] + "AAAA", "Access token validation failure."),
    (lambda e: e.control.mint_token(expires_in=-30), "Access token has expired or is not yet valid."),
    (lambda e: e.control.mint_token(aud="https://graph.microsoft.com"), "Access token validation failure. Invalid audience."),
    (lambda e: e.control.mint_token(tid=str(uuid.uuid4())), "Access token validation failure."),
])
def test_graph_rejects_bad_tokens(api, emulator, make_token, message):
    response = api.get("/oauth2PermissionGrants", token=make_token(emulator))
    assert error_of(response) == (401, "InvalidAuthenticationToken", message)
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_writes_need_write_permission(api, emulator):
    reader = emulator.token("5b8e3d2f-0c4a-4f7b-9e6d-2a3b4c5d6e7f", "emu~reader~secret~not-a-real-credential")
    body = {"clientId": "6e2f81a7-3c9d-4a1f-8b6c-7d8e9fa0b1c2", "consentType": "AllPrincipals",
            "resourceId": "4c0d6f85-1a7b-4e9d-8f4a-5b6c7d8e9fa0", "scope": "Orders.Read"}
    assert error_of(api.post("/oauth2PermissionGrants", body, token=reader))[:2] == (403, "Authorization_RequestDenied")
    directory_writer = emulator.control.mint_token(roles=["Directory.ReadWrite.All"])
    assert api.post("/oauth2PermissionGrants", body, token=directory_writer).status_code == 201


def test_cloud_knob_changes_audience_and_context(api, emulator):
    emulator.control.set_faults(cloud="usgov")
    assert error_of(api.get("/oauth2PermissionGrants"))[2] == "Access token validation failure. Invalid audience."
    us_token = token_request(emulator, scope="https://graph.microsoft.us/.default").json()["access_token"]
    body = api.get("/oauth2PermissionGrants", params={"$top": "1"}, token=us_token).json()
    assert body["@odata.context"] == "https://graph.microsoft.us/v1.0/$metadata#oauth2PermissionGrants"
    assert body["@odata.nextLink"].startswith(emulator.url)  # links stay on the emulator, never a real host
    emulator.control.set_faults(cloud="china")
    assert api.get("/oauth2PermissionGrants", token=us_token).status_code == 401
    emulator.control.set_faults(cloud=None)
    assert api.get("/oauth2PermissionGrants").status_code == 200
