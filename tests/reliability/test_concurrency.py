# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue item 2: two processes appending different scopes to the same grant at the same moment.

Graph has no ETag on grants, so two read-modify-write PATCHes can overwrite each other. ``oauth2_grant`` and
``oauth2_grants`` guard append/remove: after the PATCH they wait 0.3-0.8 s, re-read and re-apply what was lost (3
rounds at most; the bulk module once per round for the whole list). A throttled append/remove is not re-sent with
its old body but planned again from a fresh read.

Each trial: the grant "Contoso HR Portal -> Microsoft Graph (AllPrincipals)" holds someone else's scopes
(openid profile User.Read); two module processes, fully imported and waiting, are released at the same wall-clock
instant (or a seeded offset of up to 100 ms apart), each appending one different scope, each with its own token
cache (two pipelines on two runners); in half of the trials (seeded) every Graph round trip takes 100 ms. Both must succeed and the
grant must end with all five scopes.

Also: the same trials with two ``oauth2_grants`` processes (what the role uses), and (full run) without the guard
(the baseline) and append against remove. Deterministic tests pin the windows: a stale write landing right after
our PATCH (repaired), an append throttled while another append lands (planned again, nothing lost), and reads that
lag writes (replication), which hide the other writer's scope: the one remaining window, see docs/reliability.md.
"""

import random
import time

import pytest
import requests

from harness import base_env, connection, finish_module, release, run_module, scope_set, spawn_module

SOMEONE_ELSES = {"openid", "profile", "User.Read"}
CLIENT, RESOURCE = "Contoso HR Portal", "Microsoft Graph"
APPEND_POOL = ("Mail.Read", "Calendars.Read", "Files.Read", "email", "Group.Read.All", "Mail.Send",
               "Sites.Read.All", "offline_access")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("concurrency")


@pytest.fixture(scope="module")
def env(workdir):
    return base_env(workdir / "home")


def _target(state):
    for grant in state["grants"]:
        if grant["consentType"] == "AllPrincipals" and grant["clientId"] == "5d1e7096-2b8c-4f0e-9a5b-6c7d8e9fa0b1" \
                and grant["resourceId"] == "1f7a3c52-8d4e-4b6a-9c1d-2e3f4a5b6c7d":
            return grant
    return None


def _args(emu, workdir, module, scopes, mode, cache="token-cache"):
    conn = connection(emu, token_cache=str(workdir / cache))
    if module == "oauth2_grants":
        return dict(conn, grants=[dict(client=CLIENT, resource=RESOURCE, scopes=scopes, scope_mode=mode)])
    return dict(conn, client=CLIENT, resource=RESOURCE, scopes=scopes, scope_mode=mode)


def _warm_token_cache(emu, workdir, env):
    """A token in each cache first. The two processes of a trial use two caches, like two pipelines on two runners:
    a shared cache would serialize them on its lock for a few ms and hide part of the race."""
    for cache in ("token-cache", "token-cache-b"):
        run = run_module("oauth2_grant_info", dict(connection(emu, token_cache=str(workdir / cache)), client=CLIENT),
                         env, workdir)
        assert run.ok, run.text()


def _trial(emu, workdir, env, rng, modules=("oauth2_grant", "oauth2_grant"), modes=("append", "append"), no_guard=False):
    """One trial; returns a dict with lost scopes, resurrected scopes and whether both started on time."""
    emu.control.reset()
    latency = rng.choice((0, 100))
    if latency:
        emu.control.set_faults(latency_ms=latency)   # a Graph round trip of 100 ms: the reads overlap more often
    first, second = rng.sample(APPEND_POOL, 2)
    removed = "profile" if modes[1] == "remove" else None
    offset = rng.choice((0.0, 0.0, round(rng.uniform(0.0, 0.1), 3)))
    go = workdir / "go"
    if go.exists():
        go.unlink()
    handles = [
        spawn_module(modules[0], _args(emu, workdir, modules[0], [first], modes[0]), env, workdir,
                     barrier=(workdir / "ready-a", go, 0.0), no_guard=no_guard),
        spawn_module(modules[1], _args(emu, workdir, modules[1], [removed or second], modes[1], cache="token-cache-b"),
                     env, workdir, barrier=(workdir / "ready-b", go, offset), no_guard=no_guard),
    ]
    release(handles, go)
    runs = [finish_module(h, timeout=120) for h in handles]
    for name in ("ready-a", "ready-b"):
        if (workdir / name).exists():
            (workdir / name).unlink()
    final = scope_set((_target(emu.control.state()) or {}).get("scope"))
    expected = (SOMEONE_ELSES | {first} | ({second} if not removed else set())) - {removed}
    return dict(
        conflict=None if removed else _conflicting_write(emu.control.requests(), first, second),
        ok=all(r.ok for r in runs), errors=[r.msg or r.text()[-500:] for r in runs if not r.ok],
        late=any("started" in r.stderr and "late" in r.stderr for r in runs),
        lost=sorted(expected - final), resurrected=sorted(final & ({removed} if removed else set())),
        offset=offset, latency=latency, elapsed=max(r.elapsed for r in runs), final=sorted(final),
    )


def _conflicting_write(entries, first, second):
    """True when the race really happened: a PATCH carrying one process's scope but not the other's landed after a
    PATCH that carried the other's (it was computed from a read made before that PATCH)."""
    patches = [scope_set((e.get("body") or {}).get("scope")) for e in sorted(entries, key=lambda e: e["seq"])
               if e["method"] == "PATCH" and e.get("status") == 204 and isinstance(e.get("body"), dict)]
    for i, earlier in enumerate(patches):
        for later in patches[i + 1:]:
            for mine, theirs in ((first, second), (second, first)):
                if theirs in earlier and mine not in earlier and mine in later and theirs not in later:
                    return True
    return False


