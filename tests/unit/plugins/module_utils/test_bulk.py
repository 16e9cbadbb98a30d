# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""``BulkGrantService`` (the ``oauth2_grants`` module) against the strict fake Graph: batched reads and writes,
everything checked before the first write, exclusive mode, and failing batch items handed to the single-grant
path (adoption, replication retries, ambiguous writes)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.msgraph.grants.plugins.module_utils._bulk import BulkGrantService
from ansible_collections.msgraph.grants.plugins.module_utils._grant_writer import BETA_EXPIRY_TIME, BETA_START_TIME
from ansible_collections.msgraph.grants.plugins.module_utils._grants import GrantInputError, normalize_scopes
from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError

from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph import (
    ADELE_ID,
    ADELE_UPN,
    CLIENT2_APP,
    CLIENT2_ID,
    CLIENT_APP,
    CLIENT_ID,
    GUEST_ID,
    GUEST_UPN,
    RESOURCE2_ID,
    RESOURCE_APP,
    RESOURCE_ID,
    another_writer,
    grant_id_for,
)


def item(client='Contoso HR Portal', resource='Microsoft Graph', **kwargs):
    """One element of ``grants`` as AnsibleModule hands it over (suboption defaults filled in)."""
    result = dict(client=client, resource=resource, principal=None, consent_type=None, scopes=None,
                  scope_mode='exact', state='present', validate_scopes=True)
    result.update(kwargs)
    return result


def bulk(graph, sleeper, check_mode=False):
    return BulkGrantService(graph, api_version=graph.api_version, check_mode=check_mode, sleep=sleeper)


def scopes_of(graph, grant_id):
    return normalize_scopes(graph.grants[grant_id]['scope'])


def mixed(graph):
    """A tenant and a list needing one create, one update, one delete and one no-op."""
    ids = {
        'payroll': graph.add_grant(CLIENT2_ID, RESOURCE_ID, 'openid'),
        'orders': graph.add_grant(CLIENT_ID, RESOURCE2_ID, 'Orders.Read'),
        'adele': graph.add_grant(CLIENT_ID, RESOURCE_ID, 'Mail.Read', principal_id=ADELE_ID),
    }
    items = [
        item(scopes=['User.Read']),                                                   # create
        item(client=CLIENT2_APP, resource=RESOURCE_APP, scopes=['openid', 'profile']),  # update
        item(resource='Contoso Orders API', state='absent'),                           # delete
        item(principal=ADELE_UPN, scopes=['Mail.Read']),                               # unchanged
    ]
    return ids, items


def test_writes_go_out_in_one_batch(graph, sleeper):
    ids, items = mixed(graph)
    result = bulk(graph, sleeper).ensure_all(items)
    assert [r['action'] for r in result['results']] == ['created', 'updated', 'deleted', 'unchanged']
    writes = graph.writes
    assert all(w.via == 'batch' for w in writes)
    assert len(set(w.batch for w in writes)) == 1
    assert [(w.method, w.path) for w in writes] == [
        ('POST', '/oauth2PermissionGrants'),
        ('PATCH', '/oauth2PermissionGrants/' + ids['payroll']),
        ('DELETE', '/oauth2PermissionGrants/' + ids['orders'])]
    assert writes[1].body == {'scope': 'openid profile'}
    # round 1 (names, resources, users, GUID clients as object ids), round 2 (the GUID that is an appId), round 3
    # (the grants: per client, every resource having fewer items than a listing is worth), writes
    assert graph.round_trips == 4
    assert scopes_of(graph, grant_id_for(CLIENT_ID, RESOURCE_ID)) == ['User.Read']
    assert scopes_of(graph, ids['payroll']) == ['openid', 'profile']
    assert ids['orders'] not in graph.grants
    assert result['changed'] is True
    assert result['counts'] == {'created': 1, 'updated': 1, 'deleted': 1, 'unchanged': 1}
    assert result['summary']['created'] == ['Contoso HR Portal -> Microsoft Graph']
    assert result['changes'] == ['created: Contoso HR Portal -> Microsoft Graph',
                                 'updated: %s (Contoso Payroll) -> %s (Microsoft Graph), scopes +profile'
                                 % (CLIENT2_APP, RESOURCE_APP),
                                 'deleted: Contoso HR Portal -> Contoso Orders API']
    assert result['results'][3]['label'] == 'Contoso HR Portal -> Microsoft Graph for ' + ADELE_UPN
    assert result['results'][0]['grant']['id'] == grant_id_for(CLIENT_ID, RESOURCE_ID)
    assert result['results'][0]['diff']['before_header'] == 'Contoso HR Portal -> Microsoft Graph'
    assert result['removed'] == []


