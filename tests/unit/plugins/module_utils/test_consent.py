# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pure planning of ``admin_consent``: requested permissions from the app registration (by id) or from
``permissions`` (by value), ids mapped through each resource's published scopes and roles, and per resource what the
client's AllPrincipals grant and app role assignments become in append mode, exact mode and with state absent."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.msgraph.grants.plugins.module_utils._consent import (
    ConsentError,
    Resource,
    consent_result,
    plan_changes,
    plan_consent,
    requested_from_permissions,
    requested_from_registration,
    requested_values,
    resource_result,
)

GRAPH_APP = '00000003-0000-0000-c000-000000000000'
API_APP = '11111111-2222-3333-4444-555555555555'
OLD_APP = '99999999-8888-7777-6666-555555555555'
GRAPH_SP = 'aaaaaaaa-0000-0000-0000-000000000001'
API_SP = 'aaaaaaaa-0000-0000-0000-000000000002'
OLD_SP = 'aaaaaaaa-0000-0000-0000-000000000003'
CLIENT_SP = 'cccccccc-0000-0000-0000-000000000001'

SCOPE_IDS = {'User.Read': 'e1fe6dd8-ba31-4d61-89e7-88639da4683d', 'Mail.Read': '570282fd-fa5c-430d-a7fd-fc8dc98a9dca',
             'Files.Read': '10465720-29dd-4523-a11a-6a75c743c9d9'}
ROLE_IDS = {'User.Read.All': 'df021288-bdef-4463-88db-98f22de89214', 'Group.Read.All': '5b567255-7703-4780-807c-7be8301ae99b',
            'Mail.Send': 'b633e1c5-b582-4048-a93e-9f11b44c7e96'}


def sp(sp_id, app_id, name, scopes=(), roles=()):
    return Resource({
        'id': sp_id, 'appId': app_id, 'displayName': name,
        'oauth2PermissionScopes': [{'id': SCOPE_IDS.get(v, v + '-id'), 'value': v, 'isEnabled': True} for v in scopes],
        'appRoles': [{'id': ROLE_IDS.get(v, v + '-id'), 'value': v, 'isEnabled': True, 'allowedMemberTypes': ['Application']}
                     for v in roles],
    })


GRAPH = sp(GRAPH_SP, GRAPH_APP, 'Microsoft Graph', ['User.Read', 'Mail.Read', 'Files.Read'], list(ROLE_IDS))
API = sp(API_SP, API_APP, 'Contoso API', ['Orders.Read'], ['Orders.Sync'])
OLD = sp(OLD_SP, OLD_APP, 'Old API', ['Legacy.Read'], ['Legacy.Sync'])
RESOURCES = {GRAPH_SP: GRAPH, API_SP: API, OLD_SP: OLD}


def grant(resource_id, scope, consent='AllPrincipals'):
    return {'id': 'g-' + resource_id, 'clientId': CLIENT_SP, 'consentType': consent, 'principalId': None,
            'resourceId': resource_id, 'scope': scope}


def assignment(resource, value):
    return {'id': 'a-%s-%s' % (resource.id, value), 'principalId': CLIENT_SP, 'resourceId': resource.id,
            'appRoleId': resource.role_id(value) or value}


def plan(wanted, grants=(), assignments=(), **kwargs):
    plans = plan_consent(RESOURCES, wanted, list(grants), list(assignments), **kwargs)
    return dict((p.resource.app_id, resource_result(p)) for p in plans), plans


# ------------------------------------------------------------------------------------------------- requested
def test_registration_is_read_by_id_and_type_per_resource():
    requested = requested_from_registration([
        {'resourceAppId': GRAPH_APP, 'resourceAccess': [{'id': SCOPE_IDS['User.Read'], 'type': 'Scope'},
                                                        {'id': ROLE_IDS['User.Read.All'], 'type': 'Role'}]},
        {'resourceAppId': API_APP.upper(), 'resourceAccess': [{'id': 'Orders.Read-id', 'type': 'Scope'}]},
    ])
    assert sorted(requested) == sorted([GRAPH_APP, API_APP])
    assert requested_values(requested[GRAPH_APP], GRAPH) == (['User.Read'], ['User.Read.All'])
    assert requested_values(requested[API_APP], API) == (['Orders.Read'], [])


