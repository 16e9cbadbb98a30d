"""CLI: ``python -m graph_emulator start|stop|serve`` (see docs/dev/architecture.md and docs/dev/emulator.md)."""

import argparse
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

from . import INFO_FILE

START_TIMEOUT = 30.0


def _info_path(state_dir: str) -> str:
    return os.path.join(state_dir, INFO_FILE)


def _read_info(state_dir: str):
    try:
        with open(_info_path(state_dir), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _is_our_process(pid) -> bool:
    """True if pid is alive and is a graph_emulator (a stale file must not make us signal a recycled pid)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return b"graph_emulator" in handle.read()
    except OSError:
        return True  # no /proc (macOS): trust the pid file


def _healthy(info: dict) -> bool:
    context = ssl.create_default_context(cafile=info["ca_path"])
    try:
        with urllib.request.urlopen(f"{info['url']}/_emulator/health", context=context, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return False


def cmd_start(args) -> int:
    state_dir = os.path.abspath(args.state_dir)
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    info = _read_info(state_dir)
    if info and _is_our_process(info.get("pid")) and _healthy(info):
        print(info["url"])
        return 0
    if info:
        os.remove(_info_path(state_dir))
    command = [sys.executable, "-m", "graph_emulator", "serve", "--state-dir", state_dir, "--port", str(args.port)]
    if args.seed:
        command += ["--seed", os.path.abspath(args.seed)]
    if args.verbose:
        command.append("--verbose")
    env = dict(os.environ)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    with open(os.path.join(state_dir, "emulator.log"), "ab") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,  # pylint: disable=consider-using-with
                                   start_new_session=True, close_fds=True)
    deadline = time.time() + START_TIMEOUT
    while time.time() < deadline:
        if process.poll() is not None:
            sys.stderr.write(f"graph_emulator: the server exited with status {process.returncode}; see {state_dir}/emulator.log\n")
            return 1
        info = _read_info(state_dir)
        if info and info.get("pid") == process.pid and _healthy(info):
            print(info["url"])
            return 0
        time.sleep(0.1)
    process.kill()
    sys.stderr.write(f"graph_emulator: not ready after {START_TIMEOUT:.0f}s; see {state_dir}/emulator.log\n")
    return 1


def cmd_stop(args) -> int:
    """Idempotent: a missing or stale emulator.json is not an error."""
    state_dir = os.path.abspath(args.state_dir)
    info = _read_info(state_dir)
    pid = info.get("pid") if info else None
    if not _is_our_process(pid):
        if info:
            os.remove(_info_path(state_dir))
        print("graph_emulator: not running")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + 10
    while time.time() < deadline and _is_our_process(pid):
        time.sleep(0.1)
    if _is_our_process(pid):
        os.kill(pid, signal.SIGKILL)
    if os.path.exists(_info_path(state_dir)):
        os.remove(_info_path(state_dir))
    print("graph_emulator: stopped")
    return 0


def cmd_serve(args) -> int:
    from .server import serve  # pylint: disable=import-outside-toplevel  # keeps start/stop free of the server's imports
    serve(args.state_dir, port=args.port, seed_path=args.seed, watch_pid=args.watch_pid, verbose=args.verbose)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graph_emulator", description="Local Microsoft Graph emulator (msgraph.grants tests).")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (("start", "start in the background, wait until ready, print the URL"),
                           ("serve", "run in the foreground"),
                           ("stop", "stop the emulator started with this state directory")):
        cmd = sub.add_parser(name, help=helptext)
        cmd.add_argument("--state-dir", required=True, help="directory for emulator.json, env.sh, the CA and the log")
        if name != "stop":
            cmd.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
            cmd.add_argument("--seed", help="seed JSON file (default: the packaged seed_default.json)")
            cmd.add_argument("--verbose", action="store_true", help="log every HTTP request to stderr")
        if name == "serve":
            cmd.add_argument("--watch-pid", type=int, help="exit when this process is gone")
    args = parser.parse_args(argv)
    return {"start": cmd_start, "stop": cmd_stop, "serve": cmd_serve}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
