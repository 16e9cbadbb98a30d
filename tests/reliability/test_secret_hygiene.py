# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue item 4: secret hygiene, through real ``ansible-playbook -vvvv --diff`` runs, one per authentication method.

Each playbook creates and appends to a grant (diffs), reads grants, converges a list with the bulk module, prints
the registered result, runs into a Graph failure after authenticating (ignored), and ends with a task whose
credential is wrong (the play fails). No secret, password, private key, access token (those in the token cache
included) or client assertion -- nothing shaped like a JWT -- may appear in stdout/stderr, the Ansible log, any file
left in the run's HOME (the token cache excepted), or the emulator's request log.

The token cache: the runs use the default cache directory ($XDG_CACHE_HOME/msgraph.grants, pre-created 0755 for
one method), with umask 000 so that any file created without an explicit mode would be world-readable; strace (when
available) records every open/mkdir/chmod/rename of the cache: nothing there may ever be created or made
group/world-accessible, not even for a moment; at the end the directory is 0700 and its files 0600.
"""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from graph_emulator.testing import AUTOMATION_APP
from harness import (base_env, find_secrets, has_traceback, key_fragments, make_certificate, playbook, tokens_in_cache,
                     unsigned_jwt)

PASSWORD = "Pfx&Pem~hygiene-Password-42"
SP = {  # one client per method, so that the methods can run side by side on one emulator
    "client_secret (playbook vars)": "ac63c5e1-7a3b-4e5d-8fa0-b1c2d3e4f506",
    "client_secret (environment)": "6e2f81a7-3c9d-4a1f-8b6c-7d8e9fa0b1c2",
    "certificate (encrypted PEM)": "7f3092b8-4d0e-4b2a-9c7d-8e9fa0b1c2d3",
    "certificate (PFX)": "8a41a3c9-5e1f-4c3b-8d8e-9fa0b1c2d3e4",
    "federated token file": "9b52b4d0-6f2a-4d4c-9e9f-a0b1c2d3e4f5",
    "managed identity": "2a8b4d63-9e5f-4c7b-8d2e-3f4a5b6c7d8e",
    "access_token": "3b9c5e74-0f6a-4d8c-9e3f-4a5b6c7d8e9f",
}

PLAYBOOK = """\
---
- name: Secret hygiene ({method})
  hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/msgraph.grants.graph: "{{{{ conn }}}}"
  tasks:
    - name: Create a grant
      msgraph.grants.oauth2_grant:
        client: "{{{{ client }}}}"
        resource: Microsoft Graph
        scopes: [User.Read, Mail.Read]
      register: created

    - name: Append a scope
      msgraph.grants.oauth2_grant:
        client: "{{{{ client }}}}"
        resource: Microsoft Graph
        scopes: [Calendars.Read]
        scope_mode: append
      when: hygiene_full | bool

    - name: Read grants with names
      msgraph.grants.oauth2_grant_info:
        client: "{{{{ client }}}}"
        resolve_names: true
      register: listed
      when: hygiene_full | bool

    - name: Converge a list
      msgraph.grants.oauth2_grants:
        grants:
          - client: "{{{{ client }}}}"
            resource: Microsoft Graph
            scopes: [User.Read, Mail.Read, Calendars.Read, Files.Read]
      when: hygiene_full | bool

    - name: Show what was registered
      ansible.builtin.debug:
        var: created

    - name: A Graph failure after authenticating (DELETE answered 503)
      msgraph.grants.oauth2_grant:
        client: "{{{{ client }}}}"
        resource: Microsoft Graph
        state: absent
      ignore_errors: true

    - name: A wrong credential
      msgraph.grants.oauth2_grant:
        client: "{{{{ client }}}}"
        resource: Microsoft Graph
        scopes: [User.Read]
        token_cache: false
{bad_args}
{bad_env}
"""


def _yaml_args(args, indent=8):
    return "\n".join("%s%s: %s" % (" " * indent, k, json.dumps(v)) for k, v in args.items())


def _methods(emu, files):
    """name -> dict(conn (module_defaults), env (process), secrets, bad_args, bad_env)."""
    pem = make_certificate(files, "hygiene-pem", password=PASSWORD)
    pfx = make_certificate(files, "hygiene-pfx", password=PASSWORD, pfx=True)
    emu.control.register_app(AUTOMATION_APP, certificate_pem=[pem["cert_pem"], pfx["cert_pem"]])
    now = int(time.time())
    assertion = unsigned_jwt({"iss": "https://oidc.emulator.invalid/kubernetes", "aud": "api://AzureADTokenExchange",
                              "sub": "system:serviceaccount:automation:msgraph-grants", "iat": now, "nbf": now,
                              "exp": now + 3600, "jti": os.urandom(8).hex()})
    wrong_assertion = unsigned_jwt({"iss": "https://oidc.emulator.invalid/kubernetes", "aud": "api://AzureADTokenExchange",
                                    "sub": "system:serviceaccount:intruder:someone", "iat": now, "nbf": now, "exp": now + 3600})
    (files / "federated.jwt").write_text(assertion)
    (files / "wrong-federated.jwt").write_text(wrong_assertion)
    token = emu.token()
    expired = emu.control.mint_token(expires_in=-600)
    common = dict(graph_url=emu.url, authority_url=emu.url, ca_path=emu.ca_path)
    wrong_secret = "emu~not~the~right~secret~value"
    key_lines = dict(key_fragments(pem["key_pem_plain"]), **dict(("pfx " + k, v) for k, v in key_fragments(pfx["key_pem_plain"]).items()))
    pem_file_lines = dict(("encrypted PEM file line %d" % i, l) for i, l in enumerate(
        [l for l in Path(pem["path"]).read_text().splitlines() if l and not l.startswith("-----")][1:4], 1))
    return {
        "client_secret (playbook vars)": dict(
            conn=dict(common, tenant_id=emu.tenant_id, client_id=emu.client_id, client_secret=emu.client_secret), env={},
            secrets={"client secret": emu.client_secret, "wrong secret": wrong_secret},
            bad_args={"client_secret": wrong_secret}, bad_env={}, precreate_cache_0755=True),
        "client_secret (environment)": dict(
            conn=dict(common), env=dict(AZURE_TENANT_ID=emu.tenant_id, AZURE_CLIENT_ID=emu.client_id,
                                        AZURE_CLIENT_SECRET=emu.client_secret),
            secrets={"client secret": emu.client_secret, "wrong secret": wrong_secret},
            bad_args={"client_secret": wrong_secret}, bad_env={}),
        "certificate (encrypted PEM)": dict(
            conn=dict(common, tenant_id=emu.tenant_id, client_id=emu.client_id, client_certificate_path=pem["path"],
                      client_certificate_password=PASSWORD), env={},
            secrets=dict(key_lines, **dict(pem_file_lines, password=PASSWORD, **{"wrong password": "Wrong-Password-99"})),
            bad_args={"client_certificate_password": "Wrong-Password-99"}, bad_env={}),
        "certificate (PFX)": dict(
            conn=dict(common, tenant_id=emu.tenant_id, client_id=emu.client_id, client_certificate_path=pfx["path"],
                      client_certificate_password=PASSWORD), env={},
            secrets=dict(key_lines, password=PASSWORD, **{"wrong password": "Wrong-Password-99"}),
            bad_args={"client_certificate_password": "Wrong-Password-99"}, bad_env={}),
        "federated token file": dict(
            conn=dict(common, tenant_id=emu.tenant_id, client_id=emu.client_id,
                      federated_token_file=str(files / "federated.jwt")), env={},
            secrets={"federated assertion": assertion, "wrong assertion": wrong_assertion},
            bad_args={"federated_token_file": str(files / "wrong-federated.jwt")}, bad_env={}),
        "managed identity": dict(
            conn=dict(common, auth_method="managed_identity"),
            env=dict(IDENTITY_ENDPOINT=emu.msi_endpoint, IDENTITY_HEADER=emu.msi_header),
            secrets={"identity header": emu.msi_header},
            bad_args={}, bad_env={"IDENTITY_HEADER": "not-the-identity-header"}),
        "access_token": dict(
            conn=dict(common, access_token=token), env={},
            secrets={"access token": token, "expired token": expired},
            bad_args={"access_token": expired}, bad_env={}),
    }


class CacheWatcher(object):
    """Polls the cache directory every millisecond; remembers every mode ever seen there (a fallback witness when
    strace is not available, and a second one when it is)."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.seen = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                entries = [self.directory] + list(self.directory.iterdir()) if self.directory.exists() else []
                for entry in entries:
                    try:
                        mode = stat.S_IMODE(os.lstat(str(entry)).st_mode)
                    except OSError:
                        continue
                    self.seen.setdefault(entry.name, set()).add(mode)
            except OSError:
                pass
            time.sleep(0.001)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


