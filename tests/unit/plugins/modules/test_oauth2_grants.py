# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""``msgraph.grants.oauth2_grants`` end to end through AnsibleModule (patch_module_args) and the strict fake Graph."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.msgraph.grants.plugins.modules import oauth2_grants

from ansible_collections.msgraph.grants.tests.unit.utils.module_harness import needs_patch_module_args
from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph import (
    ADELE_ID,
    ADELE_UPN,
    CLIENT_APP,
    CLIENT_ID,
    GUEST_ID,
    RESOURCE2_ID,
    RESOURCE_APP,
    RESOURCE_ID,
    TWIN_A_ID,
)

pytestmark = needs_patch_module_args
main = oauth2_grants.main

DECLARED = [
    {'client': 'Contoso HR Portal', 'resource': 'Microsoft Graph', 'scopes': ['User.Read', 'openid']},
    {'client': CLIENT_APP, 'resource': RESOURCE_APP, 'principal': ADELE_UPN, 'scopes': ['Mail.Read']},
    {'client': 'Contoso Payroll', 'resource': 'Contoso Orders API', 'scopes': ['Orders.Read']},
]


def seed(graph):
    return {
        'admin': graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read'),
        'undeclared': graph.add_grant(CLIENT_ID, RESOURCE2_ID, 'Orders.Write'),
        'user': graph.add_grant(CLIENT_ID, RESOURCE2_ID, 'Orders.Read', principal_id=GUEST_ID),
        'other_client': graph.add_grant(TWIN_A_ID, RESOURCE_ID, 'openid'),     # a client the list does not name
    }


def test_applies_the_list(run_module, graph):
    ids = seed(graph)
    run = run_module(main, dict(grants=DECLARED))
    assert not run.failed, run.msg
    result = run.result
    assert [r['action'] for r in result['results']] == ['updated', 'created', 'created']
    assert result['counts'] == {'created': 2, 'updated': 1, 'deleted': 0, 'unchanged': 0}
    assert result['changed'] is True and result['removed'] == []
    assert 'diff' not in result
    assert all(w.via == 'batch' for w in graph.writes) and len(set(w.batch for w in graph.writes)) == 1
    assert set(ids.values()) <= set(graph.grants)
    again = run_module(main, dict(grants=DECLARED), diff=True)
    assert again.result['changed'] is False and 'diff' not in again.result


def test_diff_lists_each_changed_grant_only_in_diff_mode(run_module, graph):
    seed(graph)
    run = run_module(main, dict(grants=DECLARED), diff=True)
    diffs = run.result['diff']
    assert len(diffs) == 3
    assert diffs[0]['before_header'] == 'Contoso HR Portal -> Microsoft Graph'
    assert diffs[0]['before']['scopes'] == ['User.Read'] and diffs[0]['after']['scopes'] == ['User.Read', 'openid']
    assert diffs[1]['before'] == {} and diffs[1]['after']['principal_id'] == ADELE_ID


@pytest.mark.parametrize('exclusive, users', [(False, False), (True, False), (True, True)])
def test_check_mode_predicts_the_real_run(run_module, fakes, exclusive, users):
    real = fakes()
    seed(real)
    dry = real.clone()
    args = dict(grants=DECLARED, exclusive=exclusive, exclusive_include_user_consents=users)
    predicted = run_module(main, args, check=True, diff=True, fake=dry).result
    dry.check()
    assert dry.writes == []
    actual = run_module(main, args, diff=True, fake=real).result
    for result in (predicted, actual):
        for entry in result['results'] + result['removed']:
            if entry['action'] == 'created':
                entry['grant']['id'] = None
    assert predicted == actual
    assert len(actual['removed']) == (0, 1, 2)[exclusive + users]


def test_exclusive_keeps_user_consents_unless_asked(run_module, graph):
    ids = seed(graph)
    run = run_module(main, dict(grants=DECLARED, exclusive=True))
    label = 'undeclared grant Contoso HR Portal -> Contoso Orders API (grant id %s)' % ids['undeclared']
    assert [r['label'] for r in run.result['removed']] == [label]
    assert ids['user'] in graph.grants and ids['other_client'] in graph.grants
    assert run.result['changes'][-1] == 'deleted: ' + label


def test_duplicate_keys_fail_before_any_write(run_module, graph):
    grants = DECLARED + [{'client': CLIENT_ID, 'resource': 'Microsoft Graph', 'principal': ADELE_ID,
                          'state': 'absent'}]
    run = run_module(main, dict(grants=grants))
    assert run.failed and 'grants[1] and grants[3] declare the same grant' in run.msg
    assert graph.writes == []


@pytest.mark.parametrize('item, text', [
    ({'client': 'Contoso HR Portal', 'scopes': ['User.Read']}, 'missing required arguments: resource'),
    ({'client': 'Contoso HR Portal', 'resource': 'Microsoft Graph', 'scopes': ['User.Read'],
      'consent_type': 'principal'}, 'value of consent_type must be one of: AllPrincipals, Principal, got: principal'),
    ({'client': 'Contoso HR Portal', 'resource': 'Microsoft Graph', 'scopes': ['User.Read'], 'state': 'gone'},
     'value of state must be one of: present, absent, got: gone'),
    ({'client': 'Contoso HR Portal', 'resource': 'Microsoft Graph'}, 'scopes is required with state present'),
])
def test_item_errors(run_module, graph, item, text):
    run = run_module(main, dict(grants=[item]))
    assert run.failed and text in run.msg
    assert graph.writes == []


def test_grants_is_required(run_module, graph):
    run = run_module(main, {})
    assert run.failed and 'missing required arguments: grants' in run.msg
    assert graph.calls == []


def test_absent_with_scopes_is_refused_before_any_request(run_module, graph):
    grants = [{'client': 'Contoso HR Portal', 'resource': 'Microsoft Graph', 'scopes': ['User.Read']},
              {'client': 'Contoso HR Portal', 'resource': 'Microsoft Graph', 'principal': ADELE_UPN,
               'scopes': ['IMAP.AccessAsUser.All'], 'state': 'absent'}]
    run = run_module(main, dict(grants=grants))
    assert run.failed
    assert 'grants[1] (Contoso HR Portal -> Microsoft Graph for {0})'.format(ADELE_UPN) in run.msg
    assert 'scope_mode=remove' in run.msg and 'grants[0]' not in run.msg
    assert graph.calls == []