def test_second_run_is_unchanged_without_writes(graph, sleeper):
    _ids, items = mixed(graph)
    bulk(graph, sleeper).ensure_all(items)
    before = len(graph.calls)
    result = bulk(graph, sleeper).ensure_all(items)
    assert result['changed'] is False and result['changes'] == []
    assert result['counts']['unchanged'] == 4
    assert [c for c in graph.calls[before:] if c.is_write] == []


@pytest.mark.parametrize('exclusive, users', [(False, False), (True, False), (True, True)])
def test_check_mode_predicts_the_real_run(fakes, sleeper, exclusive, users):
    real = fakes()
    _ids, items = mixed(real)
    real.add_grant(CLIENT_ID, RESOURCE2_ID, 'Orders.Write', principal_id=GUEST_ID)
    real.add_grant(CLIENT2_ID, RESOURCE2_ID, 'Orders.Read')
    dry = real.clone()
    predicted = bulk(dry, sleeper, check_mode=True).ensure_all(items, exclusive=exclusive, include_user_consents=users)
    dry.check()
    assert dry.writes == [] and dry.grants == real.grants
    actual = bulk(real, sleeper).ensure_all(items, exclusive=exclusive, include_user_consents=users)
    for result in (predicted, actual):
        for entry in result['results'] + result['removed']:
            if entry['action'] == 'created':
                entry['grant']['id'] = None
    assert predicted == actual


def test_beta_creates_carry_start_and_expiry_time(fakes, sleeper):
    graph = fakes('beta')
    bulk(graph, sleeper).ensure_all([item(scopes=['User.Read']), item(principal=GUEST_UPN, scopes=['User.Read'])])
    posts = graph.calls_of('POST')
    assert len(posts) == 2
    assert all(p.body['startTime'] == BETA_START_TIME and p.body['expiryTime'] == BETA_EXPIRY_TIME for p in posts)


def test_more_than_twenty_writes(graph, sleeper):
    items = []
    for n in range(25):
        upn = 'bulk%02d@contoso.com' % n
        graph.add_user('%08d-3333-4333-8333-333333333333' % n, upn)
        items.append(item(client=CLIENT_ID, resource=RESOURCE_ID, principal=upn, scopes=['User.Read']))
    result = bulk(graph, sleeper).ensure_all(items)
    assert result['counts']['created'] == 25
    assert graph.batches[-1] == 25           # handed to the client at once ...
    assert graph.batches[0] == 25 + 2 + 1  # users, resource (two forms), the GUID client as object id
    assert graph.batches[1] == 25  # the narrowest read of each user's grant: clientId and principalId
    assert len(graph.batches) == 3 and graph.round_trips == 2 + 2 + 2  # each call is two HTTP batches of <= 20
    assert len(graph.grants_for(client_id=CLIENT_ID, consent_type='Principal')) == 25


# ========================================================================== checked before the first write
def test_the_same_key_twice_is_refused_before_any_write(graph, sleeper):
    items = [item(scopes=['User.Read']), item(principal=ADELE_UPN, scopes=['User.Read']),
             item(client=CLIENT_APP, resource=RESOURCE_APP, scopes=['Mail.Read'])]
    with pytest.raises(GrantInputError) as info:
        bulk(graph, sleeper).ensure_all(items)
    assert 'grants[0] and grants[2] declare the same grant' in str(info.value)
    assert graph.writes == []


