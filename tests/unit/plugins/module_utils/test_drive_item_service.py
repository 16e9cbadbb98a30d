# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""``DriveItemService`` against the in-memory drive fake (tests/unit/utils/fake_drive.py): resolution by every drive
source and item form, If-Match on every write, 412 -> read and plan again (and its limits), ``if_match``, invite."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.msgraph.grants.plugins.module_utils._drive_item_service import (
    PERMISSIONS_HINT,
    DriveItemService,
)
from ansible_collections.msgraph.grants.plugins.module_utils._drive_permissions import DrivePermissionError
from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.tests.unit.utils.fake_drive import (
    ADELE, DRIVE, GROUP_ID, LEE, MEGAN, SITE_DRIVE, SITE_ID, FakeDrive, user_permission)

FOLDER = 'Projects/Plan #2 100% ünïcode'
ENCODED = '/drives/%s/root:/Projects/Plan%%20%%232%%20100%%25%%20%%C3%%BCn%%C3%%AFcode:' % DRIVE


def params(**kwargs):
    base = dict(drive_id=None, user=MEGAN['userPrincipalName'], group=None, site_id=None, item_id=None, path=FOLDER,
                permission_id=None, grantee=ADELE['userPrincipalName'], roles=['write'], state='present',
                create=True, send_invitation=False, if_match=None)
    base.update(kwargs)
    return base


def service(fake, check=False, warnings=None):
    return DriveItemService(fake, check_mode=check, warn=(warnings.append if warnings is not None else None))


def roles_of(fake, item_id, pid):
    return sorted(fake.permission(item_id, pid)['roles'])


@pytest.mark.parametrize('source', [dict(user=MEGAN['id']), dict(user='megan@contoso.com'), dict(drive_id=DRIVE)])
def test_update_by_path_with_if_match_of_the_tag_just_read(source):
    fake = FakeDrive()
    args = params(**dict(dict(user=None), **source))
    etag_before = fake.tags('item-folder')[0]
    result = service(fake).ensure(args)
    assert result['changed'] and result['action'] == 'updated' and roles_of(fake, 'item-folder', 'perm-adele') == ['write']
    assert result['diff'] == {'before': {'roles': ['read']}, 'after': {'roles': ['write']}}
    assert ENCODED in [c['path'] for c in fake.calls]
    [patch] = fake.writes
    assert patch['method'] == 'PATCH' and patch['body'] == {'roles': ['write']}
    assert patch['headers']['If-Match'] == etag_before and patch['path'].endswith('/permissions/perm-adele')
    assert result['etag'] == fake.tags('item-folder')[0] != etag_before  # read again after the write
    again = service(fake).ensure(args)
    assert not again['changed'] and again['action'] == 'unchanged' and len(fake.writes) == 1
    assert again['permission'] == result['permission']


@pytest.mark.parametrize('source', [dict(site_id=SITE_ID), dict(group=GROUP_ID), dict(drive_id=SITE_DRIVE)])
def test_a_site_library_item_by_id(source):
    fake = FakeDrive()
    args = params(**dict(dict(user=None, path=None, item_id='item-report', roles=['read']), **source))
    assert service(fake).ensure(args)['action'] == 'updated'
    assert roles_of(fake, 'item-report', 'perm-adele-site') == ['read']


def test_check_mode_predicts_exactly_and_writes_nothing():
    invite = params(grantee='lee@contoso.com', path='Finance/Q3 report.xlsx', user=None, site_id=SITE_ID)
    for args in (params(), params(state='absent', roles=None), invite):
        fake = FakeDrive()
        predicted = service(fake, check=True).ensure(args)
        assert fake.writes == []
        real = service(fake).ensure(args)
        assert predicted['changed'] and predicted['action'] == real['action'] and predicted['diff'] == real['diff']
        if predicted['permission'] is None:
            assert real['permission'] is None
        else:
            assert dict(predicted['permission'], id=None) == dict(real['permission'], id=None)