_STRACE_LINE = re.compile(r'^(\d+)\s+(\w+)\((.*)\)\s+=\s+(-?\d+)')


def strace_violations(trace_path, cache_dir):
    """Calls that created or chmod-ed something under the cache directory with group/other permission bits."""
    violations, created = [], []
    fds = {}
    cache_dir = str(cache_dir)
    for line in Path(trace_path).read_text(errors="replace").splitlines():
        match = _STRACE_LINE.match(line)
        if not match:
            continue
        pid, call, args, ret = match.groups()
        paths = re.findall(r'"([^"]*)"', args)
        mode = re.search(r",\s*0([0-7]{3,4})\s*$", args)
        mode = int(mode.group(1), 8) if mode else None
        if call in ("openat", "open", "creat"):
            if paths and int(ret) >= 0:
                fds[(pid, ret)] = paths[0]
            if paths and paths[0].startswith(cache_dir) and ("O_CREAT" in args or call == "creat"):
                created.append((paths[0], mode))
                if mode is None or mode & 0o077:
                    violations.append(line)
        elif call in ("mkdir", "mkdirat"):
            if paths and paths[0].startswith(cache_dir) and (mode is None or mode & 0o077):
                violations.append(line)
        elif call in ("chmod", "fchmodat"):
            if paths and paths[0].startswith(cache_dir) and mode is not None and mode & 0o077:
                violations.append(line)
        elif call == "fchmod":
            fd = args.split(",")[0].strip()
            target = fds.get((pid, fd), "")
            if target.startswith(cache_dir) and mode is not None and mode & 0o077:
                violations.append(line)
    return violations, created


