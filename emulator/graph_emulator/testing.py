"""Helpers for tests: start an emulator subprocess and drive its control plane.

    from graph_emulator.testing import running_emulator
    with running_emulator(tmp_path) as emu:
        emu.control.set_faults(throttle_next=1, retry_after=2.128)
        token = emu.token()
        ...

Every HTTP call passes ``verify=<the emulator CA>`` explicitly: a machine-wide REQUESTS_CA_BUNDLE would otherwise
override a Session's verify setting (psf/requests#3829).
"""

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import requests

from . import connection_env
from .seedfile import load_seed_file
from .server import load_default_seed

PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)

# Fixed ids of the default seed (seed_default.json), shared by the emulator's tests and the reliability suite.
TENANT_ID = "8c3f5a2e-6d1b-4e7a-9f0c-2b4d6e8a1c3f"
AUTOMATION_APP = "4a7d2c1e-9b3f-4e6a-8d5c-1f2e3a4b5c6d"
READER_APP = "5b8e3d2f-0c4a-4f7b-9e6d-2a3b4c5d6e7f"
READER_SECRET = "emu~reader~secret~not-a-real-credential"
NOPERM_APP = "6c9f4e3a-1d5b-4a8c-8f7e-3b4c5d6e7f80"
NOPERM_SECRET = "emu~noperm~secret~not-a-real-credential"
MI_CLIENT = "7d0a5f4b-2e6c-4b9d-9a8f-4c5d6e7f8091"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