def _series(emu, workdir, env, seed, label, trials, **kwargs):
    rng = random.Random("%s/concurrency/%s" % (seed, label))
    return [_trial(emu, workdir, env, rng, **kwargs) for _number in range(trials)]


def _record(figures, label, results, note=""):
    lost = sum(len(r["lost"]) for r in results)
    hit = sum(1 for r in results if r["lost"] or r["resurrected"])
    late = sum(1 for r in results if r["late"])
    conflicts = sum(1 for r in results if r["conflict"])
    figures.add("2. concurrency", "%s: trials" % label, len(results), note)
    if any(r["conflict"] is not None for r in results):
        figures.add("2. concurrency", "%s: trials where the race happened" % label, conflicts,
                    "a PATCH computed from a read older than the other process's PATCH (request log)")
    figures.add("2. concurrency", "%s: lost scopes" % label, "%d (in %d trials)" % (lost, hit),
                "%d trials had a process start > 50 ms late; %d failed runs" % (late, sum(1 for r in results if not r["ok"])))
    resurrected = sum(len(r["resurrected"]) for r in results)
    if resurrected:
        figures.add("2. concurrency", "%s: removed scopes brought back" % label, resurrected, "")


def test_simultaneous_appends_keep_both_scopes(emulator, workdir, env, settings, figures):
    started = time.time()
    _warm_token_cache(emulator, workdir, env)
    results = _series(emulator, workdir, env, settings.seed, "guarded", settings.trials)
    figures.time("concurrency", time.time() - started)
    _record(figures, "oauth2_grant append || append (guarded)", results,
            "released at the same instant or up to 100 ms apart (seeded); separate token caches; half the trials with "
            "100 ms Graph latency")
    failed = [r for r in results if not r["ok"]]
    assert not failed, failed
    assert sum(len(r["lost"]) for r in results) == 0, [r for r in results if r["lost"]]


