# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Seeded scenarios of the fault-injection runs, and the rules that judge a run from the emulator's final state.

A scenario is pure data derived from (seed, index): which module, which options, which grants exist before the run
(the target grant, if any, and "someone else's" grants the run must not touch), which faults the emulator injects,
and what the grants must look like afterwards. The same seed always gives the same scenarios and fault schedules;
only timing (module jitter, the guard's random settle delay, the machine's load) differs between two executions.
"""

import copy
import random
import uuid

from harness import (UNEXPECTED_MARKER, applied_writes, duplicate_keys, grant_key, grants_by_key, has_traceback,
                     scope_set, write_entries)

MODULE_OPTIONS = dict(timeout=2, retry_budget=6)
LATENCY_MS = 2600          # beyond timeout=2: the request times out at the client
KINDS = ("create", "create_fresh_sp", "update_exact", "update_append", "update_remove", "delete", "delete_absent",
         "info", "bulk")
ATOMS = ("throttle", "fail", "drop", "latency", "apply_then_fail", "replication", "throttle_every", "none")
RETRY_AFTER_FORMS = (1, 0.4, "http-date", None, 0)

CLIENT_NAMES = ("Contoso HR Portal", "Contoso Payroll", "Fabrikam Sync", "O'Brien Tools")
RESOURCE_NAMES = ("Microsoft Graph", "Contoso Orders API", "Office 365 Exchange Online")
USER_UPNS = ("megan.bowen@contoso.onmicrosoft.com", "adele.vance_fabrikam.com#EXT#@contoso.onmicrosoft.com",
             "$svc-backup@contoso.onmicrosoft.com", "o'neil@contoso.onmicrosoft.com", "lee.gu@contoso.onmicrosoft.com")


class Catalog(object):
    """Objects of the default seed the scenarios use, read from the emulator's state."""

    def __init__(self, state):
        self.sps = dict((sp["displayName"], sp) for sp in state["servicePrincipals"])
        self.users = dict((u["userPrincipalName"], u) for u in state["users"])
        self.base_grants = [dict((k, g.get(k)) for k in ("clientId", "consentType", "principalId", "resourceId", "scope"))
                            for g in state["grants"]]

    def scopes(self, resource_name):
        sp = self.sps[resource_name]
        return sorted(s["value"] for s in sp.get("oauth2PermissionScopes") or [] if s.get("isEnabled", True))

    def sp_ref(self, rng, name):
        """A client/resource as a user would write it: display name, appId or object id."""
        sp = self.sps[name]
        return rng.choice((sp["displayName"], sp["appId"], sp["id"]))

    def user_ref(self, rng, upn):
        user = self.users[upn]
        return rng.choice((user["userPrincipalName"], user["id"]))

    def key(self, client_name, resource_name, upn=None, client_id=None):
        client = client_id or self.sps[client_name]["id"]
        principal = self.users[upn]["id"].lower() if upn else ""
        return (client.lower(), self.sps[resource_name]["id"].lower(), "Principal" if upn else "AllPrincipals", principal)


def grant_record(key, scopes):
    client, resource, consent, principal = key
    return {"clientId": client, "resourceId": resource, "consentType": consent, "principalId": principal or None,
            "scope": " ".join(sorted(scopes))}