def test_same_value_as_scope_and_role_stays_two_permissions():
    both = sp(API_SP, API_APP, 'Both', ['Thing.Read'], ['Thing.Read'])
    requested = requested_from_registration([{'resourceAppId': API_APP, 'resourceAccess': [
        {'id': 'Thing.Read-id', 'type': 'Scope'}, {'id': 'Thing.Read-id', 'type': 'Role'}]}])
    assert requested_values(requested[API_APP], both) == (['Thing.Read'], ['Thing.Read'])


@pytest.mark.parametrize('kind', ['Scope', 'Role'])
def test_an_id_the_resource_no_longer_publishes_fails_naming_resource_and_id(kind):
    stale = 'deadbeef-0000-0000-0000-000000000000'
    requested = requested_from_registration([{'resourceAppId': GRAPH_APP, 'resourceAccess': [{'id': stale, 'type': kind}]}])
    with pytest.raises(ConsentError) as caught:
        requested_values(requested[GRAPH_APP], GRAPH)
    text = str(caught.value)
    assert stale in text and "'Microsoft Graph'" in text and GRAPH_APP in text and 'requiredResourceAccess' in text


def test_permissions_are_taken_by_value_and_need_a_resource():
    entries = requested_from_permissions([{'resource': 'Microsoft Graph', 'scopes': ['User.Read Mail.Read'],
                                           'app_roles': ['User.Read.All']}])
    assert entries[0].resource == 'Microsoft Graph'
    assert requested_values(entries[0], GRAPH) == (['Mail.Read', 'User.Read'], ['User.Read.All'])
    with pytest.raises(ConsentError, match="needs 'resource'"):
        requested_from_permissions([{'scopes': ['User.Read']}])


def test_a_resource_to_create_keeps_its_requested_ids_as_placeholders():
    new = Resource({'id': None, 'appId': OLD_APP}, to_create=True)
    requested = requested_from_registration([{'resourceAppId': OLD_APP, 'resourceAccess': [{'id': 'x-id', 'type': 'Scope'}]}])
    assert requested_values(requested[OLD_APP], new) == (['x-id'], [])


# ------------------------------------------------------------------------------------------------- planning
def test_append_creates_widens_and_keeps_what_is_not_requested():
    results, plans = plan(
        {GRAPH_SP: (['Mail.Read', 'User.Read'], ['User.Read.All']), API_SP: (['Orders.Read'], ['Orders.Sync'])},
        grants=[grant(GRAPH_SP, 'User.Read Files.Read'), grant(OLD_SP, 'Legacy.Read')],
        assignments=[assignment(GRAPH, 'Group.Read.All')])
    assert sorted(results) == [GRAPH_APP, API_APP]  # Old API is neither requested nor touched
    assert results[GRAPH_APP]['grant_action'] == 'updated'
    assert results[GRAPH_APP]['scopes_added'] == ['Mail.Read'] and results[GRAPH_APP]['scopes_removed'] == []
    assert results[GRAPH_APP]['roles_added'] == ['User.Read.All'] and results[GRAPH_APP]['roles_removed'] == []
    assert results[API_APP]['grant_action'] == 'created' and results[API_APP]['roles_added'] == ['Orders.Sync']
    result = consent_result(plans, [])
    assert result['changed']
    assert result['diff']['after'][GRAPH_APP] == {'scopes': ['Files.Read', 'Mail.Read', 'User.Read'],
                                                  'app_roles': ['Group.Read.All', 'User.Read.All']}


def test_exact_removes_what_is_not_requested_also_on_resources_no_longer_requested():
    results, plans = plan(
        {GRAPH_SP: (['User.Read'], ['User.Read.All'])},
        grants=[grant(GRAPH_SP, 'User.Read Files.Read'), grant(OLD_SP, 'Legacy.Read')],
        assignments=[assignment(GRAPH, 'User.Read.All'), assignment(GRAPH, 'Mail.Send'), assignment(OLD, 'Legacy.Sync')],
        mode='exact')
    assert results[GRAPH_APP]['grant_action'] == 'updated' and results[GRAPH_APP]['scopes_removed'] == ['Files.Read']
    assert results[GRAPH_APP]['roles_removed'] == ['Mail.Send'] and results[GRAPH_APP]['roles_added'] == []
    assert results[OLD_APP]['grant_action'] == 'deleted' and results[OLD_APP]['roles_removed'] == ['Legacy.Sync']
    graph_plan = [p for p in plans if p.resource is GRAPH][0]
    assert [a['appRoleId'] for a in graph_plan.roles.remove] == [ROLE_IDS['Mail.Send']]
    assert consent_result(plans, [])['diff']['after'][OLD_APP] == {'scopes': [], 'app_roles': []}


