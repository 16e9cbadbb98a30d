"""Performance benchmark of msgraph.grants against the local Graph emulator (not a CI test; see docs/performance.md).

    .venv/bin/python bench/run.py                         # sizes 10,50,200,1000, 50 ms latency, info over 5,000
    .venv/bin/python bench/run.py --sizes 10,50 --info-grants 0 --baseline-max 50   # a quick look

What it does:
1. starts its own emulator (state dir .tmp/bench/emulator, any free port) and injects ``latency_ms`` on every HTTP
   request (Graph and token side alike);
2. per size N: loads a seed with N client service principals + Microsoft Graph and no grants, then runs
   - the role (bench/role_apply.yml): first run (creates N grants, cold token cache) and second run (no-op),
   - the hand-written ``uri`` baseline (bench/baseline_uri.yml) on the same seed and grants: first and second run;
   measuring wall time of ansible-playbook, module processes (every module run goes through a counting interpreter
   wrapper, so the count is of real processes), Graph round trips, token-side requests and writes (the emulator's
   request log). Above ``--baseline-max`` the baseline is not run; its cost is extrapolated linearly from the largest
   two measured sizes and marked "est.";
3. per-task budgets of oauth2_grant (bench/single_grant.yml): create by object ids, then converged by object ids,
   appIds and display names (warm token cache);
4. oauth2_grant_info over ``--info-grants`` grants (``--info-clients`` clients x resources), without and with
   resolve_names;
5. module start-up: ``python -c 'import <module>'`` for our modules and ansible's ``uri``.
Prints markdown tables and writes them with the raw numbers to bench/results/ (git-ignored).
"""

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
sys.path.insert(0, BENCH)
sys.path.insert(0, os.path.join(ROOT, "emulator"))

import scale  # noqa: E402  (bench/scale.py)
from report import extrapolate, report  # noqa: E402  (bench/report.py)
from startup import startup_times  # noqa: E402  (bench/startup.py)
import seed as bench_seed  # noqa: E402  (bench/seed.py)
from graph_emulator.testing import Control  # noqa: E402

VENV = os.path.join(ROOT, ".venv")
PYTHON = os.path.join(VENV, "bin", "python")
COLLECTIONS = os.path.join(ROOT, ".tmp", "collections")
WORK = os.path.join(ROOT, ".tmp", "bench")
GRAPH_PREFIX = "/v1.0"


