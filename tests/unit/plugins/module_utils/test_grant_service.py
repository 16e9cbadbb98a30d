# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""``GrantService`` against the strict fake Graph: ensure() (resolve -> plan -> write) with check mode, idempotence,
the grant key, adoption of duplicates, replication retries, ambiguous writes, and query() for the info module.

Every fake is checked after the test: no request real Graph would reject, never two grants for one key."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import itertools

import pytest

from ansible_collections.msgraph.grants.plugins.module_utils._grant_service import GrantService
from ansible_collections.msgraph.grants.plugins.module_utils._grant_writer import (
    BETA_EXPIRY_TIME,
    BETA_START_TIME,
    ReconcileSettings,
)
from ansible_collections.msgraph.grants.plugins.module_utils._grants import GrantInputError, normalize_scopes
from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError

from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph import (
    ADELE_ID,
    ADELE_UPN,
    CLIENT2_ID,
    CLIENT_APP,
    CLIENT_ID,
    DISABLED_SCOPE,
    GUEST_ID,
    GUEST_UPN,
    RESOURCE2_ID,
    RESOURCE_APP,
    RESOURCE_ID,
    another_writer,
    grant_id_for,
)

REPLICATION_WAIT = ReconcileSettings().replication_wait
MAX_DELAY = ReconcileSettings().max_delay
ALL_KEY_FILTER = "clientId eq '%s' and resourceId eq '%s' and consentType eq 'AllPrincipals'" % (CLIENT_ID, RESOURCE_ID)


def params(**kwargs):
    """Module parameters as AnsibleModule hands them over (every option present)."""
    result = dict(client='Contoso HR Portal', resource='Microsoft Graph', principal=None, consent_type=None, id=None,
                  scopes=None, scope_mode='exact', state='present', validate_scopes=True)
    result.update(kwargs)
    return result


def service(graph, sleeper, check_mode=False):
    return GrantService(graph, api_version=graph.api_version, check_mode=check_mode, sleep=sleeper)


def stored_scopes(graph, grant_id):
    return normalize_scopes(graph.grants[grant_id]['scope'])


def assert_bounded(sleeper, phases=1):
    assert all(0 < d <= MAX_DELAY for d in sleeper.delays), sleeper.delays
    assert sleeper.total <= REPLICATION_WAIT * phases, sleeper.delays


# ================================================================================ check mode == the real run
CURRENT = {'none': None, 'one': 'User.Read', 'messy': '  Mail.Read   User.Read Mail.Read ',
           'three': 'Files.Read Mail.Read User.Read'}
REQUESTED = {'one': ['User.Read'], 'two': ['Mail.Read', 'Files.Read'], 'packed': ['User.Read Mail.Read', 'User.Read'],
             'empty': []}
MODES = ('exact', 'append', 'remove')
# (client as given, principal as given): every way the key's parts can be named
FORMS = {
    'name': ('Contoso HR Portal', None),
    'appid': (CLIENT_APP, None),
    'name-upn': ('Contoso HR Portal', ADELE_UPN),
    'appid-upn': (CLIENT_APP, ADELE_UPN),
    'appid-userid': (CLIENT_APP, ADELE_ID),
    'objectid-userid': (CLIENT_ID, ADELE_ID),
}
_PLANS = [(c, r, m, 'present') for c, r, m in itertools.product(CURRENT, REQUESTED, MODES)] + \
         [(c, 'one', 'exact', 'absent') for c in CURRENT]
# Every plan with two of the six forms, rotating, so each form meets every mode and state (and the run stays fast).
_FORM_NAMES = sorted(FORMS)
_SLOTS = collections.defaultdict(itertools.count)
CASES = [plan + (_FORM_NAMES[next(_SLOTS[plan[2:]]) % len(_FORM_NAMES)],) for plan in _PLANS for _twice in (0, 1)]


def seed(graph, current, principal_id):
    """The grant under test (if any) plus the grant with the other key of the same pair, which must never move."""
    other_principal = None if principal_id else ADELE_ID
    other = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'Calendars.Read', principal_id=other_principal)
    graph.add_grant(CLIENT_ID, RESOURCE_ID, 'Mail.Send', principal_id=GUEST_ID)  # another user's grant
    graph.add_grant(CLIENT2_ID, RESOURCE_ID, 'User.Read')                       # another client's grant
    if CURRENT[current] is not None:
        graph.add_grant(CLIENT_ID, RESOURCE_ID, CURRENT[current], principal_id=principal_id)
    return other


@pytest.mark.parametrize('current, requested, mode, state, form', CASES)
def test_check_mode_predicts_the_real_run(fakes, sleeper, current, requested, mode, state, form):
    client, principal = FORMS[form]
    principal_id = ADELE_ID if principal else None
    real = fakes()
    other = seed(real, current, principal_id)
    untouched = dict((gid, dict(raw)) for gid, raw in real.grants.items()
                     if gid != grant_id_for(CLIENT_ID, RESOURCE_ID, principal_id))
    dry = real.clone()
    p = params(client=client, resource=RESOURCE_APP, principal=principal, scopes=list(REQUESTED[requested]),
               scope_mode=mode, state=state)

    predicted = service(dry, sleeper, check_mode=True).ensure(dict(p))
    dry.check()
    assert dry.writes == [], 'check mode wrote: %r' % dry.writes
    assert dry.grants == real.grants

    actual = service(real, sleeper).ensure(dict(p))

    for name in ('changed', 'action', 'scopes_added', 'scopes_removed', 'diff'):
        assert predicted[name] == actual[name], name
    assert ('grant' in predicted) == ('grant' in actual)
    if 'grant' in actual:
        expected = dict(predicted['grant'])
        if actual['action'] == 'created':
            assert expected.pop('id') is None
            assert actual['grant'].pop('id') == grant_id_for(CLIENT_ID, RESOURCE_ID, principal_id)
        assert expected == {k: v for k, v in actual['grant'].items() if k in expected}
        assert len(expected) == len(actual['grant'])
        gid = actual['grant'].get('id') or grant_id_for(CLIENT_ID, RESOURCE_ID, principal_id)
        assert stored_scopes(real, gid) == actual['grant']['scopes']
        assert actual['grant']['consent_type'] == ('Principal' if principal else 'AllPrincipals')
        assert actual['grant']['principal_id'] == principal_id
    else:
        assert grant_id_for(CLIENT_ID, RESOURCE_ID, principal_id) not in real.grants
    writes = real.writes
    assert len(writes) == (0 if actual['action'] == 'unchanged' else 1)
    expected_method = {'created': 'POST', 'updated': 'PATCH', 'deleted': 'DELETE'}.get(actual['action'])
    if expected_method:
        assert writes[0].method == expected_method
    if mode != 'exact' and actual['action'] == 'updated':
        # append/remove re-read once after a short settle to guard against a concurrent writer (_guard_merge).
        assert len(sleeper.delays) == 1 and 0.3 <= sleeper.delays[0] <= 0.8
    else:
        assert sleeper.delays == []

    # grants of other keys are never touched
    for gid, raw in untouched.items():
        assert real.grants[gid] == raw
    assert other in real.grants

    # idempotence: the same task again changes nothing and writes nothing
    before = len(real.calls)
    again = service(real, sleeper).ensure(dict(p))
    assert again['action'] == 'unchanged' and again['changed'] is False
    assert [c for c in real.calls[before:] if c.is_write] == []
    assert again['scopes_added'] == again['scopes_removed'] == []
    assert again['diff']['before'] == again['diff']['after']


