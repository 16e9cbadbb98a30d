# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared machinery of the reliability suite: running the modules (directly or through real ansible commands)
against the Graph emulator, reading the emulator's state and request log, judging outcomes, scanning for secrets
and collecting the figures that end up in docs/reliability.md.

Nothing here talks to anything but 127.0.0.1: every child process gets a proxy on a closed local port for every
other host (``HTTPS_PROXY``/``HTTP_PROXY`` with ``NO_PROXY=127.0.0.1,localhost``), so a setting that would reach a
Microsoft host (or the Azure VM metadata address) fails fast instead of leaving the machine.
"""

import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO_ROOT / ".tmp" / "collections"
HERE = Path(__file__).resolve().parent
MODRUN = HERE / "_modrun.py"
VENV_BIN = Path(sys.executable).parent
PYTHON = sys.executable

# A proxy nobody listens on: any request that is not for 127.0.0.1/localhost fails at once, locally.
DEAD_PROXY = "http://127.0.0.1:9"

TRACEBACK_MARKERS = ("Traceback (most recent call last)", "MODULE FAILURE", "The full traceback is")
UNEXPECTED_MARKER = "Unexpected error in msgraph.grants"
# A JSON Web Token (access tokens, client assertions, federated tokens all have this shape).
JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")


def ensure_collections_link():
    """``.tmp/collections/ansible_collections/msgraph/grants`` -> the working tree (as scripts/test.sh makes it)."""
    link = COLLECTIONS / "ansible_collections" / "msgraph" / "grants"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink() or os.readlink(str(link)) != "../../../..":
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to("../../../..")
    return COLLECTIONS


def base_env(home, **extra):
    """The environment of every child process: nothing from the developer's shell that could change a run
    (AZURE_*, MSGRAPH_*, ANSIBLE_*, CA bundle overrides, identity endpoints), a private HOME/cache, the working
    tree as the collection, and the dead proxy for every host but 127.0.0.1."""
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    env = dict((k, v) for k, v in os.environ.items()
               if not k.startswith(("AZURE_", "MSGRAPH_", "ANSIBLE_"))
               and k.upper() not in ("PYTHONPATH", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE",
                                     "SSL_CERT_DIR", "IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT",
                                     "MSI_SECRET", "IMDS_ENDPOINT", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                                     "NO_PROXY"))
    env.update({
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "PYTHONPATH": str(ensure_collections_link()),
        "PYTHONDONTWRITEBYTECODE": "1",
        "HTTPS_PROXY": DEAD_PROXY, "HTTP_PROXY": DEAD_PROXY, "https_proxy": DEAD_PROXY, "http_proxy": DEAD_PROXY,
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        "ANSIBLE_LOCAL_TEMP": str(home / ".ansible" / "tmp"),
        "ANSIBLE_REMOTE_TEMP": str(home / ".ansible" / "remote_tmp"),
        "ANSIBLE_HOST_KEY_CHECKING": "false",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_DEPRECATION_WARNINGS": "false",
        "ANSIBLE_PYTHON_INTERPRETER": PYTHON,
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "NO_COLOR": "1",
    })
    env.update(dict((k, str(v)) for k, v in extra.items()))
    return env


def connection(emu, **overrides):
    """Module options that point a module at the emulator with the default automation app."""
    conn = dict(graph_url=emu.url, authority_url=emu.url, ca_path=emu.ca_path, tenant_id=emu.tenant_id,
                client_id=emu.client_id, client_secret=emu.client_secret)
    for key, value in overrides.items():
        if value is None:
            conn.pop(key, None)
        else:
            conn[key] = value
    return conn


# ---------------------------------------------------------------------------------------------------------------
# running a module directly (python -m, args file): the fast path of the fault-injection and concurrency runs


class ModuleRun(object):
    def __init__(self, rc, stdout, stderr, started, ended, timed_out=False):
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.started = started
        self.ended = ended
        self.timed_out = timed_out
        self.result = parse_module_json(stdout)

    @property
    def elapsed(self):
        return self.ended - self.started

    @property
    def ok(self):
        return self.rc == 0 and self.result is not None and not self.result.get("failed")

    @property
    def msg(self):
        return (self.result or {}).get("msg") or ""

    def text(self):
        return (self.stdout or "") + "\n" + (self.stderr or "")


def parse_module_json(stdout):
    """The module's JSON answer (the last JSON object on stdout)."""
    text = (stdout or "").strip()
    start = text.find("{")
    while start != -1:
        try:
            return json.JSONDecoder().raw_decode(text[start:])[0]
        except ValueError:
            start = text.find("{", start + 1)
    return None


