# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""``admin_consent``: resolve -> read -> plan (pure, ``_consent``) -> write.

Round trips of a run (the converged budget, asserted by the ``admin_consent`` integration target): the client service
principal (its app registration asked for in the same ``$batch`` when the client is given by a GUID), the app
registration when that guess missed, the client's AllPrincipals grants, its app role assignments, and one ``$batch``
of every resource service principal involved: at most 5, none per permission. Everything is validated (ids still
published, scopes, app roles) before the first write; the delegated half is written by ``_grant_writer``, the
application half by ``_app_role_service``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.msgraph.grants.plugins.module_utils._app_role_service import AppRoleAssignmentService
from ansible_collections.msgraph.grants.plugins.module_utils._app_roles import check_app_roles
from ansible_collections.msgraph.grants.plugins.module_utils._consent import (
    ConsentError,
    Resource,
    consent_result,
    plan_consent,
    requested_from_permissions,
    requested_from_registration,
    requested_values,
    resource_result,
)
from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._grant_errors import permission_hints
from ansible_collections.msgraph.grants.plugins.module_utils._grant_reader import GrantReader
from ansible_collections.msgraph.grants.plugins.module_utils._grant_writer import GrantWriter
from ansible_collections.msgraph.grants.plugins.module_utils._grants import (
    ACTION_UNCHANGED,
    GrantInputError,
    GrantKey,
    check_requested_scopes,
    is_guid,
    record_applied,
)
from ansible_collections.msgraph.grants.plugins.module_utils._resolve import (
    MISS_STATUSES,
    PAGE_SIZE,
    SP_FIELDS,
    Resolver,
    ServicePrincipal,
    _Lookup,
    odata_string,
    relative_url,
)

APPLICATION_FIELDS = 'id,appId,displayName,requiredResourceAccess'
NEW = 'new:'


