# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Reading and converging delegated permission grants: the I/O around the pure rules in ``_grants``.

PRIVATE to this collection. ``oauth2_grant`` and ``oauth2_grant_info`` are thin wrappers around this class.

Why the write paths look the way they do (graph-semantics §4.3, §6):
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

from ansible_collections.msgraph.grants.plugins.module_utils._grants import (
    ACTION_CREATED,
    ACTION_DELETED,
    ACTION_UNCHANGED,
    ACTION_UPDATED,
    CONSENT_ALL_PRINCIPALS,
    CONSENT_PRINCIPAL,
    GrantInputError,
    GrantKey,
    check_requested_scopes,
    check_scope_length,
    diff_view,
    grant_after_write,
    grant_view,
    is_guid,
    looks_like_grant_id,
    plan_change,
    record_applied,
    scope_string,
    select_grant,
)
from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import (
    is_duplicate_grant_error,
    is_not_replicated_error,
)
from ansible_collections.msgraph.grants.plugins.module_utils._labels import grant_label, names_of
from ansible_collections.msgraph.grants.plugins.module_utils._resolve import (
    ADVANCED_HEADERS,
    COUNT_PARAM,
    PAGE_SIZE,
    Resolver,
)

GRANTS_PATH = '/oauth2PermissionGrants'
# Beta insists on these on create although the service ignores them (graph-semantics §2.1); v1.0 must not get them.
BETA_START_TIME = '2000-01-01T00:00:00Z'
BETA_EXPIRY_TIME = '2299-12-31T00:00:00Z'


def _with_hint(err, hint):
    """The same error, with what the user can do about it appended to its message."""
    err.hint = ' '.join(part for part in (err.hint, hint) if part)
    return err


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


