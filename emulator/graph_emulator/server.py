"""The HTTPS server: one process, one port on 127.0.0.1, serving the token side, Graph and the control plane.

``Emulator`` wires the parts together (directory, faults, request log, token service, Graph API, control plane)
and routes a request to them; ``serve()`` runs it behind ``ThreadingHTTPServer`` with TLS and HTTP/1.1 keep-alive.
"""

import json
import os
import re
import shlex
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Optional
from urllib.parse import parse_qsl, unquote

from . import DEACTIVATE_FUNCTION, ENV_FILE, INFO_FILE, UNSET_FILE, certs, connection_env
from .clouds import CLOUD_GRAPH_ROOTS
from .control import ControlPlane
from .directory_objects import is_read_only_post
from .faults import WRITE_METHODS, Faults
from .graph import VERSIONS, GraphApi, query_dict
from .messages import Request, Response, json_response
from .odata import split_path
from .requestlog import RequestLog
from .seedfile import load_seed_file
from .state import Directory
from .tokens import TokenService, load_signing_key

MAX_BODY = 64 * 1024 * 1024  # tenant-scale seeds (100,000 grants) go through the control plane


def load_default_seed() -> dict:
    return json.loads(resources.files(__package__).joinpath("seed_default.json").read_text(encoding="utf-8"))