# ----------------------------------------------------------------------------------------------------- helpers
def log(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def ensure_collections_link():
    """.tmp/collections/ansible_collections/msgraph/grants -> the working tree (as scripts/test.sh makes it)."""
    link = os.path.join(COLLECTIONS, "ansible_collections", "msgraph", "grants")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if os.path.islink(link) and os.readlink(link) == "../../../..":
        return
    if os.path.lexists(link):
        raise SystemExit("{0} exists and is not the symlink ../../../.. that scripts/test.sh makes; "
                         "remove it or run scripts/test.sh unit once".format(link))
    os.symlink("../../../..", link)


def write_counting_interpreter(path, count_file):
    """A shell wrapper around .venv/bin/python that appends one line per module process: module, start, end, rc, peak
    resident memory in KB (GNU time's %M, when /usr/bin/time exists).

    Ansible (local connection, no pipelining) runs ``<interpreter> .../AnsiballZ_<module>.py``, so the module name is
    the file name. This counts real processes, whatever the task, loop or action plugin."""
    timer = '/usr/bin/time -f %M -o "$mem"' if os.path.exists("/usr/bin/time") else ""
    script = """#!/bin/sh
start=$(date +%s.%N)
mem=$(mktemp)
{timer} {python} "$@"
rc=$?
rss=$(tail -n 1 "$mem" 2>/dev/null); rm -f "$mem"
name=$(basename "${{1:-stdin}}" .py)
echo "${{name#AnsiballZ_}} $start $(date +%s.%N) $rc ${{rss:--}}" >> {count}
exit $rc
""".format(python=PYTHON, count=count_file, timer=timer)
    with open(path, "w") as handle:
        handle.write(script)
    os.chmod(path, 0o755)


class Bench(object):
    def __init__(self, args):
        self.args = args
        self.state_dir = os.path.join(WORK, "emulator")
        self.token_cache = os.path.join(WORK, "token-cache")
        self.count_file = os.path.join(WORK, "module-processes.log")
        self.interpreter = os.path.join(WORK, "python-counting")
        self.info = None
        self.control = None
        self.env = None
        self.empty_runs = []  # the fixed cost, measured beside the role's runs: their median is the reference

    # ------------------------------------------------------------------------------------------- emulator
    def start(self):
        os.makedirs(WORK, exist_ok=True)
        ensure_collections_link()
        write_counting_interpreter(self.interpreter, self.count_file)
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "emulator"))
        subprocess.run([PYTHON, "-m", "graph_emulator", "start", "--state-dir", self.state_dir], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        with open(os.path.join(self.state_dir, "emulator.json")) as handle:
            self.info = json.load(handle)
        self.control = Control(self.info["url"], self.info["ca_path"])
        self.control.reset()
        self.control.set_faults(latency_ms=self.args.latency_ms)
        env = dict(os.environ)
        for name in list(env):
            if name.startswith(("AZURE_", "MSGRAPH_", "ANSIBLE_", "IDENTITY_")):
                del env[name]
        env.update({
            "AZURE_TENANT_ID": self.info["tenant_id"],
            "AZURE_CLIENT_ID": self.info["client_id"],
            "AZURE_CLIENT_SECRET": self.info["client_secret"],
            "MSGRAPH_GRAPH_URL": self.info["url"],
            "AZURE_AUTHORITY_HOST": self.info["url"],
            "MSGRAPH_CA_PATH": self.info["ca_path"],
            "MSGRAPH_TOKEN_CACHE": self.token_cache,
            "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "PATH": os.path.join(VENV, "bin") + os.pathsep + env.get("PATH", ""),
        })
        env.pop("REQUESTS_CA_BUNDLE", None)
        self.env = env
        log("emulator at {0}, latency {1} ms".format(self.info["url"], self.args.latency_ms))

    def stop(self):
        if self.info:
            env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "emulator"))
            subprocess.run([PYTHON, "-m", "graph_emulator", "stop", "--state-dir", self.state_dir], env=env,
                           stdout=subprocess.DEVNULL, check=False)

    def seed(self, seed):
        """Load ``seed`` (keeps the faults: latency). Compact JSON and a long timeout: tenant-scale seeds are large."""
        control = self.control
        response = control.session.post(control.url + "/_emulator/seed", data=json.dumps(seed, separators=(",", ":")),
                                        headers={"Content-Type": "application/json"}, verify=control.ca_path, timeout=900)
        response.raise_for_status()

    def cold_token_cache(self):
        shutil.rmtree(self.token_cache, ignore_errors=True)

    # ------------------------------------------------------------------------------------------- playbooks
    def playbook(self, name, extra_vars, label):
        """Run bench/<name> once; returns the measurements (raises when the playbook fails)."""
        with tempfile.NamedTemporaryFile("w", suffix=".json", dir=WORK, delete=False) as handle:
            json.dump(dict(extra_vars, ansible_python_interpreter=self.interpreter), handle)
            vars_file = handle.name
        open(self.count_file, "w").close()
        self.control.clear_requests()
        os.makedirs(os.path.join(WORK, "logs"), exist_ok=True)
        out_path = os.path.join(WORK, "logs", "".join(c if c.isalnum() or c in "=-" else "_" for c in label) + ".log")
        start = time.monotonic()
        usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(out_path, "w") as out:
            proc = subprocess.run([os.path.join(VENV, "bin", "ansible-playbook"), os.path.join(BENCH, name),
                                   "-e", "@" + vars_file], env=self.env, cwd=WORK, stdout=out, stderr=subprocess.STDOUT,
                                  check=False)
        wall = time.monotonic() - start
        usage_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (usage_after.ru_utime - usage_before.ru_utime) + (usage_after.ru_stime - usage_before.ru_stime)
        os.remove(vars_file)
        if proc.returncode != 0:
            with open(out_path) as handle:
                tail = handle.read()[-4000:]
            raise SystemExit("{0}: ansible-playbook {1} failed (rc {2}); output in {3}:\n{4}".format(
                label, name, proc.returncode, out_path, tail))
        log_data = self.control.requests_with_summary()
        with open(self.count_file) as handle:
            processes = [line.split() for line in handle if line.strip()]
        entries = log_data["requests"]
        summary = log_data["summary"]
        graph = [e for e in entries if e["kind"] == "graph"]
        result = {
            "label": label,
            "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3),  # user+sys of ansible-playbook and its children (less sensitive to load)
            "module_processes": len(processes),
            "modules": sorted(set(p[0] for p in processes)),
            "module_process_s": round(sum(float(p[2]) - float(p[1]) for p in processes), 3),
            "graph_requests": summary["graph_requests"],
            "token_requests": summary["token_requests"],
            "writes": summary["writes"],
            "batches": summary["batches"],
            "batch_items": summary["batch_items"],
            "list_requests": sum(1 for e in graph if e["method"] == "GET"
                                 and e["path"].rstrip("/").lower() == GRAPH_PREFIX + "/oauth2permissiongrants"),
            "graph_time_span_s": round(graph[-1]["time"] - graph[0]["time"], 3) if graph else 0.0,
            "batch_sizes": [sum(1 for i in entries if i.get("batch") == e["seq"]) for e in graph if e.get("is_batch")],
            "graph_operations": summary.get("graph_operations"),
            "throttled": summary.get("throttled", 0),
            "failed": 0,  # a failed playbook raises above
            "write_batches": len(set(i["batch"] for i in entries if i.get("kind") == "batch_item" and i.get("write"))),
            "get_by_ids": sum(1 for e in graph if e["path"].lower().endswith("/directoryobjects/getbyids")),
            "retry_waits": sum(1 for e in entries if e.get("kind") == "batch_item" and e["status"] == 429),
        }
        # Peak memory of the collection's module process (oauth2_grants, oauth2_grant_info, ...).
        rss = [int(p[4]) for p in processes if len(p) > 4 and p[4].isdigit() and p[0].startswith("oauth2_grant")]
        result["module_peak_rss_mb"] = round(max(rss) / 1024.0, 1) if rss else None
        log("  {label:<34} {wall_s:7.2f} s  cpu {cpu_s:7.2f} s  processes {module_processes:5d}  graph {graph_requests:5d}  "
            "token {token_requests}  writes {writes}".format(**result))
        return result

    def grant_count(self):
        return len(self.control.state()["grants"])

    # ------------------------------------------------------------------------------------------- scenarios
    def fleet(self, size, with_baseline):
        seed = scale.fleet_seed(self.args, size)
        grants = bench_seed.declared_grants(size, "id")
        role_vars = {"bench_grants": grants, "bench_result_detail": self.args.result_detail}
        rows = {}
        creates, noops = [], []
        for attempt in range(self.args.repeat):
            suffix = " #{0}".format(attempt + 1) if self.args.repeat > 1 else ""
            if self.empty_runs:  # one more fixed-cost run under the load of this moment
                self.empty_playbook()
            self.seed(seed)
            self.cold_token_cache()
            create = self.playbook("role_apply.yml", role_vars, "role N={0} first run{1}".format(size, suffix))
            assert create["writes"] == size, "role did not create every grant"
            noop = self.playbook("role_apply.yml", role_vars, "role N={0} second run{1}".format(size, suffix))
            assert noop["writes"] == 0, "the role's second run wrote"
            creates.append(create)
            noops.append(noop)
        rows["role_create"] = median_run(creates)
        rows["role_noop"] = median_run(noops)
        if with_baseline:
            self.seed(seed)
            rows["uri_create"] = self.playbook("baseline_uri.yml", {"bench_grants": grants},
                                               "uri N={0} first run".format(size))
            assert rows["uri_create"]["writes"] == size, "baseline did not create every grant"
            rows["uri_noop"] = self.playbook("baseline_uri.yml", {"bench_grants": grants}, "uri N={0} second run".format(size))
            assert rows["uri_noop"]["writes"] == 0, "the baseline's second run wrote"
        return rows

    def budgets(self):
        """Per-task request budgets of oauth2_grant (one grant, warm token cache after the first run)."""
        self.seed(bench_seed.make_seed(1, grants=0, resources=1))
        sp, graph = bench_seed.client_sp(0), bench_seed.GRAPH_SP
        forms = [
            ("create, object ids", sp["id"], graph["id"]),
            ("converged, object ids", sp["id"], graph["id"]),
            ("converged, appIds", sp["appId"], graph["appId"]),
            ("converged, display names", sp["displayName"], graph["displayName"]),
        ]
        rows = []
        for label, client, res in forms:
            rows.append(self.playbook("single_grant.yml", {"bench_client": client, "bench_resource": res,
                                                           "bench_scopes": bench_seed.GRANT_SCOPES}, label))
        return rows

    def info_run(self):
        rows = []
        for grants in self.args.info_grants:
            clients = max(1, grants // self.args.info_resources)
            resources = -(-grants // clients)
            self.seed(scale.info_seed(self.args, grants, clients))
            for resolve in (False, True):
                if resolve and grants > self.args.info_names_max:
                    continue
                label = "info over {0} grants{1}".format(grants, ", resolve_names" if resolve else "")
                row = self.playbook("info.yml", {"bench_resolve_names": resolve, "bench_expected": grants}, label)
                row.update(distinct_objects=clients + resources, grants=grants, resolve_names=resolve)
                rows.append(row)
        return rows

    def empty_playbook(self):
        self.empty_runs.append(self.playbook("empty.yml", {}, "empty playbook (1 module process)"))
        return median_run(self.empty_runs)

    def export_run(self):
        """The role's export entry point over a tenant of --export-grants grants (issue 18): requests, wall time, and
        the peak RSS of the largest process of the run (ru_maxrss of the children: run it on its own, see README)."""
        grants, clients = self.args.export_grants, self.args.export_clients
        # One short scope, no null principalId and compact JSON keep 100,000 grants under the control plane's 16 MiB request limit
        # (the seed file path, --seed, parses YAML: minutes at this size).
        seed = bench_seed.make_seed(clients, grants=grants, resources=-(-grants // clients), scope="User.Read")
        for grant in seed["grants"]:
            grant.pop("principalId", None)  # null for AllPrincipals anyway
        self.control.session.post(self.info["url"] + "/_emulator/seed", data=json.dumps(seed, separators=(",", ":")),
                                  headers={"Content-Type": "application/json"}, verify=self.info["ca_path"],
                                  timeout=600).raise_for_status()
        path = os.path.join(WORK, "export.yml")
        if os.path.exists(path):
            os.remove(path)
        row = self.playbook("export.yml", {"bench_export_path": path, "bench_expected": grants},
                            "export of {0} grants".format(grants))
        row["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0, 1)
        row["file_bytes"] = os.path.getsize(path)
        log("  peak RSS {peak_rss_mib} MiB, file {file_bytes} bytes".format(**row))
        return row


def median_run(runs):
    """The run with the median wall time (the others' wall times are kept in ``wall_all_s``)."""
    ordered = sorted(runs, key=lambda r: r["wall_s"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["wall_all_s"] = [r["wall_s"] for r in runs]
    chosen["cpu_all_s"] = [r["cpu_s"] for r in runs]
    return chosen


# ------------------------------------------------------------------------------------------------- reporting
def machine_info(args):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    core = subprocess.run([os.path.join(VENV, "bin", "ansible"), "--version"], capture_output=True, text=True,
                          check=False).stdout.splitlines()[0]
    py = subprocess.run([PYTHON, "-V"], capture_output=True, text=True, check=False).stdout.strip()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": py,
        "ansible": core,
        "platform": platform.platform(),
        "loadavg_at_start": os.getloadavg(),
        "latency_ms": args.latency_ms,
        "result_detail": args.result_detail,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description="msgraph.grants performance benchmark (see docs/performance.md)")
    parser.add_argument("--sizes", default="10,50,200,1000", help="comma-separated N (default 10,50,200,1000)")
    parser.add_argument("--latency-ms", type=float, default=50, help="latency injected per HTTP request (default 50)")
    parser.add_argument("--baseline-max", type=int, default=200,
                        help="largest N the uri baseline is run for; above it the baseline is extrapolated (default 200)")
    parser.add_argument("--info-grants", default="5000,100000",
                        help="comma-separated grant counts of the info runs (0: skip; default 5000,100000)")
    parser.add_argument("--info-resources", type=int, default=5, help="resources the info grants spread over (default 5)")
    parser.add_argument("--info-names-max", type=int, default=5000,
                        help="largest info run also measured with resolve_names (default 5000)")
    parser.add_argument("--background", type=int, default=2000,
                        help="AllPrincipals grants of other apps on Microsoft Graph in the fleet seeds (default 2000)")
    parser.add_argument("--user-consents", type=int, default=20000,
                        help="per-user consents on Microsoft Graph in the fleet seeds (default 20000)")
    parser.add_argument("--no-directory-read", action="store_true",
                        help="the automation identity without Directory.Read.All (no getByIds)")
    parser.add_argument("--scenarios", default="empty,fleet,budgets,info,throttle,startup",
                        help="comma-separated subset of empty,fleet,budgets,info,throttle,startup (default all)")
    parser.add_argument("--throttle-budget", type=int, default=300,
                        help="operations per window and application of the throttling model (default 300)")
    parser.add_argument("--throttle-window", type=float, default=10, help="window of the throttling model, s (default 10)")
    parser.add_argument("--throttle-sizes", default="1000", help="N of the throttled runs (default 1000)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of the role per size, the median is reported (default 3; the baseline runs once)")
    parser.add_argument("--export-grants", type=int, default=0,
                        help="grants for the export run (0: skip, the default; 100000 for docs/performance.md)")
    parser.add_argument("--export-clients", type=int, default=1000, help="client SPs those grants spread over (default 1000)")
    parser.add_argument("--result-detail", choices=("full", "brief"), default="full",
                        help="delegated_permissions_result_detail of the fleet runs (default full)")
    parser.add_argument("--no-budgets", action="store_true", help="skip the per-task oauth2_grant budgets")
    parser.add_argument("--no-startup", action="store_true", help="skip the module start-up measurement")
    parser.add_argument("--report", metavar="JSON", help="only print the tables of a saved bench/results/bench-*.json")
    parser.add_argument("--out", default=os.path.join(BENCH, "results"), help="directory for results (default bench/results)")
    args = parser.parse_args(argv)
    if args.report:
        with open(args.report) as handle:
            print(report(json.load(handle)))
        return 0
    sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    args.info_grants = [int(g) for g in str(args.info_grants).split(",") if g.strip() and int(g)]
    args.throttle_sizes = [int(n) for n in args.throttle_sizes.split(",") if n.strip()]
    scenarios = set(x.strip() for x in args.scenarios.split(",") if x.strip())

    bench = Bench(args)
    results = {"machine": machine_info(args), "fleet": {}, "info_grants": args.info_grants,
               "throttle": {"budget": args.throttle_budget, "window": args.throttle_window},
               "seed": {"background": args.background, "user_consents": args.user_consents,
                        "directory_read": not args.no_directory_read}}
    started = time.monotonic()
    try:
        bench.start()
        if "empty" in scenarios:
            results["empty"] = bench.empty_playbook()
        measured = []
        for size in (sizes if "fleet" in scenarios else []):
            with_baseline = size <= args.baseline_max
            results["fleet"][size] = bench.fleet(size, with_baseline)
            if with_baseline:
                measured.append(size)
            elif len(measured) >= 2:
                for key in ("uri_create", "uri_noop"):
                    results["fleet"][size][key] = extrapolate(results["fleet"], measured, size, key)
        if bench.empty_runs:
            results["empty"] = median_run(bench.empty_runs)
        if not args.no_budgets and "budgets" in scenarios:
            results["budgets"] = bench.budgets()
        if args.info_grants and "info" in scenarios:
            results["info"] = bench.info_run()
        if args.export_grants:
            results["export"] = bench.export_run()
        if "throttle" in scenarios:
            results["throttled"] = scale.throttled(bench, args)
    finally:
        bench.stop()
    if not args.no_startup and "startup" in scenarios:
        results["startup"], results["imports"] = startup_times()
    results["total_s"] = round(time.monotonic() - started, 1)
    results["machine"]["loadavg_at_end"] = os.getloadavg()
    text = report(results)
    os.makedirs(args.out, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(args.out, "bench-{0}.json".format(stamp)), "w") as handle:
        json.dump(results, handle, indent=1, default=str)
    for name in ("bench-{0}.md".format(stamp), "latest.md"):
        with open(os.path.join(args.out, name), "w") as handle:
            handle.write(text + "\n")
    print(text)
    log("total {0:.0f} s; results in {1}".format(results["total_s"], args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