def _scan_home(home, skip):
    """Text of every file the run left in HOME (outside the token cache)."""
    texts = {}
    for path in Path(home).rglob("*"):
        if path.is_file() and not str(path).startswith(str(skip)):
            try:
                texts[str(path.relative_to(home))] = path.read_text(errors="replace")
            except OSError:
                continue
    return texts


def _run_method(emu, root, name, method, use_strace, full):
    work = root / re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    home = work / "home"
    cache = home / ".cache" / "msgraph.grants"
    work.mkdir(parents=True)
    if method.get("precreate_cache_0755"):
        cache.mkdir(parents=True)
        os.chmod(str(cache), 0o755)
    env = base_env(home, **method["env"])
    pb = work / "site.yml"
    bad_env = ""
    if method["bad_env"]:
        bad_env = "      environment:\n" + _yaml_args(method["bad_env"])
    pb.write_text(PLAYBOOK.format(method=name, bad_args=_yaml_args(method["bad_args"]), bad_env=bad_env))
    (work / "vars.json").write_text(json.dumps({"conn": method["conn"], "client": SP[name], "hygiene_full": full,
                                               "ansible_python_interpreter": sys.executable}))
    wrapper = None
    trace = work / "strace.txt"
    if use_strace:
        wrapper = ["strace", "-f", "-qq", "--seccomp-bpf", "-o", str(trace), "-e",
                   "trace=open,openat,creat,mkdir,mkdirat,chmod,fchmod,fchmodat,rename,renameat,renameat2"]
    with CacheWatcher(cache) as watcher:
        run = playbook(pb, env, work, extra_vars_file=work / "vars.json", verbosity=4, diff=True,
                       log_path=work / "ansible.log", preexec_fn=lambda: os.umask(0), wrapper=wrapper)
    os.unlink(str(work / "vars.json"))   # the test's own input, not something the run left behind
    return dict(name=name, run=run, home=home, cache=cache, trace=trace if use_strace else None, seen=watcher.seen,
                secrets=method["secrets"])


