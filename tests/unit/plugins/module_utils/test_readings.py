# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The grant code under every published reading of Graph where Microsoft's sources are silent or disagree
(docs/dev/graph-behaviour.md): paging of every collection, ``$filter`` on the client's grants navigation honoured,
ignored or rejected, incomplete plain listings, 404 to writes of a grant not replicated yet, guest and ``$`` UPNs
inside ``$batch``, the duplicate error's code, and 400 to a key form that names nothing.

Each scenario checks what matters: nothing written to the wrong grant, never a duplicate, no lost update, and a
second run without any write."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import itertools

import pytest

from ansible_collections.msgraph.grants.plugins.module_utils._bulk import BulkGrantService
from ansible_collections.msgraph.grants.plugins.module_utils._grant_errors import is_duplicate_grant_error
from ansible_collections.msgraph.grants.plugins.module_utils._grant_service import GrantService
from ansible_collections.msgraph.grants.plugins.module_utils._grants import GrantInputError, normalize_scopes
from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError

from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph import (
    ADELE_ID,
    ADELE_UPN,
    CLIENT2_ID,
    CLIENT_APP,
    CLIENT_ID,
    DOLLAR_ID,
    DOLLAR_UPN,
    GUEST_ID,
    GUEST_UPN,
    RESOURCE2_ID,
    RESOURCE_ID,
)

CLIENT_FORMS = {'id': CLIENT_ID, 'appId': CLIENT_APP, 'name': 'Contoso HR Portal'}


def params(**kwargs):
    result = dict(client='Contoso HR Portal', resource='Microsoft Graph', principal=None, consent_type=None, id=None,
                  scopes=None, scope_mode='exact', state='present', validate_scopes=True)
    result.update(kwargs)
    return result


def item(client='Contoso HR Portal', resource='Microsoft Graph', **kwargs):
    result = dict(client=client, resource=resource, principal=None, consent_type=None, scopes=None,
                  scope_mode='exact', state='present', validate_scopes=True)
    result.update(kwargs)
    return result


def single(graph, sleeper, warnings=None, check_mode=False):
    kwargs = {} if warnings is None else {'warn': warnings.append}
    return GrantService(graph, api_version=graph.api_version, check_mode=check_mode, sleep=sleeper, **kwargs)


def bulk(graph, sleeper, warnings=None):
    kwargs = {} if warnings is None else {'warn': warnings.append}
    return BulkGrantService(graph, api_version=graph.api_version, sleep=sleeper, **kwargs)


def scopes_of(graph, grant_id):
    return normalize_scopes(graph.grants[grant_id]['scope'])


def reading(graph, navigation_filter='honoured', miss=404, pages=False):
    graph.navigation_filter = navigation_filter
    graph.alternate_key_miss_status = miss
    if pages:
        graph.page_size = 1
        graph.empty_pages = True
    return graph


READINGS = list(itertools.product(('honoured', 'ignored', 'rejected'), (404, 400), (False, True)))


# ============================================================================ oauth2_grant under every reading
@pytest.mark.parametrize('nav,miss,pages', READINGS)
@pytest.mark.parametrize('form', sorted(CLIENT_FORMS))
@pytest.mark.parametrize('user', [None, ADELE_UPN])
def test_single_grant_converges_under_every_reading(fakes, sleeper, nav, miss, pages, form, user):
    graph = reading(fakes(), nav, miss, pages)
    # Grants of the same client that must never be touched: another user's consent and the other consent type.
    others = [graph.add_grant(CLIENT_ID, RESOURCE_ID, 'Mail.Read', principal_id=GUEST_ID),
              graph.add_grant(CLIENT_ID, RESOURCE2_ID, 'Orders.Read')]
    if user:
        others.append(graph.add_grant(CLIENT_ID, RESOURCE_ID, 'Files.Read'))
    else:
        others.append(graph.add_grant(CLIENT_ID, RESOURCE_ID, 'Files.Read', principal_id=ADELE_ID))
    before = dict((gid, dict(graph.grants[gid])) for gid in others)
    ask = params(client=CLIENT_FORMS[form], principal=user, scopes=['User.Read'])
    assert single(graph, sleeper).ensure(ask)['action'] == 'created'
    ask['scopes'] = ['User.Read', 'openid']
    assert single(graph, sleeper).ensure(ask)['action'] == 'updated'
    graph.calls[:] = []
    graph.batches[:] = []
    again = single(graph, sleeper).ensure(ask)
    assert again['action'] == 'unchanged' and not graph.writes
    if nav == 'honoured' and form != 'name' and not pages:
        assert graph.round_trips == 1  # the converged budget of docs/performance.md
    ask['state'] = 'absent'
    assert single(graph, sleeper).ensure(ask)['action'] == 'deleted'
    assert dict((gid, graph.grants[gid]) for gid in others) == before
    assert set(graph.grants) == set(others)