class Emulator:  # pylint: disable=too-many-instance-attributes
    """The application behind the HTTP server."""

    def __init__(self, state_dir: str, seed: Optional[dict] = None):
        self.state_dir = state_dir
        self.pid = os.getpid()
        self.port = 0
        self.lock = threading.RLock()  # one lock around each operation on the directory
        self.faults = Faults()
        self.log = RequestLog()
        self.startup_seed = seed if seed is not None else load_default_seed()
        self.directory = Directory.from_seed(self.startup_seed)
        self.tokens = TokenService(self, load_signing_key(state_dir))
        self.graph = GraphApi(self)
        self.control = ControlPlane(self)

    # ------------------------------------------------------------------- urls
    @property
    def canonical_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def local_roots(self) -> tuple:
        return (self.canonical_url, f"https://localhost:{self.port}")

    @staticmethod
    def cloud_root(cloud: str) -> str:
        return CLOUD_GRAPH_ROOTS[cloud]

    def base_url_for(self, host_header: Optional[str]) -> str:
        """Links go back to the host name the client used (127.0.0.1 or localhost), never elsewhere."""
        host = (host_header or "").strip().lower()
        if host in (f"127.0.0.1:{self.port}", f"localhost:{self.port}"):
            return f"https://{host}"
        return self.canonical_url

    # ------------------------------------------------------------------ state
    def reset(self):
        """Back to the startup seed, with an empty request log and no faults."""
        with self.lock:
            self.directory = Directory.from_seed(self.startup_seed)
        self.faults.clear()
        self.log.clear()

    def load_seed(self, seed: dict):
        """Replace the directory. tenant/apps/managed_identity default to the startup seed's when omitted, so the
        automation credentials keep working; servicePrincipals/users/grants default to empty."""
        merged = dict(seed)
        for key in ("tenant", "apps", "managed_identity"):
            if key not in merged:
                merged[key] = self.startup_seed.get(key)
        directory = Directory.from_seed(merged)
        with self.lock:
            self.directory = directory

    # ---------------------------------------------------------------- logging
    def record(self, *, seq, kind, started, method, path, status, write, query="", batch=None, fault=None, body=None,
               request_id=None, client_request_id=None, is_batch=False):
        self.log.add({
            "seq": seq, "time": started, "kind": kind, "method": method, "path": unquote(path), "query": query_dict(query),
            "status": status, "write": write, "batch": batch, "is_batch": is_batch, "fault": fault,
            "duration_ms": round((time.time() - started) * 1000, 3), "request_id": request_id,
            "client_request_id": client_request_id, "body": body,
        })

    @staticmethod
    def _logged_body(request: Request):
        if not request.body:
            return None
        try:
            return json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return "<non-JSON body>"

    @staticmethod
    def _token_form(request: Request) -> dict:
        """What the log keeps of a token request: never the secret or the assertion."""
        form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
        out = {k: form[k] for k in ("grant_type", "client_id", "scope", "client_assertion_type") if k in form}
        out["credential"] = "client_secret" if form.get("client_secret") else ("client_assertion" if form.get("client_assertion") else None)
        return out

    # --------------------------------------------------------------- dispatch
    def dispatch(self, request: Request) -> Response:
        segments = split_path(request.path)
        if segments and segments[0] == "_emulator":
            return self.control.handle(request, segments[1:])
        if segments and (segments[0].lower() in VERSIONS or re.fullmatch(r"v\d+(\.\d+)?", segments[0].lower())):
            return self._graph(request)
        token_route = self.tokens.route(request, segments)
        if token_route is not None:
            return self._token_side(request, segments, *token_route)
        return json_response(404, {"error": {"code": "NotFound", "message": f"No emulator route for {request.path}"}})

    def _graph(self, request: Request) -> Response:
        seq, started = self.log.reserve_seq(), time.time()
        latency = self.faults.latency_seconds()
        if latency:
            time.sleep(latency)  # in this request's own thread: concurrent requests overlap
        path = request.path
        is_batch = [s.lower() for s in split_path(path)[1:]] == ["$batch"]
        write = request.method in WRITE_METHODS and not is_batch and not is_read_only_post(request.method, path)
        if self.faults.take_drop(request.method, path):
            self.record(seq=seq, kind="graph", started=started, method=request.method, path=path, query=request.query, status=None,
                        write=write, fault="drop_next", is_batch=is_batch)
            return Response(0, drop=True, fault="drop_next")
        response = self.graph.handle(request, seq)
        self.record(seq=seq, kind="graph", started=started, method=request.method, path=path, query=request.query,
                    status=None if response.drop else response.status, write=write, fault=response.fault, is_batch=is_batch,
                    body=self._logged_body(request) if write else None, request_id=response.headers.get("request-id"),
                    client_request_id=response.headers.get("client-request-id"))
        return response

    def _token_side(self, request: Request, segments: list, kind: str, handler) -> Response:
        seq, started = self.log.reserve_seq(), time.time()
        latency = self.faults.latency_seconds()
        if latency:
            time.sleep(latency)
        response = handler(request, segments)
        self.record(seq=seq, kind=kind, started=started, method=request.method, path=request.path, query=request.query,
                    status=response.status, write=False, body=self._token_form(request) if kind == "token" else None)
        return response


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: requests.Session reuses connections
    server_version = "graph-emulator"
    timeout = 300  # idle keep-alive connections are closed after this many seconds

    def version_string(self):
        return self.server_version

    def setup(self):
        # The TLS handshake runs here, in the connection's own thread, not in the accept loop.
        self.request.settimeout(self.timeout)
        # Headers and body go out in separate writes: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms per response.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request.do_handshake()
        super().setup()

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        if self.server.verbose:
            sys.stderr.write(f"{self.log_date_time_string()} {format % args}\n")

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    def _serve(self):
        app: Emulator = self.server.app
        head = self.command == "HEAD"
        path, query = self.path.partition("?")[::2]
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            body = self._read_body()
            request = Request("GET" if head else self.command, path, query, headers, body, app.base_url_for(headers.get("host")))
            response = app.dispatch(request)
        except Exception:  # pylint: disable=broad-exception-caught  # an emulator bug: answer 500 and print it, never hang
            traceback.print_exc()
            response = json_response(500, {"error": {"code": "EmulatorBug", "message": "Unhandled error in the emulator; see its log."}})
        if response.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        payload = response.body_bytes()
        self.send_response(response.status)
        for name, value in response.all_headers().items():
            self.send_header(name, value)
        if response.status not in (204, 304):
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if not head and response.status not in (204, 304):
            self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = _serve


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, app: Emulator, verbose: bool = False):
        self.app = app
        self.verbose = verbose
        super().__init__(address, _Handler)

    def server_bind(self):
        # HTTPServer.server_bind calls socket.getfqdn(), which can stall on reverse DNS; the name is not needed.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ssl.SSLError, ConnectionError, TimeoutError, BrokenPipeError)):
            return  # clients that hang up or fail the handshake are not emulator errors
        super().handle_error(request, client_address)