class Control:
    """Client of the ``/_emulator`` control plane."""

    def __init__(self, url: str, ca_path: str, session: Optional[requests.Session] = None):
        self.url = url.rstrip("/")
        self.ca_path = ca_path
        self.session = session or requests.Session()

    def _call(self, method: str, path: str, body=None, params=None):
        response = self.session.request(method, f"{self.url}/_emulator/{path}", json=body, params=params, verify=self.ca_path, timeout=30)
        if response.status_code >= 400:
            raise RuntimeError(f"control {method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def health(self) -> dict:
        return self._call("GET", "health")

    def reset(self):
        """Default seed, empty request log, no faults."""
        self._call("POST", "reset")

    def load_seed(self, seed: dict):
        self._call("POST", "seed", seed)

    def state(self) -> dict:
        return self._call("GET", "state")

    def requests(self, since: int = 0, kind: Optional[str] = None) -> list:
        entries = self._call("GET", "requests", params={"since": since})["requests"]
        return [e for e in entries if kind is None or e["kind"] == kind]

    def requests_with_summary(self) -> dict:
        return self._call("GET", "requests")

    def summary(self) -> dict:
        return self._call("GET", "requests/summary")

    def clear_requests(self):
        self._call("DELETE", "requests")

    def set_faults(self, **knobs) -> dict:
        """Merge knobs into the current ones (see docs/dev/emulator.md)."""
        return self._call("POST", "faults", knobs)

    def faults(self) -> dict:
        return self._call("GET", "faults")

    def clear_faults(self) -> dict:
        return self._call("DELETE", "faults")

    def register_app(self, client_id: str, **spec) -> dict:
        """client_secret, certificate_pem, federated ([{issuer, subject, audiences?}]), permissions, display_name."""
        return self._call("POST", "apps", {"client_id": client_id, **spec})

    def add_service_principal(self, sp: dict) -> dict:
        return self._call("POST", "servicePrincipals", sp)

    def add_user(self, user: dict) -> dict:
        return self._call("POST", "users", user)

    def mint_token(self, **claims) -> str:
        """A Graph token with chosen claims: client_id, aud, roles, expires_in (negative: expired), extra claims."""
        return self._call("POST", "token", claims)["access_token"]


class RunningEmulator:  # pylint: disable=too-many-instance-attributes
    """What ``running_emulator`` yields: connection details plus ``control``."""

    def __init__(self, info: dict, process: subprocess.Popen):
        self.info = info
        self.process = process
        self.url = info["url"]
        self.port = info["port"]
        self.pid = info["pid"]
        self.ca_path = info["ca_path"]
        self.tenant_id = info["tenant_id"]
        self.client_id = info["client_id"]
        self.client_secret = info["client_secret"]
        self.state_dir = info["state_dir"]
        self.msi_endpoint = info["msi_endpoint"]
        self.msi_header = info["msi_header"]
        self.control = Control(self.url, self.ca_path)

    @property
    def env(self) -> dict:
        """The variables env.sh exports (``MSGRAPH_GRAPH_URL``, ``AZURE_*``, ...): merge them into a subprocess's
        environment to point the collection at this emulator."""
        return connection_env(self.info)

    def requests(self, since: int = 0, kind: Optional[str] = None) -> list:
        """The request log (``kind``: graph, token, msi, discovery, batch_item)."""
        return self.control.requests(since=since, kind=kind)

    def summary(self) -> dict:
        return self.control.summary()

    def reset(self):
        """Back to the startup seed, with an empty request log and no faults."""
        self.control.reset()

    def seed(self, seed):
        """Replace the directory: a dict, or the path of a seed file (YAML or JSON, checked with line numbers)."""
        self.control.load_seed(seed if isinstance(seed, dict) else load_seed_file(str(seed), base=load_default_seed()))

    def set_faults(self, **knobs) -> dict:
        """Merge fault knobs (throttle_next, replication_delay_reads, readings, ...: docs/dev/emulator.md)."""
        return self.control.set_faults(**knobs)

    @property
    def authority(self) -> str:
        return f"{self.url}/{self.tenant_id}"

    @property
    def token_endpoint(self) -> str:
        return f"{self.url}/{self.tenant_id}/oauth2/v2.0/token"

    def token(self, client_id: Optional[str] = None, client_secret: Optional[str] = None, scope: Optional[str] = None) -> str:
        """A Graph access token through the real token endpoint (client credentials with a secret)."""
        response = requests.post(self.token_endpoint, data={
            "grant_type": "client_credentials", "client_id": client_id or self.client_id,
            "client_secret": client_secret or self.client_secret, "scope": scope or f"{self.url}/.default",
        }, verify=self.ca_path, timeout=30)
        response.raise_for_status()
        return response.json()["access_token"]


def _wait_for_info(state_dir: Path, process: subprocess.Popen, timeout: float) -> dict:
    deadline = time.time() + timeout
    info_path = state_dir / "emulator.json"
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"emulator exited with {process.returncode}: {_log_tail(state_dir)}")
        try:
            info = json.loads(info_path.read_text(encoding="utf-8"))
            if info.get("pid") == process.pid:
                return info
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"emulator not ready after {timeout}s: {_log_tail(state_dir)}")


def _log_tail(state_dir: Path) -> str:
    try:
        return (state_dir / "emulator.log").read_text(encoding="utf-8", errors="replace")[-2000:]
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def running_emulator(tmp_path, seed=None, port: int = 0, faults: Optional[dict] = None, python: Optional[str] = None,
                     timeout: float = 30.0, verbose: bool = False):
    """Run ``python -m graph_emulator serve`` in a subprocess for the duration of the block.

    ``seed``: a dict or a path to a seed file (default: the packaged seed). ``faults``: knobs set before yielding.
    """
    state_dir = Path(tmp_path).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "emulator.json").unlink(missing_ok=True)
    command = [python or sys.executable, "-m", "graph_emulator", "serve", "--state-dir", str(state_dir), "--port", str(port),
               "--watch-pid", str(os.getpid())]
    if verbose:
        command.append("--verbose")
    if isinstance(seed, dict):
        seed_file = state_dir / "seed.json"
        seed_file.write_text(json.dumps(seed), encoding="utf-8")
        command += ["--seed", str(seed_file)]
    elif seed is not None:
        command += ["--seed", str(seed)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
    with open(state_dir / "emulator.log", "ab") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)  # pylint: disable=consider-using-with
    try:
        emulator = RunningEmulator(_wait_for_info(state_dir, process, timeout), process)
        if faults:
            emulator.control.set_faults(**faults)
        yield emulator
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
