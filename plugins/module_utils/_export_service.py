# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""Export: resolve the filters -> read grants, app role assignments and the objects they name -> ``_export`` (pure).

Read only. The reads, and why they are shaped so:
- the filters (clients, resources) are resolved like every module's inputs (``_resolve``: object id, appId or display
  name, all in one ``$batch``), so an unknown name fails with what was searched instead of exporting nothing;
- grants: one listing per filtered client (``clientId eq``), else per filtered resource, else the whole tenant (an
  advanced, counted query: ``_grant_reader.GrantReader.list_grants``), pages of 999; per-user grants are filtered
  out by Graph (``consentType eq 'AllPrincipals'``) unless asked for;
- app role assignments: those of the filtered clients, or of every service principal when no client is named (the
  role's ``delegated_permissions_app_role_assignments`` form, read per client as ``_app_role_bulk`` does);
- names: without a client filter every service principal is listed once (pages of 999, id/appId/displayName), which
  names every client and resource in a few requests; the rest (users, resources' app roles) is read by id in
  batched requests, each object once.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.msgraph.grants.plugins.module_utils._app_role_service import app_role_permission_hints, assignments_path
from ansible_collections.msgraph.grants.plugins.module_utils._export import (
    DirectoryObject,
    ambiguous_names_error,
    build_export,
    check_key,
    header_lines,
    render,
)
from ansible_collections.msgraph.grants.plugins.module_utils._grant_errors import permission_hints
from ansible_collections.msgraph.grants.plugins.module_utils._grant_reader import GrantReader
from ansible_collections.msgraph.grants.plugins.module_utils._grants import CONSENT_ALL_PRINCIPALS, GrantInputError
from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import error_from_response
from ansible_collections.msgraph.grants.plugins.module_utils._resolve import (
    PAGE_SIZE,
    USER_FIELDS,
    Resolver,
    relative_url,
)

NAME_FIELDS = 'id,appId,displayName'


class ExportService(object):
    """``export(options)``: the module ``permission_export`` (and the role's ``export`` entry point)."""

    def __init__(self, client, api_version='v1.0', warn=None):
        self.client = client
        self.resolver = Resolver(client, api_version, warn=warn)
        self.reader = GrantReader(client, self.resolver)
        self.warn = warn

    def export(self, options):
        key = options.get('key') or 'app_id'
        check_key(key)
        clients_in, resources_in = options.get('clients') or [], options.get('resources') or []
        per_user = bool(options.get('include_user_consents'))
        with permission_hints(), app_role_permission_hints():
            objects = {}
            clients = self._resolve('client', clients_in, objects)
            resources = self._resolve('resource', resources_in, objects)
            grants = self._read_grants(clients, resources, per_user)
            if not clients:
                self._list_service_principals(objects)
            assignments = self._read_assignments(clients or [o.id for o in objects.values() if o.kind == 'sp'], resources)
            self._read_objects(grants, assignments, objects)
            result = build_export(grants, assignments, objects, key=key, include_user_consents=per_user)
            if key == 'display_name':
                self._check_unique_names(result)
        for text in result.skipped:
            if self.warn is not None:
                self.warn('Not exported: ' + text)
        counts = {'grants': len(result.grants), 'app_role_assignments': len(result.app_role_assignments),
                  'not_exported': len(result.skipped)}
        content = render(result, header_lines(key, clients_in, resources_in, per_user, counts))
        # Not 'skipped': Ansible reads a result key of that name as "the task was skipped".
        return dict(result.items(), content=content, counts=counts, not_exported=result.skipped)

    # -- resolve ------------------------------------------------------------------------------------------------
    def _resolve(self, role, values, objects):
        """Object ids of the filter ``values`` (deduplicated, in order); every one resolved in one ``$batch``."""
        lookups = [self.resolver.service_principal_lookup(role, value) for value in dict.fromkeys(values)]
        self.resolver.run(lookups)
        ids = []
        for lookup in lookups:
            sp = self.resolver.service_principal(lookup)
            objects[sp.id.lower()] = DirectoryObject.service_principal(sp.raw)
            if sp.id not in ids:
                ids.append(sp.id)
        return ids

    # -- read ---------------------------------------------------------------------------------------------------
    def _read_grants(self, clients, resources, per_user):
        only_admin = None if per_user else "consentType eq '{0}'".format(CONSENT_ALL_PRINCIPALS)
        if clients:
            filters = ["clientId eq '{0}'".format(cid) for cid in clients]
        elif resources:
            filters = ["resourceId eq '{0}'".format(rid) for rid in resources]
        else:
            filters = [None]
        wanted = set(r.lower() for r in resources)
        grants = {}
        for odata_filter in filters:
            joined = ' and '.join(f for f in (odata_filter, only_admin) if f) or None
            for raw in self.reader.list_grants(joined):
                # Checked here too: a server-side filter is never trusted to have been applied.
                if wanted and (raw.get('resourceId') or '').lower() not in wanted:
                    continue
                if not per_user and raw.get('consentType') != CONSENT_ALL_PRINCIPALS:
                    continue
                grants[raw.get('id')] = raw
        return [grants[gid] for gid in sorted(grants, key=lambda g: g or '')]

    def _list_service_principals(self, objects):
        for raw in self.client.get_all('/servicePrincipals', params=[('$select', NAME_FIELDS), ('$top', PAGE_SIZE)]):
            if raw.get('id') and raw['id'].lower() not in objects:
                objects[raw['id'].lower()] = DirectoryObject.service_principal(raw)

    def _get_each(self, urls):
        """One GET per URL, batched (one request when there is one); the answers in order."""
        if not urls:
            return []
        requests = [{'method': 'GET', 'url': url} for url in urls]
        if len(requests) == 1:
            return [self.client.request('GET', urls[0], raise_for_status=False)]
        return self.client.batch(requests)

    def _read_assignments(self, client_ids, resources):
        """The app role assignments held by each client (``principalId`` the client), on ``resources`` if given."""
        ids = sorted(set(client_ids))
        urls = [relative_url(assignments_path(cid), [('$top', PAGE_SIZE)]) for cid in ids]
        wanted = set(r.lower() for r in resources)
        found = []
        for cid, url, response in zip(ids, urls, self._get_each(urls)):
            if response.status == 404:
                continue  # deleted since it was listed
            if response.status >= 300:
                raise error_from_response(response, 'GET', url)
            for raw in self.resolver.rest_of(response.json or {}):
                if (raw.get('principalId') or '').lower() != cid.lower():
                    continue
                if wanted and (raw.get('resourceId') or '').lower() not in wanted:
                    continue
                found.append(raw)
        return found

    def _read_objects(self, grants, assignments, objects):
        """Every object the export names that ``objects`` lacks, and the app roles of the assignments' resources."""
        wanted = {}
        for raw in grants:
            for object_id, kind in ((raw.get('clientId'), 'sp'), (raw.get('resourceId'), 'sp'), (raw.get('principalId'), 'user')):
                if object_id and object_id.lower() not in objects:
                    wanted[object_id.lower()] = (kind, object_id, False)
        for raw in assignments:
            if raw.get('principalId') and raw['principalId'].lower() not in objects:
                wanted[raw['principalId'].lower()] = ('sp', raw['principalId'], False)
            rid = (raw.get('resourceId') or '').lower()
            if rid and (rid not in objects or objects[rid].app_roles is None):
                wanted[rid] = ('sp', raw['resourceId'], True)
        ordered = sorted(wanted.values(), key=lambda w: w[1].lower())
        urls = []
        for kind, object_id, with_roles in ordered:
            if kind == 'user':
                urls.append(relative_url('/users/{0}'.format(object_id), [('$select', USER_FIELDS)]))
            else:
                fields = NAME_FIELDS + (',appRoles' if with_roles else '')
                urls.append(relative_url('/servicePrincipals/{0}'.format(object_id), [('$select', fields)]))
        for (kind, object_id, _roles), url, response in zip(ordered, urls, self._get_each(urls)):
            if response.status == 404:
                continue  # a deleted object: what names it is skipped, and said
            if response.status >= 300:
                raise error_from_response(response, 'GET', url)
            raw = response.json or {}
            obj = DirectoryObject.user(raw) if kind == 'user' else DirectoryObject.service_principal(raw)
            objects[object_id.lower()] = obj

    def _check_unique_names(self, result):
        """key display_name: every written name must name one service principal in the whole tenant."""
        names = sorted(set(i[side] for i in result.grants + result.app_role_assignments for side in ('client', 'resource')))
        lookups = [self.resolver.service_principal_lookup('client', name) for name in names]
        self.resolver.run(lookups)
        candidates = {}
        for name, lookup in zip(names, lookups):
            found = []
            for url, response in zip(lookup.requests, lookup.responses):
                if response.status >= 300:
                    raise error_from_response(response, 'GET', url)
                found.extend(self.resolver.rest_of(response.json or {}))
            candidates[name] = found
        problem = ambiguous_names_error(candidates)
        if problem:
            raise GrantInputError(problem)
