# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""An AWX / AAP job, short of AWX itself: ansible-runner on a private data directory laid out as AWX lays it out.

* the project: a playbook that only applies the role ``msgraph.grants.delegated_permissions``;
* the grants list as job template extra vars (``env/extravars``), as a survey or the job template would give it;
* the credential's environment (``env/envvars``) exactly as AWX injects it (tests/awx/awx_injection.py), either the
  built-in "Microsoft Azure Resource Manager" credential or the custom type of docs/awx/credential_type.yml (whose
  file injectors write the certificate and CA bundle into ``env/``);
* the collection from its built tarball (``ANSIBLE_COLLECTIONS_PATH``), like an execution environment has it.

Each job runs twice against the Graph emulator: the first converges (changed, writes), the second changes nothing
and sends no write. No secret may show up in what AWX keeps of a job: its stdout, its events, the job's stored
environment.
"""

import ast
import datetime
import json
import os
import secrets
from pathlib import Path

import ansible_runner
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from awx_injection import (inject_azure_rm, inject_custom, validate_credential_inputs, validate_credential_type)
from graph_emulator.testing import running_emulator
from helpers import REPO_ROOT, VENV_BIN, clean_env, venv_tool

CREDENTIAL_TYPE_YML = REPO_ROOT / "docs" / "awx" / "credential_type.yml"
CREDENTIAL_TYPE_JSON = REPO_ROOT / "docs" / "awx" / "credential_type.json"
ROLE_TASK = "Apply the declared delegated permission grants"

# The playbook of docs/awx.md (section 3).
PLAYBOOK = """\
---
- name: Converge delegated permission grants
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  roles:
    - role: msgraph.grants.delegated_permissions
