# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""Reading grants: listings (complete and counted where Graph needs it), one grant by key or id, the filtered query of
``oauth2_grant_info``, and the display names and UPNs attached to grants for review."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._grants import (
    GrantInputError,
    grant_view,
    is_guid,
    looks_like_grant_id,
    select_grant,
)
from ansible_collections.msgraph.grants.plugins.module_utils._resolve import (
    ADVANCED_HEADERS,
    COUNT_PARAM,
    PAGE_SIZE,
)

GRANTS_PATH = '/oauth2PermissionGrants'


class GrantReader(object):
    """Reads grants through ``client``; ``resolver`` (``_resolve.Resolver``) resolves the query's filters."""

    def __init__(self, client, resolver):
        self.client = client
        self.resolver = resolver

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
            # Graph used to answer 404 to a clientId filter naming a client without grants
            # (docs/dev/graph-behaviour.md).
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

    # -------------------------------------------------------------------------------------------------- query
    def query(self, filters, resolve_names=False):
        """Grants matching the (resolved) ``filters`` (id, client, resource, principal, consent_type), every page
        followed, optionally with display names."""
        if filters.get('id'):
            raw = self.get_grant_by_id(filters['id'])
            raw_grants = [raw] if raw is not None else []
            known = {}
        else:
            raw_grants, known = self._query_by_filters(filters)
        # In place: a listing of 100,000 grants is held once, not as raw grants and views side by side.
        views = raw_grants
        for index, raw in enumerate(views):
            views[index] = grant_view(raw)
        if resolve_names and views:
            self.attach_names(views, known)
        views.sort(key=lambda v: (v['client_id'] or '', v['resource_id'] or '', v['principal_id'] or '', v['id'] or ''))
        return views

    def _query_by_filters(self, filters):
        resolver = self.resolver
        lookups = {}
        if filters.get('client'):
            lookups['client'] = resolver.service_principal_lookup('client', filters['client'])
        if filters.get('resource'):
            lookups['resource'] = resolver.service_principal_lookup('resource', filters['resource'])
        if filters.get('principal'):
            lookups['principal'] = resolver.user_lookup(filters['principal'])
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
        if filters.get('consent_type'):
            clauses.append("consentType eq '{0}'".format(filters['consent_type']))
        return self.list_grants(' and '.join(clauses) or None), known

    def _names_by_ids(self, ordered, known):
        """Names of ``ordered`` ((object id, kind) pairs) through ``getByIds``, 1,000 a request: True when done, False
        when getByIds cannot be used here (then each object is read in a ``$batch``)."""
        objects = getattr(self.resolver, 'objects', None)
        if objects is None:
            return False
        found = objects.get_by_ids([object_id for object_id, _kind in ordered], ['servicePrincipal', 'user'])
        if found is None:
            return False
        for object_id, kind in ordered:
            body = found.get(object_id.lower()) or {}
            known[object_id.lower()] = (kind, body.get('displayName') if kind == 'sp' else body.get('userPrincipalName'))
        return True

    def attach_names(self, views, known):
        """Display names and UPNs on ``views`` (grant views, changed in place), each object read once: through
        ``getByIds`` (1,000 a request) where the identity may use it, else in batched reads (20 a request, sent
        concurrently). ``known`` maps lower-case object ids the run resolved already to (kind, name)."""
        wanted = {}
        for view in views:
            for object_id, kind in ((view['client_id'], 'sp'), (view['resource_id'], 'sp'), (view['principal_id'], 'user')):
                if object_id and object_id.lower() not in known:
                    wanted[object_id.lower()] = (object_id, kind)
        ordered = sorted(wanted.values())
        if ordered and self._names_by_ids(ordered, known):
            ordered = []
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
