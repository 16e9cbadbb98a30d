# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""The write engine for grants: carry out a plan (``_grants.plan_change``) against Graph and converge whatever Graph
answers, one grant at a time. ``GrantService`` (one grant) and ``BulkGrantService`` (a batched list, for the items
whose batched write failed) both use it. Every write returns a ``_grants.GrantOutcome``; shaping it into a module
result is the caller's (``_grants.change_result``).

Why the write paths look the way they do (docs/dev/graph-behaviour.md: duplicate error, create naming new objects,
404 to a write):
- a create can collide with a grant somebody else (or our own earlier, ambiguous attempt) just made: the duplicate
  error is answered by reading the grant back and converging it, never by failing;
- a create referencing service principals or users created moments ago can fail with 404/400 "does not exist"
  until replication catches up: retried with a bounded backoff;
- a write whose outcome is unknown (timeout, dropped connection, 5xx) is never replayed blindly: we re-read and
  decide again, so a key never gets two grants.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import random
import time

from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._grant_errors import (
    is_duplicate_grant_error,
    is_not_replicated_error,
    with_hint,
)
from ansible_collections.msgraph.grants.plugins.module_utils._grants import (
    ACTION_CREATED,
    ACTION_DELETED,
    ACTION_UNCHANGED,
    ACTION_UPDATED,
    GrantOutcome,
    grant_after_write,
    grant_view,
    plan_change,
    record_applied,
    scope_string,
)
from ansible_collections.msgraph.grants.plugins.module_utils._grant_reader import GRANTS_PATH

# Beta insists on these on create although the service ignores them (docs/dev/graph-behaviour.md); v1.0 must not get
# them.
BETA_START_TIME = '2000-01-01T00:00:00Z'
BETA_EXPIRY_TIME = '2299-12-31T00:00:00Z'


def grant_path(grant_id):
    return '{0}/{1}'.format(GRANTS_PATH, grant_id)


def _not_applied(err):
    """The write was not applied and may be planned again: throttled (429, within the budget), or a ``$batch`` item
    answered 424 Failed Dependency (it did not run)."""
    return err.status == 424 or (err.status == 429 and not err.retries_exhausted)


class _Attempts(object):
    """Sends a write; when its first attempt was made elsewhere (a ``$batch`` item), that attempt's failure is raised
    in its place, so the caller's recovery logic sees it exactly as if it had sent the request itself."""

    def __init__(self, prior_error=None):
        self.prior_error = prior_error

    def send(self, request, *args, **kwargs):
        if self.prior_error is not None:
            failed, self.prior_error = self.prior_error, None
            raise failed
        return request(*args, **kwargs)


class ReconcileSettings(object):
    """Bounds of the waits around eventual consistency (seconds)."""

    def __init__(self, replication_wait=60.0, first_delay=1.0, max_delay=16.0, merge_rounds=3, settle=(0.3, 0.8)):
        self.replication_wait = replication_wait
        self.first_delay = first_delay
        self.max_delay = max_delay
        # append/remove: how many times a scope lost to a concurrent writer is re-applied, and how long to let such a
        # writer's PATCH land before looking (a random pick in the range, so two racing runs do not stay in step).
        self.merge_rounds = merge_rounds
        self.settle = settle

    def settle_delay(self):
        return random.uniform(*self.settle)

    def delays(self):
        """Successive sleeps whose sum stays within ``replication_wait``."""
        spent, delay = 0.0, self.first_delay
        while spent + delay <= self.replication_wait:
            yield delay
            spent += delay
            delay = min(delay * 2, self.max_delay)