def test_the_same_user_by_upn_and_id_is_the_same_key(graph, sleeper):
    items = [item(principal=ADELE_UPN, scopes=['User.Read']), item(principal=ADELE_ID, state='absent')]
    with pytest.raises(GrantInputError) as info:
        bulk(graph, sleeper).ensure_all(items)
    assert 'grants[0] and grants[1]' in str(info.value)
    assert graph.writes == []


def test_invalid_items_are_all_reported_before_any_request(graph, sleeper):
    items = [item(consent_type='AllPrincipals', principal=ADELE_UPN, scopes=['User.Read']),
             item(consent_type='Principal', scopes=['User.Read']),
             item(scopes=None),
             item(state='absent')]
    with pytest.raises(GrantInputError) as info:
        bulk(graph, sleeper).ensure_all(items)
    msg = str(info.value)
    assert 'grants[0]' in msg and 'cannot name a principal' in msg
    assert 'grants[1]' in msg and 'needs a principal' in msg
    assert 'grants[2]' in msg and 'scopes is required with state present' in msg
    assert 'grants[3]' not in msg
    assert graph.calls == []


def test_one_bad_scope_stops_every_write(graph, sleeper):
    items = [item(scopes=['User.Read']), item(resource='Contoso Orders API', scopes=['Orders.Raed'])]
    with pytest.raises(GrantInputError) as info:
        bulk(graph, sleeper).ensure_all(items)
    assert "did you mean 'Orders.Read'" in str(info.value)
    assert graph.writes == []


def test_one_unresolvable_name_stops_every_write(graph, sleeper):
    with pytest.raises(GrantInputError):
        bulk(graph, sleeper).ensure_all([item(scopes=['User.Read']), item(client='Twin App', scopes=['User.Read'])])
    assert graph.writes == []


# ================================================================================================ exclusive
def exclusive_tenant(graph):
    return {
        'declared': graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read'),
        'undeclared': graph.add_grant(CLIENT_ID, RESOURCE2_ID, 'Orders.Read'),
        'user': graph.add_grant(CLIENT_ID, RESOURCE2_ID, 'Orders.Write', principal_id=GUEST_ID),
        'declared_user': graph.add_grant(CLIENT_ID, RESOURCE_ID, 'Mail.Read', principal_id=ADELE_ID),
        'other_client': graph.add_grant(CLIENT2_ID, RESOURCE2_ID, 'Orders.Read'),
    }


def test_without_exclusive_nothing_undeclared_is_deleted(graph, sleeper):
    ids = exclusive_tenant(graph)
    result = bulk(graph, sleeper).ensure_all([item(scopes=['User.Read'])])
    assert result['removed'] == [] and graph.writes == []
    assert set(ids.values()) <= set(graph.grants)


def test_exclusive_deletes_only_undeclared_admin_grants_of_listed_clients(graph, sleeper):
    ids = exclusive_tenant(graph)
    items = [item(scopes=['User.Read']), item(principal=ADELE_UPN, scopes=['Mail.Read'])]
    result = bulk(graph, sleeper).ensure_all(items, exclusive=True)
    assert [(w.method, w.path) for w in graph.writes] == [('DELETE', '/oauth2PermissionGrants/' + ids['undeclared'])]
    # names beside the id (the resource is not declared: its name was read for the label), and the grant as it was
    assert [r['label'] for r in result['removed']] == [
        'undeclared grant Contoso HR Portal -> Contoso Orders API (grant id %s)' % ids['undeclared']]
    assert result['removed'][0]['resource_display_name'] == 'Contoso Orders API'
    assert result['removed'][0]['deleted_grant']['id'] == ids['undeclared']
    assert result['removed'][0]['deleted_grant']['scopes'] == ['Orders.Read']
    assert result['removed'][0]['action'] == 'deleted'
    assert result['removed'][0]['diff']['before']['scopes'] == ['Orders.Read']
    assert result['counts'] == {'created': 0, 'updated': 0, 'deleted': 1, 'unchanged': 2}
    assert set(graph.grants) == set(ids.values()) - {ids['undeclared']}