class GrantService(object):
    def __init__(self, client, api_version='v1.0', check_mode=False, reconcile=None, sleep=time.sleep, warn=None):
        self.client = client
        self.api_version = api_version
        self.check_mode = check_mode
        self.reconcile = reconcile or ReconcileSettings()
        self.sleep = sleep
        self.resolver = Resolver(client, api_version, warn=warn)

    # ---------------------------------------------------------------------------------------------------- reads
    def list_grants(self, odata_filter=None):
        params = [('$top', PAGE_SIZE)]
        if odata_filter:
            params.insert(0, ('$filter', odata_filter))
        # Not narrowed by a client: sent as an advanced query and counted (docs/dev/graph-behaviour.md).
        advanced = 'clientId' not in (odata_filter or '')
        try:
            if not advanced:
                return self.client.get_all(GRANTS_PATH, params=params)
            body = self.client.get(GRANTS_PATH, params=params + [COUNT_PARAM], headers=ADVANCED_HEADERS)
            items = self.resolver.rest_of(body, ADVANCED_HEADERS)
            self.resolver.note_count(body.get('@odata.count'), len(items), 'grants')
            return items
        except GraphError as err:
            # Graph used to answer 404 to a clientId filter naming a client without grants (graph-semantics §3.2).
            if err.status == 404 and odata_filter and 'clientId' in odata_filter:
                return []
            raise

    def read_grant_by_key(self, key):
        return select_grant(self.list_grants(key.odata_filter()), key)

    def get_grant_by_id(self, grant_id):
        if not looks_like_grant_id(grant_id):
            hint = ' A GUID is an object id (of a service principal or user), not a grant id.' if is_guid(grant_id) else ''
            raise GrantInputError(
                "'{0}' is not a grant id: grant ids are opaque base64url strings of 43 or 64 characters as returned "
                "by oauth2_grant_info.{1}".format(grant_id, hint))
        try:
            return self.client.get('{0}/{1}'.format(GRANTS_PATH, grant_id))
        except GraphError as err:
            if err.status == 404:
                return None
            raise

    # ------------------------------------------------------------------------------------------------- ensure
    def ensure(self, params):
        """Converge one grant; returns the module result (without ``changed``'s diff if not asked)."""
        state = params['state']
        scope_mode = params.get('scope_mode') or 'exact'
        requested = params.get('scopes') or []
        validate = params.get('validate_scopes', True)
        if state == 'present' and scope_mode == 'exact':
            check_scope_length(requested)  # the final set is known already: refuse before any request
        if params.get('id'):
            key, current_raw, resource = self._target_by_id(params['id'], state, validate)
            if key is None:
                return self._result(ACTION_UNCHANGED, None, None, plan_change(None, [], scope_mode, 'absent'), params)
        else:
            key, current_raw, resource = self._target_by_key(params, state, validate)

        current = grant_view(current_raw)
        plan = plan_change(current, requested, scope_mode, state)
        if validate and state == 'present' and scope_mode != 'remove' and resource is not None:
            check_requested_scopes(requested, resource.published_scopes, resource.label())
        if plan.action in (ACTION_CREATED, ACTION_UPDATED):
            check_scope_length(plan.scopes_after)

        if self.check_mode or plan.action == ACTION_UNCHANGED:
            return self._result(plan.action, current, grant_after_write(current, key, plan), plan, params)
        return self._apply(key, current, plan, requested, scope_mode, params)

    def _target_by_id(self, grant_id, state, validate):
        raw = self.get_grant_by_id(grant_id)
        if raw is None:
            if state == 'present':
                raise GrantInputError(
                    "No grant with id '{0}' exists, and a grant cannot be created from an id. Give client, resource "
                    "(and principal) instead so that the module can create it.".format(grant_id))
            return None, None, None
        key = GrantKey(raw.get('clientId'), raw.get('resourceId'), raw.get('principalId') if raw.get('consentType') == CONSENT_PRINCIPAL else None)
        resource = None
        if validate and state == 'present':
            lookup = self.resolver.service_principal_lookup('resource', key.resource_id, with_scopes=True)
            lookup.requests = lookup.requests[:1]  # an id from a grant is an object id, never an appId
            self.resolver.run([lookup])
            resource = self.resolver.service_principal(lookup)
        return key, raw, resource

    def _target_by_key(self, params, state, validate):
        principal_value = params.get('principal')
        consent_type = params.get('consent_type') or (CONSENT_PRINCIPAL if principal_value else CONSENT_ALL_PRINCIPALS)
        if consent_type == CONSENT_ALL_PRINCIPALS and principal_value:
            raise GrantInputError(
                "consent_type=AllPrincipals grants apply to every user and cannot name a principal. Remove 'principal', "
                "or use consent_type=Principal for a grant to one user.")
        if consent_type == CONSENT_PRINCIPAL and not principal_value:
            raise GrantInputError("consent_type=Principal needs 'principal' (the user's object id or userPrincipalName).")

        resolver = self.resolver
        client_lookup = resolver.service_principal_lookup('client', params['client'])
        resource_lookup = resolver.service_principal_lookup('resource', params['resource'], with_scopes=validate and state == 'present')
        user_lookup = resolver.user_lookup(principal_value) if principal_value else None
        grants_lookup = None
        if is_guid(params['client']):
            if principal_value and is_guid(principal_value):
                nav_filter = "principalId eq '{0}'".format(principal_value)
            else:
                nav_filter = "consentType eq '{0}'".format(consent_type)
            grants_lookup = resolver.client_grants_lookup(params['client'], nav_filter)
        resolver.run([client_lookup, resource_lookup, user_lookup, grants_lookup])

        client_sp = resolver.service_principal(client_lookup)
        resource_sp = resolver.service_principal(resource_lookup)
        user = resolver.user(user_lookup) if user_lookup else None
        key = GrantKey(client_sp.id, resource_sp.id, user.id if user else None)
        grants = resolver.grants(grants_lookup) if grants_lookup else None
        if grants is None:
            grants = self.list_grants(key.odata_filter())
        self.names = names_of(client_sp, resource_sp, user)  # for the diff header (_result)
        return key, select_grant(grants, key), resource_sp

    # ------------------------------------------------------------------------------------------------- writes
    def _apply(self, key, current, plan, requested, scope_mode, params):
        if plan.action == ACTION_CREATED:
            return self._create(key, plan, requested, scope_mode, params)
        if plan.action == ACTION_UPDATED:
            return self._update(key, current, plan, requested, scope_mode, params)
        replan = (requested, scope_mode) if params.get('state', 'present') == 'present' else None
        return self._delete(key, current, plan, params, replan=replan)

    def _create_body(self, key, scopes):
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

    def _create(self, key, plan, requested, scope_mode, params, prior_error=None):
        """POST the grant; ``prior_error`` is the failure of an attempt made elsewhere (a ``$batch`` item)."""
        if plan.action != ACTION_CREATED:
            # Nothing to grant (remove mode, and the grant vanished meanwhile): an empty grant is never created.
            return self._result(ACTION_UNCHANGED, None, None, plan, params)
        body = self._create_body(key, plan.scopes_after)
        delays = self.reconcile.delays()
        waited = 0.0
        ambiguous_retried = False
        # Set once an attempt may have been applied although it failed (unknown outcome, or a 404 answered to a create
        # that Graph applied anyway, graph-semantics §6): a later duplicate error is then most likely our own grant.
        maybe_applied = False
        attempts = _Attempts(prior_error)
        while True:
            try:
                created = attempts.send(self.client.post, GRANTS_PATH, body)
            except GraphError as err:
                if is_duplicate_grant_error(err):
                    return self._adopt(key, requested, scope_mode, params, err, created_by_us=maybe_applied)
                if err.status == 429 and not err.retries_exhausted:
                    # Only from a $batch item: the body does not depend on a read, so it is sent again after the wait.
                    self.client.wait_before_retry(err)
                    continue
                if err.ambiguous:
                    maybe_applied = True
                    found = self._wait_for_grant(key, attempts=3)
                    if found is not None:
                        return self._converge_existing(key, found, requested, scope_mode, params, created_by_us=True)
                    if ambiguous_retried:
                        raise
                    ambiguous_retried = True
                    continue
                if is_not_replicated_error(err):
                    maybe_applied = maybe_applied or err.status == 404
                    delay = next(delays, None)
                    if delay is None or not self._pause(delay):
                        raise _with_hint(
                            err, 'Graph still reports a referenced object as missing after {0:.0f} s of waiting for '
                            'replication (bounded by {1:.0f} s and the retry_budget); if the service principals or '
                            'user were just created, retry later.'.format(waited, self.reconcile.replication_wait))
                    waited += delay
                    continue
                raise
            return self._result(ACTION_CREATED, None, grant_view(created) if created else grant_after_write(None, key, plan), plan, params)

    def _adopt(self, key, requested, scope_mode, params, duplicate_error, created_by_us=False):
        """A grant with our key exists although we did not see it: read it back (it may lag) and converge it."""
        found = self._wait_for_grant(key)
        if found is None:
            raise _with_hint(
                duplicate_error, 'Graph says a grant for {0} already exists, but it did not become readable in the '
                'time allowed (at most {1:.0f} s, within the retry_budget). Run again later.'.format(
                    key.describe(), self.reconcile.replication_wait))
        return self._converge_existing(key, found, requested, scope_mode, params, created_by_us=created_by_us)

    def _wait_for_grant(self, key, attempts=None):
        delays = self.reconcile.delays()
        tries = 0
        while True:
            found = self.read_grant_by_key(key)
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
        found = self.read_grant_by_key(key)
        if found is None or found.get('id') != grant_id:
            return found
        delay = next(delays, None)
        if delay is None or not self._pause(delay):
            raise _with_hint(err, 'Graph still lists grant {0} for {1} but answers 404 to writing it, after waiting for '
                                  'replication within the retry_budget; run again later.'.format(grant_id, key.describe()))
        return found

    def _pause(self, delay):
        """Wait for replication to catch up. The wait counts against the run's retry budget (so that retry_budget
        bounds all the waiting of a run); False, without waiting, when the budget does not allow it."""
        if not self.client.reserve_wait(delay):
            return False
        self.sleep(delay)
        return True

    def _converge_existing(self, key, found_raw, requested, scope_mode, params, created_by_us=False, attempts_left=2):
        found = grant_view(found_raw)
        plan = plan_change(found, requested, scope_mode, 'present')
        if created_by_us and plan.action == ACTION_UNCHANGED:
            # Our own create did land although we were not told so: report it as the creation it was.
            created_plan = plan_change(None, requested, scope_mode, 'present')
            return self._result(ACTION_CREATED, None, found, created_plan, params)
        if plan.action == ACTION_UNCHANGED:
            return self._result(ACTION_UNCHANGED, found, found, plan, params)
        if plan.action == ACTION_UPDATED:
            return self._update(key, found, plan, requested, scope_mode, params, attempts_left=attempts_left)
        return self._delete(key, found, plan, params, replan=(requested, scope_mode), attempts_left=attempts_left)

    def _update(self, key, current, plan, requested, scope_mode, params, attempts_left=2, prior_error=None):
        # exact sends the whole wanted set, which does not depend on what we read: the client may re-send it after a
        # 429. append/remove computed it from what we read: after a 429, read again and plan again (another writer may
        # have changed the grant while we waited), never re-send the old body.
        read_modify_write = scope_mode != 'exact'
        attempts = _Attempts(prior_error)
        lag = self.reconcile.delays()
        while True:
            path = '{0}/{1}'.format(GRANTS_PATH, current['id'])
            try:
                attempts.send(self.client.patch, path, {'scope': scope_string(plan.scopes_after)},
                              retry_throttled=not read_modify_write)
            except GraphError as err:
                if err.status == 429 and not err.retries_exhausted:
                    found = self._read_after_throttle(key, err)
                    if found is None:
                        return self._create(key, plan_change(None, requested, scope_mode, 'present'), requested, scope_mode, params)
                    current = grant_view(found)
                    plan = plan_change(current, requested, scope_mode, 'present')
                    if plan.action == ACTION_UPDATED:
                        continue
                    return self._converge_existing(key, found, requested, scope_mode, params, attempts_left=attempts_left)
                if err.status == 404:
                    found = self._after_write_404(key, current['id'], lag, err)
                    if found is not None:
                        # Still there (replication lag, or re-created by someone else): plan again from it and write.
                        current = grant_view(found)
                        plan = plan_change(current, requested, scope_mode, 'present')
                        if plan.action == ACTION_UPDATED:
                            continue
                        return self._converge_existing(key, found, requested, scope_mode, params, attempts_left=attempts_left)
                if err.status == 404 or err.ambiguous:
                    # Gone meanwhile, or unknown outcome: look again and decide from what is there now.
                    found = self._wait_for_grant(key, attempts=2)
                    if found is None:
                        return self._create(key, plan_change(None, requested, scope_mode, 'present'), requested, scope_mode, params)
                    if set(grant_view(found)['scopes']) == set(plan.scopes_after):
                        after = grant_view(found)
                        if read_modify_write:
                            after = self._guard_after_write(key, plan, requested, scope_mode, after)
                        return self._result(ACTION_UPDATED, current, after, plan, params)
                    if attempts_left > 0:
                        return self._converge_existing(key, found, requested, scope_mode, params, attempts_left=attempts_left - 1)
                raise
            break
        after = grant_after_write(current, key, plan)
        if read_modify_write:
            after = self._guard_after_write(key, plan, requested, scope_mode, after)
        return self._result(ACTION_UPDATED, current, after, plan, params)

    def _guard_after_write(self, key, plan, requested, scope_mode, after):
        """Run the guard after our append/remove PATCH landed; if the guard fails, the failure still says that the
        grant was updated."""
        if self.reconcile.merge_rounds <= 0:
            return after
        try:
            return self._guard_merge(key, plan, requested, scope_mode, after)
        except Exception as err:
            raise record_applied(err, ['{0}: {1}'.format(ACTION_UPDATED, key.describe())])

    def _read_after_throttle(self, key, err):
        """A read-modify-write answered 429: wait what Graph asked (charged to the run's retry budget, which raises
        when exhausted), then read the grant again for a new plan."""
        self.client.wait_before_retry(err)
        return self.read_grant_by_key(key)

    def _guard_merge(self, key, plan, requested, scope_mode, after):
        """Graph has no ETag on grants: two runs appending to one grant at once can overwrite each other's PATCH.

        After our PATCH, wait a moment for a concurrent writer's PATCH to land, read the grant again and re-apply
        what we asked for if it was lost, a bounded number of times. The window left (a writer landing after our last
        read) is documented in docs/reliability.md.
        """
        rounds = 0
        while rounds < self.reconcile.merge_rounds:
            rounds += 1
            self.sleep(self.reconcile.settle_delay())
            raw = self.read_grant_by_key(key)
            if raw is None:
                return after  # deleted meanwhile by someone else: nothing of ours to protect
            seen = grant_view(raw)
            again = plan_change(seen, requested, scope_mode, 'present')
            if again.action != ACTION_UPDATED:
                return seen
            try:
                self.client.patch('{0}/{1}'.format(GRANTS_PATH, seen['id']), {'scope': scope_string(again.scopes_after)},
                                  retry_throttled=False)
            except GraphError as err:
                if err.status != 429 or err.retries_exhausted:
                    raise
                self.client.wait_before_retry(err)
                rounds -= 1  # the repair was not applied: read and plan it again, without using up a round
                continue
            after = grant_after_write(seen, key, again)
        return after

    def _delete(self, key, current, plan, params, prior_error=None, replan=None, attempts_left=2):
        """DELETE the grant. ``replan`` = (requested, scope_mode) when the delete comes from a ``present`` plan (remove
        mode took the last scope): it was computed from what we read, so after a 429 or an unknown outcome the grant
        is read again and planned anew instead of deleted blindly (another writer may have added a scope)."""
        path = '{0}/{1}'.format(GRANTS_PATH, current['id'])
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
                        return self._converge_existing(key, found, replan[0], replan[1], params, attempts_left=attempts_left)
                    path = '{0}/{1}'.format(GRANTS_PATH, found['id'])
                    continue
                throttled = err.status == 429 and not err.retries_exhausted
                if not (throttled or err.ambiguous) or attempts_left <= 0:
                    raise
                if throttled:
                    self.client.wait_before_retry(err)
                else:
                    attempts_left -= 1
                found = self.read_grant_by_key(key)
                if found is None:
                    break  # deleted (by us or by someone else)
                if replan is not None:
                    return self._converge_existing(key, found, replan[0], replan[1], params, attempts_left=attempts_left)
                # state absent: delete what is there now (a read that lags may still show a grant we deleted: 404)
                path = '{0}/{1}'.format(GRANTS_PATH, found['id'])
                continue
            break
        return self._result(ACTION_DELETED, current, None, plan, params)

    # ------------------------------------------------------------------------------------------------- result
    def _result(self, action, before, after, plan, params):
        if params.get('client'):
            header = grant_label(params['client'], params['resource'], params.get('principal'), getattr(self, 'names', None))
        else:
            header = 'grant id {0}'.format(params.get('id'))
        result = {
            'changed': action != ACTION_UNCHANGED,
            'action': action,
            'scopes_added': list(plan.scopes_added),
            'scopes_removed': list(plan.scopes_removed),
            # Ansible prints the headers above each side of the diff: which grant, by the names a reviewer knows.
            'diff': {'before': diff_view(before), 'after': diff_view(after),
                     'before_header': header, 'after_header': header},
        }
        if after is not None:
            result['grant'] = after
        if action == ACTION_DELETED and before is not None:
            result['deleted_grant'] = before  # the grant as it was: what it takes to re-create it
        return result

    # -------------------------------------------------------------------------------------------------- query
    def query(self, params, resolve_names=False):
        """Grants matching the (resolved) filters, every page followed, optionally with display names."""
        if params.get('id'):
            raw = self.get_grant_by_id(params['id'])
            raw_grants = [raw] if raw is not None else []
            known = {}
        else:
            raw_grants, known = self._query_by_filters(params)
        views = [grant_view(g) for g in raw_grants]
        if resolve_names and views:
            self._attach_names(views, known)
        return sorted(views, key=lambda v: (v['client_id'] or '', v['resource_id'] or '', v['principal_id'] or '', v['id'] or ''))

    def _query_by_filters(self, params):
        resolver = self.resolver
        lookups = {}
        if params.get('client'):
            lookups['client'] = resolver.service_principal_lookup('client', params['client'])
        if params.get('resource'):
            lookups['resource'] = resolver.service_principal_lookup('resource', params['resource'])
        if params.get('principal'):
            lookups['principal'] = resolver.user_lookup(params['principal'])
        resolver.run(list(lookups.values()))
        known = {}
        clauses = []
        for role in ('client', 'resource'):
            if role in lookups:
                sp = resolver.service_principal(lookups[role])
                known[sp.id.lower()] = ('sp', sp.display_name)
                clauses.append("{0}Id eq '{1}'".format(role, sp.id))
        if 'principal' in lookups:
            user = resolver.user(lookups['principal'])
            known[user.id.lower()] = ('user', user.user_principal_name)
            clauses.append("principalId eq '{0}'".format(user.id))
        if params.get('consent_type'):
            clauses.append("consentType eq '{0}'".format(params['consent_type']))
        return self.list_grants(' and '.join(clauses) or None), known

    def _attach_names(self, views, known):
        """Display names and UPNs, each object read once, all reads in one batched round trip."""
        wanted = {}
        for view in views:
            for object_id, kind in ((view['client_id'], 'sp'), (view['resource_id'], 'sp'), (view['principal_id'], 'user')):
                if object_id and object_id.lower() not in known:
                    wanted[object_id.lower()] = (object_id, kind)
        ordered = sorted(wanted.values())
        if ordered:
            requests = []
            for object_id, kind in ordered:
                if kind == 'sp':
                    requests.append({'method': 'GET', 'url': '/servicePrincipals/{0}?$select=id,displayName'.format(object_id)})
                else:
                    requests.append({'method': 'GET', 'url': '/users/{0}?$select=id,userPrincipalName'.format(object_id)})
            responses = self.client.batch(requests)
            for (object_id, kind), response in zip(ordered, responses):
                body = (response.json or {}) if response.status < 300 else {}
                name = body.get('displayName') if kind == 'sp' else body.get('userPrincipalName')
                known[object_id.lower()] = (kind, name)

        def name_of(object_id):
            return known.get(object_id.lower(), (None, None))[1] if object_id else None

        for view in views:
            view['client_display_name'] = name_of(view['client_id'])
            view['resource_display_name'] = name_of(view['resource_id'])
            view['principal_user_principal_name'] = name_of(view['principal_id'])
