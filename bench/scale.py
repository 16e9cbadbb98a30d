"""Tenant-scale scenarios of the benchmark (bench/run.py; targets: docs/performance.md, "Tenant scale").

- ``fleet_seed``: N managed clients on Microsoft Graph in a tenant carrying background as real tenants do (AllPrincipals
  grants of other apps, per-user consents on Microsoft Graph), the automation identity holding Directory.Read.All
  unless ``--no-directory-read``;
- ``scale_targets``: the verdict of each tenant-scale target from the measured rows (request counts, wall time
  against the fixed cost of a one-task playbook measured in the same run, peak memory of the module process);
- ``throttled``: the same runs under the emulator's throttling model (``throttle_budget`` operations per
  ``throttle_window_seconds``), against a run that reads per grant (exclusive mode: one read per client).
"""

import json
import math
import os
import statistics

import seed as bench_seed  # bench/seed.py

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SEED = os.path.join(ROOT, "emulator", "graph_emulator", "seed_default.json")
PAGE_SIZE = 999


def default_seed():
    with open(DEFAULT_SEED) as handle:
        return json.load(handle)


def fleet_seed(args, size, grants=0):
    seed = bench_seed.make_seed(size, grants=grants, resources=1)
    bench_seed.add_background(seed, args.background, args.user_consents)
    if not args.no_directory_read:
        bench_seed.with_directory_read(seed, default_seed())
    return seed