@pytest.mark.parametrize('api_version', ['v1.0', 'beta'])
@pytest.mark.parametrize('current', [None, 'User.Read'])
def test_check_mode_predicts_the_real_run_on_both_api_versions(fakes, sleeper, api_version, current):
    real = fakes(api_version)
    if current:
        real.add_grant(CLIENT_ID, RESOURCE_ID, current)
    dry = real.clone()
    p = params(scopes=['Mail.Read', 'User.Read'])
    predicted = service(dry, sleeper, check_mode=True).ensure(dict(p))
    actual = service(real, sleeper).ensure(dict(p))
    assert dry.writes == []
    dry.check()
    predicted['grant'].pop('id')
    actual['grant'].pop('id')
    assert predicted == actual


# ================================================================================================ writes
def test_create_body_v1(graph, sleeper):
    result = service(graph, sleeper).ensure(params(scopes=['User.Read', 'openid', 'User.Read']))
    assert result['action'] == 'created' and result['changed'] is True
    (post,) = graph.writes
    assert post.path == '/oauth2PermissionGrants' and post.via == 'request'
    assert post.body == {'clientId': CLIENT_ID, 'consentType': 'AllPrincipals', 'resourceId': RESOURCE_ID,
                         'scope': 'User.Read openid'}
    assert result['grant']['id'] == grant_id_for(CLIENT_ID, RESOURCE_ID)
    assert result['scopes_added'] == ['User.Read', 'openid'] and result['scopes_removed'] == []


def test_create_body_beta_has_start_and_expiry_time(fakes, sleeper):
    graph = fakes('beta')
    service(graph, sleeper).ensure(params(principal=GUEST_UPN, scopes=['Mail.Read']))
    (post,) = graph.writes
    assert post.body == {'clientId': CLIENT_ID, 'consentType': 'Principal', 'principalId': GUEST_ID,
                         'resourceId': RESOURCE_ID, 'scope': 'Mail.Read', 'startTime': BETA_START_TIME,
                         'expiryTime': BETA_EXPIRY_TIME}


