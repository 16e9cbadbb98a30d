"""CLI: ``msgraph-emulator start|stop|env|seed|log|serve`` (also ``python -m graph_emulator``); see
docs/testing-offline.md and docs/dev/emulator.md."""

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

from . import ENV_FILE, INFO_FILE

START_TIMEOUT = 30.0
# Where the state lives when --state-dir is not given: MSGRAPH_EMULATOR_STATE_DIR, else this directory under the cwd.
STATE_DIR_VARIABLE = "MSGRAPH_EMULATOR_STATE_DIR"
DEFAULT_STATE_DIR = ".msgraph-emulator"


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


def _check_seed(path: str) -> bool:
    """Validate a seed file before anything starts, so its errors (FILE:LINE:COLUMN: reason) reach the terminal."""
    from .seedfile import SeedFileError, load_seed_file  # pylint: disable=import-outside-toplevel  # stop/env/log need no YAML
    from .server import load_default_seed  # pylint: disable=import-outside-toplevel
    try:
        load_seed_file(path, base=load_default_seed())
    except SeedFileError as err:
        sys.stderr.write(f"msgraph-emulator: invalid seed: {err}\n")
        return False
    return True


def cmd_start(args) -> int:
    state_dir = os.path.abspath(args.state_dir)
    if args.seed and not _check_seed(args.seed):
        return 2
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


def _running(state_dir: str):
    info = _read_info(os.path.abspath(state_dir))
    if not info or not _is_our_process(info.get("pid")):
        sys.stderr.write(f"msgraph-emulator: no emulator is running for {state_dir} (start it with: msgraph-emulator start)\n")
        return None
    return info


def _control(info: dict, method: str, path: str, body=None):
    """One control-plane call; returns (status, parsed JSON answer)."""
    data = json.dumps(body).encode("utf-8") if body is not None else None
    request = urllib.request.Request(f"{info['url']}/_emulator/{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    context = ssl.create_default_context(cafile=info["ca_path"])
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:  # nosec B310  # https to 127.0.0.1 only
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def cmd_env(args) -> int:
    """Print the shell lines of env.sh (``eval "$(msgraph-emulator env)"``), or the connection details as JSON."""
    info = _running(args.state_dir)
    if info is None:
        return 1
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    with open(os.path.join(os.path.abspath(args.state_dir), ENV_FILE), encoding="utf-8") as handle:
        sys.stdout.write(handle.read())
    return 0


def cmd_seed(args) -> int:
    """Replace the running emulator's directory with a seed file (the request log and fault knobs are kept)."""
    from .seedfile import SeedFileError, load_seed_file  # pylint: disable=import-outside-toplevel
    from .server import load_default_seed  # pylint: disable=import-outside-toplevel
    info = _running(args.state_dir)
    if info is None:
        return 1
    try:
        # Like `start --seed`: what the file leaves out (tenant, apps, managed identity) comes from the default seed.
        seed = load_seed_file(args.file, base=load_default_seed())
    except SeedFileError as err:
        sys.stderr.write(f"msgraph-emulator: invalid seed: {err}\n")
        return 2
    status, answer = _control(info, "POST", "seed", seed)
    if status != 200:
        sys.stderr.write(f"msgraph-emulator: the emulator refused the seed: {answer.get('error') if isinstance(answer, dict) else answer}\n")
        return 1
    print(f"seeded {args.file}: {len(seed.get('servicePrincipals') or [])} service principals, {len(seed.get('users') or [])} users, "
          f"{len(seed.get('grants') or [])} grants")
    return 0


def cmd_log(args) -> int:
    """The request log: one line per request, or JSON (``--json``), or the summary only (``--summary``)."""
    info = _running(args.state_dir)
    if info is None:
        return 1
    if args.clear:
        _control(info, "DELETE", "requests")
        return 0
    answer = _control(info, "GET", f"requests?since={args.since}")[1]
    if args.summary:
        print(json.dumps(answer["summary"], indent=2))
    elif args.json:
        print(json.dumps(answer, indent=2))
    else:
        for entry in answer["requests"]:
            query = "&".join(f"{k}={v}" for k, v in (entry.get("query") or {}).items())
            fault = f"  fault={entry['fault']}" if entry.get("fault") else ""
            print(f"{entry['seq']:>5} {entry['kind']:<10} {entry['method']:<6} {entry['path']}{'?' + query if query else ''} "
                  f"-> {entry['status']}{fault}")
    return 0


def cmd_serve(args) -> int:
    from .server import serve  # pylint: disable=import-outside-toplevel  # keeps start/stop free of the server's imports
    from .seedfile import SeedFileError  # pylint: disable=import-outside-toplevel
    try:
        serve(args.state_dir, port=args.port, seed_path=args.seed, watch_pid=args.watch_pid, verbose=args.verbose)
    except SeedFileError as err:
        sys.stderr.write(f"msgraph-emulator: invalid seed: {err}\n")
        return 2
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="msgraph-emulator", description="Local Microsoft Graph and Entra ID token endpoint, for "
                                     "testing playbooks offline (docs/testing-offline.md).")
    sub = parser.add_subparsers(dest="command", required=True)
    default_dir = os.environ.get(STATE_DIR_VARIABLE) or DEFAULT_STATE_DIR
    for name, helptext in (("start", "start in the background, wait until ready, print the URL"),
                           ("serve", "run in the foreground"),
                           ("stop", "stop the emulator started with this state directory"),
                           ("env", "print the shell exports of the running emulator (eval \"$(msgraph-emulator env)\")"),
                           ("seed", "replace the running emulator's directory with a seed file (YAML or JSON)"),
                           ("log", "print the running emulator's request log")):
        cmd = sub.add_parser(name, help=helptext, description=helptext)
        cmd.add_argument("--state-dir", default=default_dir,
                         help=f"directory for emulator.json, env.sh, the CA and the log (default: ${STATE_DIR_VARIABLE} or {DEFAULT_STATE_DIR})")
        if name in ("start", "serve"):
            cmd.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
            cmd.add_argument("--seed", help="seed file, YAML or JSON (default: the packaged seed_default.json)")
            cmd.add_argument("--verbose", action="store_true", help="log every HTTP request to stderr")
        if name == "serve":
            cmd.add_argument("--watch-pid", type=int, help="exit when this process is gone")
        if name == "env":
            cmd.add_argument("--json", action="store_true", help="the connection details (emulator.json) instead")
        if name == "seed":
            cmd.add_argument("file", help="the seed file")
        if name == "log":
            cmd.add_argument("--since", type=int, default=0, help="only entries with a larger seq")
            mode = cmd.add_mutually_exclusive_group()
            mode.add_argument("--json", action="store_true", help="entries and summary as JSON")
            mode.add_argument("--summary", action="store_true", help="the summary only (JSON)")
            mode.add_argument("--clear", action="store_true", help="empty the log")
    args = parser.parse_args(argv)
    commands = {"start": cmd_start, "stop": cmd_stop, "serve": cmd_serve, "env": cmd_env, "seed": cmd_seed, "log": cmd_log}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
