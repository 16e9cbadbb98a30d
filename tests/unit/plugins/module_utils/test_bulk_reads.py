# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The reads of oauth2_grants as the planner makes them (plugins/module_utils/_bulk_reads.py, _read_plan.py), against
the strict fake Graph, under every reading of Graph that touches them (docs/dev/graph-behaviour.md, "Readings"):
a resource's AllPrincipals grants listed with the consent type filtered by Graph and every key checked again here,
per-user consents never paged through, a listing cut short or refused falling back to per-client reads."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.msgraph.grants.plugins.module_utils._bulk import BulkGrantService
from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph import ADELE_UPN, RESOURCE_ID, Sleeper
from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph_scale import listings, refuse, scale_id, scale_tenant


def item(client, resource=RESOURCE_ID, **kwargs):
    result = dict(client=client, resource=resource, principal=None, consent_type=None, scopes=['User.Read'],
                  scope_mode='exact', state='present', validate_scopes=True)
    result.update(kwargs)
    return result


def run(graph, items, **kwargs):
    return BulkGrantService(graph, api_version='v1.0', sleep=Sleeper()).ensure_all(items, **kwargs)


def declared(count=30, form=1):
    return [item(scale_id(form, n)) for n in range(count)]


READINGS = {
    'documented': {},
    'small pages': {'page_size': 7},
    'empty pages': {'empty_pages': True},
    'plain listings incomplete': {'listing_completeness': 'advanced_only'},
    'clientId filter 404': {'client_filter_404': True},
    'navigation filter rejected': {'navigation_filter': 'rejected'},
}


@pytest.mark.parametrize('reading', sorted(READINGS))
def test_a_no_op_lists_the_resource_once_and_changes_nothing(reading):
    graph = scale_tenant()
    for name, value in READINGS[reading].items():
        setattr(graph, name, value)
    result = run(graph, declared())
    assert result['counts']['unchanged'] == 30 and not result['changed'] and graph.writes == []
    assert set(listings(graph)) == {"resourceId eq '%s' and consentType eq 'AllPrincipals'" % RESOURCE_ID}
    per_client = [c for c in graph.calls if 'clientId' in c.query.get('$filter', '')]
    if reading == 'small pages':  # 120 grants 7 a page: 16 more pages cost more than the unseen clients' 2 batches
        assert len(listings(graph)) == 1 and 0 < len(per_client) < 30
    else:  # no client was read one by one: the listing answered every item
        assert per_client == []
    assert result['results'][0]['client_display_name'] == 'Scale Client 000'


def test_a_first_run_creates_what_the_listing_does_not_hold():
    graph = scale_tenant(clients=30, granted=10)
    result = run(graph, declared())
    assert result['counts'] == {'created': 20, 'updated': 0, 'deleted': 0, 'unchanged': 10}
    assert graph.duplicate_posts == 0
    assert run(graph, declared())['changed'] is False


def test_the_listing_is_checked_locally_when_graph_ignores_the_consent_type():
    graph = scale_tenant(clients=30, granted=0, user_consents=0)
    for n in range(30):  # each client has a per-user consent only: not the AllPrincipals grant the list declares
        graph.add_grant(scale_id(1, n), RESOURCE_ID, 'User.Read', principal_id='3a1b7e5c-1111-4a2b-9c3d-5e6f7a8b9c0d')
    original = graph.get

    def ignoring_consent_type(path, params=None, headers=None):  # a server that drops the consentType clause
        params = [(k, v.replace(" and consentType eq 'AllPrincipals'", '') if k == '$filter' else v) for k, v in params or []]
        return original(path, params=params, headers=headers)

    graph.get = ignoring_consent_type
    result = run(graph, declared())
    assert result['counts']['created'] == 30  # a user's consent was never taken for the tenant-wide grant


def test_a_refused_listing_falls_back_to_per_client_reads_never_to_an_unfiltered_one():
    graph = scale_tenant()
    refuse(graph, 'resourceId')
    result = run(graph, declared())
    assert result['counts']['unchanged'] == 30
    filters = [c.query.get('$filter') for c in graph.calls if c.path == '/oauth2PermissionGrants' and c.method == 'GET']
    assert all('clientId' in f or 'resourceId' in f for f in filters)
    assert sum(1 for f in filters if f.startswith('clientId')) == 30


def test_a_refused_combination_on_a_client_read_is_sent_again_with_the_client_alone():
    graph = scale_tenant(clients=5, granted=5)
    refuse(graph, "clientId eq '%s' and " % scale_id(1, 3).lower())
    assert run(graph, declared(5))['counts']['unchanged'] == 5
    assert "clientId eq '%s'" % scale_id(1, 3).lower() in [c.query.get('$filter') for c in graph.calls]


def test_a_listing_that_would_cost_more_than_the_clients_is_cut_after_its_first_page():
    graph = scale_tenant(background=300, user_consents=0)
    graph.page_size = 20  # 330 grants: 17 pages, against 2 batches for the clients not on the first page
    result = run(graph, declared())
    assert result['counts']['unchanged'] == 30
    assert len(listings(graph)) == 1


def test_per_user_items_read_the_users_grant_only():
    graph = scale_tenant(clients=3, granted=0, user_consents=40)
    items = [item(scale_id(1, n), principal=ADELE_UPN) for n in range(3)]
    result = run(graph, items)
    assert result['counts']['created'] == 3
    filters = [c.query.get('$filter') for c in graph.calls if c.path == '/oauth2PermissionGrants' and c.method == 'GET']
    assert len(filters) == 3 and all('principalId' in f and 'clientId' in f for f in filters)


def test_exclusive_mode_still_sees_every_grant_of_the_listed_clients():
    graph = scale_tenant(clients=25, granted=25)
    for n in range(25):
        graph.add_grant(scale_id(1, n), '9d1e7a96-2b8c-4f0e-9a5b-6c7d8e9fa0b1', 'Orders.Read')  # undeclared
    result = run(graph, declared(25), exclusive=True)
    assert result['counts']['deleted'] == 25 and result['counts']['unchanged'] == 25
    assert listings(graph) == []


def test_gu_ids_given_as_app_ids_cost_one_more_item_each_and_resolve():
    graph = scale_tenant()
    result = run(graph, declared(form=2))
    assert result['counts']['unchanged'] == 30
    lookups = [c for c in graph.calls if c.path.startswith('/servicePrincipals') and c.via == 'batch']
    assert len(lookups) == 2 + 30 + 30  # the resource in both forms; each client as object id, then as appId
