"""A user's pytest test (the emulator-package CI stage copies it as test_tenant.py into a project outside the
repository, with ``msgraph_emulator_seed = my-tenant.yml`` in its pytest.ini): the ``msgraph_emulator`` fixture
comes from the installed package's pytest11 entry point, nothing is imported from the repository."""

import os
import shutil
import subprocess

import requests

PORTAL = "Fabrikam Portal"


def graph_get(emulator, path, **params):
    response = requests.get(f"{emulator.url}/v1.0/{path}", params=params, headers={"Authorization": f"Bearer {emulator.token()}"},
                            verify=emulator.ca_path, timeout=30)
    response.raise_for_status()
    return response.json()


def portal_id(emulator):
    return graph_get(emulator, "servicePrincipals", **{"$filter": f"displayName eq '{PORTAL}'"})["value"][0]["id"]


def test_the_seed_is_my_tenant(msgraph_emulator):
    assert msgraph_emulator.tenant_id == "3f2b9c1d-7a4e-4d8b-9c6f-1e2d3c4b5a69"
    grants = graph_get(msgraph_emulator, "oauth2PermissionGrants", **{"$filter": f"clientId eq '{portal_id(msgraph_emulator)}'"})
    assert sorted(g["consentType"] for g in grants["value"]) == ["AllPrincipals", "Principal"]


def run_playbook(emulator, times=1):
    playbook = os.path.join(os.path.dirname(os.path.abspath(__file__)), "site.yml")
    env = {**os.environ, **emulator.env}
    for _run in range(times):
        subprocess.run([shutil.which("ansible-playbook") or "ansible-playbook", playbook], env=env, check=True)


def test_my_playbook_writes_once(msgraph_emulator):
    run_playbook(msgraph_emulator, times=2)
    writes = [e for e in msgraph_emulator.requests(kind="graph") if e["write"]]
    assert [(e["method"], e["status"]) for e in writes] == [("POST", 201)]


def test_my_playbook_survives_throttling(msgraph_emulator):
    msgraph_emulator.set_faults(throttle_next=1, retry_after=0)
    run_playbook(msgraph_emulator)
    assert msgraph_emulator.summary()["throttled"] == 1
    assert msgraph_emulator.summary()["writes"] == 1