def test_update_patches_only_the_scope(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    result = service(graph, sleeper).ensure(params(scopes=['Mail.Read'], scope_mode='append'))
    (patch,) = graph.writes
    assert (patch.method, patch.path) == ('PATCH', '/oauth2PermissionGrants/' + gid)
    assert patch.body == {'scope': 'Mail.Read User.Read'}
    assert result['action'] == 'updated'
    assert result['scopes_added'] == ['Mail.Read'] and result['scopes_removed'] == []
    assert result['diff'] == {
        'before': {'client_id': CLIENT_ID, 'resource_id': RESOURCE_ID, 'consent_type': 'AllPrincipals',
                   'principal_id': None, 'scopes': ['User.Read']},
        'after': {'client_id': CLIENT_ID, 'resource_id': RESOURCE_ID, 'consent_type': 'AllPrincipals',
                  'principal_id': None, 'scopes': ['Mail.Read', 'User.Read']},
        'before_header': 'Contoso HR Portal -> Microsoft Graph', 'after_header': 'Contoso HR Portal -> Microsoft Graph'}


def test_diff_headers_put_names_beside_ids(graph, sleeper):
    graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read', principal_id=ADELE_ID)
    result = service(graph, sleeper).ensure(params(client=CLIENT_ID, resource=RESOURCE_APP, principal=ADELE_ID,
                                                   scopes=['Mail.Read'], scope_mode='append'))
    assert result['diff']['before_header'] == result['diff']['after_header'] == '%s (Contoso HR Portal) -> %s (Microsoft Graph) for %s (%s)' % (
        CLIENT_ID, RESOURCE_APP, ADELE_ID, ADELE_UPN)


def test_emptying_a_grant_deletes_it(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read Mail.Read')
    result = service(graph, sleeper).ensure(params(scopes=['User.Read', 'Mail.Read'], scope_mode='remove'))
    assert result['action'] == 'deleted' and 'grant' not in result
    # the grant as it was, so that a reviewer (or a rollback) has what it takes to re-create it
    assert result['deleted_grant']['id'] == gid and result['deleted_grant']['scopes'] == ['Mail.Read', 'User.Read']
    assert [(c.method, c.path) for c in graph.writes] == [('DELETE', '/oauth2PermissionGrants/' + gid)]
    assert result['scopes_removed'] == ['Mail.Read', 'User.Read']
    assert result['diff']['after'] == {}


def test_remove_mode_on_a_missing_grant_creates_nothing(graph, sleeper):
    result = service(graph, sleeper).ensure(params(scopes=['User.Read'], scope_mode='remove'))
    assert result['action'] == 'unchanged' and graph.writes == []


def test_absent_without_a_grant_is_unchanged(graph, sleeper):
    result = service(graph, sleeper).ensure(params(state='absent'))
    header = 'Contoso HR Portal -> Microsoft Graph'
    assert result == {'changed': False, 'action': 'unchanged', 'scopes_added': [], 'scopes_removed': [],
                      'diff': {'before': {}, 'after': {}, 'before_header': header, 'after_header': header}}
    assert graph.writes == []


def test_scope_string_too_long_is_refused_before_any_write(graph, sleeper):
    scopes = ['Scope.%04d.ReadWrite.All' % n for n in range(200)]
    with pytest.raises(GrantInputError) as info:
        service(graph, sleeper).ensure(params(scopes=scopes, validate_scopes=False))
    assert 'at most 3850' in str(info.value)
    assert graph.writes == []


# ==================================================================================== scope validation
def test_unknown_scope_is_refused_with_suggestions(graph, sleeper):
    with pytest.raises(GrantInputError) as info:
        service(graph, sleeper).ensure(params(scopes=['User.Reed', 'Mail.Read']))
    msg = str(info.value)
    assert "'User.Reed' is not a delegated permission of 'Microsoft Graph'" in msg
    assert "did you mean 'User.Read'" in msg
    assert graph.writes == []


def test_disabled_scope_is_refused(graph, sleeper):
    graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    with pytest.raises(GrantInputError) as info:
        service(graph, sleeper).ensure(params(scopes=[DISABLED_SCOPE]))
    assert 'disabled' in str(info.value)
    assert graph.writes == []


def test_check_mode_validates_too(graph, sleeper):
    with pytest.raises(GrantInputError):
        service(graph, sleeper, check_mode=True).ensure(params(scopes=['Nope.Read']))


def test_validation_off_skips_the_scopes_read(graph, sleeper):
    result = service(graph, sleeper).ensure(params(scopes=['Custom.Unpublished'], validate_scopes=False))
    assert result['grant']['scopes'] == ['Custom.Unpublished']
    assert not any('PermissionScopes' in c.raw_url for c in graph.calls)


def test_remove_mode_does_not_validate(graph, sleeper):
    graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read Custom.Old')
    result = service(graph, sleeper).ensure(params(scopes=['Custom.Old'], scope_mode='remove'))
    assert result['action'] == 'updated' and result['grant']['scopes'] == ['User.Read']


def test_absent_does_not_read_published_scopes(graph, sleeper):
    graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    service(graph, sleeper).ensure(params(state='absent'))
    assert not any('PermissionScopes' in c.raw_url for c in graph.calls)


# ========================================================================================= the grant key
def test_all_principals_and_principal_grants_never_touch_each_other(graph, sleeper):
    admin = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    adele = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'Mail.Read', principal_id=ADELE_ID)
    svc = service(graph, sleeper)

    svc.ensure(params(scopes=['Files.Read']))
    assert stored_scopes(graph, admin) == ['Files.Read'] and stored_scopes(graph, adele) == ['Mail.Read']

    svc.ensure(params(principal=ADELE_UPN, scopes=['Calendars.Read'], scope_mode='append'))
    assert stored_scopes(graph, admin) == ['Files.Read']
    assert stored_scopes(graph, adele) == ['Calendars.Read', 'Mail.Read']

    svc.ensure(params(state='absent'))
    assert admin not in graph.grants and adele in graph.grants

    svc.ensure(params(scopes=['User.Read']))
    svc.ensure(params(principal=ADELE_ID, state='absent'))
    assert adele not in graph.grants and admin in graph.grants
    assert [c.method for c in graph.writes] == ['PATCH', 'PATCH', 'DELETE', 'POST', 'DELETE']


def test_a_principal_grant_is_created_next_to_the_admin_grant(graph, sleeper):
    admin = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    result = service(graph, sleeper).ensure(params(client=CLIENT_APP, principal=ADELE_UPN, scopes=['User.Read']))
    assert result['action'] == 'created'
    assert result['grant']['principal_id'] == ADELE_ID and result['grant']['consent_type'] == 'Principal'
    assert graph.writes[0].body['principalId'] == ADELE_ID
    assert graph.grants[admin]['scope'] == 'User.Read'


def test_explicit_consent_type_principal(graph, sleeper):
    result = service(graph, sleeper).ensure(params(principal=ADELE_UPN, consent_type='Principal', scopes=['openid']))
    assert result['grant']['consent_type'] == 'Principal'


@pytest.mark.parametrize('consent_type, principal, text', [
    ('AllPrincipals', ADELE_UPN, 'cannot name a principal'),
    ('Principal', None, "needs 'principal'"),
])
def test_consent_type_and_principal_must_agree(graph, sleeper, consent_type, principal, text):
    with pytest.raises(GrantInputError) as info:
        service(graph, sleeper).ensure(params(consent_type=consent_type, principal=principal, scopes=['openid']))
    assert text in str(info.value)
    assert graph.calls == []


def test_client_by_app_id_reads_grants_in_the_first_round_trip(graph, sleeper):
    graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    result = service(graph, sleeper).ensure(params(client=CLIENT_APP, resource=RESOURCE_APP, scopes=['User.Read']))
    assert result['action'] == 'unchanged'
    assert graph.round_trips == 1 and len(graph.batches) == 1
    nav = [c for c in graph.calls if c.path.endswith('/oauth2PermissionGrants')]
    assert [c.path for c in nav] == ['/servicePrincipals/%s/oauth2PermissionGrants' % CLIENT_APP,
                                     "/servicePrincipals(appId='%s')/oauth2PermissionGrants" % CLIENT_APP]
    assert all(c.query['$filter'] == "consentType eq 'AllPrincipals'" for c in nav)


def test_client_by_user_id_filters_the_navigation_path_on_the_principal(graph, sleeper):
    service(graph, sleeper).ensure(params(client=CLIENT_ID, principal=ADELE_ID, scopes=['User.Read']))
    nav = [c for c in graph.calls if c.path.endswith('/oauth2PermissionGrants') and c.method == 'GET']
    assert nav and all(c.query['$filter'] == "principalId eq '%s'" % ADELE_ID for c in nav)


def test_client_by_name_lists_with_the_key_filter(graph, sleeper):
    service(graph, sleeper).ensure(params(scopes=['User.Read']))
    (listing,) = graph.calls_of('GET', r'^/oauth2PermissionGrants$')
    assert listing.query == {'$filter': ALL_KEY_FILTER, '$top': '999'}
    service(graph, sleeper).ensure(params(principal=GUEST_UPN, scopes=['User.Read']))
    listing = graph.calls_of('GET', r'^/oauth2PermissionGrants$')[-1]
    assert listing.query['$filter'] == ("clientId eq '%s' and resourceId eq '%s' and consentType eq 'Principal' and "
                                        "principalId eq '%s'" % (CLIENT_ID, RESOURCE_ID, GUEST_ID))


def test_client_filter_404_counts_as_no_grants(graph, sleeper):
    graph.client_filter_404 = True
    result = service(graph, sleeper).ensure(params(scopes=['User.Read']))
    assert result['action'] == 'created'


def test_resolution_errors_come_before_any_write(graph, sleeper):
    with pytest.raises(GrantInputError) as info:
        service(graph, sleeper).ensure(params(client='Twin App', scopes=['User.Read']))
    assert 'ambiguous' in str(info.value)
    with pytest.raises(GrantInputError):
        service(graph, sleeper).ensure(params(principal='ghost@contoso.com', scopes=['User.Read']))
    assert graph.writes == []


# ============================================================================================ adoption
@pytest.mark.parametrize('status', [409, 400])
def test_duplicate_with_the_same_scopes_is_adopted_unchanged(graph, sleeper, status):
    graph.duplicate_status = status
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.hide(gid, 1)  # the first read does not see it yet
    result = service(graph, sleeper).ensure(params(scopes=['User.Read']))
    assert result['action'] == 'unchanged' and result['changed'] is False
    assert result['grant']['id'] == gid
    assert [c.method for c in graph.writes] == ['POST']
    assert graph.duplicate_posts == 1


@pytest.mark.parametrize('mode, requested, expected', [
    ('exact', ['User.Read'], ['User.Read']),
    ('append', ['User.Read'], ['Mail.Read', 'User.Read']),
])
def test_duplicate_with_other_scopes_is_adopted_and_patched(graph, sleeper, mode, requested, expected):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'Mail.Read')
    graph.hide(gid, 1)
    result = service(graph, sleeper).ensure(params(scopes=requested, scope_mode=mode))
    assert [c.method for c in graph.writes] == ['POST', 'PATCH']
    assert graph.writes[1].path == '/oauth2PermissionGrants/' + gid
    assert graph.writes[1].body == {'scope': ' '.join(expected)}
    assert stored_scopes(graph, gid) == expected
    assert result['action'] == 'updated'
    assert result['grant']['scopes'] == expected
    assert result['diff']['before']['scopes'] == ['Mail.Read']


