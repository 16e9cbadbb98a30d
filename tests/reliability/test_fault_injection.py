# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue item 1: seeded, randomized module runs under injected faults, judged by the emulator's final state.

Every run: reset the emulator, seed the run's grants (the target, if it exists, and "someone else's" grants), set
the run's faults, run the module once (directly, through Ansible's module entry point with an args file), then read
``/_emulator/state`` and the request log. A run must either converge (the target holds exactly the expected scopes
and the module says so) or fail cleanly (non-zero, a readable message, no traceback). Over all runs: no key ever
has two grants, no scope of someone else's is lost, no untouched grant changes, no retry comes sooner than
Retry-After (or the backoff floor) allows.
"""

import collections
import queue
import re
import sys
import threading
import time
from contextlib import ExitStack

from graph_emulator.testing import Control, running_emulator
from harness import base_env, connection, duplicate_keys, find_secrets, grant_key, run_module, scope_set
from scenarios import Catalog, judge, make_scenario, seed_payload


def _execute(emu, sc, workdir, env, base_state):
    control = emu.control
    control.reset()
    control.load_seed(seed_payload(base_state, sc))
    if sc["fresh_sp"]:
        control.add_service_principal(sc["fresh_sp"])
    before = control.state()
    args = dict(sc["args"])
    if sc["by_id_key"] is not None:
        grant_id = [g["id"] for g in before["grants"] if grant_key(g) == sc["by_id_key"]][0]
        keep = dict((k, v) for k, v in args.items() if k in ("timeout", "retry_budget", "resolve_names", "state"))
        args = dict(keep, id=grant_id)
    args.update(connection(emu))
    args["token_cache"] = str(workdir / "token-cache")
    control.clear_requests()
    control.set_faults(**sc["faults"])
    timer = None
    if sc["latency_clear"]:
        side = Control(emu.url, emu.ca_path)
        timer = threading.Timer(sc["latency_clear"], lambda: side.set_faults(latency_ms=0))
        timer.start()
    try:
        run = run_module(sc["module"], args, env, workdir, diff=True, timeout=150)
    finally:
        if timer is not None:
            timer.cancel()
            timer.join()
    fired = control.faults().get("fired", {})
    control.clear_faults()
    after = control.state()
    entries = control.requests()
    outcome = judge(sc, run, before, after, entries)
    outcome["fired"] = fired
    outcome["leaks"] = find_secrets(run.text(), {"client secret": emu.client_secret})
    return outcome


FAILURE_CAUSES = (
    ("retry budget exhausted", r"Gave up after"),
    ("a read answered 503/504, not retried", r"^GET /[^ ]+ failed: HTTP 50[34]"),
    ("write outcome unknown (ambiguous), not resolved", r"outcome of this write is unknown"),
    ("timeout", r"timed out"),
    ("token request failed", r"Could not get a token"),
)


def _cause(msg):
    for label, pattern in FAILURE_CAUSES:
        if re.search(pattern, msg):
            return label
    return "other: " + msg[:80]


def _run_all(settings, tmp_path_factory):
    outcomes, errors = [], []
    indexes = queue.Queue()
    for index in range(settings.fault_runs):
        indexes.put(index)
    with ExitStack() as stack:
        emulators = [stack.enter_context(running_emulator(tmp_path_factory.mktemp("fault-emulator"), python=sys.executable))
                     for _worker in range(min(settings.workers, settings.fault_runs))]
        emulators[0].control.reset()
        base_state = emulators[0].control.state()
        catalog = Catalog(base_state)
        lock = threading.Lock()

        def worker(emu):
            workdir = tmp_path_factory.mktemp("fault-worker")
            env = base_env(workdir / "home")
            while True:
                try:
                    index = indexes.get_nowait()
                except queue.Empty:
                    return
                sc = make_scenario(catalog, settings.seed, index)
                try:
                    outcome = _execute(emu, sc, workdir, env, base_state)
                except Exception as exc:  # pylint: disable=broad-except  # a harness problem: reported, fails the test
                    with lock:
                        errors.append("run %d (%s): %r" % (index, sc["description"], exc))
                    continue
                with lock:
                    outcomes.append(outcome)

        threads = [threading.Thread(target=worker, args=(emu,)) for emu in emulators]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return sorted(outcomes, key=lambda o: o["index"]), errors


def test_fault_injection(settings, figures, tmp_path_factory):
    started = time.time()
    outcomes, errors = _run_all(settings, tmp_path_factory)
    elapsed = time.time() - started
    figures.time("fault injection", elapsed)
    assert not errors, "harness errors:\n" + "\n".join(errors)

    status = collections.Counter(o["status"] for o in outcomes)
    failed = [o for o in outcomes if o["status"].startswith("failed")]
    failed_with_writes = [o for o in failed if o["writes_applied"]]
    fired = collections.Counter()
    for o in outcomes:
        fired.update(o["fired"])
    section = "1. fault injection"
    add = figures.add
    add(section, "runs", len(outcomes), "seed %d; %d parallel emulators; module options %s" % (
        settings.seed, settings.workers, "timeout=2, retry_budget=6"))
    add(section, "converged", status["converged"], "target holds exactly the expected scopes, result agrees")
    add(section, "failed cleanly", status["failed_clean"], "non-zero, readable message, no traceback")
    add(section, "failed uncleanly (must be 0)", status["failed_unclean"], "traceback, MODULE FAILURE or 'Unexpected error'")
    add(section, "diverged: success but wrong state or result (must be 0)", status["diverged"], "")
    add(section, "hung (must be 0)", status["hung"], "killed after 150 s")
    add(section, "duplicate grants (must be 0)", sum(o["duplicates"] for o in outcomes), "keys with two grants in the final state")
    add(section, "lost scopes (must be 0)", sum(len(o["lost"]) for o in outcomes),
        "%d protected (key, scope) pairs checked" % sum(o["protected"] for o in outcomes))
    add(section, "untouched grants changed (must be 0)", sum(len(o["collateral"]) for o in outcomes), "")
    add(section, "failed runs that had written", "%d of %d (%d applied writes)" % (
        len(failed_with_writes), len(failed), sum(o["writes_applied"] for o in failed_with_writes)),
        "left target: %s" % dict(collections.Counter(o.get("left") for o in failed_with_writes)))
    add(section, "failed runs that left the target unchanged", sum(1 for o in failed if o.get("left") == "unchanged"), "")
    causes = collections.Counter(_cause(o["msg"]) for o in failed)
    add(section, "failed runs by cause", "; ".join("%s: %d" % kv for kv in causes.most_common()) or "-", "")
    add(section, "secrets in module output (must be 0)", sum(len(o["leaks"]) for o in outcomes), "client secret, JWT-shaped strings")
    add(section, "'changed' flag wrong (must be 0)", sum(1 for o in outcomes if o["changed_wrong"]), "oauth2_grant runs")
    add(section, "retries sooner than Retry-After / backoff floor (must be 0)",
        sum(len(o["spacing_violations"]) for o in outcomes), "from the emulator's request log")
    add(section, "second creates for a key that had a grant (refused by Graph, adopted)", sum(o["duplicate_posts"] for o in outcomes),
        "re-POST after an ambiguous create: adopted, never a second grant")
    add(section, "faults fired", sum(fired.values()), ", ".join("%s %d" % kv for kv in sorted(fired.items())))
    atoms = collections.Counter(a for o in outcomes for a in o["atoms"])
    add(section, "runs per fault type", ", ".join("%s %d" % kv for kv in sorted(atoms.items())),
        "a run mixes 1-3 types; latency = %d ms against timeout=2 s, cleared after 0.5-4 s" % 2600)
    forms = collections.Counter(repr(o["retry_after_form"]) for o in outcomes if o["retry_after_form"] != "-")
    add(section, "throttled runs per Retry-After form", ", ".join("%s %d" % kv for kv in sorted(forms.items())),
        "1 = integer, 0.4 = decimal, 'http-date', None = no header, 0 = zero")
    add(section, "run time (s)", "mean %.1f, max %.1f" % (
        sum(o["elapsed"] for o in outcomes) / max(1, len(outcomes)), max([o["elapsed"] for o in outcomes] or [0])),
        "total %.0f s wall" % elapsed)

    kinds = collections.OrderedDict()
    for o in outcomes:
        kinds.setdefault(o["kind"], collections.Counter())[o["status"]] += 1
    lines = ["| scenario | runs | converged | failed cleanly | other |", "|---|---|---|---|---|"]
    for kind, counter in kinds.items():
        lines.append("| %s | %d | %d | %d | %d |" % (kind, sum(counter.values()), counter["converged"], counter["failed_clean"],
                                                     sum(counter.values()) - counter["converged"] - counter["failed_clean"]))
    figures.detail("Fault injection by scenario", "\n".join(lines))
    lines = ["| run | scenario and faults | left target | applied writes | message |", "|---|---|---|---|---|"]
    for o in failed:
        message = o["msg"][:300].replace("|", "\\|").replace("\n", " ")
        lines.append("| %d | %s | %s | %d | %s |" % (o["index"], o["description"], o.get("left"), o["writes_applied"], message))
    figures.detail("Fault injection: failed runs", "\n".join(lines) if failed else "none")
    again = [o for o in outcomes if o["duplicate_posts"]]
    lines = ["| run | scenario and faults | outcome | second creates |", "|---|---|---|---|"]
    lines += ["| %d | %s | %s | %d |" % (o["index"], o["description"], o["status"], o["duplicate_posts"]) for o in again]
    figures.detail("Fault injection: runs with a second create for a key that had a grant", "\n".join(lines) if again else "none")

    bad = [o for o in outcomes if o["status"] in ("failed_unclean", "diverged", "hung") or o["duplicates"] or o["lost"]
           or o["collateral"] or o["spacing_violations"] or o["changed_wrong"] or o["leaks"]]
    assert not bad, "runs that broke a promise:\n" + "\n".join(
        "%d %s: %s" % (o["index"], o["description"], dict((k, o[k]) for k in (
            "status", "msg", "duplicates", "lost", "collateral", "spacing_violations", "changed_wrong", "result_mismatch"))) for o in bad)
    assert status["converged"] > 0


# ---------------------------------------------------------------------------------------------------------------
# Pinned cases: what the randomized runs showed, reduced to one deterministic run each (with its positive control).

GRANT_HR_ALL = "lnAeXYwrDk-aW2x9jp-gsVI8eh9OjWpLnB0uP0pbbH0"


def _pinned(emulator, tmp_path, module, args, faults):
    control = emulator.control
    control.reset()
    env = base_env(tmp_path / "home")
    control.set_faults(**faults)
    run = run_module(module, dict(connection(emulator, token_cache="false", timeout=2, retry_budget=6), **args), env, tmp_path)
    control.clear_faults()
    return run, control.state(), control.requests()


def test_plain_read_answered_503_is_retried(emulator, tmp_path):
    run, _state, _log = _pinned(emulator, tmp_path, "oauth2_grant_info", {"id": GRANT_HR_ALL},
                                dict(methods=["GET"], fail_next=1, fail_status=503))
    assert run.ok, run.text()


def test_batched_read_answered_503_is_retried(emulator, tmp_path):
    """Found by the randomized runs (a transient 503 on a $batch read item failed the run, while a plain read was
    retried); fixed in plugins/module_utils/_graph_client.py GraphClient.batch (commit 124341c). Kept as a
    regression test."""
    run, _state, _log = _pinned(emulator, tmp_path, "oauth2_grant",
                                dict(client="Contoso Payroll", resource="Microsoft Graph", scopes=["User.Read"]),
                                dict(methods=["GET"], fail_next=1, fail_status=503))
    assert run.ok, run.text()


LOST_ANSWER = dict(methods=["POST"], apply_then_fail_next=1, apply_then_fail_mode="drop")


def test_single_create_converges_after_its_answer_is_lost(emulator, tmp_path):
    run, state, _log = _pinned(emulator, tmp_path, "oauth2_grant",
                               dict(client="Contoso Payroll", resource="Contoso Orders API", scopes=["Orders.Read"]), LOST_ANSWER)
    assert run.ok and run.result["action"] == "created", run.text()
    assert not duplicate_keys(state)


def test_bulk_converges_after_its_batch_answer_is_lost(emulator, tmp_path):
    run, state, _log = _pinned(emulator, tmp_path, "oauth2_grants", {"grants": [
        dict(client="Contoso Payroll", resource="Contoso Orders API", scopes=["Orders.Read"]),
        dict(client="O'Brien Tools", resource="Microsoft Graph", scopes=["User.Read"])]}, LOST_ANSWER)
    assert not duplicate_keys(state)
    assert run.ok, run.text()
    # Each grant was created once (by the batch whose answer was lost), found by re-reading and reported as created.
    assert [r["action"] for r in run.result["results"]] == ["created", "created"], run.text()
    held = dict((g["clientId"], scope_set(g["scope"])) for g in state["grants"])
    names = dict((sp["displayName"], sp["id"]) for sp in state["servicePrincipals"])
    assert held[names["Contoso Payroll"]] >= {"Orders.Read"} and held[names["O'Brien Tools"]] >= {"User.Read"}, state