def test_rejected_navigation_filter_costs_one_more_round_trip(graph, sleeper):
    reading(graph, 'rejected')
    graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    assert single(graph, sleeper).ensure(params(client=CLIENT_ID, scopes=['User.Read']))['action'] == 'unchanged'
    assert graph.round_trips == 2
    fallback = graph.calls[-1]
    assert fallback.path == '/oauth2PermissionGrants' and 'clientId eq' in fallback.query['$filter']


def test_ignored_navigation_filter_never_patches_another_users_grant(graph, sleeper):
    reading(graph, 'ignored')
    guest = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'Mail.Read', principal_id=GUEST_ID)
    result = single(graph, sleeper).ensure(params(client=CLIENT_ID, principal=ADELE_ID, scopes=['User.Read']))
    assert result['action'] == 'created' and result['grant']['principal_id'] == ADELE_ID
    assert scopes_of(graph, guest) == ['Mail.Read']


# =================================================================================================== paging
def test_display_name_read_follows_an_empty_first_page(graph, sleeper):
    """Issue 10.1: 'No service principal found' when the filtered query answered an empty page and a nextLink."""
    graph.page_size = 1
    graph.empty_pages = True
    grants = single(graph, sleeper).query({'client': 'Contoso HR Portal'})
    assert grants == []
    assert single(graph, sleeper).ensure(params(scopes=['User.Read']))['action'] == 'created'


def test_display_name_ambiguity_is_seen_across_pages(graph, sleeper):
    graph.page_size = 1
    with pytest.raises(GrantInputError, match='ambiguous: 2 service principals'):
        single(graph, sleeper).ensure(params(client='Twin App', scopes=['User.Read']))


def test_no_match_message_does_not_claim_case_sensitivity(graph, sleeper):
    with pytest.raises(GrantInputError) as info:
        single(graph, sleeper).ensure(params(client='contoso hr portl', scopes=['User.Read']))
    assert 'case-sensitive' not in str(info.value) and 'not documented' in str(info.value)


