# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""A list of app role assignments (client, resource, app_roles, mode, state) in one run: every client and resource
resolved in one ``$batch``, the assignments of each client read once (one ``$batch``), every item checked and planned
before anything is written, all writes in one ``$batch``. A write that fails is converged on the single path
(``AppRoleAssignmentService``: duplicate adoption, replication waits) after reading that client's assignments again.

Exclusive mode: the assignments of the listed clients on resources the list does not name for that client are
removed (the roles those resources publish are read in one more ``$batch``, only when there are such assignments).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.msgraph.grants.plugins.module_utils._app_role_service import (
    AppRoleAssignmentService,
    app_role_permission_hints,
    assignments_path,
    checked_role_ids,
    on_resource,
    write_requests,
)
from ansible_collections.msgraph.grants.plugins.module_utils._app_roles import (
    DEFAULT_ACCESS_ROLE,
    AppRoleError,
    assignments_after,
    normalize_values,
    plan_assignments,
    role_values,
    roles_changed,
    value_of,
)
from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import error_from_response
from ansible_collections.msgraph.grants.plugins.module_utils._labels import grant_label, names_of
from ansible_collections.msgraph.grants.plugins.module_utils._resolve import PAGE_SIZE, SP_FIELDS, ServicePrincipal, relative_url


class _Entry(object):
    """One pair (client, resource) to converge: declared by an item, or found by exclusive mode."""

    def __init__(self, label, client_sp, resource_sp, current, ids, mode, state):
        self.label = label
        self.client_sp = client_sp
        self.resource_sp = resource_sp
        self.current = current
        self.ids = ids
        self.mode = mode
        self.state = state
        self.plan = plan_assignments(current, ids, mode, state, resource_sp.app_roles)
        self.created = {}


