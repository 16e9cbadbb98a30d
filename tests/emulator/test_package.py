"""The msgraph-emulator package: its metadata agrees with the collection, the console script's env/seed/log
commands, and the pytest fixture (the full install from a wheel is the emulator-package stage of scripts/test.sh)."""

import json
import os
import re
import subprocess
import sys

import pytest
import requests
import yaml

import graph_emulator
from emu_helpers import REPO_ROOT_HINT

EMULATOR_DIR = REPO_ROOT_HINT / "emulator"
MY_TENANT = REPO_ROOT_HINT / "tests" / "emulator" / "package" / "my-tenant.yml"
MY_TENANT_ID = "3f2b9c1d-7a4e-4d8b-9c6f-1e2d3c4b5a69"


def cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(EMULATOR_DIR))
    return subprocess.run([sys.executable, "-m", "graph_emulator", *args], capture_output=True, text=True, timeout=60, env=env,
                          cwd=cwd, check=False)


def test_the_version_is_the_collections():
    galaxy = yaml.safe_load((REPO_ROOT_HINT / "galaxy.yml").read_text(encoding="utf-8"))
    assert graph_emulator.__version__ == galaxy["version"]


def test_pyproject_names_what_exists():
    text = (EMULATOR_DIR / "pyproject.toml").read_text(encoding="utf-8")
    assert 'name = "msgraph-emulator"' in text and 'dynamic = ["version", "description"]' in text
    assert 'msgraph-emulator = "graph_emulator.__main__:main"' in text
    assert 'msgraph_emulator = "graph_emulator.pytest_plugin"' in text
    from graph_emulator import __main__, pytest_plugin  # pylint: disable=import-outside-toplevel
    assert callable(__main__.main) and callable(pytest_plugin.pytest_addoption)
    # Every third-party import of the package is a declared dependency (the standard library aside).
    declared = {"cryptography", "yaml", "requests", "pytest"}
    imported = set()
    for source in (EMULATOR_DIR / "graph_emulator").glob("*.py"):
        imported |= set(re.findall(r"^(?:from|import) ([A-Za-z0-9_]+)", source.read_text(encoding="utf-8"), re.M))
    assert imported - set(sys.stdlib_module_names) - {"graph_emulator"} == declared


@pytest.fixture(name="cli_emulator")
def cli_emulator_fixture(tmp_path):
    """An emulator started by the CLI from the default state dir (.msgraph-emulator under the cwd)."""
    started = cli("start", "--seed", str(MY_TENANT), cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    yield tmp_path
    assert cli("stop", cwd=tmp_path).returncode == 0


def test_cli_env_seed_and_log(cli_emulator, tmp_path):
    env = cli("env", cwd=cli_emulator)
    assert env.returncode == 0 and f"export AZURE_TENANT_ID={MY_TENANT_ID}\n" in env.stdout
    info = json.loads(cli("env", "--json", cwd=cli_emulator).stdout)
    assert info["tenant_id"] == MY_TENANT_ID and info["state_dir"] == str(cli_emulator / ".msgraph-emulator")

    bad = tmp_path / "bad.yml"
    bad.write_text(MY_TENANT.read_text(encoding="utf-8").replace("consentType: AllPrincipals", "consentType: allprincipals"))
    refused = cli("seed", str(bad), cwd=cli_emulator)
    assert refused.returncode == 2
    assert re.search(r"bad\.yml:\d+:\d+: grants\[0\]\.consentType: must be one of AllPrincipals, Principal", refused.stderr)
    seeded = cli("seed", str(EMULATOR_DIR / "graph_emulator" / "seed_default.json"), cwd=cli_emulator)
    assert seeded.returncode == 0 and "4 grants" in seeded.stdout, seeded.stderr
    no_tenant = tmp_path / "no-tenant.yml"  # what a seed leaves out comes from the default seed, as with `start --seed`
    no_tenant.write_text("users:\n  - userPrincipalName: ines@contoso.onmicrosoft.com\n    displayName: Ines\n", encoding="utf-8")
    seeded = cli("seed", str(no_tenant), cwd=cli_emulator)
    assert seeded.returncode == 0, seeded.stderr
    seeded = cli("seed", str(EMULATOR_DIR / "graph_emulator" / "seed_default.json"), cwd=cli_emulator)

    assert requests.get(f"{info['url']}/v1.0/users", verify=info["ca_path"], timeout=30).status_code == 401
    log = cli("log", cwd=cli_emulator).stdout
    assert re.search(r"^\s+1 graph\s+GET\s+/v1\.0/users -> 401$", log, re.M), log
    assert json.loads(cli("log", "--summary", cwd=cli_emulator).stdout)["graph_requests"] == 1
    assert cli("log", "--clear", cwd=cli_emulator).returncode == 0
    assert json.loads(cli("log", "--json", cwd=cli_emulator).stdout)["requests"] == []


def test_cli_commands_need_a_running_emulator(tmp_path):
    for command in (["env"], ["log"], ["seed", str(MY_TENANT)]):
        result = cli(*command, "--state-dir", str(tmp_path / "none"))
        assert result.returncode == 1 and "no emulator is running" in result.stderr
    refused = cli("start", "--state-dir", str(tmp_path / "none"), "--seed", str(tmp_path / "missing.yml"))
    assert refused.returncode == 2 and "missing.yml: cannot read the file" in refused.stderr
    assert not (tmp_path / "none" / "emulator.json").exists()


USER_TESTS = '''
import requests

def test_first(msgraph_emulator):
    assert msgraph_emulator.tenant_id == "{tenant}"
    assert msgraph_emulator.env["AZURE_TENANT_ID"] == "{tenant}"
    msgraph_emulator.set_faults(throttle_next=5)
    response = requests.get(msgraph_emulator.url + "/v1.0/users", headers={{"Authorization": "Bearer " + msgraph_emulator.token()}},
                            verify=msgraph_emulator.ca_path, timeout=30)
    assert response.status_code == 429
    assert [e["status"] for e in msgraph_emulator.requests(kind="graph")] == [429]

def test_second_is_reset(msgraph_emulator):
    assert msgraph_emulator.requests() == [] and msgraph_emulator.control.faults()["throttle_next"] == 0
'''


def test_pytest_fixture(tmp_path):
    (tmp_path / "test_user.py").write_text(USER_TESTS.format(tenant=MY_TENANT_ID))
    env = dict(os.environ, PYTHONPATH=str(EMULATOR_DIR))
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "graph_emulator.pytest_plugin", "-p", "no:cacheprovider",
                             "--msgraph-emulator-seed", str(MY_TENANT), "-q", str(tmp_path / "test_user.py")],
                            capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