# ======================================================================================= complete listings
def test_unfiltered_listing_is_an_advanced_query_and_complete(graph, sleeper):
    graph.listing_completeness = 'advanced_only'
    ids = [graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read'), graph.add_grant(CLIENT2_ID, RESOURCE2_ID, 'Orders.Read')]
    warnings = []
    grants = single(graph, sleeper, warnings).query({'resource': None})
    assert sorted(g['id'] for g in grants) == sorted(ids) and warnings == []


def test_count_mismatch_is_a_warning(graph, sleeper):
    graph.count_offset = 1
    graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    warnings = []
    single(graph, sleeper, warnings).query({'consent_type': 'AllPrincipals'})
    assert len(warnings) == 1 and 'counted 2' in warnings[0] and 'returned 1' in warnings[0]


def test_client_filtered_listing_stays_a_plain_query(graph, sleeper):
    single(graph, sleeper).query({'client': CLIENT_ID})
    listing = graph.calls[-1]
    assert '$count' not in listing.query and not listing.headers


@pytest.mark.parametrize('nav', ['honoured', 'ignored', 'rejected'])
def test_exclusive_mode_sees_every_grant_under_incomplete_listings(graph, sleeper, nav):
    reading(graph, nav)
    graph.listing_completeness = 'advanced_only'
    keep = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    undeclared = [graph.add_grant(CLIENT_ID, RESOURCE2_ID, 'Orders.Read'),
                  graph.add_grant(CLIENT_ID, RESOURCE2_ID, 'Orders.Write', principal_id=ADELE_ID)]
    other = graph.add_grant(CLIENT2_ID, RESOURCE2_ID, 'Orders.Read')
    warnings = []
    result = bulk(graph, sleeper, warnings).ensure_all([item(scopes=['User.Read'])], exclusive=True,
                                                       include_user_consents=True)
    assert len(result['removed']) == len(undeclared) and all(r['action'] == 'deleted' for r in result['removed'])
    assert set(graph.grants) == {keep, other} and warnings == []
    graph.calls[:] = []
    again = bulk(graph, sleeper).ensure_all([item(scopes=['User.Read'])], exclusive=True, include_user_consents=True)
    assert not again['changed'] and not graph.writes


# ================================================================================ 404 to writes (replication)
def test_patch_404_of_a_listed_grant_waits_and_writes_again(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.add_fault('PATCH', '^/oauth2PermissionGrants/', 'status', times=2, status=404, code='Request_ResourceNotFound')
    result = single(graph, sleeper).ensure(params(client=CLIENT_ID, scopes=['User.Read', 'openid']))
    assert result['action'] == 'updated' and scopes_of(graph, gid) == ['User.Read', 'openid']
    assert [w.method for w in graph.writes] == ['PATCH'] * 3 and len(sleeper.delays) == 2
    assert not graph.calls_of('POST')


def test_delete_404_of_a_listed_grant_waits_and_deletes_again(graph, sleeper):
    """Before: a DELETE answered 404 counted as 'already gone' and the grant stayed."""
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.add_fault('DELETE', '^/oauth2PermissionGrants/', 'status', times=2, status=404, code='Request_ResourceNotFound')
    result = single(graph, sleeper).ensure(params(client=CLIENT_ID, state='absent'))
    assert result['action'] == 'deleted' and gid not in graph.grants
    assert [w.method for w in graph.writes] == ['DELETE'] * 3


def test_delete_404_of_a_grant_really_gone_costs_one_read_and_no_wait(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.vanish_before('DELETE', gid)
    result = single(graph, sleeper).ensure(params(client=CLIENT_ID, state='absent'))
    assert result['action'] == 'deleted' and sleeper.delays == []


def test_write_404_that_outlasts_the_budget_fails_saying_so(graph, sleeper):
    graph.wait_budget = 3.0
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.add_fault('DELETE', '^/oauth2PermissionGrants/', 'status', times=50, status=404, code='Request_ResourceNotFound')
    with pytest.raises(GraphError) as info:
        single(graph, sleeper).ensure(params(client=CLIENT_ID, state='absent'))
    assert 'still lists grant' in str(info.value) and gid in graph.grants


def test_bulk_delete_404_is_not_taken_for_gone(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    patched = graph.add_grant(CLIENT_ID, RESOURCE2_ID, 'Orders.Read')
    graph.add_fault('DELETE', '^/oauth2PermissionGrants/', 'status', times=1, status=404, code='Request_ResourceNotFound')
    graph.add_fault('PATCH', '^/oauth2PermissionGrants/', 'status', times=1, status=404, code='Request_ResourceNotFound')
    result = bulk(graph, sleeper).ensure_all([item(client=CLIENT_ID, state='absent'),
                                              item(client=CLIENT_ID, resource='Contoso Orders API',
                                                   scopes=['Orders.Read', 'Orders.Write'])])
    assert [r['action'] for r in result['results']] == ['deleted', 'updated']
    assert gid not in graph.grants and scopes_of(graph, patched) == ['Orders.Read', 'Orders.Write']


# ============================================================================ guest and $ user names in $batch
@pytest.mark.parametrize('upn,user_id', [(GUEST_UPN, GUEST_ID), (DOLLAR_UPN, DOLLAR_ID)])
def test_special_user_names_missing_inside_batch_are_read_plainly(graph, sleeper, upn, user_id):
    graph.batch_special_user_names = 'not_found'
    result = single(graph, sleeper).ensure(params(principal=upn, scopes=['User.Read']))
    assert result['grant']['principal_id'] == user_id
    plain = [c for c in graph.calls if c.path.startswith('/users') and c.via == 'request']
    assert len(plain) == 1
    result = bulk(graph, sleeper).ensure_all([item(principal=upn, scopes=['User.Read']),
                                              item(principal=ADELE_UPN, scopes=['User.Read'])])
    assert [r['action'] for r in result['results']] == ['unchanged', 'created']


def test_an_unknown_guest_still_fails_after_the_plain_read(graph, sleeper):
    graph.batch_special_user_names = 'not_found'
    with pytest.raises(GrantInputError, match='No user found'):
        single(graph, sleeper).ensure(params(principal='nobody_x.com#EXT#@contoso.com', scopes=['User.Read']))


@pytest.mark.parametrize('upn,user_id', [(GUEST_UPN, GUEST_ID), (DOLLAR_UPN, DOLLAR_ID)])
def test_special_user_names_refused_400_inside_batch_are_read_plainly(graph, sleeper, upn, user_id):
    graph.add_fault('GET', '^/users', 'status', status=400, code='Request_BadRequest', message='Invalid request.')
    result = bulk(graph, sleeper).ensure_all([item(principal=upn, scopes=['User.Read']),
                                              item(principal=ADELE_UPN, scopes=['User.Read'])])
    assert [r['action'] for r in result['results']] == ['created', 'created']
    assert result['results'][0]['grant']['principal_id'] == user_id
    assert [c.via for c in graph.calls if c.path.startswith('/users')] == ['batch', 'batch', 'request']


def test_a_400_to_the_plain_read_of_a_special_name_is_reported(graph, sleeper):
    graph.add_fault('GET', '^/users', 'status', times=2, status=400, code='Request_BadRequest', message='Invalid request.')
    with pytest.raises(GraphError) as info:
        bulk(graph, sleeper).ensure_all([item(principal=GUEST_UPN, scopes=['User.Read'])])
    assert info.value.status == 400 and graph.writes == []
    assert [c.via for c in graph.calls if c.path.startswith('/users')] == ['batch', 'request']


def test_a_400_to_a_plain_user_name_inside_batch_is_an_error(graph, sleeper):
    graph.add_fault('GET', '^/users', 'status', status=400, code='Request_BadRequest', message='Invalid request.')
    with pytest.raises(GraphError) as info:
        bulk(graph, sleeper).ensure_all([item(principal=ADELE_UPN, scopes=['User.Read'])])
    assert info.value.status == 400
    assert [c.via for c in graph.calls if c.path.startswith('/users')] == ['batch']


# ================================================================================================ smaller ones
@pytest.mark.parametrize('status', [400, 409])
def test_duplicate_recognised_by_its_code_whatever_the_message(graph, sleeper, status):
    graph.duplicate_status = status
    graph.duplicate_message = 'other'
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'Mail.Read')
    graph.hide(gid, 1)
    result = single(graph, sleeper).ensure(params(client=CLIENT_ID, scopes=['Mail.Read', 'User.Read']))
    assert result['action'] == 'updated' and scopes_of(graph, gid) == ['Mail.Read', 'User.Read']


def test_duplicate_code_alone_is_enough():
    err = GraphError('something else', status=400, code='Request_MultipleObjectsWithSameKeyValue')
    assert is_duplicate_grant_error(err)
    assert not is_duplicate_grant_error(GraphError('something else', status=400, code='Request_BadRequest'))


@pytest.mark.parametrize('value', [CLIENT_ID, CLIENT_APP])
def test_400_to_the_other_key_form_means_not_this_form(graph, sleeper, value):
    graph.alternate_key_miss_status = 400
    grants = single(graph, sleeper).query({'client': value})
    assert grants == []
    with pytest.raises(GrantInputError, match='No service principal found'):
        single(graph, sleeper).query({'client': '99999999-9999-4999-8999-999999999999'})
