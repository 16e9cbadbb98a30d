# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""``msgraph.grants.oauth2_grant`` end to end through AnsibleModule (patch_module_args) and the strict fake Graph."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.msgraph.grants.plugins.modules import oauth2_grant
from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError

from ansible_collections.msgraph.grants.tests.unit.utils.module_harness import SECRET, needs_patch_module_args
from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph import (
    ADELE_ID,
    ADELE_UPN,
    CLIENT_APP,
    CLIENT_ID,
    RESOURCE_APP,
    RESOURCE_ID,
    grant_id_for,
)

pytestmark = needs_patch_module_args
main = oauth2_grant.main


def grant_args(**kwargs):
    args = dict(client='Contoso HR Portal', resource='Microsoft Graph', scopes=['User.Read'])
    args.update(kwargs)
    return args


def test_create_reports_the_grant(run_module, graph):
    run = run_module(main, grant_args(scopes=['User.Read', 'openid']))
    assert not run.failed, run.msg
    result = run.result
    assert result['changed'] is True and result['action'] == 'created'
    assert result['grant'] == {'id': grant_id_for(CLIENT_ID, RESOURCE_ID), 'client_id': CLIENT_ID,
                               'consent_type': 'AllPrincipals', 'principal_id': None, 'resource_id': RESOURCE_ID,
                               'scopes': ['User.Read', 'openid'], 'scope': 'User.Read openid'}
    assert result['scopes_added'] == ['User.Read', 'openid'] and result['scopes_removed'] == []
    assert 'diff' not in result
    assert [w.method for w in graph.writes] == ['POST']


def test_diff_only_with_diff_mode(run_module, graph):
    graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    run = run_module(main, grant_args(scopes=['Mail.Read'], scope_mode='append'), diff=True)
    assert run.result['diff'] == {
        'before': {'client_id': CLIENT_ID, 'resource_id': RESOURCE_ID, 'consent_type': 'AllPrincipals',
                   'principal_id': None, 'scopes': ['User.Read']},
        'after': {'client_id': CLIENT_ID, 'resource_id': RESOURCE_ID, 'consent_type': 'AllPrincipals',
                  'principal_id': None, 'scopes': ['Mail.Read', 'User.Read']},
        'before_header': 'Contoso HR Portal -> Microsoft Graph', 'after_header': 'Contoso HR Portal -> Microsoft Graph'}
    again = run_module(main, grant_args(scopes=['Mail.Read'], scope_mode='append'))
    assert again.result['changed'] is False and 'diff' not in again.result


@pytest.mark.parametrize('current, args', [
    (None, grant_args()),
    (None, grant_args(principal=ADELE_UPN, scopes=['Mail.Read'])),
    ('User.Read', grant_args(scopes=['Mail.Read'])),
    ('User.Read Mail.Read', grant_args(scopes=['Mail.Read'], scope_mode='remove')),
    ('User.Read', grant_args(scopes=['User.Read'], scope_mode='remove')),
    ('User.Read', grant_args(scopes=None, state='absent')),
    (None, grant_args(scopes=None, state='absent')),
    ('User.Read', grant_args(client=CLIENT_APP, resource=RESOURCE_APP, scopes=['User.Read'])),
])
def test_check_mode_predicts_the_real_run(run_module, fakes, current, args):
    real = fakes()
    if current:
        real.add_grant(CLIENT_ID, RESOURCE_ID, current, principal_id=ADELE_ID if args.get('principal') else None)
    dry = real.clone()
    predicted = run_module(main, args, check=True, diff=True, fake=dry).result
    dry.check()
    assert dry.writes == []
    actual = run_module(main, args, diff=True, fake=real).result
    for result in (predicted, actual):
        result.pop('invocation', None)
        if result['action'] == 'created':
            result['grant']['id'] = None
    assert predicted == actual


def test_check_mode_of_a_real_change_writes_nothing(run_module, graph):
    graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    run = run_module(main, grant_args(state='absent', scopes=None), check=True)
    assert run.result['changed'] is True and run.result['action'] == 'deleted'
    assert graph.writes == []


def test_beta(run_module, fakes):
    graph = fakes('beta')
    run = run_module(main, grant_args(api_version='beta'), fake=graph)
    assert run.result['action'] == 'created'
    assert run_module.client_args[-1]['api_version'] == 'beta'
    assert set(graph.writes[0].body) >= {'startTime', 'expiryTime'}


