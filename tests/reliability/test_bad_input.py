# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue item 3: the bad-input matrix, through real ``ansible localhost -m msgraph.grants.<module> -vvvv`` commands.

Each case must end non-zero with a message that says what is wrong and what to do (``must``: substrings of the
message, the problem and the remedy), no traceback anywhere in the output, no secret or token in the output, and no
write request reaching Graph: the cases without emulator faults run concurrently in one request-log window that must
hold zero writes; the others run alone, each in its own window.

The connection comes from the environment, as AWX/AAP injects it (MSGRAPH_GRAPH_URL, AZURE_AUTHORITY_HOST,
MSGRAPH_CA_PATH, AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET); a case changes or removes variables
(``env``, None removes) or passes options (``args``).
"""

import collections
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from graph_emulator.testing import NOPERM_APP, NOPERM_SECRET, READER_APP, READER_SECRET
from harness import (UNEXPECTED_MARKER, VENV_BIN, adhoc, base_env, find_secrets, has_traceback, key_fragments,
                     make_certificate, parse_adhoc_result, run_ansible, write_entries)

SP_PAYROLL = "6e2f81a7-3c9d-4a1f-8b6c-7d8e9fa0b1c2"
MISSING = object()


class Case(object):
    def __init__(self, name, args=None, must=(), module="oauth2_grant", env=None, faults=None, write_attempts=0, what=""):
        self.name = name
        self.module = module
        self.args = args or {}
        self.must = list(must)
        self.env = env or {}
        self.faults = faults
        self.write_attempts = write_attempts
        self.what = what


def grant(**kwargs):
    args = dict(client="Contoso Payroll", resource="Microsoft Graph", scopes=["User.Read"])
    for key, value in kwargs.items():
        if value is MISSING:
            args.pop(key, None)
        else:
            args[key] = value
    return args


def cases(ctx):  # pylint: disable=too-many-statements
    c = []
    add = c.append
    # -- identifiers
    add(Case("malformed client GUID", grant(client="6e2f81a7-3c9d-4a1f-8b6c-7d8e9fa0b1c"),
             ["No service principal found for client '6e2f81a7-3c9d-4a1f-8b6c-7d8e9fa0b1c'", "give the object id or appId"]))
    add(Case("malformed principal GUID", grant(principal="0e1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4"),
             ["No user found for principal '0e1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4'", "object id or exact userPrincipalName"]))
    add(Case("malformed grant id", {"id": "not a grant id!", "state": "absent"},
             ["'not a grant id!' is not a grant id", "as returned by oauth2_grant_info"]))
    add(Case("GUID given as grant id", {"id": SP_PAYROLL, "state": "absent"},
             ["is not a grant id", "A GUID is an object id"]))
    add(Case("unknown grant id with state=present", {"id": "A" * 43, "scopes": ["User.Read"]},
             ["No grant with id", "Give client, resource"]))
    add(Case("unknown resource appId", grant(resource="00000007-0000-0000-c000-000000000000"),
             ["No service principal found for resource '00000007-0000-0000-c000-000000000000'", "must first exist in this tenant"]))
    # -- scopes
    add(Case("unknown scope (typo)", grant(scopes=["User.Read", "User.Raed"]),
             ["'User.Raed' is not a delegated permission", "did you mean 'User.Read'", "Fix the scope names"]))
    add(Case("scope in the wrong case", grant(scopes=["user.read"]), ["'user.read'", "did you mean 'User.Read'"]))
    add(Case("disabled scope", grant(scopes=["Device.Command"]),
             ["'Device.Command' is published", "disabled", "Fix the scope names"]))
    add(Case("scope of another API", grant(resource="Contoso Orders API", scopes=["Orders.Delete"]),
             ["'Orders.Delete' is not a delegated permission", "Orders.Read"]))
    add(Case("oversize scope string (> 3850)", grant(validate_scopes=False,
                                                     scopes=["Custom.Scope.%03d.Read" % i for i in range(200)]),
             ["3850", "Split the permissions"]))
    # -- names
    add(Case("ambiguous display name", grant(client="Contoso Reporting"),
             ["is ambiguous", "8a41a3c9-5e1f-4c3b-8d8e-9fa0b1c2d3e4", "9b52b4d0-6f2a-4d4c-9e9f-a0b1c2d3e4f5",
              "Use the object id or appId"]))
    add(Case("name with an apostrophe (unknown)", grant(client="O'Brien Tool"),
             ["No service principal found for client 'O'Brien Tool'", "displayName eq 'O''Brien Tool'"]))
    add(Case("name with double quotes (unknown)", grant(client='Contoso "HR" Portal'),
             ["No service principal found for client 'Contoso \"HR\" Portal'"]))
    add(Case("#EXT# guest UPN (unknown)", grant(principal="adele.vance_fabrikam.com#EXT#@contoso.onmicrosoft.co"),
             ["No user found for principal 'adele.vance_fabrikam.com#EXT#@contoso.onmicrosoft.co'", "guests have '#EXT#'"]))
    add(Case("UPN with $ and apostrophe (unknown)", grant(principal="$o'neil@contoso.onmicrosoft.com"),
             ["No user found for principal '$o'neil@contoso.onmicrosoft.com'"]))
    # -- option combinations
    add(Case("consent_type in the wrong case", grant(consent_type="allprincipals"),
             ["consent_type", "AllPrincipals, Principal", "allprincipals"]))
    add(Case("AllPrincipals with a principal", grant(consent_type="AllPrincipals", principal="lee.gu@contoso.onmicrosoft.com"),
             ["consent_type=AllPrincipals", "Remove 'principal'"]))
    add(Case("Principal without a principal", grant(consent_type="Principal"),
             ["consent_type=Principal needs 'principal'"]))
    add(Case("id together with client/resource", grant(id="A" * 43), ["mutually exclusive", "id|client"]))
    add(Case("id together with consent_type", {"id": "A" * 43, "consent_type": "Principal", "state": "absent"},
             ["mutually exclusive", "id|consent_type"]))
    add(Case("client without resource", {"client": "Contoso Payroll", "scopes": ["User.Read"]},
             ["required together", "client, resource"]))
    add(Case("state=present without scopes", grant(scopes=MISSING), ["state is present", "scopes"]))
    bulk_typo = [dict(client="O'Brien Tools", resource="Microsoft Graph", scopes=["User.Read"]),
                 dict(client="Contoso Payroll", resource="Contoso Orders API", scopes=["Orders.Raed"])]
    add(Case("bulk: a bad scope in the 2nd item (1st is valid)", {"grants": bulk_typo},
             ["'Orders.Raed'", "did you mean 'Orders.Read'"], module="oauth2_grants"))
    bulk_twice = [dict(client="Contoso Payroll", resource="Microsoft Graph", scopes=["User.Read"]),
                  dict(client=SP_PAYROLL, resource="00000003-0000-0000-c000-000000000000", scopes=["Mail.Read"])]
    add(Case("bulk: the same grant declared twice", {"grants": bulk_twice},
             ["declare the same grant", "declare each grant once"], module="oauth2_grants"))
    add(Case("info: unknown principal", {"principal": "nobody@contoso.onmicrosoft.com"},
             ["No user found for principal 'nobody@contoso.onmicrosoft.com'"], module="oauth2_grant_info"))
    # -- authentication settings
    add(Case("tenant missing", grant(), ["tenant_id is missing", "AZURE_TENANT_ID"], env={"AZURE_TENANT_ID": None}))
    add(Case("auth_method=client_secret without a secret", grant(auth_method="client_secret"),
             ["client_secret is missing", "AZURE_CLIENT_SECRET"], env={"AZURE_CLIENT_SECRET": None}))
    add(Case("auth_method=certificate with only a secret", grant(auth_method="certificate"),
             ["auth_method certificate", "client_certificate_path is missing", "AZURE_CLIENT_CERTIFICATE_PATH"]))
    add(Case("auth_method=access_token without a token", grant(auth_method="access_token"),
             ["access_token is missing", "MSGRAPH_ACCESS_TOKEN"]))
    add(Case("no credential at all (auto falls back to managed identity)", grant(),
             ["managed identity", "Set client_id, tenant_id and client_secret"],
             env={"AZURE_CLIENT_SECRET": None, "AZURE_CLIENT_ID": None}))
    add(Case("certificate path does not exist", grant(client_certificate_path="/nonexistent/cert.pem"),
             ["client_certificate_path /nonexistent/cert.pem does not exist"], env={"AZURE_CLIENT_SECRET": None}))
    add(Case("certificate file is not a certificate", grant(client_certificate_path=ctx["garbage"]),
             ["neither PEM nor an unencrypted PFX", "client_certificate_password"], env={"AZURE_CLIENT_SECRET": None}))
    add(Case("encrypted PEM, wrong password", grant(client_certificate_path=ctx["pem_enc"]["path"],
                                                    client_certificate_password="wrong-password-123"),
             ["cannot decrypt the private key", "wrong client_certificate_password"], env={"AZURE_CLIENT_SECRET": None}))
    add(Case("encrypted PEM, no password", grant(client_certificate_path=ctx["pem_enc"]["path"]),
             ["is encrypted", "client_certificate_password"], env={"AZURE_CLIENT_SECRET": None}))
    add(Case("PFX, wrong password", grant(client_certificate_path=ctx["pfx"]["path"],
                                          client_certificate_password="wrong-password-123"),
             ["PFX that opens with the given client_certificate_password"], env={"AZURE_CLIENT_SECRET": None}))
    add(Case("certificate not registered on the app", grant(client_certificate_path=ctx["pem_unregistered"]["path"]),
             ["AADSTS700027", "not registered on the application"], env={"AZURE_CLIENT_SECRET": None}))
    add(Case("wrong client secret", grant(), ["AADSTS7000215", "use the secret's Value"],
             env={"AZURE_CLIENT_SECRET": "emu~wrong~secret~value"}))
    add(Case("unknown client id", grant(), ["AADSTS700016", "No application with this client_id"],
             env={"AZURE_CLIENT_ID": "11111111-2222-4333-8444-555555555555"}))
    add(Case("unknown tenant", grant(), ["fabrikam.onmicrosoft.com", "Check tenant_id"],
             env={"AZURE_TENANT_ID": "fabrikam.onmicrosoft.com"}))
    add(Case("cloud not a choice", grant(cloud="AzureCloud"), ["cloud", "china, global, usgov, usgov_dod"]))
    add(Case("federated token file does not exist", grant(auth_method="federated", federated_token_file="/nonexistent/token"),
             ["federated_token_file /nonexistent/token does not exist"]))
    # -- tokens and permissions (401/403)
    add(Case("expired access token (401)", grant(access_token=ctx["token_expired"]),
             ["HTTP 401", "expired", "has not expired"]))
    add(Case("malformed access token (not a JWT, refused before any request)", grant(access_token="not-a-jwt-token-value"),
             ["access_token", "is not a JWT", "MSGRAPH_ACCESS_TOKEN", "eyJ"]))
    add(Case("token for another cloud (401)", grant(access_token=ctx["token_wrong_aud"]),
             ["HTTP 401", "Invalid audience", "cloud / graph_url"]))
    add(Case("app without permissions (403)", grant(),
             ["HTTP 403", "Insufficient privileges", "DelegatedPermissionGrant.ReadWrite.All"],
             env={"AZURE_CLIENT_ID": NOPERM_APP, "AZURE_CLIENT_SECRET": NOPERM_SECRET}))
    # -- endpoints and TLS
    add(Case("unreachable Graph endpoint", grant(access_token=ctx["token"], retry_budget=2),
             ["cannot connect to Microsoft Graph", "connection refused", "Gave up after 3 attempts", "MSGRAPH_GRAPH_URL"],
             env={"MSGRAPH_GRAPH_URL": "https://127.0.0.1:1"}))
    add(Case("unreachable token endpoint", grant(), ["cannot reach the token endpoint", "Check authority_url"],
             env={"AZURE_AUTHORITY_HOST": "https://127.0.0.1:1"}))
    add(Case("TLS failure without ca_path (Graph)", grant(access_token=ctx["token"]),
             ["TLS error", "Set ca_path"], env={"MSGRAPH_CA_PATH": None}))
    add(Case("TLS failure without ca_path (token endpoint)", grant(),
             ["TLS", "set ca_path"], env={"MSGRAPH_CA_PATH": None}))
    add(Case("ca_path does not exist", grant(ca_path="/nonexistent/ca.pem"), ["ca_path /nonexistent/ca.pem does not exist"]))
    add(Case("graph_url not https", grant(graph_url="ftp://127.0.0.1"), ["graph_url must be an https URL"]))
    add(Case("timeout 0", grant(timeout=0), ["timeout must be greater than 0"]))
    add(Case("token_cache is a file", grant(token_cache=ctx["garbage"]), ["token_cache must be a directory"],
             env={"MSGRAPH_TOKEN_CACHE": None}))
    # -- emulator-side conditions (run alone)
    add(Case("Graph of another cloud (401, emulator cloud=usgov)", grant(), ["HTTP 401", "Invalid audience", "cloud / graph_url"],
             faults={"cloud": "usgov"}))
    add(Case("read-only app (403 on the write)", grant(client="O'Brien Tools"), ["HTTP 403", "DelegatedPermissionGrant.ReadWrite.All"],
             env={"AZURE_CLIENT_ID": READER_APP, "AZURE_CLIENT_SECRET": READER_SECRET}, write_attempts=1,
             what="the one POST is refused (403) and changes nothing: only the write reveals the missing permission"))
    return c


@pytest.fixture(scope="module")
def context(emulator, tmp_path_factory):
    files = tmp_path_factory.mktemp("bad-input-files")
    garbage = files / "garbage.bin"
    garbage.write_bytes(b"this is not a certificate\n" * 4)
    registered = make_certificate(files, "registered")
    emulator.control.reset()
    ctx = dict(
        garbage=str(garbage),
        pem_enc=make_certificate(files, "encrypted", password="correct horse battery"),
        pfx=make_certificate(files, "bundle", password="correct horse battery", pfx=True),
        pem_unregistered=make_certificate(files, "unregistered"),
        registered=registered,
        token=emulator.token(),
        token_expired=emulator.control.mint_token(expires_in=-600),
        token_wrong_aud=emulator.control.mint_token(aud="https://graph.microsoft.us"),
    )
    return ctx


CONNECTION_OPTIONS = ("tenant_id", "client_id", "client_secret", "client_certificate_path", "client_certificate_password",
                      "federated_token_file", "access_token", "auth_method", "cloud", "graph_url", "authority_url",
                      "api_version", "validate_certs", "ca_path", "timeout", "token_cache", "retry_budget")
MODULE_OPTIONS = {
    "oauth2_grant": ("client", "resource", "principal", "consent_type", "id", "scopes", "scope_mode", "state",
                     "validate_scopes"),
    "oauth2_grant_info": ("id", "client", "resource", "principal", "consent_type", "resolve_names"),
    "oauth2_grants": ("grants", "exclusive", "exclusive_include_user_consents"),
}


def _matrix_playbook():
    """One play over one inventory host per case: each host runs its case's module with its own options and
    environment, so every case is its own module process and its own failed host."""
    tasks = []
    for module, options in MODULE_OPTIONS.items():
        lines = ["    - name: Case through %s" % module, "      msgraph.grants.%s:" % module]
        for option in options + CONNECTION_OPTIONS:
            lines.append("        %s: \"{{ case_args.%s | default(omit) }}\"" % (option, option))
        lines += ["      environment: \"{{ case_env }}\"", "      when: case_module == '%s'" % module]
        tasks.append("\n".join(lines))
    return "---\n- name: Bad input matrix\n  hosts: cases\n  gather_facts: false\n  tasks:\n" + "\n".join(tasks) + "\n"


def _base_env(emulator, home):
    return base_env(home, MSGRAPH_GRAPH_URL=emulator.url, AZURE_AUTHORITY_HOST=emulator.url, MSGRAPH_CA_PATH=emulator.ca_path,
                    AZURE_TENANT_ID=emulator.tenant_id, AZURE_CLIENT_ID=emulator.client_id,
                    AZURE_CLIENT_SECRET=emulator.client_secret, MSGRAPH_TOKEN_CACHE="false", MSGRAPH_RETRY_BUDGET="3")


def _env(emulator, home, case):
    env = _base_env(emulator, home)
    for key, value in case.env.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _secrets(emulator, ctx):
    out = {"automation client secret": emulator.client_secret, "reader secret": READER_SECRET,
           "no-permission secret": NOPERM_SECRET, "certificate password": "correct horse battery",
           "wrong password given": "wrong-password-123", "wrong secret given": "emu~wrong~secret~value",
           "access token": ctx["token"], "expired token": ctx["token_expired"], "token for another cloud": ctx["token_wrong_aud"]}
    for name in ("pem_enc", "pfx", "pem_unregistered"):
        out.update(dict(("%s %s" % (name, k), v) for k, v in key_fragments(ctx[name]["key_pem_plain"]).items()))
    return out


class CaseRun(object):
    """What one case produced: its exit code (the command's, or the host's: 2 = failed), result and output."""

    def __init__(self, rc, result, output, log_text):
        self.rc = rc
        self.result = result or {}
        self.output = output
        self.log_text = log_text

    @property
    def msg(self):
        return self.result.get("msg") or ""


def _run_adhoc(emulator, tmp, case, index):
    home = tmp / ("case-%02d" % index)
    run = adhoc(case.module, case.args, _env(emulator, home, case), home, verbosity=4, diff=True,
                log_path=home / "ansible.log")
    return CaseRun(run.rc, run.result, run.output, run.log_text)


# Credentials a case sets through the environment become module options in the matrix playbook: the task keyword
# `environment:` is printed by ansible-core itself at -vvv (the EXEC line), see test_secret_hygiene.py.
ENV_AS_OPTION = {"AZURE_CLIENT_SECRET": "client_secret", "MSGRAPH_ACCESS_TOKEN": "access_token"}


def _run_matrix(emulator, tmp, indexed_cases):
    """All cases in one ansible-playbook -vvvv --diff run, one host per case (4 forks)."""
    home = tmp / "matrix"
    home.mkdir(parents=True, exist_ok=True)
    hosts = {}
    for index, case in indexed_cases:
        args = dict(case.args)
        env = {}
        for key, value in case.env.items():
            if value and key in ENV_AS_OPTION:
                args[ENV_AS_OPTION[key]] = value
            else:
                env[key] = "" if value is None else value   # empty = unset for the modules
        hosts["case%02d" % index] = {"case_module": case.module, "case_args": args, "case_env": env,
                                     "ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    (home / "inventory.json").write_text(json.dumps({"cases": {"hosts": hosts}}))
    (home / "matrix.yml").write_text(_matrix_playbook())
    env = dict(_base_env(emulator, home), ANSIBLE_FORKS="4")
    run = run_ansible([str(VENV_BIN / "ansible-playbook"), "-i", str(home / "inventory.json"), str(home / "matrix.yml"),
                       "-vvvv", "--diff"], env, home, log_path=home / "ansible.log")
    out = {}
    for index, _case in indexed_cases:
        host = "case%02d" % index
        result = parse_adhoc_result(run.output, host)
        host_rc = 2 if (result or {}).get("failed") else 0
        out[index] = CaseRun(host_rc, result, run.output, run.log_text)
    return run, out


def _check(case, run, secrets, check_output=True):
    problems = []
    result = run.result
    if run.rc == 0:
        problems.append("exit code 0")
    if not result.get("failed"):
        problems.append("no failed result")
    if result.get("changed"):
        problems.append("changed=true")
    missing = [m for m in case.must if m not in run.msg]
    if missing:
        problems.append("message lacks %s" % missing)
    if UNEXPECTED_MARKER in run.msg or "exception" in result or "module_stderr" in result:
        problems.append("unexpected error / module stderr in the result")
    if check_output:
        text = run.output + run.log_text
        if has_traceback(text):
            problems.append("traceback in the output")
        leaked = find_secrets(text, secrets)
        if leaked:
            problems.append("secrets in the output: %s" % leaked)
    return problems


def test_bad_input_matrix(emulator, context, tmp_path, figures, settings):  # pylint: disable=too-many-locals
    started = time.time()
    all_cases = cases(context)
    assert len(all_cases) >= 30
    secrets = _secrets(emulator, context)
    control = emulator.control
    problems = {}

    # Cases without emulator faults in one request-log window that must hold no write at all: one ansible-playbook
    # run with a host per case (fast), or additionally one `ansible -m` command per case (full run).
    plain = [(i, c) for i, c in enumerate(all_cases) if c.faults is None and not c.write_attempts]
    control.reset()
    before = control.state()["grants"]
    playbook_run, matrix = _run_matrix(emulator, tmp_path, plain)
    outcomes = [(c, matrix[i], 0, "playbook host") for i, c in plain]
    if playbook_run.rc == 0:
        problems.setdefault("(matrix playbook)", []).append("ansible-playbook exited 0")
    for index, case, run in [(i, c, matrix[i]) for i, c in plain]:
        found = _check(case, run, secrets, check_output=False)
        if found:
            problems.setdefault(case.name, []).extend(found)
    if has_traceback(playbook_run.output + playbook_run.log_text):
        problems.setdefault("(matrix playbook)", []).append("traceback in the output")
    leaked = find_secrets(playbook_run.output + playbook_run.log_text, secrets)
    if leaked:
        problems.setdefault("(matrix playbook)", []).append("secrets in the output: %s" % leaked)
    if settings.full:
        with ThreadPoolExecutor(2) as pool:
            runs = list(pool.map(lambda item: _run_adhoc(emulator, tmp_path, item[1], item[0]), plain))
        for (_i, case), run in zip(plain, runs):
            outcomes.append((case, run, 0, "ansible -m"))
            found = _check(case, run, secrets)
            if found:
                problems.setdefault(case.name + " (ansible -m)", []).extend(found)
    entries = control.requests()
    window_writes = write_entries(entries)
    state_unchanged = control.state()["grants"] == before

    # The cases that need an emulator condition run alone, each in its own window, as `ansible -m` commands.
    for index, case in [(i, c) for i, c in enumerate(all_cases) if c.faults is not None or c.write_attempts]:
        control.reset()
        if case.faults:
            control.set_faults(**case.faults)
        grants_before = control.state()["grants"]
        run = _run_adhoc(emulator, tmp_path, case, index)
        control.clear_faults()
        writes = write_entries(control.requests())
        applied = [w for w in writes if w.get("status") and w["status"] < 300]
        if len(writes) != case.write_attempts or applied or control.state()["grants"] != grants_before:
            problems.setdefault(case.name, []).append("writes: %d attempted (%d expected), %d applied" % (
                len(writes), case.write_attempts, len(applied)))
        outcomes.append((case, run, len(writes), "ansible -m"))
        found = _check(case, run, secrets)
        if found:
            problems.setdefault(case.name, []).extend(found)

    figures.time("bad input", time.time() - started)
    section = "3. bad input"
    commands = collections.Counter(how for _c, _r, _w, how in outcomes)
    figures.add(section, "cases", len(all_cases), "%d in one `ansible-playbook -vvvv --diff` (a host per case, one "
                "request-log window), %d alone as `ansible -m ... -vvvv --diff`%s" % (
                    len(plain), len(all_cases) - len(plain),
                    "; full run: every case also as its own `ansible -m` command" if settings.full else ""))
    figures.add(section, "case runs", len(outcomes), ", ".join("%s %d" % kv for kv in sorted(commands.items())))
    clean = [o for o in outcomes if not _check(o[0], o[1], secrets, check_output=False)]
    figures.add(section, "failed with a message naming problem and remedy", "%d of %d" % (len(clean), len(outcomes)),
                "non-zero (failed host / exit code 2), expected substrings present")
    figures.add(section, "tracebacks (must be 0)", sum(1 for _c, r, _w, _h in outcomes if has_traceback(r.output + r.log_text)), "")
    figures.add(section, "secrets or tokens in the output (must be 0)", sum(
        1 for _c, r, _w, _h in outcomes if find_secrets(r.output + r.log_text, secrets)), "stdout/stderr with -vvvv and the ansible log")
    figures.add(section, "write requests on bad input (must be 0)", len(window_writes) + sum(
        w for c, _r, w, _h in outcomes if c.faults is not None and not c.write_attempts),
        "request log; grants unchanged: %s" % state_unchanged)
    figures.add(section, "403 of a read-only app: writes attempted / applied", "1 / 0",
                "the refused POST is the only way to learn the permission is missing")
    rows = ["| case | module | via | rc | writes | message (start) |", "|---|---|---|---|---|---|"]
    for case, run, writes, how in outcomes:
        if how == "ansible -m" and settings.full and case.faults is None and not case.write_attempts:
            continue
        rows.append("| %s | %s | %s | %d | %d | %s |" % (case.name, case.module, how, run.rc, writes,
                                                         run.msg[:260].replace("|", "\\|").replace("\n", " ")))
    figures.detail("Bad input matrix", "\n".join(rows))
    if window_writes:
        problems.setdefault("(window)", []).append("write requests: %s" % json.dumps(
            [(w["method"], w["path"], w["status"]) for w in window_writes]))
    if not state_unchanged:
        problems.setdefault("(window)", []).append("grants changed")
    assert not problems, "\n".join("%s: %s" % (k, "; ".join(v)) for k, v in problems.items())


class _HtmlServer(object):
    """A local HTTP endpoint that answers every GET with an HTML 404 (what a wrong identity endpoint, or another
    cloud's metadata service at 169.254.169.254, gives a managed-identity token request)."""

    def __enter__(self):
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802  pylint: disable=invalid-name
                body = b"<html><body><h1>404 Not Found</h1></body></html>"
                self.send_response(404)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # pylint: disable=arguments-differ
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = "http://127.0.0.1:%d/msi/token" % self.server.server_address[1]
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_unreachable_graph_endpoint_names_a_remedy(emulator, context, tmp_path):
    case = Case("unreachable Graph endpoint", grant(access_token=context["token"], retry_budget=2),
                ["cannot connect to Microsoft Graph", "unset MSGRAPH_GRAPH_URL"], env={"MSGRAPH_GRAPH_URL": "https://127.0.0.1:1"})
    run = _run_adhoc(emulator, tmp_path, case, 0)
    assert not _check(case, run, _secrets(emulator, context)), run.msg


def test_managed_identity_endpoint_answering_html_is_explained(emulator, context, tmp_path):
    with _HtmlServer() as server:
        case = Case("no secret, identity endpoint answers HTML", grant(),
                    ["managed identity", "IDENTITY_ENDPOINT", "client_secret"],
                    env={"AZURE_CLIENT_SECRET": None, "IDENTITY_ENDPOINT": server.url, "IDENTITY_HEADER": "x"})
        run = _run_adhoc(emulator, tmp_path, case, 0)
    assert not _check(case, run, _secrets(emulator, context)), run.msg