def test_exclusive_with_user_consents_deletes_undeclared_principal_grants_too(graph, sleeper):
    ids = exclusive_tenant(graph)
    items = [item(scopes=['User.Read']), item(principal=ADELE_UPN, scopes=['Mail.Read'])]
    result = bulk(graph, sleeper).ensure_all(items, exclusive=True, include_user_consents=True)
    assert sorted(w.path for w in graph.writes) == sorted(
        '/oauth2PermissionGrants/' + ids[k] for k in ('undeclared', 'user'))
    assert len(result['removed']) == 2
    assert set(graph.grants) == {ids['declared'], ids['declared_user'], ids['other_client']}


def test_exclusive_keeps_grants_declared_absent_out_of_removed(graph, sleeper):
    ids = exclusive_tenant(graph)
    result = bulk(graph, sleeper).ensure_all([item(resource='Contoso Orders API', state='absent')], exclusive=True)
    assert result['results'][0]['action'] == 'deleted'
    assert [r['grant'] if 'grant' in r else r['label'] for r in result['removed']] == [
        'undeclared grant Contoso HR Portal -> Microsoft Graph (grant id %s)' % ids['declared']]
    assert len(graph.calls_of('DELETE', ids['undeclared'])) == 1


def test_exclusive_never_deletes_a_grant_of_another_client_listed_by_mistake(graph, sleeper):
    ids = exclusive_tenant(graph)

    def every_grant(graph_, call):
        # A listing Graph got wrong: the client's navigation answers the grants of every client.
        body = {'value': sorted((dict(g) for g in graph_.grants.values()), key=lambda g: g['id'])}
        return graph_._response('GET', call.raw_url, 200, body)
    graph.add_fault('GET', '^/servicePrincipals/%s/oauth2PermissionGrants$' % CLIENT_ID, 'hook', hook=every_grant)
    result = bulk(graph, sleeper).ensure_all([item(scopes=['User.Read'])], exclusive=True)
    assert [(w.method, w.path) for w in graph.writes] == [('DELETE', '/oauth2PermissionGrants/' + ids['undeclared'])]
    assert ids['other_client'] in graph.grants
    assert len(result['removed']) == 1


# ===================================================================== failing items -> the single-grant path
@pytest.mark.parametrize('status', [409, 400])
def test_duplicate_in_the_batch_is_adopted(graph, sleeper, status):
    graph.duplicate_status = status
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'Mail.Read')
    graph.hide(gid, 1)  # the bulk read misses it
    result = bulk(graph, sleeper).ensure_all([item(scopes=['User.Read'], scope_mode='append'),
                                              item(client='Contoso Payroll', scopes=['openid'])])
    methods = [(w.method, w.via) for w in graph.writes]
    assert methods == [('POST', 'batch'), ('POST', 'batch'), ('PATCH', 'request')]
    assert scopes_of(graph, gid) == ['Mail.Read', 'User.Read']
    first = result['results'][0]
    assert first['action'] == 'updated' and first['grant']['scopes'] == ['Mail.Read', 'User.Read']
    assert first['label'] == 'Contoso HR Portal -> Microsoft Graph'
    assert first['diff']['before_header'] == first['label']
    assert result['results'][1]['action'] == 'created'


@pytest.mark.parametrize('status', [404, 400])
def test_not_replicated_item_is_retried_through_the_single_path(graph, sleeper, status):
    graph.add_fault('POST', r'^/oauth2PermissionGrants$', 'not_replicated', times=2, status=status)
    result = bulk(graph, sleeper).ensure_all([item(scopes=['User.Read'])])
    assert result['results'][0]['action'] == 'created'
    assert [(w.method, w.via) for w in graph.writes] == [('POST', 'batch'), ('POST', 'request'), ('POST', 'request')]
    # The batched attempt counts: the single path backs off before each retry instead of re-posting at once.
    assert sleeper.delays == [1.0, 2.0]


