"""The control plane, the request log, the HTTP layer (TLS, keep-alive) and the start/stop CLI."""

import http.client
import json
import os
import ssl
import subprocess
import sys
import uuid

import pytest
import requests

from emu_helpers import (GRANT_HR_GRAPH_ALL, REPO_ROOT_HINT, SEEDED_GRANTS, SP_GRAPH, TENANT_ID, new_grant_body)

EMULATOR_DIR = str(REPO_ROOT_HINT / "emulator")


def test_state_round_trips_through_seed(api, emulator):
    state = emulator.control.state()
    assert state["tenant"]["id"] == TENANT_ID
    assert {g["id"] for g in state["grants"]} == SEEDED_GRANTS
    assert {"servicePrincipals", "users", "apps", "managed_identity"} <= set(state)
    api.post("/oauth2PermissionGrants", new_grant_body())
    saved = emulator.control.state()
    emulator.control.reset()
    assert len(emulator.control.state()["grants"]) == len(SEEDED_GRANTS)
    emulator.control.load_seed(saved)
    assert len(emulator.control.state()["grants"]) == len(SEEDED_GRANTS) + 1


def test_custom_seed_keeps_the_automation_credentials(api, emulator):
    sp_id = str(uuid.uuid4())
    emulator.control.load_seed({"servicePrincipals": [{"id": sp_id, "appId": str(uuid.uuid4()), "displayName": "Only one"}]})
    assert [sp["id"] for sp in api.get("/servicePrincipals").json()["value"]] == [sp_id]
    assert api.get("/oauth2PermissionGrants").json()["value"] == []
    assert emulator.token()  # tenant and apps came from the startup seed


@pytest.mark.parametrize("seed", [
    {"servicePrincipals": [{"id": "nope", "appId": str(uuid.uuid4()), "displayName": "x"}]},
    {"grants": [{"clientId": SP_GRAPH, "resourceId": SP_GRAPH, "consentType": "AllPrincipals"}]},  # SP not in this seed
    {"users": [{"id": str(uuid.uuid4()), "userPrincipalName": "no-at-sign"}]},
    {"tenant": {"id": "not-a-guid"}},
])
def test_invalid_seed_is_rejected_and_state_kept(api, emulator, seed):
    with pytest.raises(RuntimeError, match="400"):
        emulator.control.load_seed(seed)
    assert {g["id"] for g in api.get("/oauth2PermissionGrants").json()["value"]} == SEEDED_GRANTS


def test_request_log_entries_and_summary(api, emulator):
    emulator.control.clear_requests()
    token = emulator.token()
    api.get("/oauth2PermissionGrants", params={"$filter": "consentType eq 'Principal'", "$top": "5"}, token=token)
    api.patch(f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}", {"scope": "User.Read"})
    log = emulator.control.requests_with_summary()
    token_entry, read, write = log["requests"]
    for entry in log["requests"]:
        assert {"seq", "time", "kind", "method", "path", "query", "status", "write", "batch"} <= set(entry)
    assert token_entry["kind"] == "token" and token_entry["write"] is False
    assert read["kind"] == "graph" and read["path"] == "/v1.0/oauth2PermissionGrants" and read["status"] == 200
    assert read["query"] == {"$filter": "consentType eq 'Principal'", "$top": "5"} and read["write"] is False
    assert write["method"] == "PATCH" and write["write"] is True and write["status"] == 204 and write["body"] == {"scope": "User.Read"}
    assert read["seq"] < write["seq"] and read["batch"] is None
    summary = log["summary"]
    assert (summary["graph_requests"], summary["graph_operations"], summary["token_requests"], summary["writes"]) == (2, 2, 1, 1)
    assert emulator.control.summary()["graph_requests"] == 2
    assert [e["seq"] for e in emulator.control.requests(since=read["seq"])] == [write["seq"]]
    emulator.control.clear_requests()
    assert emulator.control.requests() == []


def test_register_app_extends_an_existing_one(api, emulator):
    client_id = str(uuid.uuid4())
    emulator.control.register_app(client_id, client_secret="first-secret", permissions=["Directory.Read.All"])
    app = emulator.control.register_app(client_id, client_secret="second-secret")
    assert app["client_secrets"] == ["first-secret", "second-secret"] and app["permissions"] == ["Directory.Read.All"]
    token = emulator.token(client_id, "second-secret")
    assert api.get("/oauth2PermissionGrants", token=token).status_code == 200
    assert api.post("/oauth2PermissionGrants", new_grant_body(), token=token).status_code == 403


@pytest.mark.usefixtures("clean_emulator")
def test_unknown_control_endpoint(emulator):
    response = requests.get(f"{emulator.url}/_emulator/nope", verify=emulator.ca_path, timeout=10)
    assert response.status_code == 404
    assert requests.get(f"{emulator.url}/_emulator/reset", verify=emulator.ca_path, timeout=10).status_code == 405


def test_keep_alive_and_content_length(api, emulator):
    context = ssl.create_default_context(cafile=emulator.ca_path)
    connection = http.client.HTTPSConnection("127.0.0.1", emulator.port, context=context, timeout=10)
    headers = {"Authorization": f"Bearer {api.token}"}
    for path in ("/v1.0/users", f"/v1.0/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}", "/v1.0/nothing-here"):
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        assert int(response.getheader("Content-Length")) == len(body) and not response.will_close
    connection.request("DELETE", f"/v1.0/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}", headers=headers)
    response = connection.getresponse()
    assert response.status == 204 and response.read() == b""
    connection.request("GET", "/v1.0/users", headers=headers)  # still the same connection after a 204
    assert connection.getresponse().status == 200
    connection.close()