def _strace_works():
    """strace is installed and may trace here (containers without ptrace rights refuse it)."""
    if shutil.which("strace") is None:
        return False
    probe = subprocess.run(["strace", "-f", "-qq", "--seccomp-bpf", "-o", os.devnull, "-e", "trace=openat", "true"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return probe.returncode == 0


@pytest.fixture(scope="module")
def hygiene_runs(emulator, tmp_path_factory, figures, settings):
    started = time.time()
    root = tmp_path_factory.mktemp("hygiene")
    emulator.control.reset()
    methods = _methods(emulator, root)
    emulator.control.clear_requests()
    emulator.control.set_faults(methods=["DELETE"], fail_next=1000, fail_status=503)
    use_strace = _strace_works()
    with ThreadPoolExecutor(3) as pool:
        runs = list(pool.map(lambda item: _run_method(emulator, root, item[0], item[1], use_strace, settings.full),
                             methods.items()))
    emulator.control.clear_faults()
    log = json.dumps(emulator.control.requests())
    figures.time("secret hygiene", time.time() - started)
    return dict(runs=runs, emulator_log=log, strace=use_strace, full=settings.full)


def test_no_secret_in_any_output(hygiene_runs, emulator, figures):
    problems = []
    checked_tokens = 0
    for r in hygiene_runs["runs"]:
        run = r["run"]
        recap = re.search(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+).*?failed=(\d+).*?ignored=(\d+)", run.output, re.S)
        least_changed = 3 if hygiene_runs["full"] else 1
        if run.rc != 2 or not recap or recap.group(3) != "1" or recap.group(4) != "1" or int(recap.group(2)) < least_changed:
            problems.append("%s: expected changed tasks, 1 ignored Graph failure and the credential failure "
                            "(rc 2); got rc %s, recap %s\n%s" % (r["name"], run.rc, recap and recap.group(0), run.output[-3000:]))
        if has_traceback(run.output):
            problems.append("%s: traceback in the output" % r["name"])
        if "--- before" not in run.output and '"before"' not in run.output:
            problems.append("%s: no diff in the output" % r["name"])
        secrets = dict(r["secrets"])
        secrets["automation client secret"] = emulator.client_secret
        for i, token in enumerate(sorted(tokens_in_cache(r["home"]))):
            secrets["cached access token %d" % i] = token
            checked_tokens += 1
        places = {"stdout/stderr": run.output, "ansible log": run.log_text, "emulator request log": hygiene_runs["emulator_log"]}
        places.update(("file ~/" + k, v) for k, v in _scan_home(r["home"], r["cache"]).items())
        for where, text in places.items():
            found = find_secrets(text, secrets)
            if found:
                problems.append("%s: %s in %s" % (r["name"], found, where))
    section = "4. secret hygiene"
    figures.add(section, "authentication methods", len(hygiene_runs["runs"]),
                "; ".join(r["name"] for r in hygiene_runs["runs"]))
    figures.add(section, "runs per method", "1 ansible-playbook -vvvv --diff",
                ("create+append (diff), info, bulk, " if hygiene_runs["full"] else "create (diff), ")
                + "debug of the registered result, a Graph 503 failure (ignored), a wrong credential (fails the play)")
    figures.add(section, "secrets, passwords, keys, tokens or assertions found (must be 0)", len(problems),
                "stdout/stderr, ansible log, files left in HOME, emulator request log; %d cached tokens searched "
                "too, plus anything JWT-shaped" % checked_tokens)
    assert not problems, "\n".join(problems)


def test_token_cache_is_owner_only_from_creation(hygiene_runs, figures):
    problems, created_total, polled = [], 0, 0
    for r in hygiene_runs["runs"]:
        if r["name"] == "access_token":
            continue   # no MSAL, no token cache
        cache = r["cache"]
        if not cache.is_dir():
            problems.append("%s: no cache directory %s" % (r["name"], cache))
            continue
        mode = stat.S_IMODE(cache.stat().st_mode)
        if mode != 0o700:
            problems.append("%s: cache directory mode %o" % (r["name"], mode))
        files = list(cache.iterdir())
        if not any(f.name.startswith("token-") and f.name.endswith(".json") for f in files):
            problems.append("%s: no token file in %s" % (r["name"], [f.name for f in files]))
        for f in files:
            fmode = stat.S_IMODE(f.lstat().st_mode)
            if fmode != 0o600 or f.name.endswith(".tmp"):
                problems.append("%s: %s mode %o" % (r["name"], f.name, fmode))
        for name, modes in r["seen"].items():
            polled += len(modes)
            wide = [m for m in modes if m & 0o077 and name != "msgraph.grants"]
            if wide:
                problems.append("%s: %s was seen with mode %s" % (r["name"], name, ["%o" % m for m in wide]))
        if r["trace"] is not None:
            violations, created = strace_violations(r["trace"], cache)
            created_total += len(created)
            problems.extend("%s: %s" % (r["name"], v) for v in violations)
            if not created:
                problems.append("%s: strace saw nothing created in the cache" % r["name"])
    section = "4. secret hygiene"
    figures.add(section, "token cache: files created group/world-accessible, even briefly (must be 0)", len(problems),
                "umask 000; %s; final modes dir 0700, files 0600; a pre-existing 0755 default dir is tightened to 0700" % (
                    "strace saw %d creations in the cache (all 0600/0700)" % created_total if hygiene_runs["strace"]
                    else "strace unavailable: 1 ms polling only"))
    assert not problems, "\n".join(problems)


def test_unsafe_cache_file_is_not_trusted(emulator, tmp_path, figures):
    """A cache file that others can read is ignored (a new token is requested) and left as it is, with a warning."""
    from harness import connection, run_module   # pylint: disable=import-outside-toplevel
    emulator.control.reset()
    env = base_env(tmp_path / "home")
    args = dict(connection(emulator), client="Contoso Payroll")
    first = run_module("oauth2_grant_info", args, env, tmp_path)
    assert first.ok, first.text()
    cache = tmp_path / "home" / ".cache" / "msgraph.grants"
    token_files = list(cache.glob("token-*.json"))
    assert len(token_files) == 1
    os.chmod(str(token_files[0]), 0o644)
    emulator.control.clear_requests()
    second = run_module("oauth2_grant_info", args, env, tmp_path)
    assert second.ok, second.text()
    token_requests = [e for e in emulator.control.requests() if e["kind"] in ("token", "discovery")]
    warned = "not private to the current user" in json.dumps(second.result.get("warnings", []))
    figures.add("4. secret hygiene", "token cache file readable by others", "ignored: %s, warned: %s" % (
        bool(token_requests), warned), "a new token is requested instead of trusting it")
    assert token_requests and warned, second.text()
    assert stat.S_IMODE(token_files[0].stat().st_mode) == 0o644  # not rewritten through an unsafe file


def test_tls_verification_is_on_by_default(emulator, tmp_path, figures):
    """No ca_path, no validate_certs: the emulator's private CA is not trusted, so the run must fail on TLS (the
    token side first), and nothing reaches Graph."""
    from harness import connection, run_module   # pylint: disable=import-outside-toplevel
    emulator.control.reset()
    env = base_env(tmp_path / "home")
    run = run_module("oauth2_grant", dict(connection(emulator, ca_path=None), client="Contoso Payroll",
                                          resource="Microsoft Graph", scopes=["User.Read"]), env, tmp_path)
    graph = [e for e in emulator.control.requests() if e["kind"] in ("graph", "batch_item")]
    figures.add("4. secret hygiene", "TLS verification by default", "on" if (not run.ok and "TLS" in run.msg) else "OFF",
                "no ca_path/validate_certs: the run fails with a TLS error and a ca_path hint; 0 Graph requests")
    assert not run.ok and "TLS" in run.msg and "ca_path" in run.msg, run.text()
    assert not graph


def test_secret_in_task_environment_keyword(emulator, tmp_path, figures):
    """Not the collection's output, but users ask: ansible-core prints the task ``environment:`` (in its EXEC line)
    at -vvv, so a secret passed that way shows. Recorded as a figure; docs/reliability.md advises the module option
    or the process environment (what AWX/AAP credentials use) instead."""
    emulator.control.reset()
    pb = tmp_path / "env.yml"
    pb.write_text("""\
---
- name: Secret through the environment keyword
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Read grants
      msgraph.grants.oauth2_grant_info:
        client: Contoso Payroll
        graph_url: "{{ url }}"
        authority_url: "{{ url }}"
        ca_path: "{{ ca }}"
        tenant_id: "{{ tenant }}"
        client_id: "{{ client_id }}"
        token_cache: false
      environment:
        AZURE_CLIENT_SECRET: "{{ secret }}"
""")
    (tmp_path / "vars.json").write_text(json.dumps(dict(url=emulator.url, ca=emulator.ca_path, tenant=emulator.tenant_id,
                                                        client_id=emulator.client_id, secret=emulator.client_secret,
                                                        ansible_python_interpreter=sys.executable)))
    run = playbook(pb, base_env(tmp_path / "home"), tmp_path, extra_vars_file=tmp_path / "vars.json", verbosity=4, diff=False)
    assert run.rc == 0, run.output[-2000:]
    shown = emulator.client_secret in run.output
    figures.add("4. secret hygiene", "secret passed with the task `environment:` keyword, -vvvv",
                "printed by ansible-core" if shown else "not printed",
                "ansible-core's EXEC line, outside the collection; use the module option or the process environment")
