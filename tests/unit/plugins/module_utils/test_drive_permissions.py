# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pure planning of sharing permissions (``_drive_permissions``): every kind, every state, every grantee form,
ambiguity and refusals, roles as a set, paths and tags."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.msgraph.grants.plugins.module_utils._drive_permissions import (
    DrivePermissionError,
    Grantee,
    check_roles,
    classify,
    encode_path,
    filter_permissions,
    match,
    permission_view,
    plan_permission,
    predicted_permission,
    result_of,
    tag_matches,
)
from ansible_collections.msgraph.grants.tests.unit.utils.fake_drive import (
    ADELE, LEE, MEGAN, SALES, standard_permissions, user_permission)

PERMS = standard_permissions()
ADELE_FORMS = [ADELE['id'], ADELE['id'].upper(), 'ADELE@contoso.onmicrosoft.com', 'adele.vance@CONTOSO.com']


def by_id(pid):
    return next(p for p in PERMS if p['id'] == pid)


def grantee(value):
    known = [u for u in (ADELE, LEE, MEGAN) if value.lower() in (u['id'], u['userPrincipalName'].lower())]
    return Grantee(value, known[0] if known else None)


@pytest.mark.parametrize('pid, kind', [
    ('owner-megan', 'owner'), ('perm-adele', 'user'), ('perm-sales', 'group'), ('link-org', 'link'),
    ('link-people', 'link'), ('inv-guest', 'invitation'), ('inh-lee', 'inherited')])
def test_every_kind_is_classified(pid, kind):
    assert classify(by_id(pid)) == kind


def test_inherited_wins_and_an_absent_or_null_inherited_from_is_direct():
    assert classify({'id': 'x', 'roles': ['read'], 'link': {'type': 'view'}, 'inheritedFrom': {}}) == 'inherited'
    assert classify(user_permission('x', ADELE, ['read'], inheritedFrom=None)) == 'user'
    assert classify({'id': 'x', 'roles': ['SP.owner'], 'grantedToV2': {'siteGroup': {'id': '3'}}}) == 'owner'
    assert classify({'id': 'x', 'roles': ['read'], 'grantedToV2': {'siteUser': {'id': '7'}}}) == 'user'
    assert classify({'id': 'x', 'roles': ['read']}) == 'other'


def test_views_have_the_contract_shape():
    assert permission_view(by_id('perm-adele')) == {
        'id': 'perm-adele', 'kind': 'user', 'roles': ['read'], 'link': None, 'inherited_from': None,
        'grantee': {'id': ADELE['id'], 'display_name': 'Adele Vance', 'email': ADELE['mail']},
        'grantees': [{'id': ADELE['id'], 'display_name': 'Adele Vance', 'email': ADELE['mail']}]}
    link = permission_view(by_id('link-people'), with_expiration=True)
    assert link['grantee'] is None and link['link'] == {'type': 'edit', 'scope': 'users'}
    assert link['grantees'] == [{'id': LEE['id'], 'display_name': 'Lee Gu', 'email': 'lee@contoso.com'}]
    assert link['expiration'] == '2026-12-31T23:59:59Z'
    invitation = permission_view(by_id('inv-guest'), with_expiration=True)
    assert invitation['grantee'] == {'id': None, 'display_name': None, 'email': 'guest@fabrikam.com'}
    assert invitation['expiration'] is None  # 0001-01-01: never expires
    assert permission_view(by_id('inh-lee'))['inherited_from'] == {'id': None, 'drive_id': None, 'path': None}
    full = dict(by_id('inh-lee'), inheritedFrom={'id': 'p1', 'driveId': 'd1', 'path': '/drive/root:/Projects'})
    assert permission_view(full)['inherited_from'] == {'id': 'p1', 'drive_id': 'd1', 'path': '/drive/root:/Projects'}
    claim = {'id': 'c', 'roles': ['read'], 'grantedToV2': {'siteUser': {
        'id': '12', 'displayName': 'Adele', 'loginName': 'i:0#.f|membership|adele@contoso.onmicrosoft.com'}}}
    assert permission_view(claim)['grantee']['email'] == 'adele@contoso.onmicrosoft.com'
    deprecated = {'id': 'd', 'roles': ['write'], 'grantedTo': {'user': {'id': ADELE['id'], 'displayName': 'A'}}}
    assert permission_view(deprecated)['grantee']['id'] == ADELE['id']


@pytest.mark.parametrize('value', ADELE_FORMS)
def test_every_grantee_form_matches_case_insensitively(value):
    assert match(by_id('perm-adele'), grantee(value)) == 'direct'
    assert [p['id'] for p in filter_permissions(PERMS, grantee(value))] == ['perm-adele']