def pick_faults(rng, index, primary):
    """Knobs for one run: the primary atom (cycled, so every atom is covered early) plus 0-2 random others."""
    atoms = [primary]
    for extra in rng.sample([a for a in ATOMS if a not in (primary, "none")], rng.choice((0, 1, 1, 2))):
        atoms.append(extra)
    if index % 2 == 0 and "throttle" not in atoms:
        atoms.append("throttle")   # every other run is throttled, cycling through the Retry-After forms
    if primary == "none":
        atoms = ["none"]
    knobs, latency_clear = {}, None
    retry_after = RETRY_AFTER_FORMS[index % len(RETRY_AFTER_FORMS)]
    for atom in atoms:
        if atom == "throttle":
            knobs.update(throttle_next=rng.randint(1, 3), retry_after=retry_after)
        elif atom == "throttle_every":
            knobs.update(throttle_every=rng.randint(3, 5), retry_after=rng.choice((0.3, 0.5, None)))
        elif atom == "fail":
            knobs.update(fail_next=rng.randint(1, 2), fail_status=rng.choice((503, 504)),
                         fail_retry_after=rng.choice((None, None, 1)))
        elif atom == "drop":
            knobs.update(drop_next=rng.randint(1, 2))
        elif atom == "latency":
            knobs.update(latency_ms=LATENCY_MS)
            latency_clear = round(rng.uniform(0.5, 4.0), 2)
        elif atom == "apply_then_fail":
            knobs.update(apply_then_fail_next=1, apply_then_fail_mode=rng.choice(("503", "504", "drop")))
        elif atom == "replication":
            knobs.update(replication_delay_reads=rng.randint(1, 4))
            if rng.random() < 0.4:
                knobs.update(replication_delay_seconds=round(rng.uniform(0.5, 2.0), 2))
    if "throttle" in atoms:
        knobs["retry_after"] = retry_after   # the cycled form wins over throttle_every's
    if rng.random() < 0.25 and primary != "none":
        knobs["methods"] = rng.choice((["GET"], ["POST", "PATCH", "DELETE"]))
    if rng.random() < 0.2:
        knobs["duplicate_status"] = 400
    return atoms, knobs, latency_clear


