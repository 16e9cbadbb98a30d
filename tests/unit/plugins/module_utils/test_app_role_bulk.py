# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""BulkAppRoleService (the list behind app_role_assignments and the role) against the strict fake Graph."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.msgraph.grants.plugins.module_utils._app_role_bulk import BulkAppRoleService
from ansible_collections.msgraph.grants.plugins.module_utils._app_roles import AppRoleError
from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph import (
    CLIENT_ID, CLIENT2_ID, RESOURCE_ID, RESOURCE2_ID, TWIN_A_ID)

ITEMS = [dict(client='Contoso HR Portal', resource='Microsoft Graph', app_roles=['User.Read.All', 'Mail.Send']),
         dict(client=CLIENT2_ID, resource=RESOURCE2_ID, app_roles=['Orders.Read.All'], mode='append')]


def _items(items):
    return [dict(dict(mode='exact', state='present', app_roles=None), **i) for i in items]


def _seed(graph):
    graph.add_assignment(CLIENT_ID, RESOURCE2_ID, graph.role_id(RESOURCE2_ID, 'Orders.Write.All'))  # undeclared pair
    graph.add_assignment(TWIN_A_ID, RESOURCE_ID, graph.role_id(RESOURCE_ID, 'Mail.Send'))  # a client not listed


@pytest.mark.parametrize('exclusive', [False, True])
def test_check_mode_predicts_then_one_batch_of_writes_then_converged(fakes, sleeper, exclusive):
    results = []
    for check in (True, False):
        graph = fakes()
        _seed(graph)
        results.append(BulkAppRoleService(graph, check_mode=check, sleep=sleeper).ensure(_items(ITEMS), exclusive))
        if check:
            assert graph.writes == []
    predicted, real = results
    assert predicted['changes'] == real['changes'] and predicted['counts'] == real['counts']
    assert real['counts'] == {'added': 3, 'removed': 1 if exclusive else 0, 'unchanged': 0}
    assert len(graph.writes) == (4 if exclusive else 3) and all(c.via == 'batch' for c in graph.writes)
    assert graph.held_roles(CLIENT_ID, RESOURCE2_ID) == ([] if exclusive else ['Orders.Write.All'])
    assert graph.held_roles(TWIN_A_ID, RESOURCE_ID) == ['Mail.Send']  # never touched
    graph.calls, graph.batches = [], []
    again = BulkAppRoleService(graph, sleep=sleeper).ensure(_items(ITEMS), exclusive)
    assert not again['changed'] and graph.writes == [] and graph.round_trips == 2
    assert again['counts'] == {'added': 0, 'removed': 0, 'unchanged': 2}


def test_a_bad_item_fails_the_run_before_any_write(graph, sleeper):
    items = _items(ITEMS + [dict(client=CLIENT_ID, resource=RESOURCE2_ID, app_roles=['Orders.Approver'])])
    with pytest.raises(AppRoleError) as info:
        BulkAppRoleService(graph, sleep=sleeper).ensure(items)
    assert 'assignments[2]' in str(info.value) and 'users and groups only' in str(info.value)
    assert graph.writes == []


def test_a_pair_listed_twice_is_refused(graph, sleeper):
    items = _items([ITEMS[0], dict(client=CLIENT_ID, resource=RESOURCE_ID, app_roles=['Mail.Send'])])
    with pytest.raises(AppRoleError) as info:
        BulkAppRoleService(graph, sleep=sleeper).ensure(items)
    assert 'declare each pair once' in str(info.value) and graph.writes == []


def test_a_failed_batched_write_converges_on_the_single_path(graph, sleeper):
    role = graph.role_id(RESOURCE_ID, 'Mail.Send')

    def other_writer(fake, call):
        if call.body and call.body.get('appRoleId') == role:
            fake.add_assignment(CLIENT_ID, RESOURCE_ID, role)
    graph.add_fault('POST', 'appRoleAssignments$', 'hook', times=3, hook=other_writer)
    result = BulkAppRoleService(graph, sleep=sleeper).ensure(_items(ITEMS))
    assert graph.held_roles(CLIENT_ID, RESOURCE_ID) == ['Mail.Send', 'User.Read.All']
    assert all(a['id'] for r in result['results'] for a in r['assignments'])


def test_removing_only_a_duplicate_assignment_is_a_change_line(graph, sleeper):
    # The role counts this pair as updated, so its differences (drift mode) must name it too.
    role = graph.role_id(RESOURCE_ID, 'Mail.Send')
    first = graph.add_assignment(CLIENT_ID, RESOURCE_ID, role)
    graph.assignments[first + 'B'] = dict(graph.assignments[first], id=first + 'B')  # a replication artefact
    item = _items([dict(client=CLIENT_ID, resource=RESOURCE_ID, app_roles=['Mail.Send'])])
    result = BulkAppRoleService(graph, check_mode=True, sleep=sleeper).ensure(item)
    assert result['results'][0]['changed'] and result['results'][0]['roles_removed'] == []
    assert len(result['changes']) == 1 and result['changes'][0].startswith('removed a second assignment of Mail.Send: ')