def test_create_through_invite_with_the_users_mail_and_no_notification():
    fake = FakeDrive()
    result = service(fake).ensure(params(grantee=LEE['id'], path='Finance/Q3 report.xlsx', user=None, site_id=SITE_ID,
                                         send_invitation=True))
    [invite] = fake.writes
    assert invite['path'].endswith('/items/item-report/invite') and invite['headers']['If-Match']
    assert invite['body'] == {'recipients': [{'email': LEE['mail']}], 'requireSignIn': True, 'sendInvitation': True,
                              'roles': ['write']}
    assert result['action'] == 'created' and result['permission']['id'] == 'perm-new-lee'
    assert service(fake).ensure(params(grantee=LEE['id'], path='Finance/Q3 report.xlsx', user=None,
                                       site_id=SITE_ID))['action'] == 'unchanged'
    assert len(fake.writes) == 1


def test_create_false_writes_nothing_and_an_invite_without_an_id_is_listed():
    fake = FakeDrive()
    off = service(fake).ensure(params(grantee='new@fabrikam.com', create=False))
    assert off['action'] == 'unchanged' and off['permission'] is None and fake.writes == []
    warnings = []
    fake.invite_answer = lambda body: {'value': [{'roles': ['write'], 'error': {'message': 'mailbox full'}}]}
    made = service(fake, warnings=warnings).ensure(params(grantee='new@fabrikam.com', send_invitation=True))
    assert made['permission']['id'] == 'inv-new' and made['permission']['kind'] == 'invitation'
    assert any('mailbox full' in w for w in warnings)


def test_delete_by_permission_id():
    fake = FakeDrive()
    result = service(fake).ensure(params(grantee=None, permission_id='perm-sales', roles=None, state='absent'))
    assert result['action'] == 'deleted' and fake.permission('item-folder', 'perm-sales') is None
    assert fake.writes[0]['method'] == 'DELETE' and 'Content-Type' not in fake.writes[0]['headers']


@pytest.mark.parametrize('change', ['content', 'add_permission'])
def test_a_412_reads_and_plans_again_and_keeps_the_other_writers_change(change):
    fake = FakeDrive()
    fake.concurrent_writer, fake.concurrent_change = 1, change
    result = service(fake).ensure(params())
    assert result['action'] == 'updated' and [w['method'] for w in fake.writes] == ['PATCH', 'PATCH']
    assert fake.writes[0]['headers']['If-Match'] != fake.writes[1]['headers']['If-Match']
    assert roles_of(fake, 'item-folder', 'perm-adele') == ['write']
    if change == 'add_permission':
        assert roles_of(fake, 'item-folder', 'perm-lee-other') == ['read']


@pytest.mark.parametrize('args', [params(), params(state='absent', roles=None), params(grantee='new@fabrikam.com')])
def test_a_412_then_converged_is_unchanged_and_writes_no_more(args):
    fake = FakeDrive()
    fake.concurrent_writer, fake.concurrent_change = 1, 'same_change'
    result = service(fake).ensure(args)
    assert not result['changed'] and result['action'] == 'unchanged' and len(fake.writes) == 1
    assert result['diff']['before'] == result['diff']['after']


@pytest.mark.parametrize('args, action', [(params(), 'updated'), (params(state='absent', roles=None), 'deleted'),
                                          (params(grantee='new@fabrikam.com'), 'created')])
def test_a_write_whose_answer_is_lost_is_read_again_and_reported_as_done(args, action):
    fake = FakeDrive()
    fake.lose_answers = 1
    result = service(fake).ensure(args)
    assert result['changed'] and result['action'] == action and len(fake.writes) == 1


def test_three_412s_are_survived_and_the_fourth_fails_saying_the_item_kept_changing():
    fake = FakeDrive()
    fake.concurrent_writer = 3
    assert service(fake).ensure(params())['action'] == 'updated' and len(fake.writes) == 4
    fake = FakeDrive()
    fake.concurrent_writer = 4
    with pytest.raises(GraphError) as info:
        service(fake).ensure(params())
    assert info.value.status == 412 and 'kept changing' in str(info.value) and 'rid-fake' in str(info.value)
    assert len(fake.writes) == 4 and roles_of(fake, 'item-folder', 'perm-adele') == ['read']


PRECONDITION_CODES = ['resourceModified', 'notAllowed']  # both observed on a 412 (docs/dev/graph-behaviour.md)


@pytest.mark.parametrize('code', PRECONDITION_CODES)
@pytest.mark.parametrize('args, action', [(params(), 'updated'), (params(state='absent', roles=None), 'deleted'),
                                          (params(grantee='new@fabrikam.com'), 'created')])
