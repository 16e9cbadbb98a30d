# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One delegated permission grant: resolve -> read -> plan (pure, ``_grants``) -> write (``_grant_writer``).

PRIVATE to this collection. ``oauth2_grant`` and ``oauth2_grant_info`` are thin wrappers around this class; the
reads live in ``_grant_reader``, the write engine (shared with ``_bulk``) in ``_grant_writer``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time
from collections import namedtuple

from ansible_collections.msgraph.grants.plugins.module_utils._grant_errors import permission_hints
from ansible_collections.msgraph.grants.plugins.module_utils._grant_reader import GrantReader
from ansible_collections.msgraph.grants.plugins.module_utils._grant_writer import GrantWriter
from ansible_collections.msgraph.grants.plugins.module_utils._grants import (
    ACTION_CREATED,
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
    is_guid,
    plan_change,
    select_grant,
)
from ansible_collections.msgraph.grants.plugins.module_utils._labels import grant_label, names_of
from ansible_collections.msgraph.grants.plugins.module_utils._resolve import Resolver

# What resolving and reading one grant found: its ``key``, the grant as read (raw, None when absent), the resource
# service principal when its published scopes are needed (else None), and the ``header`` naming it in the diff.
_Target = namedtuple('_Target', ['key', 'current_raw', 'resource', 'header'])


class GrantService(object):
    """``ensure(options)`` converges one grant; ``query(filters)`` lists grants. ``resolver``, ``reader`` and
    ``writer`` are the pieces, public for services that batch (``_bulk``)."""

    def __init__(self, client, api_version='v1.0', check_mode=False, reconcile=None, sleep=time.sleep, warn=None):
        self.client = client
        self.api_version = api_version
        self.check_mode = check_mode
        self.resolver = Resolver(client, api_version, warn=warn)
        self.reader = GrantReader(client, self.resolver)
        self.writer = GrantWriter(client, self.reader, api_version=api_version, reconcile=reconcile, sleep=sleep)

    def query(self, filters, resolve_names=False):
        """Grants matching ``filters`` (``oauth2_grant_info``'s options), optionally with display names."""
        with permission_hints():
            return self.reader.query(filters, resolve_names=resolve_names)

    def ensure(self, options):
        """Converge one grant (``oauth2_grant``'s options); returns the module result."""
        with permission_hints():
            return self._ensure(options)

    def _ensure(self, options):
        state = options['state']
        scope_mode = options.get('scope_mode') or 'exact'
        requested = options.get('scopes') or []
        validate = options.get('validate_scopes', True)
        if state == 'present' and scope_mode == 'exact':
            check_scope_length(requested)  # the final set is known already: refuse before any request
        # resolve and read
        if options.get('id'):
            target = self._target_by_id(options['id'], state, validate)
            if target.key is None:
                nothing = plan_change(None, [], scope_mode, 'absent')
                return change_result(GrantOutcome(ACTION_UNCHANGED, None, None, nothing), target.header)
        else:
            target = self._target_by_key(options, state, validate)
        # plan (pure)
        current = grant_view(target.current_raw)
        plan = plan_change(current, requested, scope_mode, state)
        resource = target.resource
        if validate and state == 'present' and scope_mode != 'remove' and resource is not None:
            check_requested_scopes(requested, resource.published_scopes, resource.label())
        if plan.action in (ACTION_CREATED, ACTION_UPDATED):
            check_scope_length(plan.scopes_after)
        # write
        if self.check_mode or plan.action == ACTION_UNCHANGED:
            outcome = GrantOutcome(plan.action, current, grant_after_write(current, target.key, plan), plan)
        else:
            outcome = self.writer.apply(target.key, current, plan, requested, scope_mode, state)
        return change_result(outcome, target.header)

    def _target_by_id(self, grant_id, state, validate):
        header = 'grant id {0}'.format(grant_id)
        raw = self.reader.get_grant_by_id(grant_id)
        if raw is None:
            if state == 'present':
                raise GrantInputError(
                    "No grant with id '{0}' exists, and a grant cannot be created from an id. Give client, resource "
                    "(and principal) instead so that the module can create it.".format(grant_id))
            return _Target(None, None, None, header)
        key = GrantKey(raw.get('clientId'), raw.get('resourceId'), raw.get('principalId') if raw.get('consentType') == CONSENT_PRINCIPAL else None)
        resource = None
        if validate and state == 'present':
            lookup = self.resolver.service_principal_lookup('resource', key.resource_id, with_scopes=True)
            lookup.requests = lookup.requests[:1]  # an id from a grant is an object id, never an appId
            self.resolver.run([lookup])
            resource = self.resolver.service_principal(lookup)
        return _Target(key, raw, resource, header)

    def _target_by_key(self, options, state, validate):
        principal_value = options.get('principal')
        consent_type = options.get('consent_type') or (CONSENT_PRINCIPAL if principal_value else CONSENT_ALL_PRINCIPALS)
        if consent_type == CONSENT_ALL_PRINCIPALS and principal_value:
            raise GrantInputError(
                "consent_type=AllPrincipals grants apply to every user and cannot name a principal. Remove 'principal', "
                "or use consent_type=Principal for a grant to one user.")
        if consent_type == CONSENT_PRINCIPAL and not principal_value:
            raise GrantInputError("consent_type=Principal needs 'principal' (the user's object id or userPrincipalName).")

        resolver = self.resolver
        client_lookup = resolver.service_principal_lookup('client', options['client'])
        resource_lookup = resolver.service_principal_lookup('resource', options['resource'], with_scopes=validate and state == 'present')
        user_lookup = resolver.user_lookup(principal_value) if principal_value else None
        grants_lookup = None
        if is_guid(options['client']):
            if principal_value and is_guid(principal_value):
                nav_filter = "principalId eq '{0}'".format(principal_value)
            else:
                nav_filter = "consentType eq '{0}'".format(consent_type)
            grants_lookup = resolver.client_grants_lookup(options['client'], nav_filter)
        resolver.run([client_lookup, resource_lookup, user_lookup, grants_lookup])

        client_sp = resolver.service_principal(client_lookup)
        resource_sp = resolver.service_principal(resource_lookup)
        user = resolver.user(user_lookup) if user_lookup else None
        key = GrantKey(client_sp.id, resource_sp.id, user.id if user else None)
        grants = resolver.grants(grants_lookup) if grants_lookup else None
        if grants is None:
            grants = self.reader.list_grants(key.odata_filter())
        header = grant_label(options['client'], options['resource'], principal_value, names_of(client_sp, resource_sp, user))
        return _Target(key, select_grant(grants, key), resource_sp, header)
