# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""How ``oauth2_grants`` reads the grants of a desired list with the fewest requests (PURE: no I/O).

Two ways to learn whether an ``AllPrincipals`` grant of client C on resource R exists:

- **list the resource**: ``/oauth2PermissionGrants?$filter=resourceId eq 'R' and consentType eq 'AllPrincipals'``,
  999 a page, every page: one request per 999 grants of R, whoever their client is;
- **read per client**: ``$filter=clientId eq 'C' and consentType eq 'AllPrincipals'``: one ``$batch`` item per
  client (20 a request), which also serves C's items on other resources.

A resource with many desired items is listed (``plan_listings``); after its first page, ``@odata.count`` says how many
pages are left, and the listing is cut short when reading the clients not yet seen costs fewer requests
(``keep_listing``): a resource carrying tens of thousands of other grants is never paged through. ``Principal``
grants are never found by listing a resource (Microsoft Graph carries a consent per user and app): each is read by
the narrowest filter, ``clientId`` and ``principalId`` (``client_reads``). Exclusive mode reads every grant of each
listed client it may delete (``AllPrincipals`` only, unless user consents are included).

Nothing here trusts a server-side filter: the caller keeps a grant only when its own keys match (``listed``,
``_grants.select_grant``), so a filter Graph ignored or a listing that is not complete never leads to another
grant (docs/dev/graph-behaviour.md, "Readings").
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

from ansible_collections.msgraph.grants.plugins.module_utils._grants import CONSENT_ALL_PRINCIPALS, CONSENT_PRINCIPAL

LIST_PAGE = 999          # grants per listing page ($top; Graph's maximum for directory collections)
BATCH_ITEMS = 20         # requests per $batch
# A resource with fewer AllPrincipals items than this is read per client: one $batch holds them all, and its listing
# would cost at least as much.
MIN_LISTED_CLIENTS = BATCH_ITEMS + 1


def _all_principals(item):
    return not item.get('principal') and item.get('consent_type') != CONSENT_PRINCIPAL


def plan_listings(items, exclusive=False):
    """The resources to list, as written in ``items`` -> the set of client values (as written) of their
    AllPrincipals items. Exclusive mode reads every listed client in full anyway: nothing is listed."""
    if exclusive:
        return {}
    clients = {}
    for item in items:
        if _all_principals(item):
            clients.setdefault(item['resource'], set()).add(item['client'])
    return dict((resource, found) for resource, found in clients.items() if len(found) >= MIN_LISTED_CLIENTS)


def listing_filter(resource_id):
    """The listing of a resource's AllPrincipals grants (consentType filtered by Graph, and checked again here)."""
    return "resourceId eq '{0}' and consentType eq '{1}'".format(resource_id, CONSENT_ALL_PRINCIPALS)


def listed(raw, resource_id):
    """True when a grant of a resource listing really is an AllPrincipals grant of ``resource_id``."""
    return ((raw.get('resourceId') or '').lower() == resource_id.lower()
            and raw.get('consentType') == CONSENT_ALL_PRINCIPALS)


def keep_listing(count, received, page_length, unseen_clients):
    """After a listing's first page(s): True when the pages left (``count`` grants in all, ``received`` so far,
    ``page_length`` per page) cost no more requests than reading the ``unseen_clients`` per client."""
    if count is None or count <= received:
        return True  # not counted (or nothing left): follow the links, they are the only truth
    # An empty first page (with a link) says nothing of the page size: assume full pages.
    pages_left = int(math.ceil((count - received) / float(page_length or LIST_PAGE)))
    per_client = int(math.ceil(unseen_clients / float(BATCH_ITEMS)))
    return pages_left <= per_client


def client_reads(wanted, exclusive=False, include_user_consents=False):
    """The per-client reads to send: ``wanted`` is a list of (client_id, principal_id or None) pairs, one per item
    that no listing answered (object ids). Returns sorted, distinct (client_id, principal_id, consent_type) triples:
    principal_id None reads the client's grants (consent_type None: all of them); a principal reads that user's grant
    of the client only. Exclusive mode adds a full read of each client (its undeclared grants are deleted)."""
    full = set()
    narrow = set()
    for client_id, principal_id in wanted:
        client = client_id.lower()
        if principal_id:
            narrow.add((client, principal_id.lower()))
        else:
            full.add(client)
    reads = {}
    for client in full:
        reads[(client, None)] = CONSENT_ALL_PRINCIPALS
    if exclusive:
        for client_id, _principal in wanted:
            reads[(client_id.lower(), None)] = None if include_user_consents else CONSENT_ALL_PRINCIPALS
    for client, principal in narrow:
        if reads.get((client, None), CONSENT_ALL_PRINCIPALS) is None:
            continue  # the client's full read has that user's grant already
        reads[(client, principal)] = CONSENT_PRINCIPAL
    return sorted(((client, principal, consent) for (client, principal), consent in reads.items()),
                  key=lambda read: (read[0], read[1] or '', read[2] or ''))


def client_filter(client_id, principal_id=None, consent_type=None):
    """The ``$filter`` of one per-client read (``client_reads``)."""
    clauses = ["clientId eq '{0}'".format(client_id)]
    if principal_id:
        clauses.append("principalId eq '{0}'".format(principal_id))
    if consent_type:
        clauses.append("consentType eq '{0}'".format(consent_type))
    return ' and '.join(clauses)
