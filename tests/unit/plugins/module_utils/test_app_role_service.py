# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""AppRoleAssignmentService against the strict fake Graph: resolve, read every page, plan, batched writes, the
duplicate error and replication lag, check mode predicting the real run."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.msgraph.grants.plugins.module_utils._app_role_service import AppRoleAssignmentService
from ansible_collections.msgraph.grants.plugins.module_utils._app_roles import AppRoleError
from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._grant_writer import ReconcileSettings
from ansible_collections.msgraph.grants.plugins.module_utils._grants import GrantInputError
from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph import (
    CLIENT_APP, CLIENT_ID, CLIENT2_ID, GRAPH_DISABLED_ROLE, GRAPH_USER_ROLE, RESOURCE_APP, RESOURCE_ID, RESOURCE2_ID)
from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph_app_roles import NOT_VALID_REFERENCE


def _service(graph, sleeper, check_mode=False, **kw):
    return AppRoleAssignmentService(graph, check_mode=check_mode, sleep=sleeper, **kw)


def _ensure(graph, sleeper, check_mode=False, **params):
    options = dict(client=CLIENT_ID, resource=RESOURCE_ID, app_roles=None, mode='exact', state='present')
    options.update(params)
    return _service(graph, sleeper, check_mode).ensure(options)


def _hold(graph, *values, **kw):
    client, resource = kw.get('client', CLIENT_ID), kw.get('resource', RESOURCE_ID)
    return [graph.add_assignment(client, resource, graph.role_id(resource, v)) for v in values]


@pytest.mark.parametrize('client, resource', [(CLIENT_ID, RESOURCE_ID), (CLIENT_APP, RESOURCE_APP),
                                              ('Contoso HR Portal', 'Microsoft Graph')])
def test_assigns_by_object_id_app_id_or_display_name(graph, sleeper, client, resource):
    result = _ensure(graph, sleeper, client=client, resource=resource, app_roles=['User.Read.All', 'Mail.Send'])
    assert result['changed'] and result['roles_added'] == ['Mail.Send', 'User.Read.All']
    assert graph.held_roles(CLIENT_ID, RESOURCE_ID) == ['Mail.Send', 'User.Read.All']
    assert [a['app_role_value'] for a in result['assignments']] == ['Mail.Send', 'User.Read.All']
    assert all(a['id'] for a in result['assignments'])
    assert len(graph.batches) == 2 and graph.batches[-1] == 2  # the two POSTs went in one $batch
    graph.calls = []
    again = _ensure(graph, sleeper, client=client, resource=resource, app_roles=['Mail.Send', 'User.Read.All'])
    assert not again['changed'] and graph.writes == []
    assert again['diff']['before'] == again['diff']['after'] == {
        'client_id': CLIENT_ID, 'resource_id': RESOURCE_ID, 'app_roles': ['Mail.Send', 'User.Read.All']}


def test_converged_run_by_id_is_one_round_trip(graph, sleeper):
    _hold(graph, 'User.Read.All')
    result = _ensure(graph, sleeper, app_roles=['User.Read.All'])
    assert not result['changed'] and graph.round_trips == 1


@pytest.mark.parametrize('params, held_after, added, removed', [
    (dict(app_roles=['Mail.Send', 'User.Read.All']), ['Mail.Send', 'User.Read.All'], ['Mail.Send'], ['Group.Read.All']),
    (dict(app_roles=['Mail.Send'], mode='append'), ['Group.Read.All', 'Mail.Send', 'User.Read.All'], ['Mail.Send'], []),
    (dict(app_roles=['Group.Read.All', 'Mail.Send'], mode='remove'), ['User.Read.All'], [], ['Group.Read.All']),
    (dict(state='absent'), [], [], ['Group.Read.All', 'User.Read.All']),
])
def test_modes_and_check_mode_predicts_exactly(fakes, sleeper, params, held_after, added, removed):
    results = []
    for check in (True, False):
        graph = fakes()
        _hold(graph, 'User.Read.All', 'Group.Read.All')
        _hold(graph, 'Orders.Read.All', resource=RESOURCE2_ID)
        _hold(graph, 'User.Read.All', client=CLIENT2_ID)
        result = _ensure(graph, sleeper, check_mode=check, **params)
        results.append(result)
        if check:
            assert graph.writes == []
            assert graph.held_roles(CLIENT_ID, RESOURCE_ID) == ['Group.Read.All', 'User.Read.All']
        else:
            assert graph.held_roles(CLIENT_ID, RESOURCE_ID) == held_after
        # never touched: the client's roles on another resource, another client's roles
        assert graph.held_roles(CLIENT_ID, RESOURCE2_ID) == ['Orders.Read.All']
        assert graph.held_roles(CLIENT2_ID, RESOURCE_ID) == ['User.Read.All']
    predicted, real = results
    assert predicted['roles_added'] == real['roles_added'] == added
    assert predicted['roles_removed'] == real['roles_removed'] == removed
    assert predicted['diff'] == real['diff'] and predicted['changed'] == real['changed'] is True
    assert [a['app_role_value'] for a in predicted['assignments']] == [a['app_role_value'] for a in real['assignments']]


def test_every_page_is_read_and_the_resource_is_selected_locally(graph, sleeper):
    graph.page_size = 1
    _hold(graph, 'Orders.Read.All', resource=RESOURCE2_ID)
    _hold(graph, 'User.Read.All', 'Group.Read.All', 'Mail.Send')
    result = _ensure(graph, sleeper, app_roles=['User.Read.All'])
    assert result['roles_removed'] == ['Group.Read.All', 'Mail.Send']
    assert graph.held_roles(CLIENT_ID, RESOURCE2_ID) == ['Orders.Read.All']
    assert not any('$filter' in c.query for c in graph.calls_of('GET', 'appRoleAssignments'))