def make_scenario(catalog, seed, index):  # pylint: disable=too-many-locals,too-many-branches,too-many-statements
    rng = random.Random("%s/%s" % (seed, index))
    kind = KINDS[index % len(KINDS)]
    primary = ATOMS[index % len(ATOMS)]
    atoms, knobs, latency_clear = pick_faults(rng, index, primary)
    sc = dict(index=index, kind=kind, atoms=atoms, faults=knobs, latency_clear=latency_clear, fresh_sp=None,
              retry_after_form=knobs.get("retry_after", "-") if "throttle" in atoms else "-",
              module="oauth2_grant", args={}, expect={}, protected=[], by_id_key=None, info_filter=None,
              targets=[])

    # "someone else's" grants: the default seed's four, plus one or two more on keys the run does not target.
    grants = {}
    for g in catalog.base_grants:
        grants[grant_key(g)] = set(scope_set(g["scope"]))
    for _extra in range(rng.randint(1, 2)):
        client = rng.choice(CLIENT_NAMES)
        resource = rng.choice(RESOURCE_NAMES)
        upn = rng.choice((None, None) + USER_UPNS)
        key = catalog.key(client, resource, upn)
        pool = catalog.scopes(resource)
        grants[key] = set(rng.sample(pool, min(len(pool), rng.randint(1, 3))))

    def target(resource_choices=RESOURCE_NAMES, principal_chance=0.35):
        client = rng.choice(CLIENT_NAMES)
        resource = rng.choice(resource_choices)
        upn = rng.choice(USER_UPNS) if rng.random() < principal_chance else None
        return client, resource, upn

    def grant_args(client, resource, upn, client_ref=None):
        args = dict(client=client_ref or catalog.sp_ref(rng, client), resource=catalog.sp_ref(rng, resource))
        if upn:
            args["principal"] = catalog.user_ref(rng, upn)
            if rng.random() < 0.5:
                args["consent_type"] = "Principal"
        elif rng.random() < 0.3:
            args["consent_type"] = "AllPrincipals"
        return args

    def some_scopes(resource, low=1, high=4, exclude=()):
        pool = [s for s in catalog.scopes(resource) if s not in exclude]
        return set(rng.sample(pool, min(len(pool), rng.randint(low, high))))

    if kind in ("create", "create_fresh_sp"):
        client, resource, upn = target()
        client_ref = None
        key = catalog.key(client, resource, upn)
        if kind == "create_fresh_sp":
            fresh_id, fresh_app = str(uuid.UUID(int=rng.getrandbits(128), version=4)), str(uuid.UUID(int=rng.getrandbits(128), version=4))
            sc["fresh_sp"] = {"id": fresh_id, "appId": fresh_app, "displayName": "Reliability fresh app %d" % index,
                              "servicePrincipalType": "Application", "accountEnabled": True}
            client_ref = rng.choice((fresh_id, fresh_app, sc["fresh_sp"]["displayName"]))
            key = catalog.key(None, resource, upn, client_id=fresh_id)
            sc["faults"]["reference_lag_seconds"] = round(rng.uniform(0.8, 2.5), 2)
            sc["faults"]["reference_lag_status"] = rng.choice((404, 400))
            sc["atoms"] = sc["atoms"] + ["reference_lag"]
        grants.pop(key, None)
        requested = some_scopes(resource)
        sc["args"] = dict(grant_args(client, resource, upn, client_ref), scopes=sorted(requested),
                          scope_mode=rng.choice(("exact", "exact", "append")))
        sc["expect"] = {key: requested}
        sc["targets"] = [key]
    elif kind.startswith("update_"):
        mode = kind[len("update_"):]
        client, resource, upn = target()
        key = catalog.key(client, resource, upn)
        pool = catalog.scopes(resource)
        before = some_scopes(resource, 2, 4)
        grants[key] = before
        if mode == "exact":
            requested = some_scopes(resource, 1, 4)
            if requested == before:
                requested = set(pool) - before or {pool[0]}
            expected = requested
        elif mode == "append":
            fresh = [s for s in pool if s not in before]
            requested = set(rng.sample(fresh, min(len(fresh), rng.randint(1, 2)))) if fresh else set()
            if before and rng.random() < 0.5:
                requested.add(rng.choice(sorted(before)))
            expected = before | requested
            sc["protected"] += [(key, s) for s in before]
        else:
            if rng.random() < 0.15:
                requested = set(before)
            else:
                requested = set(rng.sample(sorted(before), rng.randint(1, len(before) - 1)))
            if rng.random() < 0.3:
                requested.add(rng.choice([s for s in pool if s not in before] or pool))
            expected = before - requested
            sc["protected"] += [(key, s) for s in expected]
        sc["args"] = dict(grant_args(client, resource, upn), scopes=sorted(requested), scope_mode=mode)
        sc["expect"] = {key: expected or None}
        sc["targets"] = [key]
    elif kind in ("delete", "delete_absent"):
        client, resource, upn = target()
        key = catalog.key(client, resource, upn)
        if kind == "delete":
            grants[key] = some_scopes(resource, 1, 3)
            if rng.random() < 0.35:
                sc["by_id_key"] = key
        else:
            grants.pop(key, None)
        sc["args"] = dict(grant_args(client, resource, upn), state="absent")
        sc["expect"] = {key: None}
        sc["targets"] = [key]
    elif kind == "info":
        sc["module"] = "oauth2_grant_info"
        choice = rng.choice(("client", "resource", "principal", "consent", "client+resource", "all", "id"))
        client, resource, upn = rng.choice(CLIENT_NAMES), rng.choice(RESOURCE_NAMES), rng.choice(USER_UPNS)
        args, flt = {}, {}
        if "client" in choice:
            args["client"] = catalog.sp_ref(rng, client)
            flt["clientId"] = catalog.sps[client]["id"].lower()
        if "resource" in choice:
            args["resource"] = catalog.sp_ref(rng, resource)
            flt["resourceId"] = catalog.sps[resource]["id"].lower()
        if choice == "principal":
            args["principal"] = catalog.user_ref(rng, upn)
            flt["principalId"] = catalog.users[upn]["id"].lower()
        if choice == "consent":
            args["consent_type"] = rng.choice(("AllPrincipals", "Principal"))
            flt["consentType"] = args["consent_type"]
        if choice == "id":
            sc["by_id_key"] = rng.choice(sorted(grants))
            flt["key"] = sc["by_id_key"]
        if rng.random() < 0.3:
            args["resolve_names"] = True
        sc["args"] = args
        sc["info_filter"] = flt
    elif kind == "bulk":
        sc["module"] = "oauth2_grants"
        items, used = [], set()
        for _item in range(rng.randint(2, 3)):
            for _attempt in range(10):
                client, resource, upn = target(principal_chance=0.25)
                key = catalog.key(client, resource, upn)
                if key not in used:
                    break
            used.add(key)
            action = rng.choice(("create", "exact", "append", "remove", "delete"))
            pool = catalog.scopes(resource)
            item = grant_args(client, resource, upn)
            if action == "create":
                grants.pop(key, None)
                requested = some_scopes(resource)
                item.update(scopes=sorted(requested))
                sc["expect"][key] = requested
            elif action == "delete":
                grants[key] = some_scopes(resource, 1, 3)
                item.update(state="absent")
                sc["expect"][key] = None
            else:
                before = some_scopes(resource, 2, 4)
                grants[key] = before
                if action == "exact":
                    requested = some_scopes(resource, 1, 3)
                    expected = requested
                elif action == "append":
                    fresh = [s for s in pool if s not in before]
                    requested = set(rng.sample(fresh, min(len(fresh), 1))) if fresh else set(before)
                    expected = before | requested
                    sc["protected"] += [(key, s) for s in before]
                else:
                    requested = set(rng.sample(sorted(before), 1))
                    expected = before - requested
                    sc["protected"] += [(key, s) for s in expected]
                item.update(scopes=sorted(requested), scope_mode=action)
                sc["expect"][key] = expected or None
            items.append(item)
        sc["args"] = {"grants": items}
        sc["targets"] = list(sc["expect"])

    for key, scopes in grants.items():
        if key not in sc["targets"]:
            sc["protected"] += [(key, s) for s in sorted(scopes)]
    sc["grants"] = [grant_record(key, scopes) for key, scopes in sorted(grants.items()) if scopes]
    sc["args"].update(MODULE_OPTIONS)
    sc["description"] = "%s %s faults=%s%s" % (kind, sc["module"], ",".join(sc["atoms"]),
                                               " latency_clear=%ss" % latency_clear if latency_clear else "")
    return sc