@pytest.mark.usefixtures("clean_emulator")
def test_certificate_covers_localhost_and_127(emulator):
    for host in ("127.0.0.1", "localhost"):
        response = requests.get(f"https://{host}:{emulator.port}/_emulator/health", verify=emulator.ca_path, timeout=10)
        assert response.json()["status"] == "ok"
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{emulator.url}/_emulator/health", verify=requests.certs.where(), timeout=10)


def running(pid: int) -> bool:
    """Alive and not a zombie (the daemon's parent exited, so nobody here reaps it)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def cli(*args, env=None):
    run_env = dict(os.environ, PYTHONPATH=EMULATOR_DIR)
    run_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "graph_emulator", *args], capture_output=True, text=True, timeout=60, env=run_env, check=False)


ENV_SH_VARIABLES = {"MSGRAPH_GRAPH_URL", "AZURE_AUTHORITY_HOST", "MSGRAPH_CA_PATH", "AZURE_TENANT_ID", "AZURE_CLIENT_ID",
                    "AZURE_CLIENT_SECRET", "MSGRAPH_TOKEN_CACHE"}


def assert_env_sh_round_trip(state_dir, info):
    """Source env.sh in bash, then undo it with the function it defines and with unset.sh: nothing may be left
    pointing at 127.0.0.1, and a variable env.sh does not own survives."""
    names = " ".join(sorted(ENV_SH_VARIABLES))
    show = f'for n in {names}; do printf "%s=%s\\n" "$n" "${{!n-<unset>}}"; done'
    script = (f"export AZURE_CLOUD_ENVIRONMENT=kept; source {state_dir}/env.sh; {show}; echo ---; "
              f"msgraph_emulator_deactivate; {show}; type msgraph_emulator_deactivate >/dev/null 2>&1 && echo still-defined; "
              f"echo ---; source {state_dir}/env.sh; source {state_dir}/unset.sh; {show}; "
              "type msgraph_emulator_deactivate >/dev/null 2>&1 && echo still-defined; echo \"cloud=$AZURE_CLOUD_ENVIRONMENT\"")
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30, check=True,
                         env={"PATH": os.environ["PATH"]}).stdout
    sourced, deactivated, unset = out.split("---\n")
    assert f"MSGRAPH_GRAPH_URL={info['url']}" in sourced.splitlines() and "<unset>" not in sourced
    for after in (deactivated, unset):
        assert after.splitlines()[:len(ENV_SH_VARIABLES)] == [f"{n}=<unset>" for n in sorted(ENV_SH_VARIABLES)]
        assert "still-defined" not in after and "127.0.0.1" not in after
    assert unset.splitlines()[-1] == "cloud=kept"
    assert oct((state_dir / "unset.sh").stat().st_mode & 0o777) == "0o600"


def test_cli_start_stop(tmp_path):
    state_dir = tmp_path / "state"
    started = cli("start", "--state-dir", str(state_dir))
    try:
        assert started.returncode == 0, started.stderr
        info = json.loads((state_dir / "emulator.json").read_text())
        assert started.stdout.strip() == info["url"] == f"https://127.0.0.1:{info['port']}"
        assert {"url", "port", "pid", "ca_path", "tenant_id", "client_id", "client_secret"} <= set(info)
        assert oct((state_dir / "emulator.json").stat().st_mode & 0o777) == "0o600"
        exports = dict(line[len("export "):].split("=", 1) for line in (state_dir / "env.sh").read_text().splitlines()
                       if line.startswith("export "))
        assert set(exports) == ENV_SH_VARIABLES
        assert exports["MSGRAPH_GRAPH_URL"] == info["url"] and exports["AZURE_TENANT_ID"] == info["tenant_id"]
        assert exports["MSGRAPH_TOKEN_CACHE"] == str(state_dir / "token-cache")  # emulator tokens stay in the state dir
        assert_env_sh_round_trip(state_dir, info)
        health = requests.get(f"{info['url']}/_emulator/health", verify=info["ca_path"], timeout=10).json()
        assert health["pid"] == info["pid"]
        again = cli("start", "--state-dir", str(state_dir))  # idempotent: the running one is reused
        assert again.returncode == 0 and again.stdout.strip() == info["url"]
        assert json.loads((state_dir / "emulator.json").read_text())["pid"] == info["pid"]
    finally:
        stopped = cli("stop", "--state-dir", str(state_dir))
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not (state_dir / "emulator.json").exists()
    assert not running(info["pid"])
    assert cli("stop", "--state-dir", str(state_dir)).returncode == 0  # stopping twice is fine
    assert cli("stop", "--state-dir", str(tmp_path / "never-started")).returncode == 0


def test_cli_start_with_seed_file_and_port_in_use(tmp_path, emulator):
    seed = json.loads((REPO_ROOT_HINT / "emulator" / "graph_emulator" / "seed_default.json").read_text())
    seed["tenant"]["id"] = str(uuid.uuid4())
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(seed))
    state_dir = tmp_path / "seeded"
    try:
        assert cli("start", "--state-dir", str(state_dir), "--seed", str(seed_file)).returncode == 0
        assert json.loads((state_dir / "emulator.json").read_text())["tenant_id"] == seed["tenant"]["id"]
    finally:
        cli("stop", "--state-dir", str(state_dir))
    busy = cli("start", "--state-dir", str(tmp_path / "busy"), "--port", str(emulator.port))
    assert busy.returncode == 1 and "emulator.log" in busy.stderr


def test_log_paths_are_decoded(api, emulator):
    emulator.control.clear_requests()
    api.get("/users/adele.vance_fabrikam.com%23EXT%23@contoso.onmicrosoft.com")
    assert emulator.control.requests()[0]["path"] == "/v1.0/users/adele.vance_fabrikam.com#EXT#@contoso.onmicrosoft.com"