@pytest.mark.parametrize('values, words', [
    (['User.Raed.All'], "did you mean 'User.Read.All'"),
    ([GRAPH_USER_ROLE], 'users and groups only'),
    ([GRAPH_DISABLED_ROLE], 'disabled'),
])
def test_bad_roles_fail_before_any_write(graph, sleeper, values, words):
    with pytest.raises(AppRoleError) as info:
        _ensure(graph, sleeper, app_roles=['Mail.Send'] + values)
    assert words in str(info.value) and "'Microsoft Graph'" in str(info.value)
    assert graph.writes == []


def test_a_disabled_role_can_be_removed_and_a_stale_one_is_removed_in_exact_mode(graph, sleeper):
    _hold(graph, GRAPH_DISABLED_ROLE)
    stale = '99999999-0000-4000-8000-000000000000'
    graph.assignments[graph.add_assignment(CLIENT_ID, RESOURCE_ID, graph.role_id(RESOURCE_ID, 'Mail.Send'))][
        'appRoleId'] = stale
    result = _ensure(graph, sleeper, app_roles=[GRAPH_DISABLED_ROLE], mode='remove')
    assert result['roles_removed'] == [GRAPH_DISABLED_ROLE] and result['assignments'][0]['app_role_value'] == stale
    result = _ensure(graph, sleeper, app_roles=[])
    assert result['roles_removed'] == [stale] and graph.assignments == {}


def test_absent_with_app_roles_is_refused_before_any_request(graph, sleeper):
    with pytest.raises(GrantInputError):
        _ensure(graph, sleeper, app_roles=['Mail.Send'], state='absent')
    assert graph.calls == []


def test_unknown_client_fails_without_writes(graph, sleeper):
    with pytest.raises(GrantInputError) as info:
        _ensure(graph, sleeper, client='No Such App', app_roles=['Mail.Send'])
    assert 'No Such App' in str(info.value) and graph.writes == []


def test_someone_else_assigned_the_role_meanwhile_is_adopted(graph, sleeper):
    role = graph.role_id(RESOURCE_ID, 'Mail.Send')

    def other_writer(fake, call):
        fake.add_assignment(CLIENT_ID, RESOURCE_ID, role)
    graph.add_fault('POST', 'appRoleAssignments$', 'hook', hook=other_writer)
    result = _ensure(graph, sleeper, app_roles=['Mail.Send'])
    assert result['changed'] and result['roles_added'] == ['Mail.Send'] and result['assignments'][0]['id']
    assert graph.held_roles(CLIENT_ID, RESOURCE_ID) == ['Mail.Send']
    assert len(graph.calls_of('POST')) == 1


@pytest.mark.parametrize('status, message', [(400, NOT_VALID_REFERENCE), (404, None)])
def test_replication_lag_on_create_is_waited_out(graph, sleeper, status, message):
    graph.add_fault('POST', 'appRoleAssignments$', 'status', times=2, status=status, message=message or (
        "Resource 'x' does not exist or one of its queried reference-property objects are not present."))
    result = _ensure(graph, sleeper, app_roles=['Mail.Send'])
    assert result['roles_added'] == ['Mail.Send'] and len(graph.calls_of('POST')) == 3 and len(sleeper.delays) == 2


def test_replication_wait_is_bounded(graph, sleeper):
    graph.add_fault('POST', 'appRoleAssignments$', 'status', times=100, status=400, message=NOT_VALID_REFERENCE)
    service = _service(graph, sleeper, reconcile=ReconcileSettings(replication_wait=3.0))
    with pytest.raises(GraphError) as info:
        service.ensure(dict(client=CLIENT_ID, resource=RESOURCE_ID, app_roles=['Mail.Send'], mode='exact',
                            state='present'))
    assert 'replication' in str(info.value) and sleeper.total <= 3.0


def test_an_unknown_outcome_is_read_back_not_replayed(graph, sleeper):
    graph.add_fault('POST', 'appRoleAssignments$', 'ambiguous_after')
    result = _ensure(graph, sleeper, app_roles=['Mail.Send'])
    assert result['roles_added'] == ['Mail.Send'] and len(graph.calls_of('POST')) == 1
    assert graph.held_roles(CLIENT_ID, RESOURCE_ID) == ['Mail.Send']


def test_a_delete_of_an_assignment_already_gone_converges(graph, sleeper):
    aid = _hold(graph, 'Mail.Send')[0]

    def gone(fake, call):
        fake.assignments.pop(aid, None)
    graph.add_fault('DELETE', aid, 'hook', hook=gone)
    result = _ensure(graph, sleeper, state='absent')
    assert result['roles_removed'] == ['Mail.Send'] and graph.assignments == {}


def test_a_403_names_the_permissions(graph, sleeper):
    graph.add_fault('POST', 'appRoleAssignments$', 'status', status=403, code='Authorization_RequestDenied',
                    message='Insufficient privileges to complete the operation.')
    with pytest.raises(GraphError) as info:
        _ensure(graph, sleeper, app_roles=['Mail.Send'])
    assert 'AppRoleAssignment.ReadWrite.All' in str(info.value) and 'docs/permissions.md' in str(info.value)