class ConsentService(object):
    """``ensure(params)`` converges the admin consent of one client (``admin_consent``'s options)."""

    def __init__(self, client, api_version='v1.0', check_mode=False, warn=None, sleep=time.sleep, reconcile=None):
        self.client = client
        self.check_mode = check_mode
        self.resolver = Resolver(client, api_version, warn=warn)
        self.reader = GrantReader(client, self.resolver)
        self.writer = GrantWriter(client, self.reader, api_version=api_version, reconcile=reconcile, sleep=sleep)
        self.roles = AppRoleAssignmentService(client, check_mode=check_mode, warn=warn, sleep=sleep)
        self.fields = '{0},{1},appRoles'.format(SP_FIELDS, self.resolver.scopes_property)

    def ensure(self, params):
        with permission_hints():
            return self._ensure(params)

    # ------------------------------------------------------------------------------------------------ reads
    def _ensure(self, params):
        state = params.get('state') or 'present'
        delegated = params.get('delegated', True)
        application = params.get('application', True)
        client_sp, registration = self._client(params, state)
        requested = []
        if state == 'present':
            if params.get('permissions') is not None:
                requested = requested_from_permissions(params['permissions'])
            else:
                registration = registration or self._registration(client_sp)
                requested = list(requested_from_registration(registration.get('requiredResourceAccess')).values())
        grants = []
        if delegated:
            grants = self.reader.list_grants("clientId eq '{0}' and consentType eq 'AllPrincipals'".format(client_sp.id))
        assignments = self.roles.assignments_of(client_sp.id) if application else []
        held = set((g.get('resourceId') or '').lower() for g in grants) | \
            set((a.get('resourceId') or '').lower() for a in assignments)
        resources, by_key, missing = self._resources(requested, held, params, client_sp)
        source = 'The app registration of {0}'.format(self._label(client_sp)) if params.get('permissions') is None \
            else "'permissions'"
        # validate everything that exists before any write
        wanted = {}
        for key, requests in by_key.items():
            wanted[key] = self._values(requests, resources[key], source, params)
        created = []
        if missing and not self.check_mode:
            for app_id in sorted(missing):
                resource = self._create_service_principal(app_id)
                created.append('created service principal: appId {0}'.format(app_id))
                resources[resource.id.lower()] = resource
                try:
                    wanted[resource.id.lower()] = self._values(missing[app_id], resource, source, params)
                except GrantInputError as err:
                    raise record_applied(err, created)
        elif missing:
            for app_id, requests in missing.items():
                key = NEW + app_id.lower()
                resources[key] = Resource({'id': None, 'appId': app_id}, to_create=True)
                wanted[key] = self._values(requests, resources[key], source, params)
        plans = plan_consent(resources, wanted, grants, assignments, delegated=delegated, application=application,
                             mode=params.get('mode') or 'append', state=state)
        outcomes = [{}] * len(plans)  # nothing written (check mode): the plans say it all
        if not self.check_mode:
            plans, outcomes = self._write(client_sp, plans, created)
        items = [resource_result(p, **done) for p, done in zip(plans, outcomes)]
        new_app_ids = set(app_id.lower() for app_id in missing)
        for item in items:
            if (item['resource_app_id'] or '').lower() in new_app_ids:
                item['service_principal_created'] = True
        result = consent_result(plans, items, header='admin consent of {0}'.format(self._label(client_sp)))
        result['changed'] = result['changed'] or bool(created)
        return result

    @staticmethod
    def _label(sp):
        return "'{0}' (appId {1})".format(sp.display_name, sp.app_id)

    def _client(self, params, state):
        """The client service principal, and its app registration when asked for in the same round trip."""
        value = params['client']
        lookup = self.resolver.service_principal_lookup('client', value)
        app_lookup = None
        if is_guid(value) and state == 'present' and params.get('permissions') is None:
            # Most often the client is given by appId: ask for its registration at once (a miss costs nothing).
            app_lookup = _Lookup('application', value, [self._application_url(value)], miss=MISS_STATUSES)
        self.resolver.run([lookup, app_lookup])
        client_sp = self.resolver.service_principal(lookup)
        registration = None
        if app_lookup is not None:
            found = self.resolver._found(app_lookup)
            if found and (found[0].get('appId') or '').lower() == (client_sp.app_id or '').lower():
                registration = found[0]
        return client_sp, registration

    @staticmethod
    def _application_url(app_id):
        return relative_url("/applications(appId='{0}')".format(app_id), [('$select', APPLICATION_FIELDS)])

    def _registration(self, client_sp):
        try:
            return self.client.get(self._application_url(client_sp.app_id).split('?')[0],
                                   params=[('$select', APPLICATION_FIELDS)])
        except GraphError as err:
            if err.status not in MISS_STATUSES:
                raise
        raise ConsentError(
            "No app registration with appId {0} ({1}) in this tenant (GET /applications(appId='{0}') found none): the "
            "app is registered in another tenant (a multi-tenant app). Pass `permissions` (a list of {{resource, "
            "scopes, app_roles}}) to say what to consent to.".format(client_sp.app_id, client_sp.display_name))

    def _resources(self, requested, held, params, client_sp):
        """One round trip for every resource service principal: requested ones (by appId for the registration, as
        given for ``permissions``) and, in exact mode or state absent, those the client holds something on.
        Returns ({key: Resource}, {key: [Requested]}, {appId: [Requested]} of resources without one)."""
        by_registration = params.get('permissions') is None
        lookups = []
        for requests in requested:
            if by_registration:
                url = relative_url("/servicePrincipals(appId='{0}')".format(requests.resource), [('$select', self.fields)])
                lookups.append(_Lookup('resource', requests.resource, [url], miss=MISS_STATUSES))
            else:
                lookups.append(self._lookup(requests.resource))
        extra = []
        if params.get('mode') == 'exact' or params.get('state') == 'absent':
            extra = [_Lookup('resource', rid, [relative_url('/servicePrincipals/{0}'.format(rid), [('$select', self.fields)])],
                             miss=MISS_STATUSES) for rid in sorted(held)]
        self.resolver.run(lookups + extra)
        resources, by_key, missing = {}, {}, {}
        for requests, lookup in zip(requested, lookups):
            raw = self._found_one(lookup, requests, by_registration, params, client_sp)
            if raw is None:
                missing.setdefault(requests.resource, []).append(requests)
                continue
            key = raw['id'].lower()
            resources[key] = Resource(raw, self.resolver.scopes_property)
            by_key.setdefault(key, []).append(requests)
        for lookup in extra:
            found = self.resolver._found(lookup)
            raw = found[0] if found else {'id': lookup.value, 'appId': None, 'displayName': None}
            resources.setdefault(raw['id'].lower(), Resource(raw, self.resolver.scopes_property))
        return resources, by_key, missing

    def _lookup(self, value):
        """A ``permissions`` resource: object id, appId (both asked for) or display name."""
        if is_guid(value):
            urls = [relative_url('/servicePrincipals/{0}'.format(value), [('$select', self.fields)]),
                    relative_url("/servicePrincipals(appId='{0}')".format(value), [('$select', self.fields)])]
            return _Lookup('resource', value, urls, miss=MISS_STATUSES)
        url = relative_url('/servicePrincipals', [('$filter', 'displayName eq {0}'.format(odata_string(value))),
                                                  ('$select', self.fields), ('$top', PAGE_SIZE)])
        return _Lookup('resource', value, [url])

    def _found_one(self, lookup, requests, by_registration, params, client_sp):
        if by_registration or is_guid(lookup.value):
            found = self.resolver._found(lookup)
            if found:
                return found[0]
            if params.get('create_missing_service_principals'):
                return None
            raise ConsentError(
                'Resource {0} requested {1} has no service principal in this tenant, so nothing can be granted on it. '
                'Set create_missing_service_principals: true to create it (POST /servicePrincipals with its appId), '
                'or create the enterprise application first (az ad sp create --id {0}).{2}'.format(
                    lookup.value, 'by the app registration of ' + self._label(client_sp) if by_registration
                    else "in 'permissions'", '' if by_registration else ' A display name must match an existing one.'))
        return self.resolver.service_principal(lookup).raw  # a display name: found once, or a clear error

    def _values(self, requests_list, resource, source, params):
        """(scope values, role values) requested of ``resource``, every check done."""
        scopes, roles = set(), set()
        for requests in requests_list:
            more_scopes, more_roles = requested_values(requests, resource, source)
            scopes.update(more_scopes)
            roles.update(more_roles)
        if not resource.to_create:
            if params.get('validate_scopes', True) and params.get('delegated', True) and scopes:
                check_requested_scopes(sorted(scopes), resource.published_scopes, resource.label())
            if params.get('application', True) and roles:
                check_app_roles(resource.app_roles, sorted(roles), True, resource_label=resource.label())
        return sorted(scopes), sorted(roles)

    # ----------------------------------------------------------------------------------------------- writes
    def _create_service_principal(self, app_id):
        try:
            raw = self.client.post('/servicePrincipals', {'appId': app_id})
        except GraphError as err:
            if err.status != 409:  # 409: it exists after all (someone else was quicker): read it
                raise
            raw = None
        if raw is None or 'appRoles' not in raw:
            raw = self.client.get("/servicePrincipals(appId='{0}')".format(app_id), params=[('$select', self.fields)])
        return Resource(raw, self.resolver.scopes_property)

    def _write(self, client_sp, plans, applied):
        """Carry out every plan; (plans as done, {roles_added, roles_removed} per plan)."""
        done, outcomes = [], []
        try:
            for plan in plans:
                plan, outcome = self._write_one(client_sp, plan, applied)
                done.append(plan)
                outcomes.append(outcome)
        except Exception as err:
            raise record_applied(err, applied)
        return done, outcomes

    def _write_one(self, client_sp, plan, applied):
        resource = plan.resource
        outcome = {}
        if plan.grant is not None and plan.grant.action != ACTION_UNCHANGED:
            key = GrantKey(client_sp.id, resource.id, None)
            written = self.writer.apply(key, plan.grant_current, plan.grant, plan.scopes, plan.scope_mode, plan.state)
            plan = plan._replace(grant=written.plan._replace(action=written.action))
            applied.append('{0} grant: {1}'.format(written.action, resource.label()))
        if plan.roles is not None and (plan.roles.add or plan.roles.remove):
            sp = ServicePrincipal(resource.raw, self.resolver.scopes_property)
            done = self.roles.converge(client_sp, sp, plan.roles.current, plan.app_roles, plan.scope_mode, plan.state)
            plan = plan._replace(roles=plan.roles._replace(before=done['before'], after=done['after']))
            outcome = dict(roles_added=done['roles_added'], roles_removed=done['roles_removed'])
            if done['changed']:
                applied.append('app roles: {0}'.format(resource.label()))
        return plan, outcome