# ---------------------------------------------------------------------------------------------------------------
# judging


def min_wait_after(entry, knobs):
    """The least time a well-behaved client waits before its next request after this answer (None: no rule)."""
    status, method = entry.get("status"), entry.get("method")
    fault = entry.get("fault") or ""
    if status == 429:
        value = knobs.get("retry_after", 1)
        if value == "http-date":
            return 1.0           # the date is now + 2 s at 1 s resolution: more than 1 s away
        if value in (None, 0):
            return 0.5           # no usable Retry-After: exponential backoff with equal jitter, first step >= 0.5 s
        return float(value)
    if entry["kind"] == "graph" and method == "GET" and (fault.startswith("fail_next") or fault == "drop_next"):
        # a plain read answered 5xx or dropped is retried after backoff; $batch items only retry 429s
        after = knobs.get("fail_retry_after") if fault.startswith("fail_next") else None
        return float(after) if after else 0.5
    return None


def spacing_violations(entries, knobs):
    """Retries sent sooner than Retry-After (or the backoff floor) allows, from the request log."""
    http = [e for e in entries if e["kind"] == "graph"]
    by_seq = dict((e["seq"], e) for e in entries)
    violations, gaps = [], []
    for entry in [e for e in entries if e["kind"] in ("graph", "batch_item")]:
        wait = min_wait_after(entry, knobs)
        if wait is None:
            continue
        anchor = by_seq.get(entry["batch"]) if entry["kind"] == "batch_item" else entry
        if anchor is None or anchor.get("status") is None:
            continue  # the answer never reached the client (dropped connection): there was no Retry-After to honour
        later = [e for e in http if e["seq"] > anchor["seq"]]
        if not later:
            continue
        gap = later[0]["time"] - anchor["time"]
        gaps.append((gap, wait))
        if gap < wait - 0.05:
            violations.append("%s %s answered %s, next request after %.3f s (< %.2f s)" % (
                entry["method"], entry["path"], entry["status"], gap, wait))
    return violations, gaps


def _same(grant, expected):
    if expected is None:
        return grant is None
    return grant is not None and scope_set(grant.get("scope")) == set(expected)