def test_a_412_of_either_code_reads_and_plans_again(code, args, action):
    fake = FakeDrive()
    fake.concurrent_writer, fake.precondition_code = 1, code
    result = service(fake).ensure(args)
    assert result['changed'] and result['action'] == action and len(fake.writes) == 2


@pytest.mark.parametrize('code', PRECONDITION_CODES)
@pytest.mark.parametrize('args', [params(), params(state='absent', roles=None)])
def test_a_412_of_either_code_with_if_match_fails_saying_the_item_changed(code, args):
    fake = FakeDrive()
    fake.concurrent_writer, fake.precondition_code = 1, code
    args = dict(args, if_match=fake.tags('item-folder')[0])
    with pytest.raises(GraphError) as info:
        service(fake).ensure(args)
    text = str(info.value)
    assert info.value.status == 412 and info.value.code == code and 'changed since if_match' in text, text
    assert 'Graph refused' not in text and len(fake.writes) == 1, text


@pytest.mark.parametrize('bumps', [True, False])
def test_converges_whether_or_not_a_permission_change_bumps_the_etag(bumps):
    fake = FakeDrive(bumps=bumps)
    assert service(fake).ensure(params())['changed']
    assert service(fake).ensure(params(roles=['read']))['changed']  # the tag just read, whatever the last write did
    assert [w['method'] for w in fake.writes] == ['PATCH', 'PATCH']


def test_if_match_mismatch_fails_without_a_write_and_a_412_fails_at_once():
    fake = FakeDrive()
    with pytest.raises(DrivePermissionError) as info:
        service(fake).ensure(params(if_match='"{item-folder},0"'))
    assert 'changed since if_match' in str(info.value) and fake.writes == []
    with pytest.raises(DrivePermissionError):
        service(fake, check=True).ensure(params(if_match='"{item-folder},0"'))
    etag, ctag = fake.tags('item-folder')
    fake.concurrent_writer = 1
    with pytest.raises(GraphError) as info:
        service(fake).ensure(params(if_match=etag.strip('"')))
    assert info.value.status == 412 and 'changed since if_match' in str(info.value) and len(fake.writes) == 1
    fake = FakeDrive()
    assert service(fake).ensure(params(if_match=ctag))['action'] == 'updated'
    assert fake.writes[0]['headers']['If-Match'] == ctag
    # converged: the tag is not compared
    assert service(fake).ensure(params(if_match='"stale"'))['action'] == 'unchanged'


def test_absent_for_a_grantee_with_inherited_access_only_is_unchanged_with_a_warning():
    warnings = []
    fake = FakeDrive()
    result = service(fake, warnings=warnings).ensure(params(grantee='lee@contoso.com', state='absent', roles=None))
    assert result['action'] == 'unchanged' and fake.writes == [] and 'inh-lee' in warnings[0]


def test_paged_permissions_are_all_read():
    fake = FakeDrive(page_size=2)
    result = service(fake).info(params(grantee=None))
    assert len(result['permissions']) == 7 and result['etag'] == fake.tags('item-folder')[0]
    assert sum(1 for c in fake.calls if '/permissions' in c['path']) == 4
    # the grantee is the last but one entry: found across pages
    assert service(fake).ensure(params(grantee='guest@fabrikam.com', roles=['read']))['action'] == 'unchanged'


def test_info_filters_by_grantee_and_includes_links():
    fake = FakeDrive()
    lee = service(fake).info(params(grantee='LEE@contoso.com'))
    assert [p['id'] for p in lee['permissions']] == ['link-people', 'inh-lee'] and fake.writes == []
    assert lee['permissions'][0]['expiration'] == '2026-12-31T23:59:59Z'


@pytest.mark.parametrize('args, status, words', [
    (params(path='Projects/nope #1'), 404, ["No item 'Projects/nope #1'", 'itemNotFound', 'rid-fake']),
    (params(path=None, item_id='missing'), 404, ['No item id missing', 'item_id']),
    (params(user='nobody@contoso.com'), 404, ['No drive for user nobody@contoso.com']),
])
def test_missing_drive_or_item_fails_with_graphs_code_and_request_id(args, status, words):
    fake = FakeDrive()
    with pytest.raises(GraphError) as info:
        service(fake).ensure(args)
    assert info.value.status == status and all(w in str(info.value) for w in words), str(info.value)
    assert fake.writes == []


