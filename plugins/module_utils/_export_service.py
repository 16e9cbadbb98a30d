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
- app role assignments (``_export.assignment_reads``): per client (``appRoleAssignments``) or per resource
  (``appRoleAssignedTo``, service principals kept, users and groups left out), whichever list is shorter; without
  filters, per resource publishing a role a service principal can hold (known from the listing below), never per
  service principal of the tenant;
- names: without filters every service principal is listed once (pages of 999, with its app roles), which names
  every client and resource in a few requests; the rest (users, the objects a filtered export names) is read by id
  as ``oauth2_grant_info`` reads names: ``getByIds`` (1,000 a request) where the identity may use it, else batched
  reads (``_directory_objects``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.msgraph.grants.plugins.module_utils._app_role_service import app_role_permission_hints, assignments_path
from ansible_collections.msgraph.grants.plugins.module_utils._export import (
    DirectoryObject,
    ambiguous_names_error,
    assignment_reads,
    build_export,
    check_key,
    exclusive_warning,
    header_lines,
    render,
    sp_comment,
    written_name,
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
ASSIGNED_TO_PATH = '/servicePrincipals/{0}/appRoleAssignedTo'


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
            clients, resources = self._resolve(clients_in, resources_in, objects)
            grants = self._read_grants(clients, resources, per_user)
            if not clients and not resources:
                self._list_service_principals(objects)
            side, ids = assignment_reads(clients, resources, objects.values())
            assignments = self._read_assignments(side, ids, clients, resources)
            self._read_objects(grants, assignments, objects)
            result = build_export(grants, assignments, objects, key=key, include_user_consents=per_user)
            if key == 'display_name':
                self._check_unique_names(result)
        if self.warn is not None:
            for text in result.not_exported:
                self.warn('Not exported: ' + text)
            if result.removed_by_exclusive:
                self.warn(exclusive_warning(result.removed_by_exclusive))
        counts = {'grants': len(result.grants), 'app_role_assignments': len(result.app_role_assignments),
                  'not_exported': len(result.not_exported)}
        scope = [(written_name(objects[rid.lower()], key), sp_comment(objects[rid.lower()], key)) for rid in resources]
        content = render(result, header_lines(key, clients_in, resources_in, per_user, counts), scope, per_user)
        # Not 'skipped': Ansible reads a result key of that name as "the task was skipped".
        return dict(result.items(), content=content, counts=counts, not_exported=result.not_exported,
                    delegated_permissions_exported_resources=[written for written, _comment in scope])

    # -- resolve ------------------------------------------------------------------------------------------------
    def _resolve(self, clients_in, resources_in, objects):
        """Object ids of the filters (deduplicated, in order), every value resolved in one ``$batch``; the resources
        with their app roles (what a per-resource read of their assignments needs)."""
        lookups = [self.resolver.service_principal_lookup('client', value) for value in dict.fromkeys(clients_in)]
        lookups += [self.resolver.service_principal_lookup('resource', value, with_app_roles=True)
                    for value in dict.fromkeys(resources_in)]
        self.resolver.run(lookups)
        clients, resources = [], []
        for lookup in lookups:
            sp = self.resolver.service_principal(lookup)
            ids = clients if lookup.role == 'client' else resources
            known = objects.get(sp.id.lower())
            if known is None or known.app_roles is None:
                objects[sp.id.lower()] = DirectoryObject.service_principal(sp.raw)
            if sp.id not in ids:
                ids.append(sp.id)
        return clients, resources

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
        fields = NAME_FIELDS + ',appRoles'
        for raw in self.client.get_all('/servicePrincipals', params=[('$select', fields), ('$top', PAGE_SIZE)]):
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

    def _read_assignments(self, side, ids, clients, resources):
        """The app role assignments held by service principals, read per principal or per resource (``side``, ``ids``:
        ``_export.assignment_reads``), kept only when they match the filters: a server-side filter is never relied on
        (none is sent)."""
        ids = sorted(set(ids), key=lambda i: i.lower())
        path = assignments_path if side == 'principal' else ASSIGNED_TO_PATH.format
        urls = [relative_url(path(object_id), [('$top', PAGE_SIZE)]) for object_id in ids]
        own = 'principalId' if side == 'principal' else 'resourceId'
        wanted_clients, wanted_resources = set(c.lower() for c in clients), set(r.lower() for r in resources)
        found = []
        for object_id, url, response in zip(ids, urls, self._get_each(urls)):
            if response.status == 404:
                continue  # deleted since it was listed
            if response.status >= 300:
                raise error_from_response(response, 'GET', url)
            for raw in self.resolver.rest_of(response.json or {}):
                principal, resource = (raw.get('principalId') or '').lower(), (raw.get('resourceId') or '').lower()
                if (raw.get(own) or '').lower() != object_id.lower():
                    continue
                if raw.get('principalType', 'ServicePrincipal') != 'ServicePrincipal':
                    continue  # a user's or group's assignment (appRoleAssignedTo lists them too)
                if (wanted_clients and principal not in wanted_clients) or (wanted_resources and resource not in wanted_resources):
                    continue
                found.append(raw)
        return found

    def _read_objects(self, grants, assignments, objects):
        """Every object the export names that ``objects`` lacks (resources of assignments: with their app roles), by
        ``getByIds`` where the identity may use it (full objects: names and app roles), else read each in batches."""
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
        if not ordered:
            return
        types = sorted(set('user' if kind == 'user' else 'servicePrincipal' for kind, _id, _roles in ordered))
        found = self.resolver.objects.get_by_ids([object_id for _kind, object_id, _roles in ordered], types)
        if found is not None:
            for kind, object_id, _roles in ordered:
                raw = found.get(object_id.lower())
                if raw is not None:  # absent: deleted; what names it is skipped, and said
                    objects[object_id.lower()] = DirectoryObject.user(raw) if kind == 'user' else DirectoryObject.service_principal(
                        dict(raw, appRoles=raw.get('appRoles') or []))
            return
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