"""

# Three grants against the default seed: two to create, one to update (the HR portal's admin consent exists with
# openid profile User.Read).
GRANTS = [
    {"client": "Contoso Payroll", "resource": "Contoso Orders API", "scopes": ["Orders.Read"]},
    {"client": "c041adc9-5e1f-4c3b-8d8e-9fa0b1c2d3e4", "resource": "Microsoft Graph", "scopes": ["User.Read"]},
    {"client": "Contoso HR Portal", "resource": "Microsoft Graph",
     "scopes": ["openid", "profile", "User.Read", "Calendars.Read"]},
]
EXPECTED_SCOPES = {
    ("Contoso Payroll", "Contoso Orders API"): ["Orders.Read"],
    ("Fabrikam Sync", "Microsoft Graph"): ["User.Read"],
    ("Contoso HR Portal", "Microsoft Graph"): ["Calendars.Read", "User.Read", "openid", "profile"],
}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with running_emulator(tmp_path_factory.mktemp("emulator")) as emu:
        yield emu


@pytest.fixture(scope="module")
def credential_type():
    with open(str(CREDENTIAL_TYPE_YML)) as f:
        definition = yaml.safe_load(f)
    validate_credential_type(definition)
    return definition


def test_credential_type_json_matches_yaml(credential_type):
    with open(str(CREDENTIAL_TYPE_JSON)) as f:
        assert json.load(f) == credential_type


def test_credential_type_injects_only_what_the_modules_read(credential_type, tmp_path):
    option_env = _module_option_env()
    readable = set(name for names in option_env.values() for name in names)
    assert set(credential_type["injectors"]["env"]) <= readable
    # Inputs left empty (here: everything optional) render as empty strings, which the modules treat as unset;
    # the cloud falls back to global and no certificate / CA path points at an empty file.
    env, safe_env, extra_vars = inject_custom(credential_type, {"tenant_id": "t", "client_id": "c"}, str(tmp_path))
    assert env["MSGRAPH_CLOUD"] == "global"
    assert env["AZURE_CLIENT_CERTIFICATE_PATH"] == "" and env["MSGRAPH_CA_PATH"] == ""
    assert env["AZURE_CLIENT_SECRET"] == "" and safe_env["AZURE_CLIENT_SECRET"] == ""
    assert extra_vars == {}


def _module_option_env():
    # OPTION_ENV of plugins/module_utils/_auth_settings.py, read from the source (no ansible_collections import needed).
    source = (REPO_ROOT / "plugins" / "module_utils" / "_auth_settings.py").read_text()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "OPTION_ENV" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("OPTION_ENV not found in _auth_settings.py")


def test_credential_type_requires_identity(credential_type):
    with pytest.raises(ValueError, match="tenant_id"):
        validate_credential_inputs(credential_type, {"client_id": "c", "graph_url": "https://127.0.0.1"})
    with pytest.raises(ValueError, match="cloud"):
        validate_credential_inputs(credential_type, {"tenant_id": "t", "client_id": "c", "cloud": "AzureCloud"})


# ---------------------------------------------------------------------------------------------------------------
# a job


def _private_data_dir(path, collections_path, credential_env, extra_vars):
    (path / "project").mkdir(parents=True)
    (path / "project" / "site.yml").write_text(PLAYBOOK)
    (path / "inventory").mkdir()
    (path / "inventory" / "hosts").write_text("localhost\n")
    (path / "env").mkdir(exist_ok=True)
    envvars = dict(credential_env)
    envvars.update({
        # AWX points ANSIBLE_COLLECTIONS_PATH at the project's collections and the EE's; here: the built tarball.
        "ANSIBLE_COLLECTIONS_PATH": str(collections_path),
        # A fresh container per job: no token cache from an earlier test or from the developer's home.
        "XDG_CACHE_HOME": str(path / "cache"),
    })
    (path / "env" / "envvars").write_text(yaml.safe_dump(envvars))
    (path / "env" / "extravars").write_text(yaml.safe_dump(extra_vars))


def _run_job(private_data_dir, ident, verbosity=0):
    runner = ansible_runner.run(private_data_dir=str(private_data_dir), playbook="site.yml", ident=ident,
                                quiet=True, verbosity=verbosity)
    stdout = runner.stdout.read()
    assert runner.status == "successful", stdout[-6000:]
    assert runner.rc == 0
    events = list(runner.events)
    module_results = [e["event_data"] for e in events
                      if e.get("event") == "runner_on_ok" and e["event_data"].get("task") == ROLE_TASK]
    assert len(module_results) == 1, stdout[-4000:]
    return runner, stdout, events, module_results[0]


def _assert_no_secret(private_data_dir, runner, stdout, events, secret_values):
    """Nothing AWX keeps of a job holds a secret: stdout, the events (what the job output shows and the API serves),
    every other artifact of the run except ansible-runner's own ``command`` file (the process environment, which
    AWX's worker never sends back)."""
    artifact_dir = Path(runner.config.artifact_dir)
    assert ROLE_TASK in stdout and len(events) > 5
    texts = {"stdout": stdout, "events": json.dumps(events)}
    for path in artifact_dir.rglob("*"):
        if path.is_file() and path.name != "command":
            texts[str(path.relative_to(private_data_dir))] = path.read_text(errors="replace")
    for value in secret_values:
        assert value, "an empty secret proves nothing"
        for where, text in texts.items():
            assert value not in text, "a secret leaked into %s" % where


def _grant_scopes(emulator):
    state = emulator.control.state()
    names = dict((sp["id"], sp["displayName"]) for sp in state["servicePrincipals"])
    found = {}
    for grant in state["grants"]:
        key = (names.get(grant["clientId"]), names.get(grant["resourceId"]))
        if key in EXPECTED_SCOPES and grant["consentType"] == "AllPrincipals":
            found[key] = sorted(grant["scope"].split())
    return found


def _converge_twice(emulator, pdd, collections_path, credential_env, extra_vars, secret_values):
    _private_data_dir(pdd, collections_path, credential_env, extra_vars)

    emulator.control.clear_requests()
    runner, stdout, events, result = _run_job(pdd, "first")
    assert result["res"]["changed"] is True
    assert runner.stats["changed"] == {"localhost": 1}
    # The role came from the installed tarball, not from the working tree.
    assert result["task_path"].startswith(str(collections_path)), result["task_path"]
    assert result["res"]["counts"]["created"] == 2 and result["res"]["counts"]["updated"] == 1, result["res"]["counts"]
    summary = emulator.control.requests_with_summary()["summary"]
    assert summary["writes"] >= 3 and summary["token_requests"] >= 1, summary
    assert _grant_scopes(emulator) == EXPECTED_SCOPES
    _assert_no_secret(pdd, runner, stdout, events, secret_values)

    # Second job, with -vvvv (AWX's highest verbosity besides WinRM debug): nothing to do, not one write.
    emulator.control.clear_requests()
    runner, stdout, events, result = _run_job(pdd, "second", verbosity=4)
    assert result["res"]["changed"] is False
    assert result["res"]["counts"]["unchanged"] == 3, result["res"]["counts"]
    assert runner.stats["changed"] == {}
    summary = emulator.control.requests_with_summary()["summary"]
    assert summary["writes"] == 0, summary
    assert summary["graph_requests"] > 0
    _assert_no_secret(pdd, runner, stdout, events, secret_values)