def judge(sc, run, before, after, entries):  # pylint: disable=too-many-locals,too-many-branches,too-many-statements
    """Classify one run. ``before``/``after``: emulator states; ``entries``: the run's request-log window."""
    out = dict(index=sc["index"], kind=sc["kind"], atoms=sc["atoms"], description=sc["description"],
               retry_after_form=sc["retry_after_form"],
               elapsed=round(run.elapsed, 2), rc=run.rc, msg=run.msg[:400])
    after_by_key = grants_by_key(after)
    before_by_key = grants_by_key(before)
    out["protected"] = len(sc["protected"])
    out["duplicates"] = sum(n - 1 for n in duplicate_keys(after).values())
    out["lost"] = ["%s:%s" % (key[0][:8], scope) for key, scope in sc["protected"]
                   if key not in after_by_key or scope not in scope_set(after_by_key[key].get("scope"))]
    # grants the run had no business touching
    out["collateral"] = [key for key in set(before_by_key) | set(after_by_key)
                         if key not in sc["targets"]
                         and scope_set((before_by_key.get(key) or {}).get("scope")) != scope_set((after_by_key.get(key) or {}).get("scope"))]
    writes = write_entries(entries)
    out["write_attempts"] = len(writes)
    out["writes_applied"] = len(applied_writes(entries))
    out["duplicate_posts"] = sum(1 for e in writes if e["method"] == "POST" and (
        e.get("status") == 409 or (e.get("status") == 400 and sc["faults"].get("duplicate_status") == 400)))
    violations, gaps = spacing_violations(entries, sc["faults"])
    out["spacing_violations"] = violations
    out["min_gap_ratio"] = min([g / w for g, w in gaps if w] or [None]) if gaps else None
    converged = all(_same(after_by_key.get(key), exp) for key, exp in sc["expect"].items())
    unchanged = all(_same(after_by_key.get(key), scope_set(before_by_key[key]["scope"]) if key in before_by_key else None)
                    for key in sc["targets"])
    text = run.text()
    out["result_mismatch"] = ""
    out["changed_wrong"] = False
    if run.timed_out:
        out["status"] = "hung"
    elif run.ok:
        if sc["module"] == "oauth2_grant_info":
            flt = sc["info_filter"]
            wanted = set()
            for g in after["grants"]:
                key = grant_key(g)
                if "key" in flt and key != flt["key"]:
                    continue
                if any(g.get(f) is None or (g[f].lower() if f != "consentType" else g[f]) != v
                       for f, v in flt.items() if f != "key"):
                    continue
                wanted.add((g["id"], " ".join(sorted(scope_set(g["scope"])))))
            got = set((g["id"], " ".join(g["scopes"])) for g in run.result.get("grants", []))
            converged = got == wanted and after["grants"] == before["grants"]
            if got != wanted:
                out["result_mismatch"] = "info returned %d grants, Graph holds %d matching" % (len(got), len(wanted))
        else:
            results = run.result.get("results") if sc["module"] == "oauth2_grants" else [run.result]
            for res in results:
                grant = res.get("grant")
                if grant:
                    key = grant_key({"clientId": grant["client_id"], "resourceId": grant["resource_id"],
                                     "consentType": grant["consent_type"], "principalId": grant["principal_id"]})
                    if not _same(after_by_key.get(key), grant["scopes"]):
                        out["result_mismatch"] = "result says %s holds %s" % (key[0][:8], grant["scopes"])
            if sc["module"] == "oauth2_grant":
                changed_in_graph = not unchanged
                out["changed_wrong"] = bool(run.result.get("changed")) != changed_in_graph
        ok = converged and not out["collateral"] and not out["result_mismatch"]
        out["status"] = "converged" if ok else "diverged"
    else:
        result = run.result or {}
        clean = (bool(result.get("failed")) and bool(run.msg) and not has_traceback(text)
                 and UNEXPECTED_MARKER not in run.msg and "exception" not in result)
        out["status"] = "failed_clean" if clean else "failed_unclean"
        out["left"] = "unchanged" if unchanged else ("converged" if converged else "other")
    return out


def seed_payload(base_state, sc):
    """A seed for POST /_emulator/seed: the default directory with this scenario's grants."""
    return {"servicePrincipals": copy.deepcopy(base_state["servicePrincipals"]), "users": copy.deepcopy(base_state["users"]),
            "grants": copy.deepcopy(sc["grants"])}
