# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""App role assignments of one client on one resource: resolve -> read -> plan (pure, ``_app_roles``) -> write.

Why it reads and writes the way it does (docs/dev/graph-behaviour.md):
- the client's assignments are read from ``/servicePrincipals/{client}/appRoleAssignments``, every page, and the
  resource is selected here: Graph's ``$filter`` on that navigation takes an unquoted GUID and nothing else, and a
  server-side filter is never trusted to have been applied;
- an assignment cannot be updated: a role is added by a POST and taken away by a DELETE, all of them independent,
  so they go in one ``$batch``;
- the duplicate error on a POST means somebody else (or our own earlier attempt) assigned the role: read again and
  converge; a 404 or 400 "does not exist" / "Not a valid reference update." right after a service principal was
  created is replication lag: bounded retries (``_grant_writer.ReconcileSettings``, charged to the retry budget).
Only assignments whose principal is the client and whose resource is the resource are ever deleted.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.msgraph.grants.plugins.module_utils._app_roles import (
    AppRoleError,
    assignments_after,
    check_app_roles,
    diff_side,
    normalize_values,
    plan_assignments,
    role_values,
    roles_changed,
)
from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._grant_errors import (
    is_not_replicated_error,
    permission_hints,
    with_hint,
)
from ansible_collections.msgraph.grants.plugins.module_utils._grant_writer import ReconcileSettings
from ansible_collections.msgraph.grants.plugins.module_utils._grants import is_guid, same_object_id
from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import error_from_response
from ansible_collections.msgraph.grants.plugins.module_utils._labels import grant_label, names_of
from ansible_collections.msgraph.grants.plugins.module_utils._resolve import (
    MISS_STATUSES,
    PAGE_SIZE,
    Resolver,
    _Lookup,
    relative_url,
)

DUPLICATE_TEXTS = ('permission being assigned already exists', 'entitlementgrant entry already exists')
NOT_VALID_REFERENCE_TEXT = 'not a valid reference update'
PERMISSIONS_HINT = ('The application needs the Graph application permissions AppRoleAssignment.ReadWrite.All and '
                    'Application.Read.All, with admin consent (app roles of Microsoft Graph itself also need Privileged '
                    'Role Administrator when a user signs in); see docs/permissions.md.')
JSON = {'Content-Type': 'application/json'}
_ROUNDS = 6


def assignments_path(client_sp_id, assignment_id=None):
    path = '/servicePrincipals/{0}/appRoleAssignments'.format(client_sp_id)
    return path + ('/' + assignment_id if assignment_id else '')


def write_requests(client_id, resource_id, role_ids, assignments):
    """The ``$batch`` items of a plan: a POST per role to add, a DELETE per assignment to remove."""
    requests = [{'method': 'POST', 'url': assignments_path(client_id), 'headers': JSON,
                 'body': {'principalId': client_id, 'resourceId': resource_id, 'appRoleId': role_id}}
                for role_id in role_ids]
    return requests + [{'method': 'DELETE', 'url': assignments_path(client_id, raw['id'])} for raw in assignments]


def is_duplicate_assignment_error(err):
    """Graph's answer to assigning a role the principal already holds (400; two wordings are reported)."""
    text = (getattr(err, 'message', None) or '').lower()
    return getattr(err, 'status', None) in (400, 409) and any(t in text for t in DUPLICATE_TEXTS)


def is_assignment_lag_error(err):
    """A referenced object Graph does not see yet: 404, 400 "... does not exist ...", or 400 "Not a valid reference
    update." (a principal created moments ago)."""
    return is_not_replicated_error(err) or (
        getattr(err, 'status', None) == 400 and NOT_VALID_REFERENCE_TEXT in (getattr(err, 'message', None) or '').lower())


def app_role_permission_hints():
    """The 403 hint of this resource's permissions (``_grant_errors.permission_hints``)."""
    return permission_hints(PERMISSIONS_HINT)


