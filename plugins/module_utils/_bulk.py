# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Converging a whole list of grants in one module run (``oauth2_grants``, used by the role).

PRIVATE to this collection. Same rules as ``oauth2_grant`` (it uses the same planning and resolution code), but
the reads are planned for the whole list (``_read_plan``, ``_bulk_reads``: a resource's grants listed 999 a page, or
read per client 20 per ``$batch``) and the writes are batched. A write that fails inside a
batch (duplicate, replication lag, ambiguous 5xx) is handed to the write engine (``_grant_writer.GrantWriter``, the
one ``oauth2_grant`` uses), which converges that one grant with the careful, sequential logic; so the fast path never
weakens the guarantees of the slow one.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.msgraph.grants.plugins.module_utils._grants import (
    ACTION_CREATED,
    ACTION_DELETED,
    ACTION_UNCHANGED,
    ACTION_UPDATED,
    CONSENT_ALL_PRINCIPALS,
    CONSENT_PRINCIPAL,
    GrantInputError,
    GrantKey,
    GrantOutcome,
    change_result,
    check_requested_scopes,
    check_scope_length,
    grant_after_write,
    grant_view,
    normalize_scopes,
    plan_change,
    record_applied,
    scope_string,
    select_grant,
)
from ansible_collections.msgraph.grants.plugins.module_utils._bulk_reads import BulkReader
from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import GraphResponse, error_from_response
from ansible_collections.msgraph.grants.plugins.module_utils._grant_errors import permission_hints
from ansible_collections.msgraph.grants.plugins.module_utils._grant_service import GrantService
from ansible_collections.msgraph.grants.plugins.module_utils._grant_writer import GRANTS_PATH, grant_path
from ansible_collections.msgraph.grants.plugins.module_utils._labels import NAME_KEYS, grant_label, names_of, view_label

ACTIONS = (ACTION_CREATED, ACTION_UPDATED, ACTION_DELETED, ACTION_UNCHANGED)


def item_label(item, names=None):
    """The item as the user wrote it; ``names`` (once resolved) go beside ids and appIds."""
    return grant_label(item['client'], item['resource'], item.get('principal'), names)


def _read_modify_write(entry):
    """True when the write was computed from the grant we read (an append/remove PATCH, or the DELETE of a remove that
    takes the last scope), so it must not be re-sent blindly after a 429. A create does not depend on a read."""
    item = entry['item']
    return (entry['plan'].action in (ACTION_UPDATED, ACTION_DELETED) and item.get('state', 'present') == 'present'
            and item.get('scope_mode', 'exact') != 'exact')


def _about(err, entry):
    """The error names the item Graph refused, as the user wrote it (``grants[1] (A -> B for u)``)."""
    if not err.item:
        err.item = entry['label'] if entry['index'] is None else 'grants[{0}] ({1})'.format(entry['index'], entry['label'])
    return err