def write_args(directory, module_args, diff=False, check=False):
    args = dict(module_args)
    args["_ansible_diff"] = bool(diff)
    args["_ansible_check_mode"] = bool(check)
    fd, path = tempfile.mkstemp(prefix="args-", suffix=".json", dir=str(directory))
    with os.fdopen(fd, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
    return path


def module_command(module, args_path, barrier=None, no_guard=False):
    command = [PYTHON, str(MODRUN), module, args_path]
    if barrier is not None:
        ready, go, offset = barrier
        command += ["--ready", str(ready), "--go", str(go), "--offset", repr(offset)]
    if no_guard:
        command.append("--no-guard")
    return command


def spawn_module(module, module_args, env, workdir, diff=True, barrier=None, no_guard=False):
    """Start a module run in the background (stdout/stderr to files); returns a handle for ``finish_module``.
    ``barrier``: (ready file, go file, offset) -- see _modrun.py and ``release``."""
    args_path = write_args(workdir, module_args, diff=diff)
    out = tempfile.NamedTemporaryFile(prefix="out-", dir=str(workdir), delete=False)
    err = tempfile.NamedTemporaryFile(prefix="err-", dir=str(workdir), delete=False)
    started = time.time()
    proc = subprocess.Popen(module_command(module, args_path, barrier, no_guard), stdout=out, stderr=err,
                            stdin=subprocess.DEVNULL, env=env, cwd=str(workdir))
    return dict(proc=proc, out=out, err=err, started=started, args=args_path, barrier=barrier)


def release(handles, go_file, lead=0.15, timeout=60):
    """Wait until every barrier-started process is ready (imported), then let them go ``lead`` seconds from now."""
    deadline = time.time() + timeout
    for handle in handles:
        ready = handle["barrier"][0]
        while not os.path.exists(str(ready)):
            if handle["proc"].poll() is not None or time.time() > deadline:
                break
            time.sleep(0.005)
    tmp = str(go_file) + ".tmp"
    with open(tmp, "w") as out:
        out.write(repr(time.time() + lead))
    os.replace(tmp, str(go_file))


def finish_module(handle, timeout=180):
    proc = handle["proc"]
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.kill()
        proc.wait()
    ended = time.time()
    for name in ("out", "err"):
        handle[name].close()
    stdout = Path(handle["out"].name).read_text(errors="replace")
    stderr = Path(handle["err"].name).read_text(errors="replace")
    for name in ("out", "err"):
        os.unlink(handle[name].name)
    os.unlink(handle["args"])
    return ModuleRun(proc.returncode if not timed_out else -9, stdout, stderr, handle["started"], ended, timed_out)


def run_module(module, module_args, env, workdir, diff=True, timeout=180, no_guard=False):
    return finish_module(spawn_module(module, module_args, env, workdir, diff=diff, no_guard=no_guard), timeout)


# ---------------------------------------------------------------------------------------------------------------
# running real ansible commands


class AnsibleRun(object):
    def __init__(self, command, rc, output, elapsed, log_text=""):
        self.command = command
        self.rc = rc
        self.output = output
        self.elapsed = elapsed
        self.log_text = log_text
        self.result = parse_adhoc_result(output)

    @property
    def msg(self):
        return (self.result or {}).get("msg") or ""


def parse_adhoc_result(output, host="localhost"):
    """The result JSON that ``ansible HOST -m ...`` prints after ``HOST | FAILED! =>`` (or SUCCESS/CHANGED), or
    ``ansible-playbook`` after ``fatal: [HOST]: FAILED! =>`` / ``ok: [HOST] =>``; ``failed`` is set from the marker
    (the displayed result leaves it out)."""
    found = None
    pattern = r"(?:%s \| (FAILED!|SUCCESS|CHANGED|UNREACHABLE!) => |(fatal|ok|changed): \[%s\]: ?(FAILED!|UNREACHABLE!)? ?=> )" % (
        re.escape(host), re.escape(host))
    for match in re.finditer(pattern, output or ""):
        try:
            found = json.JSONDecoder().raw_decode(output[match.end():])[0]
        except ValueError:
            continue
        if isinstance(found, dict) and ("FAILED!" in match.group(0) or "UNREACHABLE!" in match.group(0)):
            found.setdefault("failed", True)
    return found


def run_ansible(args, env, cwd, timeout=300, log_path=None, preexec_fn=None, wrapper=None):
    """Run an ansible command line (list) and return (rc, combined output, elapsed)."""
    command = list(wrapper or []) + [str(a) for a in args]
    if log_path is not None:
        env = dict(env, ANSIBLE_LOG_PATH=str(log_path))
    started = time.time()
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          env=env, cwd=str(cwd), timeout=timeout, check=False, preexec_fn=preexec_fn)
    elapsed = time.time() - started
    log_text = ""
    if log_path is not None and Path(log_path).exists():
        log_text = Path(log_path).read_text(errors="replace")
    return AnsibleRun(command, proc.returncode, proc.stdout, elapsed, log_text)