def test_ambiguous_item_that_did_not_land_is_written_once_more(graph, sleeper):
    graph.add_fault('POST', r'^/oauth2PermissionGrants$', 'ambiguous_before')
    result = bulk(graph, sleeper).ensure_all([item(scopes=['User.Read'])])
    assert result['results'][0]['action'] == 'created'
    assert len(graph.calls_of('POST')) == 2


def test_ambiguous_item_that_landed_is_not_written_again(graph, sleeper):
    graph.add_fault('POST', r'^/oauth2PermissionGrants$', 'ambiguous_after')
    graph.unique_keys = False  # would a second POST slip through, the fake would keep two grants
    result = bulk(graph, sleeper).ensure_all([item(scopes=['User.Read'])])
    assert len(graph.calls_of('POST')) == 1
    assert len(graph.grants_for(client_id=CLIENT_ID)) == 1
    assert result['results'][0]['grant']['scopes'] == ['User.Read']


def test_ambiguous_item_that_landed_is_reported_created(graph, sleeper):
    graph.add_fault('POST', r'^/oauth2PermissionGrants$', 'ambiguous_after')
    result = bulk(graph, sleeper).ensure_all([item(scopes=['User.Read'])])
    assert result['results'][0]['action'] == 'created'
    assert result['changed'] is True