class BulkGrantService(object):
    def __init__(self, client, api_version='v1.0', check_mode=False, sleep=None, warn=None):
        kwargs = {'sleep': sleep} if sleep else {}
        # The single-grant service's pieces: the same resolution, reads and write engine (and its sleep default).
        single = GrantService(client, api_version=api_version, check_mode=check_mode, warn=warn, **kwargs)
        self.client = client
        self.resolver = single.resolver
        self.reader = single.reader
        self.writer = single.writer
        self.check_mode = check_mode

    # --------------------------------------------------------------------------------------------- validation
    @staticmethod
    def _check_items(items):
        problems = []
        for index, item in enumerate(items):
            label = 'grants[{0}] ({1})'.format(index, item_label(item))
            if item.get('consent_type') == CONSENT_ALL_PRINCIPALS and item.get('principal'):
                problems.append('{0}: consent_type AllPrincipals cannot name a principal'.format(label))
            if item.get('consent_type') == CONSENT_PRINCIPAL and not item.get('principal'):
                problems.append('{0}: consent_type Principal needs a principal'.format(label))
            if item.get('state', 'present') == 'present' and item.get('scopes') is None:
                problems.append('{0}: scopes is required with state present'.format(label))
        if problems:
            raise GrantInputError('Invalid grants: ' + '; '.join(problems) + '.')

    # ------------------------------------------------------------------------------------------------- ensure
    def ensure_all(self, items, exclusive=False, include_user_consents=False, brief=False, diff=False):
        """Converge every grant of ``items`` (``oauth2_grants``' list); returns the module result: with ``diff`` the
        ``diff`` list of what changed, with ``brief`` each entry of ``results`` holds only ``changed``, ``action`` and
        ``label`` (the module's ``result_detail``)."""
        with permission_hints():
            return self._ensure_all(items, exclusive, include_user_consents, brief, diff)

    def _ensure_all(self, items, exclusive, include_user_consents, brief=False, diff=False):
        self._check_items(items)
        # Every name resolved and every grant the list needs read, as few requests as the plan allows (_read_plan).
        sps, users, grants_by_client = BulkReader(self.client, self.resolver).read(items, exclusive, include_user_consents)

        # Plan every item locally; nothing is written before every item has been checked.
        entries = []
        seen_keys = {}
        for index, item in enumerate(items):
            client_sp = sps[('client', item['client'])]
            resource_sp = sps[('resource', item['resource'])]
            user = users.get(item['principal']) if item.get('principal') else None
            key = GrantKey(client_sp.id, resource_sp.id, user.id if user else None)
            norm = (key.client_id.lower(), key.resource_id.lower(), (key.principal_id or '').lower())
            if norm in seen_keys:
                raise GrantInputError('grants[{0}] and grants[{1}] declare the same grant ({2}); declare each grant once.'.format(
                    seen_keys[norm], index, key.describe()))
            seen_keys[norm] = index
            state = item.get('state', 'present')
            mode = item.get('scope_mode', 'exact')
            requested = item.get('scopes') or []
            current = grant_view(select_grant(grants_by_client.get(key.client_id.lower(), []), key))
            plan = plan_change(current, requested, mode, state)
            try:
                if item.get('validate_scopes', True) and state == 'present' and mode != 'remove':
                    check_requested_scopes(requested, resource_sp.published_scopes, resource_sp.label())
                if plan.action in (ACTION_CREATED, ACTION_UPDATED):
                    check_scope_length(plan.scopes_after)
            except GrantInputError as err:
                raise GrantInputError('grants[{0}] ({1}): {2}'.format(index, item_label(item), err))
            names = names_of(client_sp, resource_sp, user)
            entries.append({'index': index, 'item': item, 'key': key, 'current': current, 'plan': plan,
                            'label': item_label(item, names), 'names': names})

        removals = []
        if exclusive:
            declared = set(seen_keys)
            for client_id in sorted(set(e['key'].client_id.lower() for e in entries)):
                for raw in grants_by_client.get(client_id, []):
                    if (raw.get('clientId') or '').lower() != client_id:
                        continue  # listed for this client by mistake (a navigation filter or listing gone wrong)
                    norm = ((raw.get('clientId') or '').lower(), (raw.get('resourceId') or '').lower(),
                            (raw.get('principalId') or '').lower() if raw.get('consentType') == CONSENT_PRINCIPAL else '')
                    if norm in declared:
                        continue
                    if raw.get('consentType') == CONSENT_PRINCIPAL and not include_user_consents:
                        continue
                    if not normalize_scopes(raw.get('scope')):
                        continue  # grants nothing and no item can declare it: never "undeclared" (export round trip)
                    view = grant_view(raw)
                    key = GrantKey(view['client_id'], view['resource_id'],
                                   view['principal_id'] if view['consent_type'] == CONSENT_PRINCIPAL else None)
                    removals.append({'index': None, 'item': {'state': 'absent'}, 'key': key, 'current': view,
                                     'plan': plan_change(view, [], 'exact', 'absent')})
            self._name_removals(removals, sps, users)

        all_entries = entries + removals
        if not self.check_mode:
            try:
                self._write(all_entries)
            except Exception as err:
                # The run fails, but some writes landed: say which, so that the failure is not mistaken for "nothing
                # happened" (the next run converges the rest).
                done = [self._entry_result(e) for e in all_entries if e.get('applied')]
                raise record_applied(err, [change_line(r) for r in done if r['changed']])
        return self._result(entries, removals, brief, diff)

    def _name_removals(self, removals, sps, users):
        """Names of the undeclared grants' clients, resources and users: those the run resolved already, the others
        read in one batched round trip (a reviewer must not approve a deletion shown as ids only)."""
        if not removals:
            return
        known = dict((sp.id.lower(), ('sp', sp.display_name)) for sp in sps.values())
        known.update((user.id.lower(), ('user', user.user_principal_name)) for user in users.values())
        views = [dict(e['current']) for e in removals]
        self.reader.attach_names(views, known)
        for entry, view in zip(removals, views):
            entry['names'] = dict((k, view[k]) for k in NAME_KEYS)
            entry['label'] = 'undeclared grant ' + view_label(view)

    # ------------------------------------------------------------------------------------------------- writes
    def _write(self, entries):
        writes = [e for e in entries if e['plan'].action != ACTION_UNCHANGED]
        requests = []
        for entry in writes:
            plan, key, current = entry['plan'], entry['key'], entry['current']
            if plan.action == ACTION_CREATED:
                request = {'method': 'POST', 'url': GRANTS_PATH, 'body': self.writer.create_body(key, plan.scopes_after),
                           'headers': {'Content-Type': 'application/json'}}
            elif plan.action == ACTION_UPDATED:
                request = {'method': 'PATCH', 'url': grant_path(current['id']),
                           'body': {'scope': scope_string(plan.scopes_after)}, 'headers': {'Content-Type': 'application/json'}}
            else:
                request = {'method': 'DELETE', 'url': grant_path(current['id'])}
            # A body computed from what we read is not re-sent after a 429: the single path reads and plans again.
            request['retry_throttled'] = not _read_modify_write(entry)
            requests.append(request)
        if not requests:
            return
        try:
            responses = self.client.batch(requests)
            batch_error = None
        except GraphError as err:
            if err.partial_results is None:
                raise
            # Part of the writes has no answer: lost (may or may not have been applied; each is read back on the
            # single path) or refused/not sent (the single path meets the same error and fails, after the writes
            # that did land are marked).
            responses, batch_error = err.partial_results, err
        failures = []
        for entry, request, response in zip(writes, requests, responses):
            if response is not None and response.status < 300:
                # Done. (A 404, even on a delete, is decided on the single path: gone, or not replicated yet.)
                if entry['plan'].action == ACTION_CREATED and response.status < 300 and response.json:
                    entry['after'] = grant_view(response.json)
                entry['applied'] = True
            else:
                failures.append((entry, request, response))
        for entry, request, response in failures:
            try:
                if response is None:
                    error = batch_error
                elif response.status in (400, 404, 409, 424, 429) or response.status >= 500:
                    error = error_from_response(response, request['method'], request['url'])
                else:
                    raise error_from_response(response, request['method'], request['url'])
                # Converge this one grant with the careful sequential logic (adopt, wait for replication, re-read).
                entry['outcome'] = self._converge_one(entry, error)
            except GraphError as err:
                raise _about(err, entry)
            entry['applied'] = True
        self._guard_merges([e for e in writes if 'outcome' not in e and e['plan'].action == ACTION_UPDATED
                            and e['item'].get('scope_mode', 'exact') != 'exact'])

    def _guard_merges(self, guarded):
        """The re-read-after-write guard of ``GrantWriter._guard_merge`` for every append/remove PATCH of the batch
        at once: one settle delay, one batched read per round, the lost scopes re-applied in one batched write."""
        reconcile = self.writer.reconcile
        rounds = 0
        while guarded and rounds < reconcile.merge_rounds:
            rounds += 1
            self.writer.sleep(reconcile.settle_delay())
            reads = self.client.batch([{'method': 'GET', 'url': grant_path(e['current']['id'])} for e in guarded])
            repairs = []
            for entry, response in zip(guarded, reads):
                if response.status == 404:
                    continue  # deleted meanwhile by someone else: nothing of ours to protect
                if response.status >= 300:
                    raise _about(error_from_response(response), entry)
                seen = grant_view(response.json)
                entry['after'] = seen
                again = plan_change(seen, entry['item'].get('scopes') or [], entry['item'].get('scope_mode', 'exact'), 'present')
                if again.action == ACTION_UPDATED:
                    repairs.append((entry, seen, again))
            if not repairs:
                return
            requests = [{'method': 'PATCH', 'url': grant_path(seen['id']), 'retry_throttled': False,
                         'body': {'scope': scope_string(again.scopes_after)}, 'headers': {'Content-Type': 'application/json'}}
                        for entry, seen, again in repairs]
            try:
                responses = self.client.batch(requests)
            except GraphError as err:
                if err.partial_results is None:
                    raise
                responses = [r if r is not None else err for r in err.partial_results]
            guarded = []
            for (entry, seen, again), request, response in zip(repairs, requests, responses):
                if isinstance(response, GraphResponse) and response.ok:
                    entry['after'] = grant_after_write(seen, entry['key'], again)
                    guarded.append(entry)
                    continue
                error = response if isinstance(response, GraphError) else error_from_response(
                    response, request['method'], request['url'])
                if error.status == 404:
                    continue
                # Throttled or unknown outcome: finish this grant on the single path (it reads and plans again).
                item = entry['item']
                try:
                    outcome = self.writer.update(entry['key'], seen, again, item.get('scopes') or [],
                                                 item.get('scope_mode', 'exact'), prior_error=error)
                except GraphError as err:
                    raise _about(err, entry)
                entry['after'] = outcome.after  # None: remove mode ended with no scope left, the grant is gone

    def _converge_one(self, entry, error):
        """Finish one grant whose batched write failed, with the single-grant logic, starting from that failure."""
        item = entry['item']
        return self.writer.apply(entry['key'], entry['current'], entry['plan'], item.get('scopes') or [],
                                 item.get('scope_mode', 'exact'), item.get('state', 'present'), prior_error=error)

    # ------------------------------------------------------------------------------------------------- result
    @staticmethod
    def _entry_result(entry):
        outcome = entry.get('outcome')
        if outcome is None:  # written in the batch (or nothing to write): the plan says what happened
            plan = entry['plan']
            after = entry['after'] if 'after' in entry else grant_after_write(entry['current'], entry['key'], plan)
            outcome = GrantOutcome(plan.action, entry['current'], after, plan)
        # Ansible prints the label above each side of the diff: which of the many grants this one is.
        result = change_result(outcome, entry['label'])
        result['label'] = entry['label']
        result.update(entry.get('names') or {})
        if result['action'] == ACTION_DELETED and entry['current'] and 'deleted_grant' not in result:
            result['deleted_grant'] = entry['current']  # what a reviewer needs to undo the deletion
        return result

    @staticmethod
    def _brief_result(entry):
        """``result_detail: brief``: what the run did to the item, by its label (no grant, diff or names to build,
        scrub, encode and register: at a thousand grants those dominate the run)."""
        action = entry['outcome'].action if entry.get('outcome') is not None else entry['plan'].action
        return {'changed': action != ACTION_UNCHANGED, 'action': action, 'label': entry['label']}

    def _result(self, entries, removals, brief=False, diff=False):
        results = [(self._brief_result if brief else self._entry_result)(e) for e in entries]
        removed = [self._entry_result(e) for e in removals]  # always in full: a deletion must be reviewable
        # The changed items in full (few, even when ``brief``): their diffs and the scopes each change moves.
        changed = [self._entry_result(e) if brief else r for e, r in zip(entries, results) if r['changed']]
        changed += [r for r in removed if r['changed']]
        diffs = [r['diff'] for r in changed] if diff else []
        summary = dict((action, []) for action in ACTIONS)
        counts = dict((action, 0) for action in ACTIONS)
        for result in results + removed:
            counts[result['action']] += 1
            if not (brief and result['action'] == ACTION_UNCHANGED):
                summary[result['action']].append(result['label'])
        result = {
            'changed': any(r['changed'] for r in results + removed),
            'results': results,
            'removed': removed,
            'summary': summary,
            'counts': counts,
            'changes': [change_line(r) for r in changed],
        }
        if diffs:
            result['diff'] = diffs
        return result


def change_line(result):
    """One line of ``changes``: the action and the grant's label, and for an update the scopes it moves (what a
    reviewer of a drift alarm or a plan needs, without reading the diff)."""
    line = '{0}: {1}'.format(result['action'], result['label'])
    moved = ['+' + s for s in result.get('scopes_added') or []] + ['-' + s for s in result.get('scopes_removed') or []]
    if result['action'] == ACTION_UPDATED and moved:
        line += ', scopes ' + ' '.join(moved)
    return line