# ================================================================================== argument validation
@pytest.mark.parametrize('args, text', [
    (dict(id='AVs6JuUDjkCFV7q2gd8QTPimBBgj5iBFj0C6GwwRxC0', client='Contoso HR Portal', state='absent'),
     'parameters are mutually exclusive: id|client'),
    (dict(id='AVs6JuUDjkCFV7q2gd8QTPimBBgj5iBFj0C6GwwRxC0', principal=ADELE_UPN, state='absent'),
     'parameters are mutually exclusive: id|principal'),
    (dict(client='Contoso HR Portal', resource='Microsoft Graph'),
     'state is present but all of the following are missing: scopes'),
    (dict(client='Contoso HR Portal', resource='Microsoft Graph', scopes=['User.Read'], consent_type='allprincipals'),
     'value of consent_type must be one of: AllPrincipals, Principal, got: allprincipals'),
    (dict(client='Contoso HR Portal', scopes=['User.Read']), 'parameters are required together: client, resource'),
    (dict(scopes=['User.Read']), 'one of the following is required: id, client'),
    (dict(client='Contoso HR Portal', resource='Microsoft Graph', scopes=['User.Read'], scope_mode='replace'),
     'value of scope_mode must be one of: exact, append, remove, got: replace'),
])
def test_argument_errors(run_module, graph, args, text):
    run = run_module(main, args)
    assert run.failed
    assert text in run.msg
    assert graph.calls == []


def test_consent_type_all_principals_with_principal(run_module, graph):
    run = run_module(main, grant_args(consent_type='AllPrincipals', principal=ADELE_UPN))
    assert run.failed and 'cannot name a principal' in run.msg
    assert graph.calls == []


def test_guid_as_id_is_a_clear_error_before_any_request(run_module, graph):
    run = run_module(main, dict(id=CLIENT_ID, state='absent'))
    assert run.failed
    assert "'%s' is not a grant id" % CLIENT_ID in run.msg and 'A GUID is an object id' in run.msg
    assert 'exception' not in run.result
    assert graph.calls == []


def test_missing_id_present_fails_absent_is_unchanged(run_module, graph):
    gid = grant_id_for(CLIENT_ID, RESOURCE_ID)
    run = run_module(main, dict(id=gid, scopes=['User.Read']))
    assert run.failed and 'cannot be created from an id' in run.msg
    run = run_module(main, dict(id=gid, state='absent'))
    assert not run.failed and run.result['changed'] is False and run.result['action'] == 'unchanged'
    assert graph.writes == []


def test_delete_by_id(run_module, graph):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read', principal_id=ADELE_ID)
    run = run_module(main, dict(id=gid, state='absent'), diff=True)
    assert run.result['action'] == 'deleted' and run.result['diff']['after'] == {}
    assert gid not in graph.grants


def test_scope_validation_failure(run_module, graph):
    run = run_module(main, grant_args(scopes=['User.Reed']))
    assert run.failed and "did you mean 'User.Read'" in run.msg
    assert graph.writes == []


# ============================================================================================ failures
def test_graph_errors_are_reported_with_their_details(run_module, graph):
    graph.add_fault('POST', r'^/oauth2PermissionGrants$', 'status', status=403, code='Authorization_RequestDenied',
                    message='Insufficient privileges to complete the operation.')
    run = run_module(main, grant_args())
    assert run.failed
    assert run.result['status'] == 403 and run.result['error_code'] == 'Authorization_RequestDenied'
    assert run.result['request_id']
    assert 'POST /v1.0/oauth2PermissionGrants failed: HTTP 403' in run.msg


def test_ambiguous_failure_is_flagged(run_module, graph, sleeper):
    graph.add_fault('POST', r'^/oauth2PermissionGrants$', 'ambiguous_before', times=5)
    run = run_module(main, grant_args())
    assert run.failed and run.result['ambiguous'] is True
    assert 'outcome of this write is unknown' in run.msg
    assert len(graph.calls_of('POST')) == 2
    assert sleeper.delays and sleeper.total <= 60


def test_bad_request_is_not_flagged_ambiguous(run_module, graph):
    graph.add_fault('POST', r'^/oauth2PermissionGrants$', 'status', status=400, code='Request_BadRequest',
                    message='Invalid value specified for property scope')
    run = run_module(main, grant_args())
    assert run.failed and run.result['status'] == 400 and 'ambiguous' not in run.result


def test_unexpected_errors_become_a_message_without_traceback_or_secret(run_module, graph):
    def explode(fake, call):
        raise RuntimeError('boom with %s inside' % SECRET)
    graph.add_fault('GET', r'^/servicePrincipals', 'hook', hook=explode)
    run = run_module(main, grant_args())
    assert run.failed
    assert run.msg.startswith('Unexpected error in msgraph.grants: RuntimeError: boom with')
    assert 'probably a bug' in run.msg
    assert 'boom with ******** inside' in run.msg  # the secret is scrubbed (run_module checks the whole output)
    assert 'Traceback' not in run.msg


def test_secrets_in_graph_errors_are_scrubbed(run_module, graph):
    def leak(fake, call):
        raise GraphError('the server echoed %s back' % SECRET, status=500, method='GET', url=call.raw_url)
    graph.add_fault('GET', r'^/servicePrincipals', 'hook', hook=leak)
    run = run_module(main, grant_args())
    assert run.failed and 'the server echoed ******** back' in run.msg
    assert run.result['status'] == 500


def test_absent_with_scopes_is_refused_before_any_request(run_module, graph):
    graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read Mail.Read')
    run = run_module(main, grant_args(scopes=['Mail.Read'], state='absent'))
    assert run.failed
    assert 'state=absent deletes the whole grant' in run.msg and 'scope_mode=remove' in run.msg
    assert graph.calls == []
