"""Shared helpers and the fixed ids of the default seed (emulator/graph_emulator/seed_default.json)."""

import uuid
from pathlib import Path

import requests

REPO_ROOT_HINT = Path(__file__).resolve().parents[2]

from graph_emulator.testing import (  # noqa: F401  (re-exported for the test modules)  pylint: disable=unused-import
    AUTOMATION_APP, GRAPH_APP_ID, MI_CLIENT, NOPERM_APP, NOPERM_SECRET, READER_APP, READER_SECRET, TENANT_ID)
SP_GRAPH = "1f7a3c52-8d4e-4b6a-9c1d-2e3f4a5b6c7d"
SP_EXCHANGE = "2a8b4d63-9e5f-4c7b-8d2e-3f4a5b6c7d8e"
SP_SHAREPOINT = "3b9c5e74-0f6a-4d8c-9e3f-4a5b6c7d8e9f"
SP_ORDERS = "4c0d6f85-1a7b-4e9d-8f4a-5b6c7d8e9fa0"
SP_HR = "5d1e7096-2b8c-4f0e-9a5b-6c7d8e9fa0b1"
SP_PAYROLL = "6e2f81a7-3c9d-4a1f-8b6c-7d8e9fa0b1c2"
SP_FABRIKAM = "7f3092b8-4d0e-4b2a-9c7d-8e9fa0b1c2d3"
SP_REPORTING_1 = "8a41a3c9-5e1f-4c3b-8d8e-9fa0b1c2d3e4"
SP_REPORTING_2 = "9b52b4d0-6f2a-4d4c-9e9f-a0b1c2d3e4f5"
SP_OBRIEN = "ac63c5e1-7a3b-4e5d-8fa0-b1c2d3e4f506"
APP_HR = "ae2f8ba7-3c9d-4a1f-8b6c-7d8e9fa0b1c2"

USER_MEGAN = "0e1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b"
USER_ALEX = "1f2b3c4d-5e6f-4071-9b8c-0d1e2f3a4b5c"
USER_ADELE_GUEST = "2a3c4d5e-6f70-4182-8c9d-1e2f3a4b5c6d"
USER_SVC_BACKUP = "3b4d5e6f-7081-4293-9dae-2f3a4b5c6d7e"
USER_ONEIL = "4c5e6f70-8192-43a4-8ebf-3a4b5c6d7e8f"
UPN_ADELE_GUEST = "adele.vance_fabrikam.com#EXT#@contoso.onmicrosoft.com"

# Seeded grants (ids follow docs/dev/graph-behaviour.md#grant-id).
GRANT_HR_GRAPH_ALL = "lnAeXYwrDk-aW2x9jp-gsVI8eh9OjWpLnB0uP0pbbH0"  # scope " openid  profile User.Read"
GRANT_HR_GRAPH_MEGAN = "lnAeXYwrDk-aW2x9jp-gsVI8eh9OjWpLnB0uP0pbbH08KxoOXk1gT4p7nA0eLzpL"
GRANT_PAYROLL_GRAPH_ADELE = "p4Evbp08H0qLbH2On6CxwlI8eh9OjWpLnB0uP0pbbH1eTTwqcG-CQYydHi86S1xt"
GRANT_FABRIKAM_ORDERS_ALL = "uJIwfw5NKkucfY6foLHC04VvDUx7Gp1Oj0pbbH2On6A"
SEEDED_GRANTS = {GRANT_HR_GRAPH_ALL, GRANT_HR_GRAPH_MEGAN, GRANT_PAYROLL_GRAPH_ADELE, GRANT_FABRIKAM_ORDERS_ALL}

NAV_WRITE_MESSAGE = "Write requests are only supported on contained entities or navigation properties with bindings."


class Api:
    """A tiny Graph client for tests: absolute or version-relative paths, the CA passed on every request."""

    def __init__(self, emulator, token: str):
        self.emulator = emulator
        self.token = token
        self.session = requests.Session()

    def url(self, path: str, version: str = "v1.0") -> str:
        return path if path.startswith("https://") else f"{self.emulator.url}/{version}{path}"

    def request(self, method: str, path: str, version: str = "v1.0", token=None, headers=None, **kwargs) -> requests.Response:
        all_headers = {} if token is False else {"Authorization": f"Bearer {token or self.token}"}
        all_headers.update(headers or {})
        return self.session.request(method, self.url(path, version), headers=all_headers, verify=self.emulator.ca_path, timeout=30, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, json=body, **kwargs)

    def patch(self, path, body=None, **kwargs):
        return self.request("PATCH", path, json=body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)

    def get_all(self, path, **kwargs) -> list:
        """Follow every @odata.nextLink; returns the pages (bodies)."""
        pages = [self.get(path, **kwargs).json()]
        while "@odata.nextLink" in pages[-1]:
            pages.append(self.get(pages[-1]["@odata.nextLink"], headers=kwargs.get("headers")).json())
            assert len(pages) < 1000, "paging does not end"
        return pages


def error_of(response) -> tuple:
    """(status, code, message) of a Graph error response."""
    body = response.json()
    return response.status_code, body["error"]["code"], body["error"]["message"]


def new_grant_body(client=SP_PAYROLL, resource=SP_ORDERS, consent="AllPrincipals", principal=None, scope="Orders.Read") -> dict:
    body = {"clientId": client, "consentType": consent, "resourceId": resource, "scope": scope}
    if principal is not None:
        body["principalId"] = principal
    return body


def make_user(index: int) -> dict:
    return {"id": str(uuid.UUID(int=0x10000000_0000_4000_8000_000000000000 + index)),
            "userPrincipalName": f"bulk.user{index:04d}@contoso.onmicrosoft.com", "displayName": f"Bulk user {index}"}


def bulk_seed(n_users: int) -> dict:
    """Two service principals and n Principal grants (one per user): for paging tests."""
    client, resource = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
    users = [make_user(i) for i in range(n_users)]
    return {
        "servicePrincipals": [
            {"id": client, "appId": "33333333-3333-4333-8333-333333333333", "displayName": "Bulk client"},
            {"id": resource, "appId": "44444444-4444-4444-8444-444444444444", "displayName": "Bulk API",
             "oauth2PermissionScopes": [{"id": "55555555-5555-4555-8555-555555555555", "value": "Bulk.Read", "type": "User", "isEnabled": True}]},
        ],
        "users": users,
        "grants": [{"clientId": client, "resourceId": resource, "consentType": "Principal", "principalId": u["id"], "scope": "Bulk.Read"}
                   for u in users],
    }