def test_simultaneous_bulk_appends_keep_both_scopes(emulator, workdir, env, settings, figures):
    """The role's module: two oauth2_grants processes appending at the same instant."""
    started = time.time()
    _warm_token_cache(emulator, workdir, env)
    results = _series(emulator, workdir, env, settings.seed, "bulk", max(5, settings.trials // 3),
                      modules=("oauth2_grants", "oauth2_grants"))
    figures.time("concurrency", time.time() - started)
    _record(figures, "oauth2_grants (role) append || append (guarded)", results, "same set-up as above")
    failed = [r for r in results if not r["ok"]]
    assert not failed, failed
    assert sum(len(r["lost"]) for r in results) == 0, [r for r in results if r["lost"]]


@pytest.mark.skipif("not config._reliability_settings.full", reason="full run only (MSGRAPH_RELIABILITY_FULL=1)")
def test_baseline_and_other_mixes(emulator, workdir, env, settings, figures):
    """What the guard buys (figures only), and append against remove."""
    started = time.time()
    _warm_token_cache(emulator, workdir, env)
    trials = max(20, settings.trials // 3)
    baseline = _series(emulator, workdir, env, settings.seed, "baseline", trials, no_guard=True)
    _record(figures, "baseline without the guard (merge_rounds=0)", baseline, "same trials, guard switched off in the test runner")
    mixed = _series(emulator, workdir, env, settings.seed, "remove", trials, modes=("append", "remove"))
    _record(figures, "oauth2_grant append || remove (guarded)", mixed, "B removes 'profile' while A appends")
    figures.time("concurrency", time.time() - started)
    assert sum(len(r["lost"]) + len(r["resurrected"]) for r in mixed) == 0, [r for r in mixed if r["lost"] or r["resurrected"]]


def _wait_for(control, predicate, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        entries = control.requests()
        if predicate(entries):
            return entries
        time.sleep(0.05)
    raise AssertionError("the expected request did not arrive within %.0f s" % timeout)


def test_throttled_append_does_not_overwrite_a_concurrent_append(emulator, workdir, env, figures):
    control = emulator.control
    _warm_token_cache(emulator, workdir, env)
    control.reset()
    control.set_faults(methods=["PATCH"], throttle_next=1, retry_after=5)
    # B appends Calendars.Read: reads, its PATCH is throttled for 5 s.
    slow = spawn_module("oauth2_grant", _args(emulator, workdir, "oauth2_grant", ["Calendars.Read"], "append"), env, workdir)
    _wait_for(control, lambda entries: any(e["method"] == "PATCH" and e["status"] == 429 for e in entries))
    # A appends Mail.Read meanwhile and finishes (its guard sees Mail.Read in place).
    fast = run_module("oauth2_grant", _args(emulator, workdir, "oauth2_grant", ["Mail.Read"], "append"), env, workdir)
    late = finish_module(slow, timeout=60)
    assert fast.ok and late.ok, (fast.text(), late.text())
    final = scope_set(_target(control.state())["scope"])
    figures.add("2. concurrency", "window: append whose PATCH was throttled (429, Retry-After 5) vs a concurrent append",
                "lost: %s" % (sorted({"Mail.Read", "Calendars.Read"} - final) or "none"),
                "deterministic; the throttled PATCH is planned again from a fresh read")
    assert {"Mail.Read", "Calendars.Read"} | SOMEONE_ELSES <= final


@pytest.mark.xfail(strict=True, reason=(
    "REMAINING WINDOW (service limitation, documented in docs/reliability.md): when reads lag writes (replication), "
    "the second of two append runs reads the grant without the first run's scope and writes it back without it; the "
    "first run's guard, which only ever read stale data, ended after its 3 rounds. Without an ETag/If-Match on "
    "grants no client-side re-read can close this."))
def test_sequential_appends_under_replication_lag(emulator, workdir, env, figures):
    control = emulator.control
    _warm_token_cache(emulator, workdir, env)
    control.reset()
    control.set_faults(replication_delay_seconds=20)
    first = run_module("oauth2_grant", _args(emulator, workdir, "oauth2_grant", ["Mail.Read"], "append"), env, workdir)
    second = run_module("oauth2_grant", _args(emulator, workdir, "oauth2_grant", ["Calendars.Read"], "append"), env, workdir)
    assert first.ok and second.ok, (first.text(), second.text())
    final = scope_set(_target(control.state())["scope"])
    figures.add("2. concurrency", "window: two appends one after the other while reads lag writes by 20 s",
                "lost: %s" % (sorted({"Mail.Read", "Calendars.Read"} - final) or "none"),
                "deterministic; both runs report success; xfail(strict), a service limitation")
    assert {"Mail.Read", "Calendars.Read"} | SOMEONE_ELSES <= final


@pytest.mark.parametrize("module", [
    "oauth2_grant",
    "oauth2_grants",
])
def test_guard_restores_a_scope_overwritten_right_after_the_write(module, emulator, workdir, env, figures):
    """Deterministic: 'someone else' reads the grant before our run and writes it back (plus its own scope) right
    after our PATCH lands. The guard must notice within its settle delay and re-apply our scope."""
    control = emulator.control
    _warm_token_cache(emulator, workdir, env)
    control.reset()
    grant = _target(control.state())
    stale = scope_set(grant["scope"])
    handle = spawn_module(module, _args(emulator, workdir, module, ["Mail.Read"], "append"), env, workdir)
    _wait_for(control, lambda entries: any(e["method"] == "PATCH" and e["status"] == 204 for e in entries))
    token = emulator.token()
    answer = requests.patch("%s/v1.0/oauth2PermissionGrants/%s" % (emulator.url, grant["id"]),
                            json={"scope": " ".join(sorted(stale | {"Calendars.Read"}))},
                            headers={"Authorization": "Bearer " + token}, verify=emulator.ca_path, timeout=30)
    assert answer.status_code == 204, answer.text
    run = finish_module(handle, timeout=60)
    assert run.ok, run.text()
    final = scope_set(_target(control.state())["scope"])
    figures.add("2. concurrency", "stale write right after our PATCH: %s" % module,
                "lost: %s" % (sorted({"Mail.Read", "Calendars.Read"} - final) or "none"),
                "deterministic")
    assert {"Mail.Read", "Calendars.Read"} | SOMEONE_ELSES <= final