def checked_role_ids(published, current, values, mode, state, label):
    """The ids of the roles ``values`` names, checked before any write: a role to add (not held yet) must be
    assignable to applications, any other only published (``_app_roles.check_app_roles`` says what is wrong)."""
    if state == 'present' and mode != 'remove':
        held = role_values(published)
        held = set(held.get((a.get('appRoleId') or '').lower()) for a in current)
        check_app_roles(published, [v for v in values if v not in held], adding=True, resource_label=label)
    return [role['id'] for role in check_app_roles(published, values, adding=False, resource_label=label)]


def on_resource(assignments, client_id, resource_id):
    """The assignments of ``client_id`` on ``resource_id``, chosen here whatever the listing held."""
    return [a for a in assignments or [] if same_object_id(a.get('principalId'), client_id)
            and same_object_id(a.get('resourceId'), resource_id)]


class AppRoleAssignmentService(object):
    """``ensure(params)``: the ``app_role_assignment`` module; ``assignments_of`` and ``converge`` for services that
    manage several resources of one client (``admin_consent``, the role)."""

    def __init__(self, client, check_mode=False, warn=None, sleep=time.sleep, reconcile=None):
        self.client = client
        self.check_mode = check_mode
        self.sleep = sleep
        self.reconcile = reconcile or ReconcileSettings()
        self.resolver = Resolver(client, warn=warn)

    # -- reads --------------------------------------------------------------------------------------------------
    def assignments_of(self, client_sp_id):
        """Every app role assignment the client holds (all resources, every page)."""
        return self.client.get_all(assignments_path(client_sp_id), params=[('$top', PAGE_SIZE)])

    @staticmethod
    def _assignments_lookup(client_value):
        """The client's assignments in the resolving ``$batch``, by object id or appId (whichever form answers)."""
        params = [('$top', PAGE_SIZE)]
        return _Lookup('assignments', client_value, [
            relative_url(assignments_path(client_value), params),
            relative_url("/servicePrincipals(appId='{0}')/appRoleAssignments".format(client_value), params)],
            miss=MISS_STATUSES)

    def _batched_assignments(self, lookup, client_sp):
        for url, response in zip(lookup.requests, lookup.responses):
            if response.status in lookup.miss:
                continue
            if response.status >= 300:
                raise error_from_response(response, 'GET', url)
            return self.resolver.rest_of(response.json or {})
        return self.assignments_of(client_sp.id)

    # -- the module ---------------------------------------------------------------------------------------------
    def ensure(self, params):
        """Converge one client's app roles on one resource (``app_role_assignment``'s options); the module result."""
        state = params.get('state') or 'present'
        if state == 'absent' and normalize_values(params.get('app_roles')):
            raise AppRoleError(
                'state=absent removes every app role of the client on the resource, so it takes no app_roles (got '
                '{0}). To take only these roles away, use state=present with mode=remove.'.format(
                    ', '.join(normalize_values(params.get('app_roles')))))
        with app_role_permission_hints():
            resolver = self.resolver
            client_lookup = resolver.service_principal_lookup('client', params['client'])
            resource_lookup = resolver.service_principal_lookup('resource', params['resource'], with_app_roles=True)
            assignments_lookup = self._assignments_lookup(params['client']) if is_guid(params['client']) else None
            resolver.run([client_lookup, resource_lookup, assignments_lookup])
            client_sp = resolver.service_principal(client_lookup)
            resource_sp = resolver.service_principal(resource_lookup)
            if assignments_lookup is not None:
                everything = self._batched_assignments(assignments_lookup, client_sp)
            else:
                everything = self.assignments_of(client_sp.id)
            current = on_resource(everything, client_sp.id, resource_sp.id)
            outcome = self.converge(client_sp, resource_sp, current, params.get('app_roles') or [],
                                    params.get('mode') or 'exact', state)
        header = grant_label(params['client'], params['resource'], None, names_of(client_sp, resource_sp, None))
        before = diff_side(client_sp.id, resource_sp.id, outcome['before'])
        after = diff_side(client_sp.id, resource_sp.id, outcome['after'])
        return {
            'changed': outcome['changed'],
            'assignments': outcome['assignments'],
            'roles_added': outcome['roles_added'],
            'roles_removed': outcome['roles_removed'],
            'diff': {'before': before, 'after': after, 'before_header': header, 'after_header': header},
        }

    # -- plan and write -----------------------------------------------------------------------------------------
    def converge(self, client_sp, resource_sp, current, desired_values, mode, state):
        """Plan and (outside check mode) write the client's roles on one resource. ``current``: that client's
        assignments on that resource. Returns roles_added, roles_removed, assignments, changed, before, after."""
        published = resource_sp.app_roles
        label = resource_sp.label()
        values = [] if state == 'absent' else normalize_values(desired_values)
        ids = checked_role_ids(published, current, values, mode, state, label)
        plan = plan_assignments(current, ids, mode, state, published)
        by_id = role_values(published)
        created = {}
        if plan.changed and not self.check_mode:
            created = self.write_plan(client_sp, resource_sp, plan, ids, mode, state)
        added, removed = roles_changed(plan, by_id)
        return {
            'roles_added': added,
            'roles_removed': removed,
            'assignments': assignments_after(current, plan, created, client_sp.id, resource_sp.id, by_id),
            'changed': plan.changed,
            'before': plan.before,
            'after': plan.after,
        }

    def write_plan(self, client_sp, resource_sp, plan, ids, mode, state):
        """Send the plan's POSTs and DELETEs (one ``$batch`` when there are several) and converge what Graph answers;
        returns role id -> created (or adopted) assignment."""
        created = {}
        adds, removes = list(plan.add), list(plan.remove)
        delays = self.reconcile.delays()
        waited = 0.0
        for _round in range(_ROUNDS):
            requests = write_requests(client_sp.id, resource_sp.id, adds, removes)
            lagging, reread, last = [], False, None
            for request, response in zip(requests, self.send_writes(requests)):
                if response is not None and not isinstance(response, GraphError) and response.status < 300:
                    if request['method'] == 'POST':
                        created[request['body']['appRoleId']] = response.json or None
                    continue
                err = response if isinstance(response, GraphError) else (
                    None if response is None else error_from_response(response, request['method'], request['url']))
                if err is None or err.ambiguous or is_duplicate_assignment_error(err) or (
                        request['method'] == 'DELETE' and err.status == 404):
                    reread = True  # unknown outcome, somebody else's assignment, or gone: what is there now decides
                elif request['method'] == 'POST' and is_assignment_lag_error(err):
                    lagging.append(request['body']['appRoleId'])
                    last = err
                else:
                    raise err
            if reread:
                current = on_resource(self.assignments_of(client_sp.id), client_sp.id, resource_sp.id)
                for raw in current:
                    role_id = (raw.get('appRoleId') or '').lower()
                    if role_id in plan.add and not created.get(role_id):
                        created[role_id] = raw  # assigned by somebody else meanwhile: adopted
                again = plan_assignments(current, ids, mode, state, resource_sp.app_roles)
                adds, removes = list(again.add), list(again.remove)
            else:
                adds, removes = lagging, []
            if not adds and not removes:
                return created
            delay = next(delays, None)
            if delay is None or not self.client.reserve_wait(delay):
                break
            self.sleep(delay)
            waited += delay
        raise with_hint(last or GraphError('the app role assignments of {0} on {1} did not converge'.format(
            client_sp.label(), resource_sp.label())),
            'Graph still refuses or does not show the assignments after {0:.0f} s of waiting for replication (bounded '
            'by the retry_budget); if the service principals were just created, run again later.'.format(waited))

    def send_writes(self, requests):
        """One answer per request: a GraphResponse, a GraphError (a write whose outcome is unknown) or None."""
        if len(requests) == 1:
            request = requests[0]
            try:
                return [self.client.request(request['method'], request['url'], json=request.get('body'),
                                            headers=request.get('headers'), raise_for_status=False)]
            except GraphError as err:
                if not err.ambiguous:
                    raise
                return [err]
        try:
            return self.client.batch(requests)
        except GraphError as err:
            if err.partial_results is None:
                raise
            return list(err.partial_results)