def adhoc(module, module_args, env, cwd, verbosity=4, diff=False, check=False, log_path=None, timeout=300):
    args = [str(VENV_BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
            "-m", "msgraph.grants.%s" % module, "-a", json.dumps(module_args)]
    if verbosity:
        args.append("-" + "v" * verbosity)
    if diff:
        args.append("--diff")
    if check:
        args.append("--check")
    return run_ansible(args, env, cwd, timeout=timeout, log_path=log_path)


def playbook(path, env, cwd, extra_vars_file=None, verbosity=4, diff=True, log_path=None, timeout=300,
             preexec_fn=None, wrapper=None):
    args = [str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(path)]
    if extra_vars_file:
        args += ["-e", "@%s" % extra_vars_file]
    if verbosity:
        args.append("-" + "v" * verbosity)
    if diff:
        args.append("--diff")
    return run_ansible(args, env, cwd, timeout=timeout, log_path=log_path, preexec_fn=preexec_fn, wrapper=wrapper)


def has_traceback(text):
    return any(marker in (text or "") for marker in TRACEBACK_MARKERS)


# ---------------------------------------------------------------------------------------------------------------
# the emulator's state and request log


def grant_key(grant):
    consent = grant.get("consentType")
    principal = (grant.get("principalId") or "").lower() if consent == "Principal" else ""
    return ((grant.get("clientId") or "").lower(), (grant.get("resourceId") or "").lower(), consent, principal)


def scope_set(value):
    if value is None:
        return set()
    if isinstance(value, str):
        return set(value.split())
    return set(value)


def duplicate_keys(state):
    """Keys held by more than one grant (Graph allows one grant per key)."""
    counts = {}
    for grant in state["grants"]:
        counts[grant_key(grant)] = counts.get(grant_key(grant), 0) + 1
    return dict((k, n) for k, n in counts.items() if n > 1)


def grants_by_key(state):
    out = {}
    for grant in state["grants"]:
        out.setdefault(grant_key(grant), grant)
    return out


def write_entries(entries):
    """Write operations in a request-log window (plain requests and $batch items; envelopes excluded)."""
    return [e for e in entries if e.get("write")]


def applied_writes(entries):
    """Writes that changed (or may have changed) the directory: 2xx, and apply-then-fail answers (applied, then
    answered 5xx or dropped). A write refused before it was applied (4xx, 429, fail_next, drop_next) is not one."""
    out = []
    for entry in write_entries(entries):
        fault = entry.get("fault") or ""
        if fault.startswith("apply_then_fail") or (entry.get("status") is not None and 200 <= entry["status"] < 300):
            out.append(entry)
    return out


def graph_entries(entries):
    return [e for e in entries if e["kind"] in ("graph", "batch_item")]


# ---------------------------------------------------------------------------------------------------------------
# secrets


def jwt_like(text):
    return JWT_RE.findall(text or "")


def find_secrets(text, secrets):
    """The secrets (by label) that occur in ``text``, plus any JWT-shaped string."""
    found = []
    for label, value in secrets.items():
        if value and value in (text or ""):
            found.append(label)
    for token in jwt_like(text):
        found.append("a JWT (%s...)" % token[:12])
    return found


def tokens_in_cache(directory):
    """Access tokens kept in the persistent token cache files under ``directory`` (to search outputs for them)."""
    tokens = set()
    for path in Path(directory).rglob("token-*.json"):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for entry in ((doc.get("token_cache") or {}).get("AccessToken") or {}).values():
            if entry.get("secret"):
                tokens.add(entry["secret"])
    return tokens


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unsigned_jwt(claims, kid="reliability"):
    """A JWT-shaped federated token (the emulator does not verify an external IdP's signature)."""
    header = {"alg": "RS256", "typ": "JWT", "kid": kid}
    return "%s.%s.%s" % (b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode()),
                         b64url(os.urandom(64)))