def _write_atomic(path: str, text: str):
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def connection_info(app: Emulator, tls: certs.TlsFiles) -> dict:
    default_app = app.directory.default_app()
    identity = app.directory.managed_identity or {}
    return {
        "url": app.canonical_url,
        "port": app.port,
        "pid": app.pid,
        "ca_path": tls.ca_path,
        "tenant_id": app.directory.tenant["id"],
        "client_id": default_app.client_id if default_app else None,
        "client_secret": default_app.client_secrets[0] if default_app and default_app.client_secrets else None,
        "state_dir": app.state_dir,
        "msi_endpoint": f"{app.canonical_url}/msi/token",
        "msi_header": identity.get("header"),
    }


def write_connection_files(state_dir: str, info: dict):
    env = connection_env(info)
    # The way back (a later run against a real tenant in the same shell must not go to 127.0.0.1): the
    # msgraph_emulator_deactivate function defined by env.sh, or `source DIR/unset.sh`.
    unset = f"unset {' '.join(env)}\nunset -f {DEACTIVATE_FUNCTION} 2>/dev/null || true\n"
    _write_atomic(os.path.join(state_dir, ENV_FILE),
                  "# Written by graph_emulator; source it to point the collection at the emulator.\n"
                  f"# Undo: {DEACTIVATE_FUNCTION} (or: source {shlex.quote(os.path.join(state_dir, UNSET_FILE))}).\n"
                  + "".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items())
                  + f"{DEACTIVATE_FUNCTION}() {{\n    " + unset.replace("\n", "\n    ").rstrip() + "\n}\n")
    _write_atomic(os.path.join(state_dir, UNSET_FILE),
                  "# Written by graph_emulator; source it to undo env.sh (unsets every variable env.sh exports).\n" + unset)
    _write_atomic(os.path.join(state_dir, INFO_FILE), json.dumps(info, indent=2) + "\n")


def _watch_parent(pid: int):
    """Stop when the process that started us is gone (pytest killed hard must not leave emulators behind)."""
    while True:
        time.sleep(1)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os.kill(os.getpid(), signal.SIGTERM)
            return
        except PermissionError:
            pass


def serve(state_dir: str, port: int = 0, seed_path: Optional[str] = None, watch_pid: Optional[int] = None, verbose: bool = False):
    """Run in the foreground until SIGTERM/SIGINT. Writes emulator.json and env.sh once listening."""
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    state_dir = os.path.abspath(state_dir)
    seed = load_seed_file(seed_path, base=load_default_seed()) if seed_path else None
    tls = certs.generate_tls_files(state_dir)
    app = Emulator(state_dir, seed)
    server = EmulatorHTTPServer(("127.0.0.1", port), app, verbose=verbose)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(tls.cert_path, tls.key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    app.port = server.server_address[1]
    info = connection_info(app, tls)

    def stop(signum, frame):
        del signum, frame
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    if watch_pid:
        threading.Thread(target=_watch_parent, args=(watch_pid,), daemon=True).start()
    write_connection_files(state_dir, info)
    print(info["url"], flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        _remove_info_if_ours(state_dir)


def _remove_info_if_ours(state_dir: str):
    path = os.path.join(state_dir, INFO_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            if json.load(handle).get("pid") == os.getpid():
                os.remove(path)
    except (OSError, ValueError):
        pass