class GrantWriter(object):
    """Writes grants and converges what Graph answers. ``reader`` reads a grant by key (``GrantReader``).

    Public API: ``apply`` (dispatch a plan), ``create``, ``update``, ``delete`` (each may start from the failure of
    an attempt made elsewhere: ``prior_error``), ``create_body``; ``reconcile`` and ``sleep`` for callers that run
    their own (batched) guard.
    """

    def __init__(self, client, reader, api_version='v1.0', reconcile=None, sleep=time.sleep):
        self.client = client
        self.reader = reader
        self.api_version = api_version
        self.reconcile = reconcile or ReconcileSettings()
        self.sleep = sleep

    def apply(self, key, current, plan, requested, scope_mode, state='present', prior_error=None):
        """Carry out ``plan`` for the grant ``key`` (``current``: its view as read, None when absent)."""
        if plan.action == ACTION_CREATED:
            return self.create(key, plan, requested, scope_mode, prior_error=prior_error)
        if plan.action == ACTION_UPDATED:
            return self.update(key, current, plan, requested, scope_mode, prior_error=prior_error)
        replan = (requested, scope_mode) if state == 'present' else None
        return self.delete(key, current, plan, prior_error=prior_error, replan=replan)

    def create_body(self, key, scopes):
        body = {
            'clientId': key.client_id,
            'consentType': key.consent_type,
            'resourceId': key.resource_id,
            'scope': scope_string(scopes),
        }
        if key.principal_id:
            body['principalId'] = key.principal_id
        if self.api_version == 'beta':
            body['startTime'] = BETA_START_TIME
            body['expiryTime'] = BETA_EXPIRY_TIME
        return body

    def create(self, key, plan, requested, scope_mode, prior_error=None):
        """POST the grant; ``prior_error`` is the failure of an attempt made elsewhere (a ``$batch`` item)."""
        if plan.action != ACTION_CREATED:
            # Nothing to grant (remove mode, and the grant vanished meanwhile): an empty grant is never created.
            return GrantOutcome(ACTION_UNCHANGED, None, None, plan)
        body = self.create_body(key, plan.scopes_after)
        delays = self.reconcile.delays()
        waited = 0.0
        ambiguous_retried = False
        # Set once an attempt may have been applied although it failed (unknown outcome, or a 404 answered to a create
        # that Graph applied anyway, docs/dev/graph-behaviour.md): a later duplicate error is then most likely ours.
        maybe_applied = False
        attempts = _Attempts(prior_error)
        while True:
            try:
                created = attempts.send(self.client.post, GRANTS_PATH, body)
            except GraphError as err:
                if is_duplicate_grant_error(err):
                    return self._adopt(key, requested, scope_mode, err, created_by_us=maybe_applied)
                if err.status == 429 and not err.retries_exhausted:
                    # Only from a $batch item: the body does not depend on a read, so it is sent again after the wait.
                    self.client.wait_before_retry(err)
                    continue
                if err.ambiguous:
                    maybe_applied = True
                    found = self.wait_for_grant(key, attempts=3)
                    if found is not None:
                        return self._converge_existing(key, found, requested, scope_mode, created_by_us=True)
                    if ambiguous_retried:
                        raise
                    ambiguous_retried = True
                    continue
                if is_not_replicated_error(err):
                    maybe_applied = maybe_applied or err.status == 404
                    delay = next(delays, None)
                    if delay is None or not self._pause(delay):
                        raise with_hint(
                            err, 'Graph still reports a referenced object as missing after {0:.0f} s of waiting for '
                            'replication (bounded by {1:.0f} s and the retry_budget); if the service principals or '
                            'user were just created, retry later.'.format(waited, self.reconcile.replication_wait))
                    waited += delay
                    continue
                raise
            return GrantOutcome(ACTION_CREATED, None, grant_view(created) if created else grant_after_write(None, key, plan), plan)

    def _adopt(self, key, requested, scope_mode, duplicate_error, created_by_us=False):
        """A grant with our key exists although we did not see it: read it back (it may lag) and converge it."""
        found = self.wait_for_grant(key)
        if found is None:
            raise with_hint(
                duplicate_error, 'Graph says a grant for {0} already exists, but it did not become readable in the '
                'time allowed (at most {1:.0f} s, within the retry_budget). Run again later.'.format(
                    key.describe(), self.reconcile.replication_wait))
        return self._converge_existing(key, found, requested, scope_mode, created_by_us=created_by_us)

    def wait_for_grant(self, key, attempts=None):
        """The grant with ``key``, read again with the replication backoff until it shows (or None)."""
        delays = self.reconcile.delays()
        tries = 0
        while True:
            found = self.reader.read_grant_by_key(key)
            tries += 1
            if found is not None or (attempts is not None and tries >= attempts):
                return found
            delay = next(delays, None)
            if delay is None or not self._pause(delay):
                return None

    def _after_write_404(self, key, grant_id, delays, err):
        """A PATCH or DELETE of a grant this run read or created was answered 404. Graph may not yet have replicated
        the grant where the write landed (the Terraform provider's client retries this as replication lag): re-read
        it by key; when the same grant is still listed, wait (within the retry budget) before the caller writes
        again. Returns the grant now listed for the key, or None when there is none."""
        found = self.reader.read_grant_by_key(key)
        if found is None or found.get('id') != grant_id:
            return found
        delay = next(delays, None)
        if delay is None or not self._pause(delay):
            raise with_hint(err, 'Graph still lists grant {0} for {1} but answers 404 to writing it, after waiting for '
                                 'replication within the retry_budget; run again later.'.format(grant_id, key.describe()))
        return found

    def _pause(self, delay):
        """Wait for replication to catch up. The wait counts against the run's retry budget (so that retry_budget
        bounds all the waiting of a run); False, without waiting, when the budget does not allow it."""
        if not self.client.reserve_wait(delay):
            return False
        self.sleep(delay)
        return True

    def _converge_existing(self, key, found_raw, requested, scope_mode, created_by_us=False, attempts_left=2):
        found = grant_view(found_raw)
        plan = plan_change(found, requested, scope_mode, 'present')
        if created_by_us and plan.action == ACTION_UNCHANGED:
            # Our own create did land although we were not told so: report it as the creation it was.
            return GrantOutcome(ACTION_CREATED, None, found, plan_change(None, requested, scope_mode, 'present'))
        if plan.action == ACTION_UNCHANGED:
            return GrantOutcome(ACTION_UNCHANGED, found, found, plan)
        if plan.action == ACTION_UPDATED:
            return self.update(key, found, plan, requested, scope_mode, attempts_left=attempts_left)
        return self.delete(key, found, plan, replan=(requested, scope_mode), attempts_left=attempts_left)

    def _create_instead(self, key, requested, scope_mode):
        return self.create(key, plan_change(None, requested, scope_mode, 'present'), requested, scope_mode)

    def update(self, key, current, plan, requested, scope_mode, attempts_left=2, prior_error=None):
        """PATCH the scope of ``current``."""
        # exact sends the whole wanted set, which does not depend on what we read: the client may re-send it after a
        # 429. append/remove computed it from what we read: after a 429 (or a $batch item's 424: it did not run), read
        # again and plan again (another writer may have changed the grant meanwhile), never re-send the old body.
        read_modify_write = scope_mode != 'exact'
        attempts = _Attempts(prior_error)
        lag = self.reconcile.delays()
        while True:
            try:
                attempts.send(self.client.patch, grant_path(current['id']), {'scope': scope_string(plan.scopes_after)},
                              retry_throttled=not read_modify_write)
            except GraphError as err:
                if _not_applied(err):
                    found = self._read_after_throttle(key, err)
                    if found is None:
                        return self._create_instead(key, requested, scope_mode)
                    current = grant_view(found)
                    plan = plan_change(current, requested, scope_mode, 'present')
                    if plan.action == ACTION_UPDATED:
                        continue
                    return self._converge_existing(key, found, requested, scope_mode, attempts_left=attempts_left)
                if err.status == 404:
                    found = self._after_write_404(key, current['id'], lag, err)
                    if found is not None:
                        # Still there (replication lag, or re-created by someone else): plan again from it and write.
                        current = grant_view(found)
                        plan = plan_change(current, requested, scope_mode, 'present')
                        if plan.action == ACTION_UPDATED:
                            continue
                        return self._converge_existing(key, found, requested, scope_mode, attempts_left=attempts_left)
                if err.status == 404 or err.ambiguous:
                    # Gone meanwhile, or unknown outcome: look again and decide from what is there now.
                    found = self.wait_for_grant(key, attempts=2)
                    if found is None:
                        return self._create_instead(key, requested, scope_mode)
                    if set(grant_view(found)['scopes']) == set(plan.scopes_after):
                        after = grant_view(found)
                        if read_modify_write:
                            after = self._guard_after_write(key, plan, requested, scope_mode, after)
                        return GrantOutcome(ACTION_UPDATED, current, after, plan)
                    if attempts_left > 0:
                        return self._converge_existing(key, found, requested, scope_mode, attempts_left=attempts_left - 1)
                raise
            break
        after = grant_after_write(current, key, plan)
        if read_modify_write:
            after = self._guard_after_write(key, plan, requested, scope_mode, after)
        return GrantOutcome(ACTION_UPDATED, current, after, plan)

    def _guard_after_write(self, key, plan, requested, scope_mode, after):
        """Run the guard after our append/remove PATCH landed; if the guard fails, the failure still says that the
        grant was updated."""
        if self.reconcile.merge_rounds <= 0:
            return after
        try:
            return self._guard_merge(key, requested, scope_mode, after)
        except Exception as err:
            raise record_applied(err, ['{0}: {1}'.format(ACTION_UPDATED, key.describe())])

    def _read_after_throttle(self, key, err):
        """A read-modify-write answered 429: wait what Graph asked (charged to the run's retry budget, which raises
        when exhausted), then read the grant again for a new plan. A 424 (a $batch item that did not run because
        another failed) asks for no wait: read again at once."""
        if err.status == 429:
            self.client.wait_before_retry(err)
        return self.reader.read_grant_by_key(key)

    def _guard_merge(self, key, requested, scope_mode, after):
        """Graph has no ETag on grants: two runs appending to one grant at once can overwrite each other's PATCH.

        After our PATCH, wait a moment for a concurrent writer's PATCH to land, read the grant again and re-apply
        what we asked for if it was lost, a bounded number of times. The window left (a writer landing after our last
        read) is documented in docs/reliability.md.
        """
        rounds = 0
        while rounds < self.reconcile.merge_rounds:
            rounds += 1
            self.sleep(self.reconcile.settle_delay())
            raw = self.reader.read_grant_by_key(key)
            if raw is None:
                return after  # deleted meanwhile by someone else: nothing of ours to protect
            seen = grant_view(raw)
            again = plan_change(seen, requested, scope_mode, 'present')
            if again.action != ACTION_UPDATED:
                return seen
            try:
                self.client.patch(grant_path(seen['id']), {'scope': scope_string(again.scopes_after)}, retry_throttled=False)
            except GraphError as err:
                if err.status != 429 or err.retries_exhausted:
                    raise
                self.client.wait_before_retry(err)
                rounds -= 1  # the repair was not applied: read and plan it again, without using up a round
                continue
            after = grant_after_write(seen, key, again)
        return after

    def delete(self, key, current, plan, prior_error=None, replan=None, attempts_left=2):
        """DELETE the grant. ``replan`` = (requested, scope_mode) when the delete comes from a ``present`` plan (remove
        mode took the last scope): it was computed from what we read, so after a 429 (or a $batch item's 424) or an
        unknown outcome the grant is read again and planned anew instead of deleted blindly (another writer may have
        added a scope)."""
        path = grant_path(current['id'])
        attempts = _Attempts(prior_error)
        lag = self.reconcile.delays()
        while True:
            try:
                attempts.send(self.client.delete, path, retry_throttled=replan is None)
            except GraphError as err:
                if err.status == 404:
                    # Gone, or not replicated to where the DELETE landed: the read by key decides.
                    found = self._after_write_404(key, path.rsplit('/', 1)[-1], lag, err)
                    if found is None:
                        break  # gone: absence was the goal
                    if replan is not None and plan_change(grant_view(found), replan[0], replan[1], 'present').action != ACTION_DELETED:
                        return self._converge_existing(key, found, replan[0], replan[1], attempts_left=attempts_left)
                    path = grant_path(found['id'])
                    continue
                not_applied = _not_applied(err)
                if not (not_applied or err.ambiguous) or attempts_left <= 0:
                    raise
                if err.status == 429 and not_applied:
                    self.client.wait_before_retry(err)
                elif not not_applied:
                    attempts_left -= 1
                found = self.reader.read_grant_by_key(key)
                if found is None:
                    break  # deleted (by us or by someone else)
                if replan is not None:
                    return self._converge_existing(key, found, replan[0], replan[1], attempts_left=attempts_left)
                # state absent: delete what is there now (a read that lags may still show a grant we deleted: 404)
                path = grant_path(found['id'])
                continue
            break
        return GrantOutcome(ACTION_DELETED, current, None, plan)