def test_matches_through_claims_invitations_groups_and_links():
    claim = {'id': 'c', 'roles': ['read'], 'grantedToV2': {'siteUser': {
        'id': '12', 'loginName': 'i:0#.f|membership|Adele@Contoso.onmicrosoft.com'}}}
    assert match(claim, grantee('adele@contoso.onmicrosoft.com')) == 'direct'
    assert match(by_id('inv-guest'), Grantee('Guest@Fabrikam.com')) == 'direct'
    assert match(by_id('perm-sales'), Grantee(SALES['id'].upper())) == 'direct'
    assert match(by_id('link-people'), grantee(LEE['id'])) == 'link'
    assert match(by_id('link-org'), grantee(LEE['id'])) is None
    assert match(by_id('perm-adele'), Grantee('someone@else.com')) is None
    redeemed = {'id': 'r', 'roles': ['read'], 'invitation': {'email': 'x@y.z', 'redeemedBy': {'user': {'id': LEE['id']}}}}
    assert match(redeemed, grantee(LEE['id'])) == 'direct'


@pytest.mark.parametrize('value', ADELE_FORMS)
def test_present_plans_unchanged_update_for_each_grantee_form(value):
    same = plan_permission(PERMS, ['read'], grantee=grantee(value))
    assert same.action == 'unchanged' and same.before == same.after == {'roles': ['read']}
    more = plan_permission(PERMS, ['read', 'write'], grantee=grantee(value))
    assert more.action == 'update' and more.roles == ['read', 'write'] and more.permission['id'] == 'perm-adele'
    assert (more.before, more.after) == ({'roles': ['read']}, {'roles': ['read', 'write']})


def test_roles_compare_as_a_set():
    perms = [user_permission('p', ADELE, ['write', 'read', 'write'])]
    assert plan_permission(perms, ['read', 'write'], grantee=grantee(ADELE['id'])).action == 'unchanged'
    assert check_roles(['Write', 'read', 'READ']) == ['read', 'write']


def test_absent_deletes_or_is_unchanged():
    gone = plan_permission(PERMS, state='absent', grantee=grantee(ADELE['id']))
    assert gone.action == 'delete' and (gone.before, gone.after) == ({'roles': ['read']}, {})
    assert plan_permission(PERMS, state='absent', permission_id='perm-sales').action == 'delete'
    assert plan_permission(PERMS, state='absent', permission_id='inv-guest').action == 'delete'
    nothing = plan_permission(PERMS, state='absent', grantee=Grantee('nobody@contoso.com'))
    assert nothing.action == 'unchanged' and nothing.before == nothing.after == {}
    assert plan_permission(PERMS, state='absent', permission_id='no-such').action == 'unchanged'


def test_create_through_invite_or_not_at_all():
    new = plan_permission(PERMS, ['write'], grantee=Grantee('new@contoso.com'))
    assert new.action == 'create' and new.permission is None and (new.before, new.after) == ({}, {'roles': ['write']})
    off = plan_permission(PERMS, ['write'], grantee=Grantee('new@contoso.com'), create=False)
    assert off.action == 'unchanged' and off.permission is None and off.after == {}
    with pytest.raises(DrivePermissionError, match='no e-mail address to invite'):
        plan_permission(PERMS, ['read'], grantee=Grantee('0e0e0e0e-0000-4000-8000-000000000000'))
    with pytest.raises(DrivePermissionError, match='must exist'):
        plan_permission(PERMS, ['read'], permission_id='no-such')


def test_pending_invitation_and_group_are_managed_by_id():
    assert plan_permission(PERMS, ['write'], permission_id='inv-guest').action == 'update'
    assert plan_permission(PERMS, ['read'], grantee=Grantee(SALES['id'])).action == 'update'


@pytest.mark.parametrize('kwargs, words', [
    (dict(permission_id='owner-megan'), ['owner-megan', 'owner permission']),
    (dict(grantee=Grantee(MEGAN['id'], MEGAN)), ['owner-megan', 'owner permission']),
    (dict(permission_id='inh-lee'), ['inh-lee', 'inherited']),
    (dict(permission_id='link-org'), ['link-org', 'sharing link', 'organization view']),
])
@pytest.mark.parametrize('state', ['present', 'absent'])
def test_refused_kinds_in_every_state(kwargs, words, state):
    with pytest.raises(DrivePermissionError) as info:
        plan_permission(PERMS, ['read'] if state == 'present' else None, state=state, **kwargs)
    assert all(w in str(info.value) for w in words), str(info.value)


@pytest.mark.parametrize('value', [LEE['id'], 'lee@contoso.com'])
def test_a_grantee_with_inherited_access_only_is_refused_but_absent_is_already_true(value):
    with pytest.raises(DrivePermissionError, match='inh-lee.*inherited'):
        plan_permission(PERMS, ['read'], grantee=grantee(value))
    absent = plan_permission(PERMS, state='absent', grantee=grantee(value))
    assert absent.action == 'unchanged' and 'inh-lee' in absent.note and 'link-people' in absent.note