# ---------------------------------------------------------------------------------------------------------------
# figures


class Figures(object):
    """Rows of the figures table: (section, figure, value, note). Thread-safe; printed and written at the end."""

    def __init__(self):
        self._lock = threading.Lock()
        self.rows = []
        self.timings = {}
        self.details = []

    def add(self, section, figure, value, note=""):
        with self._lock:
            self.rows = [r for r in self.rows if not (r[0] == section and r[1] == figure)]
            self.rows.append((section, figure, value, note))

    def detail(self, title, body):
        with self._lock:
            self.details = [d for d in self.details if d[0] != title]
            self.details.append((title, body))

    def time(self, section, seconds):
        with self._lock:
            self.timings[section] = self.timings.get(section, 0.0) + seconds

    def table(self):
        lines = ["| section | figure | value | note |", "|---|---|---|---|"]
        for section, figure, value, note in sorted(self.rows, key=lambda r: r[0].split(".")[0]):
            lines.append("| %s | %s | %s | %s |" % (section, figure, value, str(note).replace("|", "\\|")))
        return "\n".join(lines)


def machine_description():
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = "?"
    try:
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        pass
    return "%s, %s cores (%s), Python %s, load average at the end %s" % (
        os.uname().sysname + " " + os.uname().machine, os.cpu_count(), cpu, sys.version.split()[0], load)


# ---------------------------------------------------------------------------------------------------------------
# certificates for the certificate auth method


def make_certificate(directory, name, password=None, pfx=False):
    """A self-signed RSA certificate with its key, as PEM (key optionally encrypted) or PFX.
    Returns dict(path, cert_pem, key_pem_plain)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u"msgraph.grants reliability %s" % name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    plain_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    encryption = serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    path = Path(directory) / ("%s.%s" % (name, "pfx" if pfx else "pem"))
    if pfx:
        data = pkcs12.serialize_key_and_certificates(name.encode(), key, cert, None, encryption)
    else:
        data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption) + cert_pem
    path.write_bytes(data)
    os.chmod(str(path), 0o600)
    return dict(path=str(path), cert_pem=cert_pem.decode(), key_pem_plain=plain_key.decode())


def key_fragments(key_pem):
    """Distinctive lines of a PEM private key (any one of them in an output is a leak)."""
    lines = [l for l in key_pem.splitlines() if l and not l.startswith("-----")]
    return dict(("private key line %d" % i, l) for i, l in enumerate(lines[1:6], 1))