def test_exact_deletes_the_grant_of_a_resource_requested_for_roles_only():
    results = plan({GRAPH_SP: ([], ['User.Read.All'])}, grants=[grant(GRAPH_SP, 'User.Read')],
                   assignments=[assignment(GRAPH, 'User.Read.All')], mode='exact')[0]
    assert results[GRAPH_APP]['grant_action'] == 'deleted'
    results = plan({GRAPH_SP: ([], ['User.Read.All'])}, grants=[grant(GRAPH_SP, 'User.Read')],
                   assignments=[assignment(GRAPH, 'User.Read.All')])[0]
    assert results[GRAPH_APP]['grant_action'] == 'unchanged'


def test_no_grant_action_when_no_scope_is_requested_nor_granted_or_the_half_is_not_managed():
    results, plans = plan({API_SP: ([], ['Orders.Sync'])})
    assert results[API_APP]['grant_action'] is None
    assert consent_result(plans, [])['diff']['before'][API_APP] == {'scopes': [], 'app_roles': []}
    results, plans = plan({API_SP: (['Orders.Read'], ['Orders.Sync'])}, delegated=False)
    assert results[API_APP]['grant_action'] is None and results[API_APP]['roles_added'] == ['Orders.Sync']
    assert consent_result(plans, [])['diff']['after'][API_APP] == {'app_roles': ['Orders.Sync']}
    results, plans = plan({API_SP: (['Orders.Read'], ['Orders.Sync'])}, application=False)
    assert results[API_APP]['roles_added'] == [] and plans[0].roles is None


def test_converged_plans_change_nothing_in_either_mode():
    grants = [grant(GRAPH_SP, 'User.Read')]
    held = [assignment(GRAPH, 'User.Read.All')]
    for mode in ('append', 'exact'):
        results, plans = plan({GRAPH_SP: (['User.Read'], ['User.Read.All'])}, grants=grants, assignments=held, mode=mode)
        assert not any(plan_changes(p) for p in plans)
        assert results[GRAPH_APP]['grant_action'] == 'unchanged'
        result = consent_result(plans, [])
        assert not result['changed'] and result['diff']['before'] == result['diff']['after']


def test_principal_grants_are_never_planned():
    results, plans = plan({}, grants=[grant(GRAPH_SP, 'User.Read', consent='Principal')], mode='exact')
    assert plans == []
    results, plans = plan({}, grants=[grant(GRAPH_SP, 'User.Read', consent='Principal')], state='absent')
    assert plans == []


@pytest.mark.parametrize('delegated,application', [(True, True), (True, False), (False, True)])
def test_absent_revokes_the_selected_halves_of_every_resource(delegated, application):
    results, plans = plan({GRAPH_SP: (['User.Read'], [])}, grants=[grant(GRAPH_SP, 'User.Read'), grant(API_SP, 'Orders.Read')],
                          assignments=[assignment(OLD, 'Legacy.Sync')], state='absent',
                          delegated=delegated, application=application)
    expected = ([GRAPH_APP, API_APP] if delegated else []) + ([OLD_APP] if application else [])
    assert sorted(results) == sorted(expected)
    for app_id, item in results.items():
        assert item['grant_action'] in (('deleted', None) if delegated else (None,))
        assert item['roles_added'] == []
    if application:
        assert results[OLD_APP]['roles_removed'] == ['Legacy.Sync']


def test_a_held_role_the_resource_no_longer_publishes_is_named_by_its_id():
    ghost = {'id': 'a-ghost', 'principalId': CLIENT_SP, 'resourceId': GRAPH_SP, 'appRoleId': 'feedfeed-0000-0000-0000-000000000000'}
    results = plan({GRAPH_SP: ([], [])}, assignments=[ghost], mode='exact')[0]
    assert results[GRAPH_APP]['roles_removed'] == ['feedfeed-0000-0000-0000-000000000000']


def test_a_resource_to_create_is_a_change_and_is_reported():
    new = Resource({'id': None, 'appId': OLD_APP, 'displayName': None}, to_create=True)
    plans = plan_consent({'new:' + OLD_APP: new}, {'new:' + OLD_APP: (['Legacy.Read'], [])}, [], [])
    assert plan_changes(plans[0])
    item = resource_result(plans[0])
    assert item['service_principal_created'] and item['grant_action'] == 'created' and item['resource_id'] is None


def test_unknown_mode_is_refused():
    with pytest.raises(ConsentError, match='mode must be one of'):
        plan({}, mode='remove')