class BulkAppRoleService(object):
    """``ensure(items, exclusive)``: the module ``app_role_assignments`` (and the role)."""

    def __init__(self, client, check_mode=False, warn=None, sleep=time.sleep):
        self.client = client
        self.single = AppRoleAssignmentService(client, check_mode=check_mode, warn=warn, sleep=sleep)
        self.check_mode = check_mode

    def ensure(self, items, exclusive=False):
        with app_role_permission_hints():
            entries = self._plan(items, exclusive)
            if not self.check_mode:
                self._write([e for e in entries if e.plan.changed])
        return self._result(entries)

    # -- resolve, read, plan ------------------------------------------------------------------------------------
    def _plan(self, items, exclusive):
        for index, item in enumerate(items):
            if (item.get('state') or 'present') == 'absent' and normalize_values(item.get('app_roles')):
                raise AppRoleError('assignments[{0}] ({1} -> {2}): state=absent removes every app role of the client '
                                   'on the resource, so it takes no app_roles; to take some away use mode=remove.'
                                   .format(index, item['client'], item['resource']))
            if (item.get('state') or 'present') == 'present' and item.get('app_roles') is None:  # AnsibleModule cannot say it
                raise AppRoleError('assignments[{0}] ({1} -> {2}): app_roles is required with state=present.'.format(
                    index, item['client'], item['resource']))
        resolver = self.single.resolver
        clients = dict((v, resolver.service_principal_lookup('client', v)) for v in set(i['client'] for i in items))
        resources = dict((v, resolver.service_principal_lookup('resource', v, with_app_roles=True))
                         for v in set(i['resource'] for i in items))
        resolver.run(list(clients.values()) + list(resources.values()))
        clients = dict((v, resolver.service_principal(lookup)) for v, lookup in clients.items())
        resources = dict((v, resolver.service_principal(lookup)) for v, lookup in resources.items())
        held = self._read_assignments(sorted(set(sp.id for sp in clients.values())))
        entries, declared = [], {}
        for index, item in enumerate(items):
            client_sp, resource_sp = clients[item['client']], resources[item['resource']]
            pair = (client_sp.id.lower(), resource_sp.id.lower())
            label = grant_label(item['client'], item['resource'], None, names_of(client_sp, resource_sp, None))
            if pair in declared:
                raise AppRoleError('assignments[{0}] ({1}) names the same client and resource as assignments[{2}]: '
                                   'declare each pair once.'.format(index, label, declared[pair]))
            declared[pair] = index
            state = item.get('state') or 'present'
            values = [] if state == 'absent' else normalize_values(item.get('app_roles'))
            where = '{0} (assignments[{1}])'.format(resource_sp.label(), index)
            current = on_resource(held[client_sp.id], client_sp.id, resource_sp.id)
            mode = item.get('mode') or 'exact'
            ids = checked_role_ids(resource_sp.app_roles, current, values, mode, state, where)
            entries.append(_Entry(label, client_sp, resource_sp, current, ids, mode, state))
        if exclusive:
            entries.extend(self._undeclared(clients, held, declared))
        return entries

    def _read_assignments(self, client_ids):
        """Every assignment of each client (one ``$batch``, then the further pages of each)."""
        requests = [{'method': 'GET', 'url': relative_url(assignments_path(cid), [('$top', PAGE_SIZE)])}
                    for cid in client_ids]
        if len(requests) == 1:
            responses = [self.client.request('GET', requests[0]['url'], raise_for_status=False)]
        else:
            responses = self.client.batch(requests)
        held = {}
        for cid, request, response in zip(client_ids, requests, responses):
            if response.status >= 300:
                raise error_from_response(response, 'GET', request['url'])
            held[cid] = self.single.resolver.rest_of(response.json or {})
        return held

    def _undeclared(self, clients, held, declared):
        """Entries removing the assignments of the listed clients on resources not declared for them."""
        found = {}
        for client_sp in dict((sp.id, sp) for sp in clients.values()).values():
            for raw in held[client_sp.id]:
                if (raw.get('appRoleId') or '').lower() == DEFAULT_ACCESS_ROLE:
                    continue  # not declarable, so never "undeclared" (_app_roles.DEFAULT_ACCESS_ROLE)
                pair = (client_sp.id.lower(), (raw.get('resourceId') or '').lower())
                if pair not in declared:
                    found.setdefault(pair, (client_sp, raw.get('resourceId')))
        if not found:
            return []
        resource_ids = sorted(set(rid for _c, rid in found.values()))
        fields = SP_FIELDS + ',appRoles'
        requests = [{'method': 'GET', 'url': relative_url('/servicePrincipals/{0}'.format(rid), [('$select', fields)])}
                    for rid in resource_ids]
        responses = self.client.batch(requests) if len(requests) > 1 else [
            self.client.request('GET', requests[0]['url'], raise_for_status=False)]
        resources = {}
        for rid, request, response in zip(resource_ids, requests, responses):
            if response.status == 404:
                # A resource deleted since: its assignments are still removed, shown by role id.
                resources[rid] = ServicePrincipal({'id': rid, 'displayName': None, 'appId': None}, 'oauth2PermissionScopes')
            elif response.status >= 300:
                raise error_from_response(response, 'GET', request['url'])
            else:
                resources[rid] = ServicePrincipal(response.json or {}, 'oauth2PermissionScopes')
        entries = []
        for pair in sorted(found):
            client_sp, rid = found[pair]
            resource_sp = resources[rid]
            label = grant_label(client_sp.display_name or client_sp.id, resource_sp.display_name or rid) + ' (not declared)'
            entries.append(_Entry(label, client_sp, resource_sp, on_resource(held[client_sp.id], client_sp.id, rid),
                                  [], 'exact', 'absent'))
        return entries

    # -- write --------------------------------------------------------------------------------------------------
    def _write(self, entries):
        requests, owners = [], []
        for entry in entries:
            mine = write_requests(entry.client_sp.id, entry.resource_sp.id, entry.plan.add, entry.plan.remove)
            requests.extend(mine)
            owners.extend([entry] * len(mine))
        if not requests:
            return
        failed = []
        for entry, request, response in zip(owners, requests, self.single.send_writes(requests)):
            if response is not None and not isinstance(response, GraphError) and response.status < 300:
                if request['method'] == 'POST':
                    entry.created[request['body']['appRoleId']] = response.json or None
            elif entry not in failed:
                failed.append(entry)
        for entry in failed:
            # Converge this pair on the single path, from what Graph holds now.
            try:
                current = on_resource(self.single.assignments_of(entry.client_sp.id), entry.client_sp.id, entry.resource_sp.id)
                again = plan_assignments(current, entry.ids, entry.mode, entry.state, entry.resource_sp.app_roles)
                for raw in current:
                    role_id = (raw.get('appRoleId') or '').lower()
                    if role_id in entry.plan.add and not entry.created.get(role_id):
                        entry.created[role_id] = raw
                if again.changed:
                    done = self.single.write_plan(entry.client_sp, entry.resource_sp, again, entry.ids, entry.mode,
                                                  entry.state)
                    entry.created.update(done)
            except GraphError as err:
                err.item = entry.label
                raise

    # -- result -------------------------------------------------------------------------------------------------
    def _result(self, entries):
        results, changes = [], []
        counts = {'added': 0, 'removed': 0, 'unchanged': 0}
        for entry in entries:
            by_id = role_values(entry.resource_sp.app_roles)
            added, removed = roles_changed(entry.plan, by_id)
            counts['added'] += len(added)
            counts['removed'] += len(removed)
            counts['unchanged'] += 0 if entry.plan.changed else 1
            changes.extend('{0} {1}: {2}'.format(verb, value, entry.label)
                           for verb, values in (('added', added), ('removed', removed)) for value in values)
            # A second assignment of a role kept: the pair changes (the role counts it updated), so it has a line too.
            changes.extend('removed a second assignment of {0}: {1}'.format(value, entry.label)
                           for value in sorted(set(value_of(a.get('appRoleId'), by_id) for a in entry.plan.remove)
                                               & set(entry.plan.after)))
            results.append({
                'client_id': entry.client_sp.id, 'resource_id': entry.resource_sp.id, 'changed': entry.plan.changed,
                'roles_added': added, 'roles_removed': removed, 'label': entry.label,
                'assignments': assignments_after(entry.current, entry.plan, entry.created, entry.client_sp.id,
                                                 entry.resource_sp.id, by_id),
            })
        changed = any(r['changed'] for r in results)
        return {'changed': changed, 'results': results, 'changes': changes, 'counts': counts}
