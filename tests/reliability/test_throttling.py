# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue item 5: the retry budget. Under throttling that never ends, a run must give up within ``retry_budget``,
say so in its failure message (attempts, seconds, budget), and space its retries as Retry-After (or the backoff
floor) asks: the emulator's request log is the witness. One case per Retry-After form, for a plain read and for a
``$batch``, plus 503/504 on reads.
"""

import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

from graph_emulator.testing import running_emulator
from harness import base_env, connection, run_module

BUDGET = 3
GRANT_ID = "lnAeXYwrDk-aW2x9jp-gsVI8eh9OjWpLnB0uP0pbbH0"   # HR Portal -> Graph (AllPrincipals), default seed
GAVE_UP_RE = re.compile(r"Gave up after (\d+) attempts? and ([0-9.]+) s of retrying \(retry budget (\d+(?:\.\d+)?) s\)")

# (label, faults, least spacing between two attempts, path)
CASES = [
    ("429 Retry-After integer (1)", dict(throttle_next=1000, retry_after=1), 1.0, "plain"),
    ("429 Retry-After decimal (0.6)", dict(throttle_next=1000, retry_after=0.6), 0.6, "plain"),
    ("429 Retry-After HTTP-date (+2 s)", dict(throttle_next=1000, retry_after="http-date"), 1.0, "plain"),
    ("429 without Retry-After", dict(throttle_next=1000, retry_after=None), 0.5, "plain"),
    ("429 Retry-After 0", dict(throttle_next=1000, retry_after=0), 0.5, "plain"),
    ("503 on a read", dict(fail_next=1000, fail_status=503), 0.5, "plain"),
    ("504 on a read, Retry-After 1", dict(fail_next=1000, fail_status=504, fail_retry_after=1), 1.0, "plain"),
    ("429 Retry-After integer (1), $batch", dict(throttle_next=1000, retry_after=1), 1.0, "batch"),
    ("429 without Retry-After, $batch", dict(throttle_next=1000, retry_after=None), 0.5, "batch"),
]


def _run_case(emu, workdir, case):
    label, faults, least, path = case
    control = emu.control
    control.reset()
    control.set_faults(**faults)
    env = base_env(workdir / "home")
    conn = connection(emu, token_cache=str(workdir / "token-cache"), retry_budget=BUDGET, timeout=2)
    if path == "plain":
        run = run_module("oauth2_grant_info", dict(conn, id=GRANT_ID), env, workdir)
    else:
        run = run_module("oauth2_grant", dict(conn, client="Contoso Payroll", resource="Microsoft Graph",
                                              scopes=["User.Read"]), env, workdir)
    control.clear_faults()
    http = [e for e in control.requests() if e["kind"] == "graph"]
    gaps = [b["time"] - a["time"] for a, b in zip(http, http[1:])]
    return dict(label=label, least=least, run=run, http=len(http), gaps=gaps, writes=sum(1 for e in control.requests() if e.get("write")))


def test_retry_budget_and_spacing(settings, figures, tmp_path_factory):
    started = time.time()
    with ExitStack() as stack:
        emus = [stack.enter_context(running_emulator(tmp_path_factory.mktemp("throttle-emulator"), python=sys.executable))
                for _lane in range(3)]
        dirs = [tmp_path_factory.mktemp("throttle") for _emu in emus]
        for emu, workdir in zip(emus, dirs):   # a token in each cache first: the budget is about Graph, not login
            warm = run_module("oauth2_grant_info", dict(connection(emu, token_cache=str(workdir / "token-cache")), id=GRANT_ID),
                              base_env(workdir / "home"), workdir)
            assert warm.ok, warm.text()

        def lane(i):
            return [_run_case(emus[i], dirs[i], case) for case in CASES[i::len(emus)]]

        with ThreadPoolExecutor(len(emus)) as pool:
            results = [r for lane_results in pool.map(lane, range(len(emus))) for r in lane_results]
    figures.time("throttling budget", time.time() - started)

    problems, rows = [], []
    most_spent = 0.0
    for r in results:
        run = r["run"]
        match = GAVE_UP_RE.search(run.msg)
        min_gap = min(r["gaps"]) if r["gaps"] else None
        rows.append("| %s | %s | %s | %d | %s | %.1f |" % (
            r["label"], "failed" if not run.ok else "ok", match.group(0) if match else "-", r["http"],
            "%.2f (>= %.2f)" % (min_gap, r["least"]) if min_gap is not None else "-", run.elapsed))
        if run.ok or not match:
            problems.append("%s: expected a failure naming the budget, got rc=%s %s" % (r["label"], run.rc, run.msg[:300]))
            continue
        attempts, spent, budget = int(match.group(1)), float(match.group(2)), float(match.group(3))
        most_spent = max(most_spent, spent)
        if budget != BUDGET or spent > BUDGET + 0.05:
            problems.append("%s: spent %.1f s with a budget of %s s" % (r["label"], spent, BUDGET))
        if run.elapsed > BUDGET + 2 + 4:   # budget + one timeout + process start-up on a loaded machine
            problems.append("%s: the run took %.1f s" % (r["label"], run.elapsed))
        if min_gap is not None and min_gap < r["least"] - 0.05:
            problems.append("%s: two attempts %.3f s apart (least %.2f s)" % (r["label"], min_gap, r["least"]))
        if r["http"] > BUDGET / r["least"] + 2:
            problems.append("%s: %d requests in a %s s budget" % (r["label"], r["http"], BUDGET))
        if attempts < 2 or r["writes"]:
            problems.append("%s: %d attempts, %d writes" % (r["label"], attempts, r["writes"]))
        if "traceback" in run.text().lower():
            problems.append("%s: traceback" % r["label"])

    section = "5. throttling budget"
    figures.add(section, "throttled-forever cases", len(results), "retry_budget=%d s, timeout=2 s; each Retry-After form, "
                "plain read and $batch, 503/504 on reads" % BUDGET)
    gave_up = sum(1 for r in results if not r["run"].ok and GAVE_UP_RE.search(r["run"].msg))
    figures.add(section, "cases that gave up within the budget and said so", gave_up,
                "message: 'Gave up after N attempts and X s of retrying (retry budget B s)'")
    figures.add(section, "most retry time spent in one case (s)", "%.1f of %d" % (most_spent, BUDGET),
                "the client stops before a wait that would overrun the budget")
    figures.add(section, "retries sooner than allowed (must be 0)", sum(
        1 for r in results for g in r["gaps"] if g < r["least"] - 0.05), "gaps between consecutive requests, request log")
    figures.add(section, "longest throttled run (s)", "%.1f" % max(r["run"].elapsed for r in results), "wall time incl. process start")
    figures.detail("Throttling budget cases", "\n".join(
        ["| case | result | message | Graph requests | least gap (s) | wall (s) |", "|---|---|---|---|---|---|"] + rows))
    assert not problems, "\n".join(problems)


def test_total_retry_time_of_a_run_stays_within_the_budget(emulator, tmp_path, figures):
    control = emulator.control
    control.reset()
    env = base_env(tmp_path / "home")
    conn = connection(emulator, token_cache=str(tmp_path / "token-cache"), retry_budget=4, timeout=2)
    warm = run_module("oauth2_grant_info", dict(conn, id=GRANT_ID), env, tmp_path)
    assert warm.ok, warm.text()
    control.set_faults(throttle_every=2, retry_after=3)    # every other Graph operation: 429, Retry-After 3
    run = run_module("oauth2_grant", dict(conn, client="Contoso Payroll", resource="Microsoft Graph", scopes=["User.Read"]),
                     env, tmp_path)
    throttled = sum(1 for e in control.requests() if e["status"] == 429)
    figures.add("5. throttling budget", "run whose operations are each throttled once (Retry-After 3, budget 4)",
                "%s after %.1f s, %d answers 429" % ("succeeded" if run.ok else "failed", run.elapsed, throttled),
                "retry_budget bounds the retry time of the whole run")
    assert run.ok or GAVE_UP_RE.search(run.msg), run.text()
    assert run.elapsed <= 4 + 3, "the run spent %.1f s, most of it waiting, with retry_budget=4" % run.elapsed