def test_a_403_names_the_permissions():
    fake = FakeDrive()
    fake._route = lambda method, path, body, headers: FakeDrive._error(403, 'accessDenied', 'Access denied', method, path)
    with pytest.raises(GraphError) as info:
        service(fake).info(params())
    assert PERMISSIONS_HINT in str(info.value) and info.value.code == 'accessDenied'


@pytest.mark.parametrize('args, words', [
    (params(roles=['owner']), ["'owner' cannot be given"]),
    (params(state='absent'), ['takes no roles']),
    (params(grantee=None, permission_id='owner-megan'), ['owner permission']),
    (params(grantee=None, permission_id='inh-lee'), ['inherited']),
    (params(grantee=None, permission_id='link-org'), ['sharing link']),
])
def test_refusals_write_nothing(args, words):
    fake = FakeDrive()
    with pytest.raises(DrivePermissionError) as info:
        service(fake).ensure(args)
    assert all(w in str(info.value) for w in words) and fake.writes == []


@pytest.mark.parametrize('args, words', [
    (params(path=''), ['path is empty', 'item_id']),
    (params(path=None, item_id=' '), ['item_id is empty', 'path']),
    (params(grantee=''), ['grantee is empty', 'permission_id']),
    (params(grantee=None, permission_id=''), ['permission_id is empty', 'grantee']),
    (params(user=''), ['user is empty', 'drive_id, group, site_id']),
])
def test_an_option_given_empty_is_refused_before_any_request(args, words):
    fake = FakeDrive()
    with pytest.raises(DrivePermissionError) as info:
        service(fake).ensure(args)
    assert all(w in str(info.value) for w in words), str(info.value)
    assert fake.calls == []


def test_info_refuses_an_empty_grantee_filter():
    fake = FakeDrive()
    with pytest.raises(DrivePermissionError, match='grantee is empty: give it a value, or leave it out[.]'):
        service(fake).info(params(grantee=''))
    assert fake.calls == []


@pytest.mark.parametrize('args, status, code', [
    (params(grantee=None, permission_id='perm-adele'), 400, 'invalidRequest'),
    (params(grantee=None, permission_id='perm-adele', roles=None, state='absent'), 400, 'invalidRequest'),
    (params(grantee=None, permission_id='perm-adele', roles=None, state='absent'), 403, 'notAllowed'),
    (params(grantee='new@fabrikam.com'), 400, 'invalidRequest'),
])
def test_a_refused_write_says_the_permission_may_be_inherited(args, status, code):
    # Graph may list an inherited permission without inheritedFrom (drive_inherited_from: omitted): only the refusal
    # tells, and the message must say what to do.
    fake = FakeDrive()
    route = fake._route

    def refuse(method, path, body, headers):
        if method != 'GET':
            return FakeDrive._error(status, code, 'Cannot update inherited permission.', method, path)
        return route(method, path, body, headers)
    fake._route = refuse
    with pytest.raises(GraphError) as info:
        service(fake).ensure(args)
    text = str(info.value)
    assert info.value.status == status and 'rid-fake' in text, text
    if args['grantee']:  # an invite refused: Graph's own message (there is no permission to name)
        assert 'Graph refused' not in text, text
    else:
        assert 'permission perm-adele of item' in text and 'change it on that folder' in text, text
    assert len(fake.writes) == 1


@pytest.mark.parametrize('check', [True, False])
def test_deleting_an_own_permission_warns_about_the_access_kept_in_check_mode_and_for_real(check):
    # Run 1 deletes Lee's own entry; run 2 finds only the link and the inherited entry and warns: run 1 must warn too.
    fake = FakeDrive()
    fake.items['item-folder']['permissions'].append(user_permission('perm-lee', LEE, ['write']))
    warnings = []
    result = service(fake, check=check, warnings=warnings).ensure(
        params(grantee=LEE['userPrincipalName'], state='absent', roles=None))
    assert result['action'] == 'deleted' and len(fake.writes) == (0 if check else 1)
    assert len(warnings) == 1 and 'link-people' in warnings[0] and 'inh-lee' in warnings[0], warnings