def test_adoption_waits_for_the_grant_to_become_readable(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read', principal_id=ADELE_ID)
    graph.hide(gid, 3)
    result = service(graph, sleeper).ensure(params(principal=ADELE_UPN, scopes=['User.Read']))
    assert result['action'] == 'unchanged'
    assert sleeper.delays == [1.0, 2.0]
    assert [c.method for c in graph.writes] == ['POST']


def test_adoption_gives_up_with_a_clear_error(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.hide(gid, 10 ** 6)
    with pytest.raises(GraphError) as info:
        service(graph, sleeper).ensure(params(scopes=['User.Read']))
    msg = str(info.value)
    assert 'Permission entry already exists' in msg
    assert 'did not become readable in the time allowed (at most 60 s, within the retry_budget)' in msg
    assert [c.method for c in graph.writes] == ['POST']
    assert_bounded(sleeper)
    assert len(graph.calls_of('GET', r'^/oauth2PermissionGrants$')) == len(sleeper.delays) + 2


# ================================================================================ replication of references
@pytest.mark.parametrize('status', [404, 400])
def test_not_replicated_create_is_retried(graph, sleeper, status):
    graph.add_fault('POST', r'^/oauth2PermissionGrants$', 'not_replicated', times=3, status=status)
    result = service(graph, sleeper).ensure(params(scopes=['User.Read']))
    assert result['action'] == 'created'
    assert len(graph.calls_of('POST')) == 4
    assert sleeper.delays == [1.0, 2.0, 4.0]


def test_not_replicated_retries_are_bounded(graph, sleeper):
    graph.add_fault('POST', r'^/oauth2PermissionGrants$', 'not_replicated', times=10 ** 6)
    with pytest.raises(GraphError) as info:
        service(graph, sleeper).ensure(params(scopes=['User.Read']))
    msg = str(info.value)
    assert 'does not exist or one of its queried reference-property objects are not present' in msg
    assert 'still reports a referenced object as missing after %.0f s of waiting for replication' % sleeper.total in msg
    assert_bounded(sleeper)
    assert len(graph.calls_of('POST')) == len(sleeper.delays) + 1 <= 8
    assert graph.grants_for(client_id=CLIENT_ID, resource_id=RESOURCE_ID, consent_type='AllPrincipals') == []


def test_replication_waits_count_against_the_retry_budget(graph, sleeper):
    graph.add_fault('POST', r'^/oauth2PermissionGrants$', 'not_replicated', times=10 ** 6)
    graph.wait_budget = 3.5  # what the run's retry_budget still allows
    with pytest.raises(GraphError) as info:
        service(graph, sleeper).ensure(params(scopes=['User.Read']))
    # 1 + 2 s fit, the next 4 s would not: no wait beyond the budget, and the message says how long it waited.
    assert sleeper.delays == [1.0, 2.0] and len(graph.calls_of('POST')) == 3
    assert 'missing after 3 s of waiting for replication (bounded by 60 s and the retry_budget)' in str(info.value)


def test_adoption_waits_count_against_the_retry_budget(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.hide(gid, 10 ** 6)
    graph.wait_budget = 0.5
    with pytest.raises(GraphError) as info:
        service(graph, sleeper).ensure(params(scopes=['User.Read']))
    assert sleeper.delays == [] and 'did not become readable in the time allowed' in str(info.value)
    assert [c.method for c in graph.writes] == ['POST']


def test_custom_reconcile_settings_bound_the_wait(graph, sleeper):
    graph.add_fault('POST', r'^/oauth2PermissionGrants$', 'not_replicated', times=10 ** 6)
    svc = GrantService(graph, reconcile=ReconcileSettings(replication_wait=5, first_delay=0.5, max_delay=2),
                       sleep=sleeper)
    with pytest.raises(GraphError):
        svc.ensure(params(scopes=['User.Read']))
    assert sleeper.delays == [0.5, 1.0, 2.0]


def test_reconcile_delays():
    assert list(ReconcileSettings().delays()) == [1, 2, 4, 8, 16, 16]
    assert list(ReconcileSettings(replication_wait=0).delays()) == []
    assert sum(ReconcileSettings(replication_wait=300).delays()) <= 300


def test_other_create_errors_are_not_retried(graph, sleeper):
    graph.add_fault('POST', r'^/oauth2PermissionGrants$', 'status', status=403, code='Authorization_RequestDenied',
                    message='Insufficient privileges to complete the operation.')
    with pytest.raises(GraphError) as info:
        service(graph, sleeper).ensure(params(scopes=['User.Read']))
    assert info.value.status == 403 and 'DelegatedPermissionGrant.ReadWrite.All' in str(info.value)
    assert len(graph.calls_of('POST')) == 1 and sleeper.delays == []


# ===================================================================================== ambiguous writes
@pytest.mark.parametrize('unique_keys', [True, False], ids=['graph', 'lenient-replica'])
@pytest.mark.parametrize('lag', [0, 1, 2])
def test_ambiguous_create_that_landed_is_not_sent_again(graph, sleeper, unique_keys, lag):
    graph.unique_keys = unique_keys
    graph.lag_new_grants = lag
    graph.add_fault('POST', r'^/oauth2PermissionGrants$', 'ambiguous_after')
    result = service(graph, sleeper).ensure(params(principal=ADELE_UPN, scopes=['User.Read', 'Mail.Read']))
    assert len(graph.calls_of('POST')) == 1
    assert result['action'] == 'created' and result['changed'] is True
    assert result['scopes_added'] == ['Mail.Read', 'User.Read']
    assert result['grant']['id'] == grant_id_for(CLIENT_ID, RESOURCE_ID, ADELE_ID)
    assert result['diff']['before'] == {}
    assert len(graph.grants_for(client_id=CLIENT_ID, principal_id=ADELE_ID)) == 1
    assert_bounded(sleeper)


def test_ambiguous_create_that_landed_late_is_still_reported_created(graph, sleeper):
    graph.lag_new_grants = 4
    graph.add_fault('POST', r'^/oauth2PermissionGrants$', 'ambiguous_after')
    result = service(graph, sleeper).ensure(params(scopes=['User.Read']))
    assert len(graph.grants_for(client_id=CLIENT_ID, resource_id=RESOURCE_ID)) == 1
    assert result['action'] == 'created' and result['changed'] is True


def test_ambiguous_create_that_landed_late_never_duplicates(graph, sleeper):
    # The part of the scenario above that works: no second grant, scopes as asked, bounded waits.
    graph.lag_new_grants = 4
    graph.add_fault('POST', r'^/oauth2PermissionGrants$', 'ambiguous_after')
    result = service(graph, sleeper).ensure(params(scopes=['User.Read']))
    assert len(graph.grants_for(client_id=CLIENT_ID, resource_id=RESOURCE_ID)) == 1
    assert result['grant']['scopes'] == ['User.Read']
    assert len(graph.calls_of('POST')) == 2
    assert_bounded(sleeper, phases=2)


def test_ambiguous_create_that_did_not_land_is_sent_exactly_once_more(graph, sleeper):
    graph.add_fault('POST', r'^/oauth2PermissionGrants$', 'ambiguous_before')
    result = service(graph, sleeper).ensure(params(scopes=['User.Read']))
    assert len(graph.calls_of('POST')) == 2
    assert result['action'] == 'created'
    assert stored_scopes(graph, result['grant']['id']) == ['User.Read']
    # three reads (1 s and 2 s apart) before deciding the first attempt did not land
    assert sleeper.delays == [1.0, 2.0]


def test_ambiguous_create_twice_gives_up(graph, sleeper):
    graph.add_fault('POST', r'^/oauth2PermissionGrants$', 'ambiguous_before', times=5)
    with pytest.raises(GraphError) as info:
        service(graph, sleeper).ensure(params(scopes=['User.Read']))
    assert info.value.ambiguous is True
    assert 'outcome of this write is unknown' in str(info.value)
    assert len(graph.calls_of('POST')) == 2
    assert graph.grants_for(client_id=CLIENT_ID) == []


def test_ambiguous_create_finding_another_writers_grant_converges_it(graph, sleeper):
    def someone_else_creates(fake, call):
        fake.add_grant(CLIENT_ID, RESOURCE_ID, 'Mail.Read')
        raise GraphError('timed out waiting for the response', method='POST', url=call.raw_url, ambiguous=True)
    graph.add_fault('POST', r'^/oauth2PermissionGrants$', 'hook', hook=someone_else_creates)
    result = service(graph, sleeper).ensure(params(scopes=['User.Read']))
    assert [c.method for c in graph.writes] == ['POST', 'PATCH']
    assert result['action'] == 'updated'
    assert stored_scopes(graph, grant_id_for(CLIENT_ID, RESOURCE_ID)) == ['User.Read']


def test_not_replicated_answer_for_an_applied_create_is_reported_created(graph, sleeper):
    graph.add_fault('POST', r'^/oauth2PermissionGrants$', 'applied_then_status', status=404)
    result = service(graph, sleeper).ensure(params(scopes=['User.Read']))
    assert len(graph.grants_for(client_id=CLIENT_ID)) == 1
    assert result['action'] == 'created' and result['changed'] is True


def test_not_replicated_answer_for_an_applied_create_never_duplicates(graph, sleeper):
    graph.add_fault('POST', r'^/oauth2PermissionGrants$', 'applied_then_status', status=404)
    result = service(graph, sleeper).ensure(params(scopes=['User.Read']))
    assert len(graph.grants_for(client_id=CLIENT_ID)) == 1
    assert result['grant']['scopes'] == ['User.Read']
    assert len(graph.calls_of('POST')) == 2


@pytest.mark.parametrize('kind, patches', [('ambiguous_after', 1), ('ambiguous_before', 2)])
def test_ambiguous_update_is_decided_by_reading_again(graph, sleeper, kind, patches):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.add_fault('PATCH', r'^/oauth2PermissionGrants/', kind)
    result = service(graph, sleeper).ensure(params(scopes=['Mail.Read']))
    assert len(graph.calls_of('PATCH')) == patches
    assert result['action'] == 'updated'
    assert result['scopes_added'] == ['Mail.Read'] and result['scopes_removed'] == ['User.Read']
    assert stored_scopes(graph, gid) == ['Mail.Read']
    assert graph.calls_of('POST') == []


def test_ambiguous_update_gives_up_after_bounded_attempts(graph, sleeper):
    graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.add_fault('PATCH', r'^/oauth2PermissionGrants/', 'ambiguous_before', times=10 ** 6)
    with pytest.raises(GraphError) as info:
        service(graph, sleeper).ensure(params(scopes=['Mail.Read']))
    assert info.value.ambiguous
    assert len(graph.calls_of('PATCH')) <= 4
    assert_bounded(sleeper)


def test_update_of_a_grant_deleted_meanwhile_recreates_it(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.vanish_before('PATCH', gid)
    result = service(graph, sleeper).ensure(params(scopes=['Mail.Read']))
    assert [c.method for c in graph.writes] == ['PATCH', 'POST']
    assert result['action'] == 'created'
    assert stored_scopes(graph, gid) == ['Mail.Read']


def test_delete_404_is_success(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.vanish_before('DELETE', gid)
    result = service(graph, sleeper).ensure(params(state='absent'))
    assert result['action'] == 'deleted' and result['changed'] is True
    assert len(graph.calls_of('DELETE')) == 1


@pytest.mark.parametrize('kind, deletes', [('ambiguous_after', 1), ('ambiguous_before', 2)])
def test_ambiguous_delete_is_decided_by_reading_again(graph, sleeper, kind, deletes):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.add_fault('DELETE', r'^/oauth2PermissionGrants/', kind)
    result = service(graph, sleeper).ensure(params(state='absent'))
    assert result['action'] == 'deleted'
    assert len(graph.calls_of('DELETE')) == deletes
    assert gid not in graph.grants


def test_ambiguous_delete_that_landed_with_a_stale_read_succeeds(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.ghost_deleted_grants = 1
    graph.add_fault('DELETE', r'^/oauth2PermissionGrants/', 'ambiguous_after')
    result = service(graph, sleeper).ensure(params(state='absent'))
    assert gid not in graph.grants
    assert result['action'] == 'deleted'


# ================================================================================================ by id
def test_guid_as_id_is_refused_before_any_request(graph, sleeper):
    for state in ('present', 'absent'):
        with pytest.raises(GrantInputError) as info:
            service(graph, sleeper).ensure(params(client=None, resource=None, id=CLIENT_ID, state=state,
                                                  scopes=['User.Read']))
        assert 'A GUID is an object id' in str(info.value)
    with pytest.raises(GrantInputError):
        service(graph, sleeper).query({'id': RESOURCE_ID})
    assert graph.calls == []


@pytest.mark.parametrize('bad', ['abc', 'not a grant id at all!', 'x' * 200])
def test_malformed_id_is_refused_before_any_request(graph, sleeper, bad):
    with pytest.raises(GrantInputError) as info:
        service(graph, sleeper).ensure(params(client=None, resource=None, id=bad, state='absent'))
    assert 'is not a grant id' in str(info.value)
    assert graph.calls == []


def test_missing_id_with_state_present_is_an_error(graph, sleeper):
    gid = grant_id_for(CLIENT_ID, RESOURCE2_ID)
    with pytest.raises(GrantInputError) as info:
        service(graph, sleeper).ensure(params(client=None, resource=None, id=gid, scopes=['User.Read']))
    assert "No grant with id '%s' exists" % gid in str(info.value)
    assert graph.writes == []


@pytest.mark.parametrize('check_mode', [False, True])
def test_missing_id_with_state_absent_is_unchanged(graph, sleeper, check_mode):
    gid = grant_id_for(CLIENT_ID, RESOURCE2_ID)
    result = service(graph, sleeper, check_mode).ensure(params(client=None, resource=None, id=gid, state='absent'))
    assert result['action'] == 'unchanged' and result['changed'] is False and 'grant' not in result
    assert graph.writes == []
    assert [(c.method, c.path) for c in graph.calls] == [('GET', '/oauth2PermissionGrants/' + gid)]


def test_delete_by_id(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read', principal_id=ADELE_ID)
    other = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    result = service(graph, sleeper).ensure(params(client=None, resource=None, id=gid, state='absent'))
    assert result['action'] == 'deleted'
    assert result['diff']['before']['principal_id'] == ADELE_ID
    assert [(c.method, c.path) for c in graph.writes] == [('DELETE', '/oauth2PermissionGrants/' + gid)]
    assert other in graph.grants


def test_update_by_id_validates_against_the_resource_object_id_only(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read', principal_id=ADELE_ID)
    result = service(graph, sleeper).ensure(params(client=None, resource=None, id=gid, scopes=['Mail.Read'],
                                                   scope_mode='append'))
    assert result['action'] == 'updated' and result['grant']['scopes'] == ['Mail.Read', 'User.Read']
    sp_reads = [c for c in graph.calls if c.path.startswith('/servicePrincipals')]
    assert [c.path for c in sp_reads] == ['/servicePrincipals/' + RESOURCE_ID]
    assert 'oauth2PermissionScopes' in sp_reads[0].query['$select']
    with pytest.raises(GrantInputError):
        service(graph, sleeper).ensure(params(client=None, resource=None, id=gid, scopes=['Bogus.Scope']))
    assert len(graph.writes) == 1


# ================================================================================================ query
def seed_query(graph):
    return {
        'admin': graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read'),
        'adele': graph.add_grant(CLIENT_ID, RESOURCE_ID, 'Mail.Read', principal_id=ADELE_ID),
        'payroll': graph.add_grant(CLIENT2_ID, RESOURCE_ID, 'openid'),
        'guest': graph.add_grant(CLIENT2_ID, RESOURCE2_ID, 'Orders.Read', principal_id=GUEST_ID),
    }


def test_query_without_filters_lists_everything_sorted(graph, sleeper):
    ids = seed_query(graph)
    grants = service(graph, sleeper).query({})
    (listing,) = graph.calls
    # Not narrowed by a client: an advanced query, counted (users report plain listings missing grants).
    assert listing.path == '/oauth2PermissionGrants' and listing.query == {'$top': '999', '$count': 'true'}
    assert listing.headers == {'consistencylevel': 'eventual'}
    raw = graph.grants
    assert [g['id'] for g in grants] == sorted(ids.values(), key=lambda i: (
        raw[i]['clientId'], raw[i]['resourceId'], raw[i]['principalId'] or '', i))
    assert set(grants[0]) == {'id', 'client_id', 'consent_type', 'principal_id', 'resource_id', 'scopes', 'scope'}


def test_query_combines_every_filter(graph, sleeper):
    ids = seed_query(graph)
    grants = service(graph, sleeper).query({'client': 'Contoso HR Portal', 'resource': RESOURCE_APP,
                                            'principal': ADELE_UPN, 'consent_type': 'Principal'})
    assert [g['id'] for g in grants] == [ids['adele']]
    assert graph.batches == [4]  # name (1) + appId/object id (2) + user (1), one round trip
    (listing,) = graph.calls_of('GET', r'^/oauth2PermissionGrants$')
    assert listing.query['$filter'] == ("clientId eq '%s' and resourceId eq '%s' and principalId eq '%s' and "
                                        "consentType eq 'Principal'" % (CLIENT_ID, RESOURCE_ID, ADELE_ID))


@pytest.mark.parametrize('filters, expected', [
    ({'consent_type': 'AllPrincipals'}, ['admin', 'payroll']),
    ({'consent_type': 'Principal'}, ['adele', 'guest']),
    ({'resource': 'Contoso Orders API'}, ['guest']),
    ({'principal': GUEST_UPN}, ['guest']),
    ({'client': CLIENT_APP}, ['admin', 'adele']),
    ({'client': CLIENT_ID, 'consent_type': 'AllPrincipals'}, ['admin']),
])
def test_query_single_filters(graph, sleeper, filters, expected):
    ids = seed_query(graph)
    grants = service(graph, sleeper).query(filters)
    assert sorted(g['id'] for g in grants) == sorted(ids[name] for name in expected)


def test_query_follows_every_page(graph, sleeper):
    made = set()
    for n in range(7):
        user = graph.add_user('0000000%d-2222-4222-8222-222222222222' % n, 'p%d@contoso.com' % n)
        made.add(graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read', principal_id=user))
    graph.page_size = 2
    graph.empty_pages = True
    grants = service(graph, sleeper).query({'client': 'Contoso HR Portal'})
    assert set(g['id'] for g in grants) == made


def test_query_client_without_grants_and_404_gives_empty(graph, sleeper):
    graph.client_filter_404 = True
    seed_query(graph)
    assert service(graph, sleeper).query({'client': 'Contoso Orders API'}) == []


def test_query_404_on_other_filters_is_raised(graph, sleeper):
    graph.add_fault('GET', r'^/oauth2PermissionGrants$', 'status', status=404, code='Request_ResourceNotFound',
                    message='Resource not found')
    with pytest.raises(GraphError):
        service(graph, sleeper).query({'resource': 'Microsoft Graph'})


@pytest.mark.parametrize('filters, text', [
    ({'client': 'Contoso HR Portl'}, "displayName eq 'Contoso HR Portl'"),
    ({'resource': 'deadbeef-0000-4000-8000-00000000dead'}, 'neither an object id'),
    ({'principal': 'nobody@contoso.com'}, 'No user found'),
    ({'client': 'Twin App'}, 'ambiguous'),
])
def test_query_filter_typos_fail_instead_of_looking_empty(graph, sleeper, filters, text):
    with pytest.raises(GrantInputError) as info:
        service(graph, sleeper).query(filters)
    assert text in str(info.value)
    assert graph.calls_of('GET', r'^/oauth2PermissionGrants') == []


def test_query_by_id(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    assert [g['id'] for g in service(graph, sleeper).query({'id': gid})] == [gid]
    assert service(graph, sleeper).query({'id': grant_id_for(CLIENT2_ID, RESOURCE2_ID)}) == []


def test_resolve_names_reads_each_object_once_in_one_batch(graph, sleeper):
    seed_query(graph)
    grants = service(graph, sleeper).query({}, resolve_names=True)
    assert len(graph.batches) == 1
    batch = [c for c in graph.calls if c.via == 'batch']
    paths = sorted(c.path for c in batch)
    assert paths == sorted(['/servicePrincipals/' + CLIENT_ID, '/servicePrincipals/' + CLIENT2_ID,
                            '/servicePrincipals/' + RESOURCE_ID, '/servicePrincipals/' + RESOURCE2_ID,
                            '/users/' + ADELE_ID, '/users/' + GUEST_ID])
    by_client = dict(((g['client_id'], g['principal_id']), g) for g in grants)
    admin = by_client[(CLIENT_ID, None)]
    assert (admin['client_display_name'], admin['resource_display_name'],
            admin['principal_user_principal_name']) == ('Contoso HR Portal', 'Microsoft Graph', None)
    guest = by_client[(CLIENT2_ID, GUEST_ID)]
    assert (guest['client_display_name'], guest['resource_display_name'],
            guest['principal_user_principal_name']) == ('Contoso Payroll', 'Contoso Orders API', GUEST_UPN)


def test_resolve_names_does_not_reread_the_filter_objects(graph, sleeper):
    seed_query(graph)
    grants = service(graph, sleeper).query({'client': 'Contoso HR Portal', 'principal': ADELE_UPN},
                                           resolve_names=True)
    assert len(grants) == 1 and grants[0]['client_display_name'] == 'Contoso HR Portal'
    assert grants[0]['principal_user_principal_name'] == ADELE_UPN
    name_batch = [c for c in graph.calls if c.via == 'batch' and c.batch == len(graph.batches) - 1]
    assert [c.path for c in name_batch] == ['/servicePrincipals/' + RESOURCE_ID]


def test_resolve_names_without_grants_reads_nothing(graph, sleeper):
    assert service(graph, sleeper).query({}, resolve_names=True) == []
    assert graph.batches == []


def test_resolve_names_of_a_deleted_object_is_none(graph, sleeper):
    gone = 'abcdef01-2345-4678-89ab-cdef01234567'
    graph.add_grant(gone, RESOURCE_ID, 'User.Read')
    (grant,) = service(graph, sleeper).query({}, resolve_names=True)
    assert grant['client_display_name'] is None and grant['resource_display_name'] == 'Microsoft Graph'


# ===================================================================================== the fake is strict
# The guarantees above are only as good as the fake's refusals: each request below is one real Graph rejects (or
# one the collection promised never to send), and the fake must fail the test for it.
_GID = grant_id_for(CLIENT_ID, RESOURCE_ID)
_CREATE = {'clientId': CLIENT_ID, 'consentType': 'AllPrincipals', 'resourceId': RESOURCE_ID, 'scope': 'User.Read'}


@pytest.mark.parametrize('api_version, call', [
    ('v1.0', lambda g: g.patch('/oauth2PermissionGrants/' + _GID, {'scope': 'User.Read', 'principalId': ADELE_ID})),
    ('v1.0', lambda g: g.patch('/oauth2PermissionGrants/' + _GID, {'scope': ''})),
    ('v1.0', lambda g: g.patch('/servicePrincipals/%s/oauth2PermissionGrants/%s' % (CLIENT_ID, _GID),
                               {'scope': 'User.Read'})),
    ('v1.0', lambda g: g.delete('/servicePrincipals/%s/oauth2PermissionGrants/%s' % (CLIENT_ID, _GID))),
    ('v1.0', lambda g: g.post('/servicePrincipals/%s/oauth2PermissionGrants' % CLIENT_ID, dict(_CREATE))),
    ('v1.0', lambda g: g.post('/oauth2PermissionGrants', dict(_CREATE, startTime=BETA_START_TIME,
                                                              expiryTime=BETA_EXPIRY_TIME))),
    ('beta', lambda g: g.post('/oauth2PermissionGrants', dict(_CREATE))),
    ('v1.0', lambda g: g.post('/oauth2PermissionGrants', dict(_CREATE, scope=None))),
    ('v1.0', lambda g: g.post('/oauth2PermissionGrants', dict(_CREATE, scope='User.Read  openid'))),
    ('v1.0', lambda g: g.post('/oauth2PermissionGrants', dict(_CREATE, consentType='allprincipals'))),
    ('v1.0', lambda g: g.post('/oauth2PermissionGrants', dict(_CREATE, principalId=ADELE_ID))),
    ('v1.0', lambda g: g.get('/oauth2PermissionGrants/' + CLIENT_ID)),
    ('v1.0', lambda g: g.get_all('/oauth2PermissionGrants', params={'$filter': "consentType eq 'principal'"})),
    ('v1.0', lambda g: g.get_all('/oauth2PermissionGrants', params={'$filter': "scope eq 'User.Read'"})),
    ('v1.0', lambda g: g.get_all('/oauth2PermissionGrants', params={'$top': 1000})),
    ('v1.0', lambda g: g.get("/servicePrincipals?$filter=displayName%20eq%20'O'Brien'")),
    ('v1.0', lambda g: g.get('/users/$svc@contoso.com')),
    ('v1.0', lambda g: g.get('/users/adele_fabrikam.com#EXT#@contoso.onmicrosoft.com')),
    ('v1.0', lambda g: g.get('/servicePrincipals/%s?$select=id,publishedPermissionScopes' % RESOURCE_ID)),
    ('beta', lambda g: g.get('/servicePrincipals/%s?$select=id,oauth2PermissionScopes' % RESOURCE_ID)),
])
def test_the_fake_refuses_what_graph_refuses(api_version, call):
    from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph import GraphViolation, standard_tenant
    fake = standard_tenant(api_version)
    fake.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    with pytest.raises(GraphViolation):
        call(fake)
    assert fake.violations


# ------------------------------------------------------------------------------------- concurrent appenders (#5)

def test_append_lost_to_a_concurrent_writer_is_reapplied(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.add_fault('PATCH', '^/oauth2PermissionGrants/', 'hook', hook=another_writer('User.Read Calendars.Read'))
    result = service(graph, sleeper).ensure(params(scopes=['Mail.Read'], scope_mode='append'))
    # Both appends survive: ours was re-applied on top of theirs.
    assert stored_scopes(graph, gid) == ['Calendars.Read', 'Mail.Read', 'User.Read']
    assert result['action'] == 'updated' and result['scopes_added'] == ['Mail.Read']
    assert result['grant']['scopes'] == ['Calendars.Read', 'Mail.Read', 'User.Read']
    assert len(graph.calls_of('PATCH')) == 2


def test_remove_undone_by_a_concurrent_writer_is_reapplied(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read Mail.Read')
    graph.add_fault('PATCH', '^/oauth2PermissionGrants/', 'hook', hook=another_writer('User.Read Mail.Read Files.Read'))
    service(graph, sleeper).ensure(params(scopes=['Mail.Read'], scope_mode='remove'))
    assert stored_scopes(graph, gid) == ['Files.Read', 'User.Read']


def test_merge_guard_is_bounded(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.add_fault('PATCH', '^/oauth2PermissionGrants/', 'hook', hook=another_writer('User.Read'), times=100)
    result = service(graph, sleeper).ensure(params(scopes=['Mail.Read'], scope_mode='append'))
    assert len(graph.calls_of('PATCH')) == 4  # the write and at most 3 re-applications
    assert len(sleeper.delays) == 3 and stored_scopes(graph, gid) == ['User.Read']
    assert result['action'] == 'updated'


def test_exact_mode_makes_no_extra_read(graph, sleeper):
    graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    service(graph, sleeper).ensure(params(scopes=['Mail.Read', 'User.Read']))
    assert sleeper.delays == []
    assert graph.round_trips == 3  # the batched lookup, the grant list (names given) and the PATCH: no re-read


# ------------------------------------------------------------------------- throttled read-modify-writes (#5)

def test_throttled_append_is_planned_again_from_a_fresh_read(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.add_fault('PATCH', '^/oauth2PermissionGrants/', 'hook', hook=another_writer('User.Read Calendars.Read', ours='throttled'))
    result = service(graph, sleeper).ensure(params(scopes=['Mail.Read'], scope_mode='append'))
    # Not the old body again (which would drop Calendars.Read): a new read and a new plan.
    assert stored_scopes(graph, gid) == ['Calendars.Read', 'Mail.Read', 'User.Read']
    patches = graph.calls_of('PATCH')
    assert [normalize_scopes(c.body['scope']) for c in patches] == [['Mail.Read', 'User.Read'],
                                                                    ['Calendars.Read', 'Mail.Read', 'User.Read']]
    assert graph.throttle_waits == [None] and set(graph.retry_flags) == {('PATCH', False)}
    assert result['action'] == 'updated' and result['scopes_added'] == ['Mail.Read']
    assert result['grant']['scopes'] == ['Calendars.Read', 'Mail.Read', 'User.Read']


def test_throttled_append_that_someone_else_completed_is_unchanged(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.add_fault('PATCH', '^/oauth2PermissionGrants/', 'hook', hook=another_writer('User.Read Mail.Read', ours='throttled'))
    result = service(graph, sleeper).ensure(params(scopes=['Mail.Read'], scope_mode='append'))
    assert stored_scopes(graph, gid) == ['Mail.Read', 'User.Read']
    assert len(graph.calls_of('PATCH')) == 1
    assert result['action'] == 'unchanged' and result['changed'] is False


def test_exact_update_leaves_429_retries_to_the_client(graph, sleeper):
    graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    service(graph, sleeper).ensure(params(scopes=['Mail.Read']))
    # The whole wanted set does not depend on what was read: the client may re-send it after Retry-After.
    assert graph.retry_flags == [('PATCH', True)]


def test_throttled_removal_of_the_last_scope_keeps_a_scope_added_meanwhile(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'Mail.Read')
    graph.add_fault('DELETE', '^/oauth2PermissionGrants/', 'hook', hook=another_writer('Mail.Read Calendars.Read', ours='throttled'))
    result = service(graph, sleeper).ensure(params(scopes=['Mail.Read'], scope_mode='remove'))
    # The DELETE planned from 'Mail.Read' is not re-sent: the grant now also holds Calendars.Read, so it is PATCHed.
    assert stored_scopes(graph, gid) == ['Calendars.Read']
    assert graph.retry_flags[0] == ('DELETE', False) and len(graph.calls_of('DELETE')) == 1
    assert result['action'] == 'updated' and result['grant']['scopes'] == ['Calendars.Read']


def test_state_absent_leaves_429_retries_to_the_client(graph, sleeper):
    graph.add_grant(CLIENT_ID, RESOURCE_ID, 'Mail.Read')
    service(graph, sleeper).ensure(params(state='absent'))
    assert graph.retry_flags == [('DELETE', True)]


def test_throttled_repair_of_the_guard_does_not_use_up_a_round(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.add_fault('PATCH', '^/oauth2PermissionGrants/', 'hook', hook=another_writer('User.Read Calendars.Read'))
    graph.add_fault('PATCH', '^/oauth2PermissionGrants/', 'status', status=429, code='TooManyRequests')
    result = service(graph, sleeper).ensure(params(scopes=['Mail.Read'], scope_mode='append'))
    assert stored_scopes(graph, gid) == ['Calendars.Read', 'Mail.Read', 'User.Read']
    assert len(graph.calls_of('PATCH')) == 3 and graph.throttle_waits == [None]
    assert len(sleeper.delays) == 3  # settle, settle again after the 429 wait, and the final check
    assert result['grant']['scopes'] == ['Calendars.Read', 'Mail.Read', 'User.Read']


def test_throttled_append_fails_cleanly_when_the_retry_budget_is_spent(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.add_fault('PATCH', '^/oauth2PermissionGrants/', 'status', status=429, code='TooManyRequests')

    def budget_spent(err):
        err.retries_exhausted = True
        raise err
    graph.wait_before_retry = budget_spent
    with pytest.raises(GraphError) as info:
        service(graph, sleeper).ensure(params(scopes=['Mail.Read'], scope_mode='append'))
    assert info.value.status == 429 and info.value.retries_exhausted
    assert len(graph.calls_of('PATCH')) == 1 and stored_scopes(graph, gid) == ['User.Read']


def test_throttled_remove_whose_grant_vanished_meanwhile_creates_nothing(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read Mail.Read')

    def deleted_then_throttled(fake, call):
        fake.grants.pop(gid)
        return fake._error(call.method, call.raw_url, 429, 'TooManyRequests', 'Too many requests')
    graph.add_fault('PATCH', '^/oauth2PermissionGrants/', 'hook', hook=deleted_then_throttled)
    result = service(graph, sleeper).ensure(params(scopes=['Mail.Read'], scope_mode='remove'))
    # Absence satisfies remove; an empty grant is never created.
    assert graph.calls_of('POST') == [] and graph.grants_for(client_id=CLIENT_ID, resource_id=RESOURCE_ID) == []
    assert result['action'] == 'unchanged' and result['changed'] is False


def test_removal_of_the_last_scope_with_unknown_outcome_is_planned_again(graph, sleeper):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'Mail.Read')

    def another_scope_then_lost_answer(fake, call):
        fake.grants[gid]['scope'] = 'Mail.Read Calendars.Read'  # another run appended before our DELETE arrived
        raise GraphError('timed out waiting for the response', method='DELETE', url=fake.base_url + call.path, ambiguous=True)
    graph.add_fault('DELETE', '^/oauth2PermissionGrants/', 'hook', hook=another_scope_then_lost_answer)
    result = service(graph, sleeper).ensure(params(scopes=['Mail.Read'], scope_mode='remove'))
    # Not a second, blind DELETE (which would drop Calendars.Read): read, plan again, PATCH.
    assert stored_scopes(graph, gid) == ['Calendars.Read'] and len(graph.calls_of('DELETE')) == 1
    assert result['action'] == 'updated'


def test_a_failing_guard_still_reports_the_update_that_landed(graph, sleeper):
    graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')

    # The module's lookups and grant read come first; the guard's re-read (a filtered list after the PATCH) fails.
    def reads_fail_from_now_on(fake, call):
        fake.add_fault('GET', r'^/oauth2PermissionGrants$', 'status', status=503, code='ServiceUnavailable')
    graph.add_fault('PATCH', '^/oauth2PermissionGrants/', 'hook', hook=reads_fail_from_now_on)
    with pytest.raises(GraphError) as info:
        service(graph, sleeper).ensure(params(scopes=['Mail.Read'], scope_mode='append'))
    assert info.value.status == 503
    assert info.value.applied_changes == ['updated: ' + 'client %s, resource %s, AllPrincipals' % (CLIENT_ID, RESOURCE_ID)]
    assert stored_scopes(graph, grant_id_for(CLIENT_ID, RESOURCE_ID)) == ['Mail.Read', 'User.Read']
