"""The tables of the benchmark (bench/run.py): markdown from the measured rows (also ``run.py --report``)."""

import math

import scale  # bench/scale.py

BATCH_LIMIT = 20
PAGE_SIZE = 999
TARGETS = {"noop": 5.0, "create": 3.0}  # speed-up over the uri baseline, wall time, at N = TARGET_SIZE
TARGET_SIZE = 200


def extrapolate(fleet, sizes_measured, size, key):
    """Linear fit through the two largest measured sizes (cost per grant x N + fixed cost)."""
    a, b = sizes_measured[-2], sizes_measured[-1]
    ra, rb = fleet[a][key], fleet[b][key]
    out = {"estimated": True}
    for field in ("wall_s", "cpu_s", "module_processes", "graph_requests", "token_requests", "writes"):
        slope = (rb[field] - ra[field]) / float(b - a)
        out[field] = round(rb[field] + slope * (size - b), 3 if field == "wall_s" else 0)
    return out


def fmt_wall(row):
    return ("~{0:.0f} (est.)" if row.get("estimated") else "{0:.2f}").format(row["wall_s"])


def fmt_int(row, field):
    value = int(row[field])
    return "~{0} (est.)".format(value) if row.get("estimated") else str(value)


def report(results):
    lines = []
    m = results["machine"]
    lines.append("Run {date}: {nproc} CPUs ({cpu}), {python}, {ansible}, {platform}; load average (1/5/15 min) "
                 "{load} at start, {load_end} at end; total {total:.0f} s; emulator latency {latency_ms:g} ms per HTTP "
                 "request.".format(load=" ".join("%.2f" % x for x in m["loadavg_at_start"]),
                                   load_end=" ".join("%.2f" % x for x in m.get("loadavg_at_end", ())),
                                   total=results.get("total_s", 0), **m))
    lines.append("")
    if "empty" in results:
        e = results["empty"]
        walls = e.get("wall_all_s") or [e["wall_s"]]
        text = ("Fixed cost of ansible-playbook with one module task (no Graph): {0:.2f} s, CPU {1:.2f} s (median of "
                "{2} runs beside the role's: {3}).")
        lines.append(text.format(e["wall_s"], e.get("cpu_s", 0), len(walls), ", ".join("%.2f" % w for w in walls)))
        lines.append("")
    if m.get("result_detail"):
        lines.append("Role runs with `delegated_permissions_result_detail: {0}`.".format(m["result_detail"]))
        lines.append("")
    fleet = results["fleet"]
    if fleet:
        lines.append("### Role vs hand-written `uri` playbook (N grants, object ids)")
        lines.append("")
        lines.append("| N | run | tool | wall s | CPU s | module processes | Graph requests | token requests | writes | "
                     "Graph span s | speed-up wall (CPU) | target (wall) |")
        lines.append("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for size in sorted(fleet, key=int):
            rows = fleet[size]
            for run, key_role, key_uri, target in (("first (create N)", "role_create", "uri_create", TARGETS["create"]),
                                                   ("second (no-op)", "role_noop", "uri_noop", TARGETS["noop"])):
                role, uri = rows[key_role], rows.get(key_uri)
                ratio = uri["wall_s"] / role["wall_s"] if uri else None
                cpu_ratio = uri["cpu_s"] / role["cpu_s"] if uri and uri.get("cpu_s") else None
                verdict = ""
                if ratio is not None and int(size) == TARGET_SIZE:
                    verdict = "≥ {0:g}×: {1}".format(target, "met" if ratio >= target else "MISSED")
                if ratio is None:
                    speedup = ""
                elif uri.get("estimated"):
                    speedup = "~{0:.0f}× (est.)".format(ratio)
                else:
                    speedup = "{0:.1f}× ({1:.1f}×)".format(ratio, cpu_ratio or 0)
                lines.append("| {n} | {run} | role | {w} | {c:.2f} | {p} | {g} | {t} | {wr} | {span:.2f} | {r} | {v} |".format(
                    n=size, run=run, w=fmt_wall(role), c=role["cpu_s"], p=fmt_int(role, "module_processes"),
                    g=fmt_int(role, "graph_requests"), t=fmt_int(role, "token_requests"), wr=fmt_int(role, "writes"),
                    span=role["graph_time_span_s"], r=speedup, v=verdict))
                if uri:
                    lines.append("| {n} | {run} | uri | {w} | {c} | {p} | {g} | {t} | {wr} | {span} | | |".format(
                        n=size, run=run, w=fmt_wall(uri), c=("~%.0f (est.)" if uri.get("estimated") else "%.2f") % uri["cpu_s"],
                        p=fmt_int(uri, "module_processes"), g=fmt_int(uri, "graph_requests"),
                        t=fmt_int(uri, "token_requests"), wr=fmt_int(uri, "writes"),
                        span=("%.2f" % uri["graph_time_span_s"]) if "graph_time_span_s" in uri else ""))
        lines.append("")
        lines.append("Graph span: seconds between the first and the last Graph request of the run (the rest of the wall "
                     "time is ansible-playbook, module start-up and local work). The targets are defined at N = {0}."
                     .format(TARGET_SIZE))
        lines.append("")
        lines.append("Growth: marginal wall seconds per additional grant between consecutive sizes (the slope of the cost):")
        lines.append("")
        lines.append("| between | role first run | role second run | uri first run | uri second run |")
        lines.append("|---|---:|---:|---:|---:|")
        ordered = sorted(fleet, key=int)
        for a, b in zip(ordered, ordered[1:]):
            cells = []
            for key in ("role_create", "role_noop", "uri_create", "uri_noop"):
                ra, rb = fleet[a].get(key), fleet[b].get(key)
                if not ra or not rb or ra.get("estimated") or rb.get("estimated"):
                    cells.append("")
                else:
                    cells.append("{0:.3f}".format((rb["wall_s"] - ra["wall_s"]) / float(int(b) - int(a))))
            lines.append("| N={0} → {1} | {2} |".format(a, b, " | ".join(cells)))
        lines.append("")
        if any(len(fleet[n]["role_noop"].get("wall_all_s", [])) > 1 for n in fleet):
            lines.append("Role wall times of every repetition (the table shows the median run):")
            lines.append("")
            for size in ordered:
                lines.append("- N={0}: first run {1}; second run {2}".format(
                    size, ", ".join("%.2f" % w for w in fleet[size]["role_create"]["wall_all_s"]),
                    ", ".join("%.2f" % w for w in fleet[size]["role_noop"]["wall_all_s"])))
            lines.append("")
        lines.append("Batch sizes of the role's runs (items per `$batch` envelope, in order):")
        lines.append("")
        for size in sorted(fleet, key=int):
            for key in ("role_create", "role_noop"):
                sizes = fleet[size][key].get("batch_sizes") or []
                lines.append("- N={0} {1}: {2} batches: {3}".format(size, key.split("_")[1], len(sizes),
                                                                    compact(sizes)))
        lines.append("")
    if results.get("budgets"):
        lines.append("### Per-task budgets of `oauth2_grant` (one grant; warm token cache after the first run)")
        lines.append("")
        lines.append("| case | wall s | Graph requests | token requests | writes | budget |")
        lines.append("|---|---:|---:|---:|---:|---|")
        budget = {"create, object ids": "1 + 1 write", "converged, object ids": "1, 0 token",
                  "converged, appIds": "1", "converged, display names": "≤ 2"}
        for row in results["budgets"]:
            lines.append("| {label} | {wall_s:.2f} | {graph_requests} | {token_requests} | {writes} | {b} |".format(
                b=budget.get(row["label"], ""), **row))
        lines.append("")
    if results.get("info"):
        lines.append("### `oauth2_grant_info` over many grants")
        lines.append("")
        lines.append("| case | wall s | Graph requests | list requests (target) | `$batch` requests (target) | "
                     "getByIds | token requests | module peak RSS MB |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for row in results["info"]:
            grants = row.get("grants", results["info_grants"])
            list_target = int(math.ceil(grants / float(PAGE_SIZE)))
            batch_target = "≤ {0}".format(int(math.ceil(row["distinct_objects"] / float(BATCH_LIMIT)))) \
                if "resolve" in row["label"] else "0"
            cells = dict(row, lt=list_target, bt=batch_target, gbi=row.get("get_by_ids", 0), rss=row.get("module_peak_rss_mb"))
            lines.append("| {label} | {wall_s:.2f} | {graph_requests} | {list_requests} ({lt}) | {batches} ({bt}) | "
                         "{gbi} | {token_requests} | {rss} |".format(**cells))
        lines.append("")
    if results.get("startup"):
        lines.append("### Module start-up (`python -c '…'`, 9 fresh processes each, warm bytecode caches)")
        lines.append("")
        lines.append("| python -c | min s | median s |")
        lines.append("|---|---:|---:|")
        for row in results["startup"]:
            lines.append("| {label} | {min_s:.3f} | {median_s:.3f} |".format(**row))
        lines.append("")
        lines.append("Cumulative import time under `oauth2_grant` (`python -X importtime`, one run):")
        lines.append("")
        for row in results["imports"]:
            lines.append("- `{module}`: {cumulative_ms} ms".format(**row))
        lines.append("")
    lines.append(scale.report(results))
    return "\n".join(lines)


def compact(values):
    """[20, 20, 20, 2] -> '20×3, 2'."""
    out, prev, count = [], None, 0
    for value in values + [None]:
        if value == prev:
            count += 1
            continue
        if prev is not None:
            out.append("{0}×{1}".format(prev, count) if count > 1 else str(prev))
        prev, count = value, 1
    return ", ".join(out) or "none"