@pytest.fixture
def job_env(monkeypatch):
    """ansible-runner passes its own process environment on: start from what an execution environment would have
    (ansible-playbook of this venv first on PATH, no connection settings, no PYTHONPATH)."""
    venv_tool("ansible-playbook")
    env = clean_env()
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", os.defpath)])
    for name in list(os.environ):
        if name not in env:
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_builtin_azure_rm_credential(emulator, built_collection, tmp_path, job_env):
    """The stock credential as is; the emulator's hosts and CA come from job template extra vars (role variables),
    which against the real Microsoft Graph (global cloud) are not needed at all."""
    emulator.control.reset()
    secret = "awx-secret-" + secrets.token_urlsafe(24)
    emulator.control.register_app(emulator.client_id, client_secret=secret)

    env, safe_env = inject_azure_rm({
        "subscription": "11111111-2222-3333-4444-555555555555",
        "client": emulator.client_id,
        "tenant": emulator.tenant_id,
        "secret": secret,
    })
    assert set(env) == {"AZURE_SUBSCRIPTION_ID", "AZURE_CLIENT_ID", "AZURE_TENANT", "AZURE_SECRET"}
    assert secret not in json.dumps(safe_env)  # what AWX stores as the job's environment

    extra_vars = {
        "delegated_permissions_grants": GRANTS,
        "delegated_permissions_graph_url": emulator.url,
        "delegated_permissions_authority_url": emulator.url,
        "delegated_permissions_ca_path": emulator.ca_path,
    }
    _converge_twice(emulator, tmp_path / "job", built_collection.collections_path, env, extra_vars, [secret])


def _certificate_pem(password):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "msgraph.grants AWX test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.BestAvailableEncryption(password.encode())).decode()
    return cert_pem, key_pem


def test_custom_credential_type_with_certificate(emulator, built_collection, credential_type, tmp_path, job_env):
    """docs/awx/credential_type.yml alone: certificate (PEM text, encrypted key), Graph/login hosts, CA bundle text."""
    emulator.control.reset()
    password = "awx-cert-pass-" + secrets.token_urlsafe(16)
    cert_pem, key_pem = _certificate_pem(password)
    emulator.control.register_app(emulator.client_id, certificate_pem=cert_pem)

    inputs = {
        "tenant_id": emulator.tenant_id,
        "client_id": emulator.client_id,
        "client_certificate": cert_pem + key_pem,
        "client_certificate_password": password,
        "graph_url": emulator.url,
        "authority_url": emulator.url,
        "ca_bundle": Path(emulator.ca_path).read_text(),
    }
    validate_credential_inputs(credential_type, inputs)
    pdd = tmp_path / "job"
    env, safe_env, extra_vars = inject_custom(credential_type, inputs, str(pdd))
    assert extra_vars == {}
    assert env["AZURE_CLIENT_SECRET"] == ""  # only the certificate can authenticate
    assert Path(env["AZURE_CLIENT_CERTIFICATE_PATH"]).read_text() == cert_pem + key_pem
    assert Path(env["AZURE_CLIENT_CERTIFICATE_PATH"]).stat().st_mode & 0o077 == 0
    assert Path(env["MSGRAPH_CA_PATH"]).parent == pdd / "env"
    assert safe_env["AZURE_CLIENT_CERTIFICATE_PASSWORD"] == "**********"

    key_body = [line for line in key_pem.splitlines() if line and not line.startswith("-----")]
    secret_values = [password, key_body[0], key_body[len(key_body) // 2]]
    assert not any(value in json.dumps(safe_env) for value in secret_values)

    _converge_twice(emulator, pdd, built_collection.collections_path, env,
                    {"delegated_permissions_grants": GRANTS}, secret_values)