def test_delete_404_in_the_batch_is_success(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.vanish_before('DELETE', gid)
    result = bulk(graph, sleeper).ensure_all([item(state='absent')])
    assert result['results'][0]['action'] == 'deleted'
    assert len(graph.writes) == 1


def test_patch_of_a_grant_deleted_meanwhile_recreates_it(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.vanish_before('PATCH', gid)
    result = bulk(graph, sleeper).ensure_all([item(scopes=['Mail.Read'])])
    assert [(w.method, w.via) for w in graph.writes] == [('PATCH', 'batch'), ('POST', 'request')]
    assert result['results'][0]['action'] == 'created'
    assert scopes_of(graph, gid) == ['Mail.Read']


def test_failing_exclusive_removal_goes_through_the_single_path_by_id(graph, sleeper):
    ids = exclusive_tenant(graph)
    graph.add_fault('DELETE', ids['undeclared'], 'ambiguous_before')
    result = bulk(graph, sleeper).ensure_all([item(scopes=['User.Read'])], exclusive=True)
    deletes = graph.calls_of('DELETE')
    assert [(d.path, d.via) for d in deletes] == [('/oauth2PermissionGrants/' + ids['undeclared'], 'batch'),
                                                  ('/oauth2PermissionGrants/' + ids['undeclared'], 'request')]
    assert ids['undeclared'] not in graph.grants
    assert result['removed'][0]['action'] == 'deleted'


def test_other_item_errors_are_raised(graph, sleeper):
    graph.add_fault('POST', r'^/oauth2PermissionGrants$', 'status', status=403, code='Authorization_RequestDenied',
                    message='Insufficient privileges to complete the operation.')
    with pytest.raises(GraphError) as info:
        bulk(graph, sleeper).ensure_all([item(scopes=['User.Read'])])
    assert info.value.status == 403
    assert len(graph.writes) == 1


def test_an_empty_list_does_nothing(graph, sleeper):
    result = bulk(graph, sleeper).ensure_all([], exclusive=True)
    assert result['changed'] is False and result['results'] == [] and result['removed'] == []
    assert graph.calls == []


# ==================================================================== concurrency and lost answers (#5)
def test_guard_restores_a_scope_lost_right_after_the_batched_write(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    other = graph.add_grant(CLIENT2_ID, RESOURCE_ID, 'openid')
    graph.add_fault('PATCH', '^/oauth2PermissionGrants/' + gid, 'hook', hook=another_writer('User.Read Calendars.Read'))
    result = bulk(graph, sleeper).ensure_all([item(scopes=['Mail.Read'], scope_mode='append'),
                                              item(client='Contoso Payroll', scopes=['profile'], scope_mode='append')])
    assert scopes_of(graph, gid) == ['Calendars.Read', 'Mail.Read', 'User.Read']
    assert scopes_of(graph, other) == ['openid', 'profile']
    # One settle delay per guard round for the whole list, and every guard read and repair is batched.
    assert len(sleeper.delays) == 2 and all(0.3 <= d <= 0.8 for d in sleeper.delays)
    assert [(w.method, w.via) for w in graph.writes] == [('PATCH', 'batch')] * 3
    assert len([c for c in graph.calls_of('GET', '^/oauth2PermissionGrants/') if c.via == 'batch']) == 3
    first = result['results'][0]
    assert first['action'] == 'updated' and first['scopes_added'] == ['Mail.Read']
    assert first['grant']['scopes'] == ['Calendars.Read', 'Mail.Read', 'User.Read']
    assert all(r['retry_throttled'] is False for r in graph.batch_requests if r['method'] == 'PATCH')


DENIED = dict(code='Authorization_RequestDenied', message='Insufficient privileges to complete the operation.')


def test_a_failing_guard_read_names_the_item(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.add_fault('GET', '^/oauth2PermissionGrants/' + gid + '$', 'status', status=403, **DENIED)
    with pytest.raises(GraphError) as info:
        bulk(graph, sleeper).ensure_all([item(scopes=['Mail.Read'], scope_mode='append')])
    assert str(info.value).startswith('grants[0] (Contoso HR Portal -> Microsoft Graph): GET ')


def test_a_failing_guard_repair_names_the_item(graph, sleeper):
    graph.add_grant(CLIENT2_ID, RESOURCE_ID, 'openid')
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    path = '^/oauth2PermissionGrants/' + gid + '$'
    graph.add_fault('PATCH', path, 'hook', hook=another_writer('User.Read Calendars.Read'))  # our scope is lost
    graph.add_fault('PATCH', path, 'status', status=429, code='TooManyRequests')  # the batched repair: single path
    graph.add_fault('PATCH', path, 'status', status=403, **DENIED)                # which is refused
    with pytest.raises(GraphError) as info:
        bulk(graph, sleeper).ensure_all([item(client='Contoso Payroll', scopes=['profile'], scope_mode='append'),
                                         item(scopes=['Mail.Read'], scope_mode='append')])
    assert info.value.status == 403
    assert str(info.value).startswith('grants[1] (Contoso HR Portal -> Microsoft Graph): PATCH ')


def test_exact_items_are_not_guarded_and_may_be_re_sent_by_the_client(graph, sleeper):
    graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    bulk(graph, sleeper).ensure_all([item(scopes=['Mail.Read']), item(client='Contoso Payroll', scopes=['openid'])])
    assert sleeper.delays == []
    assert [(r['method'], r['retry_throttled']) for r in graph.batch_requests if r['method'] != 'GET'] == [
        ('PATCH', True), ('POST', True)]


def test_throttled_append_item_is_planned_again_from_a_fresh_read(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.add_fault('PATCH', '^/oauth2PermissionGrants/', 'hook', hook=another_writer('User.Read Calendars.Read', ours='throttled'))
    result = bulk(graph, sleeper).ensure_all([item(scopes=['Mail.Read'], scope_mode='append')])
    assert scopes_of(graph, gid) == ['Calendars.Read', 'Mail.Read', 'User.Read']
    assert [normalize_scopes(c.body['scope']) for c in graph.calls_of('PATCH')] == [
        ['Mail.Read', 'User.Read'], ['Calendars.Read', 'Mail.Read', 'User.Read']]
    assert graph.throttle_waits == [None]
    assert result['results'][0]['grant']['scopes'] == ['Calendars.Read', 'Mail.Read', 'User.Read']


def not_run_after(scope_they_write):
    """Another writer sets ``scope_they_write``; our batched write is answered 424 (it did not run)."""
    def hook(graph_, call):
        graph_.grants[call.path.rsplit('/', 1)[-1]]['scope'] = scope_they_write
        return graph_._error(call.method, call.raw_url, 424, 'FailedDependency',
                             'A request this request depends on failed.')
    return hook


def test_an_append_item_that_did_not_run_is_planned_again_from_a_fresh_read(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.add_fault('PATCH', '^/oauth2PermissionGrants/', 'hook', hook=not_run_after('User.Read Calendars.Read'))
    result = bulk(graph, sleeper).ensure_all([item(scopes=['Mail.Read'], scope_mode='append')])
    assert [(w.method, w.via) for w in graph.writes] == [('PATCH', 'batch'), ('PATCH', 'request')]
    assert normalize_scopes(graph.writes[1].body['scope']) == ['Calendars.Read', 'Mail.Read', 'User.Read']
    assert scopes_of(graph, gid) == ['Calendars.Read', 'Mail.Read', 'User.Read']
    assert result['results'][0]['action'] == 'updated'


def test_a_remove_item_that_did_not_run_is_not_replayed_as_a_delete(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.add_fault('DELETE', '^/oauth2PermissionGrants/', 'hook', hook=not_run_after('User.Read Calendars.Read'))
    result = bulk(graph, sleeper).ensure_all([item(scopes=['User.Read'], scope_mode='remove')])
    # Another writer added a scope meanwhile: the grant is kept, with only what they added.
    assert [(w.method, w.via) for w in graph.writes] == [('DELETE', 'batch'), ('PATCH', 'request')]
    assert scopes_of(graph, gid) == ['Calendars.Read']
    assert result['results'][0]['action'] == 'updated'


def test_lost_batch_answer_is_reconciled_per_grant_without_writing_twice(graph, sleeper):
    ids = {
        'payroll': graph.add_grant(CLIENT2_ID, RESOURCE_ID, 'openid'),
        'orders': graph.add_grant(CLIENT_ID, RESOURCE2_ID, 'Orders.Read'),
    }
    graph.lose_batch_answers = 1
    result = bulk(graph, sleeper).ensure_all([
        item(scopes=['User.Read']),                                                    # create
        item(client=CLIENT2_APP, resource=RESOURCE_APP, scopes=['openid', 'profile']),  # update
        item(resource='Contoso Orders API', state='absent'),                            # delete
    ])
    # The batch was applied; re-reading shows it, so nothing is written a second time.
    assert [(w.method, w.via) for w in graph.writes] == [('POST', 'batch'), ('PATCH', 'batch'), ('DELETE', 'batch')]
    assert [r['action'] for r in result['results']] == ['created', 'updated', 'deleted']
    assert scopes_of(graph, grant_id_for(CLIENT_ID, RESOURCE_ID)) == ['User.Read']
    assert scopes_of(graph, ids['payroll']) == ['openid', 'profile']
    assert ids['orders'] not in graph.grants


def test_lost_batch_answer_of_a_batch_that_was_not_applied_is_written_again(graph, sleeper):
    graph.lose_batch_answers = 1
    graph.add_fault('POST', r'^/oauth2PermissionGrants$', 'status', status=500, code='UnknownError')  # not applied
    result = bulk(graph, sleeper).ensure_all([item(scopes=['User.Read'])])
    assert [(w.method, w.via) for w in graph.writes] == [('POST', 'batch'), ('POST', 'request')]
    assert result['results'][0]['action'] == 'created'
    assert scopes_of(graph, grant_id_for(CLIENT_ID, RESOURCE_ID)) == ['User.Read']


def test_creates_are_re_sent_by_the_client_even_in_append_mode(graph, sleeper):
    bulk(graph, sleeper).ensure_all([item(scopes=['User.Read'], scope_mode='append')])
    # A create does not depend on a read: Graph's 429 on it may be retried as it is.
    assert [(r['method'], r['retry_throttled']) for r in graph.batch_requests if r['method'] != 'GET'] == [('POST', True)]


def test_a_throttled_create_handed_back_is_sent_again_after_the_wait(graph, sleeper):
    graph.add_fault('POST', r'^/oauth2PermissionGrants$', 'status', status=429, code='TooManyRequests')
    result = bulk(graph, sleeper).ensure_all([item(scopes=['User.Read'])])
    assert [(w.method, w.via) for w in graph.writes] == [('POST', 'batch'), ('POST', 'request')]
    assert graph.throttle_waits == [None] and result['results'][0]['action'] == 'created'


def test_a_failing_item_still_reports_the_writes_that_landed(graph, sleeper):
    graph.add_grant(CLIENT2_ID, RESOURCE_ID, 'openid')
    graph.add_fault('POST', r'^/oauth2PermissionGrants$', 'status', status=403, code='Authorization_RequestDenied',
                    message='Insufficient privileges to complete the operation.')
    with pytest.raises(GraphError) as info:
        bulk(graph, sleeper).ensure_all([item(client='Contoso Payroll', scopes=['openid', 'profile']),  # PATCH: lands
                                         item(scopes=['User.Read'])])                                   # POST: 403
    assert info.value.status == 403
    assert info.value.applied_changes == ['updated: Contoso Payroll -> Microsoft Graph, scopes +profile']
    # which item Graph refused, as the user wrote it, before what Graph said
    assert str(info.value).startswith('grants[1] (Contoso HR Portal -> Microsoft Graph): POST ')


def test_a_refused_undeclared_deletion_is_named_by_its_grant(graph, sleeper):
    ids = exclusive_tenant(graph)
    graph.add_fault('DELETE', '^/oauth2PermissionGrants/' + ids['undeclared'] + '$', 'status', status=403,
                    code='Authorization_RequestDenied', message='Insufficient privileges to complete the operation.')
    with pytest.raises(GraphError) as info:
        bulk(graph, sleeper).ensure_all([item(scopes=['User.Read'])], exclusive=True)
    assert str(info.value).startswith(
        'undeclared grant Contoso HR Portal -> Contoso Orders API (grant id %s): DELETE ' % ids['undeclared'])


def test_a_refused_batch_still_reports_the_writes_of_the_batches_before_it(graph, sleeper):
    graph.add_grant(CLIENT2_ID, RESOURCE_ID, 'openid')
    real_batch = graph.batch

    def second_half_refused(requests_):
        if not any(r['method'] != 'GET' for r in requests_):
            return real_batch(requests_)
        answers = real_batch(requests_[:1])  # the first "chunk" lands, the second is refused as a whole
        err = GraphError('Insufficient privileges.', status=403, code='Authorization_RequestDenied')
        err.partial_results = answers + [None] * (len(requests_) - 1)
        raise err
    graph.batch = second_half_refused
    with pytest.raises(GraphError) as info:
        bulk(graph, sleeper).ensure_all([item(client='Contoso Payroll', scopes=['openid', 'profile']),
                                         item(scopes=['User.Read'])])
    assert info.value.status == 403 and info.value.applied_changes == ['updated: Contoso Payroll -> Microsoft Graph, scopes +profile']
    assert str(info.value).startswith('grants[1] (Contoso HR Portal -> Microsoft Graph): ')
    assert graph.calls_of('POST') == []  # the refused create is not sent again: the single path stops on the same error


def test_exclusive_keeps_a_grant_with_no_scopes(graph, sleeper):
    # No item can declare a grant without scopes (the export leaves it out), so exclusive mode must not delete it:
    # applying an exported file to the tenant it came from changes nothing.
    ids = exclusive_tenant(graph)
    graph.grants.pop(ids['undeclared'])  # the same pair: the empty grant takes its place
    empty = graph.add_grant(CLIENT_ID, RESOURCE2_ID, ' ')
    result = bulk(graph, sleeper).ensure_all([item(scopes=['User.Read'])], exclusive=True)
    assert result['removed'] == [] and graph.writes == []
    assert empty in graph.grants
