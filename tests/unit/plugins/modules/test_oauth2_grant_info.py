# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""``msgraph.grants.oauth2_grant_info`` end to end through AnsibleModule (patch_module_args) and the strict fake
Graph."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.msgraph.grants.plugins.modules import oauth2_grant_info

from ansible_collections.msgraph.grants.tests.unit.utils.module_harness import needs_patch_module_args
from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph import (
    ADELE_ID,
    ADELE_UPN,
    CLIENT2_ID,
    CLIENT_APP,
    CLIENT_ID,
    GUEST_ID,
    GUEST_UPN,
    RESOURCE2_ID,
    RESOURCE_ID,
    grant_id_for,
)

pytestmark = needs_patch_module_args
main = oauth2_grant_info.main


@pytest.fixture
def seeded(graph):
    return {
        'admin': graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read'),
        'adele': graph.add_grant(CLIENT_ID, RESOURCE_ID, ' Mail.Read  User.Read', principal_id=ADELE_ID),
        'payroll': graph.add_grant(CLIENT2_ID, RESOURCE_ID, 'openid'),
        'guest': graph.add_grant(CLIENT2_ID, RESOURCE2_ID, 'Orders.Read', principal_id=GUEST_ID),
    }


def test_lists_every_grant(run_module, graph, seeded):
    run = run_module(main, {})
    assert not run.failed, run.msg
    assert run.result['changed'] is False
    assert sorted(g['id'] for g in run.result['grants']) == sorted(seeded.values())
    adele = [g for g in run.result['grants'] if g['id'] == seeded['adele']][0]
    assert adele == {'id': seeded['adele'], 'client_id': CLIENT_ID, 'consent_type': 'Principal',
                     'principal_id': ADELE_ID, 'resource_id': RESOURCE_ID, 'scopes': ['Mail.Read', 'User.Read'],
                     'scope': ' Mail.Read  User.Read'}
    assert graph.writes == []


def test_filters_are_combined(run_module, graph, seeded):
    run = run_module(main, dict(client=CLIENT_APP, resource='Microsoft Graph', principal=ADELE_UPN,
                                consent_type='Principal'))
    assert [g['id'] for g in run.result['grants']] == [seeded['adele']]
    (listing,) = graph.calls_of('GET', r'^/oauth2PermissionGrants$')
    assert listing.query['$filter'] == ("clientId eq '%s' and resourceId eq '%s' and principalId eq '%s' and "
                                        "consentType eq 'Principal'" % (CLIENT_ID, RESOURCE_ID, ADELE_ID))


def test_works_in_check_mode(run_module, graph, seeded):
    run = run_module(main, dict(consent_type='AllPrincipals'), check=True)
    assert sorted(g['id'] for g in run.result['grants']) == sorted([seeded['admin'], seeded['payroll']])


def test_client_without_grants_is_an_empty_list_even_on_404(run_module, graph, seeded):
    graph.client_filter_404 = True
    run = run_module(main, dict(client='Contoso Orders API'))
    assert not run.failed and run.result['grants'] == []


def test_missing_id_is_an_empty_list(run_module, graph, seeded):
    run = run_module(main, dict(id=grant_id_for(CLIENT_ID, RESOURCE2_ID)))
    assert not run.failed and run.result['grants'] == []
    run = run_module(main, dict(id=seeded['guest']))
    assert [g['id'] for g in run.result['grants']] == [seeded['guest']]


def test_guid_as_id_is_a_clear_error_before_any_request(run_module, graph):
    run = run_module(main, dict(id=ADELE_ID))
    assert run.failed and 'A GUID is an object id' in run.msg
    assert graph.calls == []


@pytest.mark.parametrize('args, text', [
    (dict(id='AVs6JuUDjkCFV7q2gd8QTPimBBgj5iBFj0C6GwwRxC0', client='Contoso HR Portal'),
     'parameters are mutually exclusive: id|client'),
    (dict(id='AVs6JuUDjkCFV7q2gd8QTPimBBgj5iBFj0C6GwwRxC0', consent_type='Principal'),
     'parameters are mutually exclusive: id|consent_type'),
    (dict(consent_type='principal'), 'value of consent_type must be one of: AllPrincipals, Principal, got: principal'),
    (dict(resolve_names='maybe'), 'resolve_names'),
])
def test_argument_errors(run_module, graph, args, text):
    run = run_module(main, args)
    assert run.failed and text in run.msg
    assert graph.calls == []


@pytest.mark.parametrize('args, text', [
    (dict(client='Contoso HR Portl'), "searched servicePrincipals with displayName eq 'Contoso HR Portl'"),
    (dict(client='Twin App'), 'ambiguous'),
    (dict(principal='nobody_x.com#EXT#@contoso.com'), 'GET /users/nobody_x.com%23EXT%23@contoso.com'),
])
def test_typos_fail_instead_of_looking_empty(run_module, graph, seeded, args, text):
    run = run_module(main, args)
    assert run.failed and text in run.msg
    assert 'grants' not in run.result


def test_resolve_names(run_module, graph, seeded):
    run = run_module(main, dict(resolve_names=True))
    by_id = dict((g['id'], g) for g in run.result['grants'])
    assert by_id[seeded['guest']]['client_display_name'] == 'Contoso Payroll'
    assert by_id[seeded['guest']]['resource_display_name'] == 'Contoso Orders API'
    assert by_id[seeded['guest']]['principal_user_principal_name'] == GUEST_UPN
    assert by_id[seeded['admin']]['principal_user_principal_name'] is None
    assert len(graph.batches) == 1
    paths = [c.path for c in graph.calls if c.via == 'batch']
    assert len(paths) == len(set(paths)) == 6


def test_without_resolve_names_there_are_no_name_keys(run_module, graph, seeded):
    run = run_module(main, {})
    assert all('client_display_name' not in g for g in run.result['grants'])
    assert graph.batches == []