def test_a_grantee_only_inside_a_link_is_refused_unless_absent():
    perms = [p for p in PERMS if p['id'] != 'inh-lee']
    with pytest.raises(DrivePermissionError, match='only through a sharing link .*link-people'):
        plan_permission(perms, ['read'], grantee=grantee(LEE['id']))
    absent = plan_permission(perms, state='absent', grantee=grantee(LEE['id']))
    assert absent.action == 'unchanged' and absent.before == absent.after == {} and 'link-people' in absent.note


def test_a_direct_permission_beside_an_inherited_one_is_the_one_managed():
    perms = PERMS + [user_permission('perm-lee', LEE, ['write'])]
    assert plan_permission(perms, ['read'], grantee=grantee(LEE['id'])).permission['id'] == 'perm-lee'


def test_an_ambiguous_grantee_lists_the_candidates_with_ids():
    perms = PERMS + [{'id': 'inv-adele', 'roles': ['write'], 'invitation': {'email': ADELE['mail']}}]
    with pytest.raises(DrivePermissionError) as info:
        plan_permission(perms, ['read'], grantee=grantee(ADELE['id']))
    assert 'ambiguous' in str(info.value) and 'id perm-adele' in str(info.value) and 'id inv-adele' in str(info.value)
    assert 'permission_id' in str(info.value)


@pytest.mark.parametrize('roles, words', [
    (['owner'], ["'owner' cannot be given", 'read']), (['read', 'fullcontrol'], ["'fullcontrol' is not"]),
    (['x', 'y'], ["'x', 'y' are not"]), ([], ['state: absent']), (None, ['read and/or write'])])
def test_bad_roles_are_refused_with_a_reason(roles, words):
    with pytest.raises(DrivePermissionError) as info:
        check_roles(roles)
    assert all(w in str(info.value) for w in words), str(info.value)


def test_predictions_and_results():
    new_grantee = grantee(ADELE['id'])
    create = plan_permission([], ['write'], grantee=new_grantee)
    predicted = predicted_permission(create, new_grantee)
    assert predicted['id'] is None and predicted['roles'] == ['write'] and predicted['kind'] == 'user'
    assert predicted['grantee'] == {'id': ADELE['id'], 'display_name': 'Adele Vance', 'email': ADELE['mail']}
    answered = {'id': 'new', 'roles': ['write'], 'grantedToV2': {'user': {'id': ADELE['id']}}}
    real = predicted_permission(create, new_grantee, answered)
    assert real['id'] == 'new' and real['grantee'] == predicted['grantee']  # Graph's gaps filled from the directory
    update = plan_permission(PERMS, ['write'], grantee=new_grantee)
    assert predicted_permission(update, new_grantee)['roles'] == ['write']
    assert predicted_permission(update, new_grantee, {'id': 'perm-adele', 'roles': ['write']})['grantee']['email']
    delete = plan_permission(PERMS, state='absent', grantee=new_grantee)
    assert predicted_permission(delete, new_grantee) is None
    assert result_of(delete, None, '"e"') == {'changed': True, 'action': 'deleted', 'permission': None,
                                              'etag': '"e"', 'diff': {'before': {'roles': ['read']}, 'after': {}}}
    external = Grantee('guest@fabrikam.com')
    assert predicted_permission(plan_permission([], ['read'], grantee=external), external)['kind'] == 'invitation'


@pytest.mark.parametrize('path, encoded', [
    ('Finance/Q3 report.xlsx', 'Finance/Q3%20report.xlsx'),
    ('/Projects/Plan #2 100% ünïcode/', 'Projects/Plan%20%232%20100%25%20%C3%BCn%C3%AFcode'),
    ("Ryan's Files/doc (1)+x?.docx", 'Ryan%27s%20Files/doc%20%281%29%2Bx%3F.docx'),
    ('a\\b', 'a/b')])
def test_paths_are_encoded_per_segment(path, encoded):
    assert encode_path(path) == encoded


@pytest.mark.parametrize('path', ['', '/', 'a//b', '../x', 'a/./b'])
def test_paths_that_name_no_item_are_refused(path):
    with pytest.raises(DrivePermissionError, match='does not name a file or folder'):
        encode_path(path)


def test_tags_compare_without_quotes_or_weak_prefix():
    assert tag_matches('{A},1', '"{A},1"') and tag_matches('W/"{A},1"', None, '"{A},1"')
    assert not tag_matches('"{A},2"', '"{A},1"', '"c:{A},1"') and not tag_matches(None, '"x"')


def test_deleting_an_own_permission_notes_the_access_the_grantee_keeps():
    perms = PERMS + [user_permission('perm-lee', LEE, ['write'])]
    gone = plan_permission(perms, state='absent', grantee=grantee(LEE['id']))
    assert gone.action == 'delete' and gone.permission['id'] == 'perm-lee'
    assert 'perm-lee is deleted' in gone.note and 'link-people' in gone.note and 'inh-lee' in gone.note
    assert plan_permission(PERMS, state='absent', grantee=grantee(ADELE['id'])).note is None