def info_seed(args, grants, clients):
    seed = bench_seed.make_seed(clients, grants=grants, resources=-(-grants // clients))
    if not args.no_directory_read:
        bench_seed.with_directory_read(seed, default_seed())
    return seed


def throttled(bench, args):
    """Runs under the throttling model: the role's first run and no-op, and a no-op that reads per grant."""
    rows = []
    for size in args.throttle_sizes:
        grants = bench_seed.declared_grants(size, "id")
        bench.seed(fleet_seed(args, size))
        bench.control.set_faults(throttle_budget=args.throttle_budget, throttle_window_seconds=args.throttle_window)
        try:
            for label, extra in (("first run (create N)", {}), ("second run (no-op)", {}),
                                 ("no-op, per-grant reads (exclusive)", {"bench_exclusive": True})):
                row = bench.playbook("role_apply.yml", dict(extra, bench_grants=grants),
                                     "throttled N={0} {1}".format(size, label))
                row["size"] = size
                row["case"] = label
                rows.append(row)
        finally:
            bench.control.set_faults(throttle_budget=0)
    return rows


def scale_targets(results):
    """[(goal, target, measured, verdict)] for the tenant-scale targets present in ``results``."""
    out = []
    fixed = results.get("empty", {}).get("wall_s")
    fleet = results.get("fleet", {})

    def row(size, key):
        return (fleet.get(size) or fleet.get(str(size)) or {}).get(key)

    def verdict(ok):
        return "met" if ok else "MISSED"

    def cpu_ratio(run):
        """Median CPU seconds (ansible-playbook and children) against the fixed cost's: less load-sensitive."""
        empty = results.get("empty", {})
        mine, base = run.get("cpu_all_s") or [run.get("cpu_s")], empty.get("cpu_all_s") or [empty.get("cpu_s")]
        if None in mine or None in base:
            return ""
        mine, base = statistics.median(mine), statistics.median(base)
        return "; CPU {0:.2f} s = {1:.2f}× {2:.2f} s".format(mine, mine / base, base)

    noop = row(1000, "role_noop")
    if noop and fixed:
        ok = noop["graph_requests"] <= 10 and noop["wall_s"] <= 1.5 * fixed
        out.append(("no-op over 1,000 grants, object ids", "≤ 10 Graph requests, wall ≤ 1.5× fixed cost",
                    "{0} requests, {1:.2f} s = {2:.2f}× {3:.2f} s{4}".format(
                        noop["graph_requests"], noop["wall_s"], noop["wall_s"] / fixed, fixed, cpu_ratio(noop)), verdict(ok)))
    create = row(1000, "role_create")
    if create and fixed:
        write_batches = create.get("write_batches")
        ok = write_batches == 50 and create["wall_s"] <= 3 * fixed
        out.append(("first run creating 1,000 grants", "⌈N/20⌉ = 50 write batches, wall ≤ 3× fixed cost",
                    "{0} write batches, {1:.2f} s = {2:.2f}×{3}".format(write_batches, create["wall_s"], create["wall_s"] / fixed,
                                                                        cpu_ratio(create)),
                    verdict(ok)))
    big = row(10000, "role_noop")
    if big:
        out.append(("no-op over 10,000 grants", "≤ 25 Graph requests, peak memory reported",
                    "{0} requests, {1:.2f} s, module peak RSS {2} MB".format(
                        big["graph_requests"], big["wall_s"], big.get("module_peak_rss_mb")),
                    verdict(big["graph_requests"] <= 25)))
    for info in results.get("info") or []:
        grants = info["grants"]
        target = int(math.ceil(grants / float(PAGE_SIZE)))
        if not info.get("resolve_names"):
            out.append(("oauth2_grant_info over {0:,} grants".format(grants), "⌈{0}/999⌉ = {1} list requests".format(grants, target),
                        "{0} list requests, {1:.2f} s, module peak RSS {2} MB".format(
                            info["list_requests"], info["wall_s"], info.get("module_peak_rss_mb")),
                        verdict(info["list_requests"] == target)))
        else:
            names = info["graph_requests"] - info["list_requests"]
            out.append(("names for {0:,} grants ({1} objects)".format(grants, info["distinct_objects"]), "≤ 6 requests",
                        "{0} requests ({1} getByIds, {2} $batch), {3:.2f} s".format(
                            names, info.get("get_by_ids", 0), info["batches"], info["wall_s"]),
                        verdict(names <= 6) if grants <= 5000 else "(reported)"))
    by_size = {}
    for trow in results.get("throttled") or []:
        by_size.setdefault(trow["size"], {})[trow["case"]] = trow
    for size, cases in sorted(by_size.items()):
        ours = [cases[c] for c in ("first run (create N)", "second run (no-op)") if c in cases]
        per_grant = cases.get("no-op, per-grant reads (exclusive)")
        noop_ours = cases.get("second run (no-op)")
        if ours and per_grant and noop_ours:
            ok = all(r.get("failed", 0) == 0 for r in ours) and noop_ours["throttled"] < per_grant["throttled"]
            out.append(("under throttling, N = {0}".format(size), "0 failures, fewer 429s than per-grant reads",
                        "429s: create {0}, no-op {1}, per-grant-read no-op {2}".format(
                            ours[0]["throttled"], noop_ours["throttled"], per_grant["throttled"]), verdict(ok)))
    return out


def report(results):
    lines = []
    targets = scale_targets(results)
    if targets:
        lines.append("### Tenant scale (targets of issue 17)")
        lines.append("")
        lines.append("| goal | target | measured | |")
        lines.append("|---|---|---|---|")
        for goal, target, measured, verdict in targets:
            lines.append("| {0} | {1} | {2} | {3} |".format(goal, target, measured, verdict))
        lines.append("")
    if results.get("throttled"):
        lines.append("### Under the throttling model ({0} operations per {1:g} s per application)".format(
            results["throttle"]["budget"], results["throttle"]["window"]))
        lines.append("")
        lines.append("| N | run | wall s | Graph requests | operations | 429s | writes | retry waits |")
        lines.append("|---:|---|---:|---:|---:|---:|---:|---:|")
        for row in results["throttled"]:
            lines.append("| {size} | {case} | {wall_s:.2f} | {graph_requests} | {graph_operations} | {throttled} | {writes} | "
                         "{retry_waits} |".format(**row))
        lines.append("")
    return "\n".join(lines)
