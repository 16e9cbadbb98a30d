# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""The reads of ``oauth2_grants`` (``_bulk.BulkGrantService``): resolve every name of the list, then read the grants
the way ``_read_plan`` says costs fewest requests, independent reads sent concurrently.

1. Resolution, in one round: resources, users and clients given by display name in ``$batch`` (as
   ``oauth2_grant`` resolves them), and beside it the clients given as GUIDs by ``getByIds`` (1,000 a request;
   ``_directory_objects``). Without ``getByIds`` (no ``Directory.Read.All``) each GUID client costs one ``$batch``
   item as object id, and one more only when it is an appId. A GUID that getByIds does not know is asked for as an
   appId (one item).
2. Grants: the listings of the resources ``_read_plan.plan_listings`` chose (each listing's pages in order) beside
   the per-client reads (``_read_plan.client_reads``, 20 per ``$batch``); a listing cut short after its first page
   leaves its unseen clients to one more round of per-client reads.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import error_from_response
from ansible_collections.msgraph.grants.plugins.module_utils._graph_concurrency import parallel, values
from ansible_collections.msgraph.grants.plugins.module_utils._grants import is_guid
from ansible_collections.msgraph.grants.plugins.module_utils._read_plan import (
    LIST_PAGE,
    client_filter,
    client_reads,
    keep_listing,
    listed,
    listing_filter,
    plan_listings,
)
from ansible_collections.msgraph.grants.plugins.module_utils._resolve import (
    ADVANCED_HEADERS,
    COUNT_PARAM,
    MISS_STATUSES,
    ServicePrincipal,
    relative_url,
)

GRANTS_PATH = '/oauth2PermissionGrants'


class BulkReader(object):
    """Reads for one ``oauth2_grants`` run through ``client``, with the single-grant ``resolver``."""

    def __init__(self, client, resolver):
        self.client = client
        self.resolver = resolver
        self.objects = resolver.objects

    def read(self, items, exclusive=False, include_user_consents=False):
        """(sps, users, grants_by_client): ``sps`` maps (role, value as written) to a ServicePrincipal, ``users`` a
        principal as written to a User, ``grants_by_client`` a lower-case client id to the raw grants read for it."""
        sps, users = self._resolve(items)
        listings = plan_listings(items, exclusive)
        listed_ids = {}
        for resource, clients in listings.items():
            resource_id = sps[('resource', resource)].id
            listed_ids[resource_id.lower()] = set(sps[('client', c)].id.lower() for c in clients)
        wanted = []
        for item in items:
            client_id = sps[('client', item['client'])].id
            if exclusive:
                wanted.append((client_id, None))
            if item.get('principal'):
                wanted.append((client_id, users[item['principal']].id))
            elif sps[('resource', item['resource'])].id.lower() not in listed_ids:
                wanted.append((client_id, None))
        tasks = [self._bind(self._list_resource, rid, clients) for rid, clients in sorted(listed_ids.items())]
        tasks.append(self._bind(self._read_clients, client_reads(wanted, exclusive, include_user_consents)))
        found = []
        cut = set()
        for grants, unseen in values(parallel(self.client, tasks)):
            found.extend(grants)
            cut.update(unseen)
        if cut:  # listings cut short: their unseen clients, read per client
            found.extend(self._read_clients(client_reads([(c, None) for c in cut]))[0])
        grants_by_client = {}
        for raw in found:
            bucket = grants_by_client.setdefault((raw.get('clientId') or '').lower(), {})
            bucket[raw.get('id')] = raw  # a grant read twice (listing and client read) counts once
        return sps, users, dict((client, list(bucket.values())) for client, bucket in grants_by_client.items())

    @staticmethod
    def _bind(function, *args):
        return lambda: function(*args)

    # ---------------------------------------------------------------------------------------------- resolution
    def _resolve(self, items):
        resolver = self.resolver
        validate_any = any(i.get('validate_scopes', True) and i.get('state', 'present') == 'present' for i in items)
        lookups, user_lookups, guid_clients = {}, {}, []
        for item in items:
            resource, client = item['resource'], item['client']
            if ('resource', resource) not in lookups:
                lookups[('resource', resource)] = resolver.service_principal_lookup('resource', resource, with_scopes=validate_any)
            if is_guid(client):
                if client not in guid_clients:
                    guid_clients.append(client)
            elif ('client', client) not in lookups:
                lookups[('client', client)] = resolver.service_principal_lookup('client', client)
            if item.get('principal') and item['principal'] not in user_lookups:
                user_lookups[item['principal']] = resolver.user_lookup(item['principal'])
        by_ids = self.objects.usable() and bool(guid_clients)
        probes = {} if by_ids else self._probes(guid_clients, 0)
        first = list(lookups.values()) + list(user_lookups.values()) + list(probes.values())
        tasks = [lambda: resolver.run(first)]
        if by_ids:
            tasks.append(lambda: self.objects.get_by_ids(guid_clients, ['servicePrincipal']))
        answers = values(parallel(self.client, tasks))
        known = answers[1] if by_ids else None
        if by_ids and known is None:  # Graph refused getByIds: one item per client after all
            probes = self._probes(guid_clients, 0)
            resolver.run(list(probes.values()))
        sps = dict((key, resolver.service_principal(lookup)) for key, lookup in lookups.items())
        users = dict((key, resolver.user(lookup)) for key, lookup in user_lookups.items())
        sps.update(self._guid_clients(guid_clients, known, probes))
        return sps, users

    def _probes(self, clients, form):
        """One lookup per GUID client asking for one form only: 0 the object id, 1 the appId."""
        out = {}
        for value in clients:
            lookup = self.resolver.service_principal_lookup('client', value)
            lookup.requests = lookup.requests[form:form + 1]
            out[value] = lookup
        return out

    def _guid_clients(self, clients, known, probes):
        """The GUID clients: found by getByIds (``known``) or by their object-id probe; the others are asked for as
        appIds, and those that are neither fail with the single-grant message."""
        resolver = self.resolver
        sps, pending = {}, []
        for value in clients:
            if known is not None:
                raw = known.get(value.lower())
            else:
                response = probes[value].responses[0]
                if response.status in MISS_STATUSES:
                    raw = None
                elif response.status >= 300:
                    raise error_from_response(response, 'GET', probes[value].requests[0])
                else:
                    raw = response.json or {}
            if raw:
                sps[('client', value)] = ServicePrincipal(raw, resolver.scopes_property)
            else:
                pending.append(value)
        if pending:
            by_app_id = self._probes(pending, 1)
            resolver.run(list(by_app_id.values()))
            for value, lookup in by_app_id.items():
                sps[('client', value)] = resolver.service_principal(lookup)
        return sps

    # --------------------------------------------------------------------------------------------------- grants
    def _list_resource(self, resource_id, client_ids):
        """The AllPrincipals grants of ``resource_id`` whose client is one of ``client_ids``, and the clients left to
        per-client reads (the listing was refused, or cut short because its pages would cost more)."""
        params = [('$filter', listing_filter(resource_id)), ('$top', LIST_PAGE), COUNT_PARAM]
        try:
            body = self.client.get(GRANTS_PATH, params=params, headers=ADVANCED_HEADERS)
        except GraphError as err:
            if err.status == 400:  # the combined filter refused: never page through every consent of the resource
                return [], set(client_ids)
            raise
        page = body.get('value') or []
        grants = [g for g in page if listed(g, resource_id) and (g.get('clientId') or '').lower() in client_ids]
        received = len(page)
        next_link = body.get('@odata.nextLink')
        if next_link:
            unseen = client_ids - set((g.get('clientId') or '').lower() for g in grants)
            if not keep_listing(body.get('@odata.count'), received, len(page), len(unseen)):
                return grants, unseen
            rest = self.client.get_all(next_link, headers=ADVANCED_HEADERS)
            received += len(rest)
            grants.extend(g for g in rest if listed(g, resource_id) and (g.get('clientId') or '').lower() in client_ids)
        self.resolver.note_count(body.get('@odata.count'), received, 'AllPrincipals grants of resource {0}'.format(resource_id))
        return grants, set()

    def _read_clients(self, reads):
        """The grants of each (client_id, principal_id, consent_type) read, 20 per ``$batch``; a filter Graph refuses
        in combination is sent again with the clientId clause alone. Returns (grants, no clients left)."""
        if not reads:
            return [], set()
        urls = [relative_url(GRANTS_PATH, [('$filter', client_filter(*read)), ('$top', LIST_PAGE)]) for read in reads]
        responses = self.client.batch([{'method': 'GET', 'url': url} for url in urls])
        grants, plain = [], set()
        for read, url, response in zip(reads, urls, responses):
            if response.status == 404:
                continue  # a clientId filter naming a client without grants (docs/dev/graph-behaviour.md)
            if response.status == 400 and (read[1] or read[2]):
                plain.add(read[0])
                continue
            if response.status >= 300:
                raise error_from_response(response, 'GET', url)
            grants.extend(self.resolver.rest_of(response.json or {}))
        if plain:
            grants.extend(self._read_clients([(client, None, None) for client in sorted(plain)])[0])
        return grants, set()
