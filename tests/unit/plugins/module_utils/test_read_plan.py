# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The read planner of oauth2_grants (plugins/module_utils/_read_plan.py): pure decisions, no Graph."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.msgraph.grants.plugins.module_utils._read_plan import (
    MIN_LISTED_CLIENTS,
    client_filter,
    client_reads,
    keep_listing,
    listed,
    listing_filter,
    plan_listings,
)

GRAPH = '1f7a3c52-8d4e-4b6a-9c1d-2e3f4a5b6c7d'
OTHER = '9d1e7a96-2b8c-4f0e-9a5b-6c7d8e9fa0b1'


def items_on(resource, count, **extra):
    return [dict({'client': 'client-%d' % n, 'resource': resource, 'scopes': ['User.Read']}, **extra) for n in range(count)]


def test_a_resource_with_many_all_principals_items_is_listed():
    items = items_on(GRAPH, MIN_LISTED_CLIENTS) + items_on(OTHER, MIN_LISTED_CLIENTS - 1)
    plan = plan_listings(items)
    assert list(plan) == [GRAPH] and len(plan[GRAPH]) == MIN_LISTED_CLIENTS


def test_per_user_items_never_make_a_resource_listed():
    assert plan_listings(items_on(GRAPH, 500, principal='adele@contoso.com')) == {}
    assert plan_listings(items_on(GRAPH, 500, consent_type='Principal')) == {}


def test_exclusive_mode_lists_nothing_it_reads_every_client_in_full():
    assert plan_listings(items_on(GRAPH, 500), exclusive=True) == {}


def test_the_listing_filters_the_consent_type_on_the_server_and_is_checked_again_locally():
    assert listing_filter(GRAPH) == "resourceId eq '%s' and consentType eq 'AllPrincipals'" % GRAPH
    grant = {'resourceId': GRAPH.upper(), 'consentType': 'AllPrincipals'}
    assert listed(grant, GRAPH)
    assert not listed(dict(grant, consentType='Principal'), GRAPH)  # a filter Graph ignored
    assert not listed(dict(grant, resourceId=OTHER), GRAPH)


@pytest.mark.parametrize('count, received, page, unseen, keep', [
    (None, 999, 999, 5000, True),       # not counted: follow the links
    (999, 999, 999, 1, True),           # nothing left
    (3000, 999, 999, 700, True),        # 3 more pages vs 35 batches
    (21000, 999, 999, 40, False),       # 21 more pages vs 2 batches: read those clients per client
    (21000, 999, 999, 400, False),      # 21 more pages vs 20 batches
    (21000, 999, 999, 420, True),       # 21 more pages vs 21 batches: a tie lists
    (3000, 2, 2, 10, False),            # a server page size of 2: 1,499 pages left vs 1 batch
])
def test_keep_listing_compares_the_requests_left(count, received, page, unseen, keep):
    assert keep_listing(count, received, page, unseen) is keep


def test_the_microsoft_graph_case_never_pages_through_user_consents():
    # 20,000 per-user consents are filtered out by consentType: the count is of AllPrincipals grants only
    assert keep_listing(2000 + 1000, 999, 999, 600) is True
    # but a resource with 50,000 AllPrincipals grants of others is not paged for 100 clients
    assert keep_listing(50000, 999, 999, 100) is False


def test_client_reads_use_the_narrowest_filter():
    a, b, u = 'AAAA', 'BBBB', 'UUUU'
    reads = client_reads([(a, None), (a, None), (b, u), (a, u)])
    assert reads == [('aaaa', None, 'AllPrincipals'), ('aaaa', 'uuuu', 'Principal'), ('bbbb', 'uuuu', 'Principal')]
    assert client_filter('aaaa', None, 'AllPrincipals') == "clientId eq 'aaaa' and consentType eq 'AllPrincipals'"
    assert client_filter('bbbb', 'uuuu', 'Principal') == \
        "clientId eq 'bbbb' and principalId eq 'uuuu' and consentType eq 'Principal'"
    assert client_filter('aaaa') == "clientId eq 'aaaa'"


def test_exclusive_reads_every_grant_it_may_delete():
    a, u = 'AAAA', 'UUUU'
    assert client_reads([(a, u)], exclusive=True) == [('aaaa', None, 'AllPrincipals'), ('aaaa', 'uuuu', 'Principal')]
    # with user consents, the full read of the client holds the user's grant already
    assert client_reads([(a, u)], exclusive=True, include_user_consents=True) == [('aaaa', None, None)]
