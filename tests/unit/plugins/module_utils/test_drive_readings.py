# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""``DriveItemService`` under the readings of invite and of the permission list (docs/dev/graph-behaviour.md#readings),
against the drive fake with the emulator's knobs: pending invitations not listed, invite merging roles, a list cut
short without a nextLink, 207 when the invitation mail fails, and the 403 of an app-only invite of a new guest."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.msgraph.grants.plugins.module_utils._drive_item_service import DriveItemService
from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.tests.unit.utils.fake_drive import ADELE, LEE, MEGAN, SITE_ID, FakeDrive

EXTERNAL = 'new@fabrikam.com'


def params(**kwargs):
    base = dict(drive_id=None, user=MEGAN['userPrincipalName'], group=None, site_id=None, item_id=None,
                path='Projects/Plan #2 100% ünïcode', permission_id=None, grantee=ADELE['userPrincipalName'],
                roles=['write'], state='present', create=True, send_invitation=False, if_match=None)
    base.update(kwargs)
    return base


def report(**kwargs):
    """Lee on the finance report, where Lee has no permission of any kind."""
    return params(**dict(dict(user=None, site_id=SITE_ID, path='Finance/Q3 report.xlsx', grantee=LEE['mail']), **kwargs))


def run(fake, args, check=False):
    warnings = []
    result = DriveItemService(fake, check_mode=check, warn=warnings.append).ensure(args)
    return result, warnings


def methods(fake):
    return [w['method'] for w in fake.writes]


# ------------------------------------------------------------------ pending invitations listed or not
@pytest.mark.parametrize('send', [False, True])
def test_hidden_pending_invitation_is_invited_again_with_a_warning_on_every_run(send):
    fake = FakeDrive()
    fake.pending_listed = False
    args = params(grantee=EXTERNAL, send_invitation=send)
    check, check_warnings = run(fake, args, check=True)
    assert check['action'] == 'created' and fake.writes == []
    assert any('not a user of the directory' in w for w in check_warnings)
    first, first_warnings = run(fake, args)
    second, second_warnings = run(fake, args)
    # not idempotent, and said so: each run invites (the same permission), each run warns
    assert first['action'] == second['action'] == 'created' and methods(fake) == ['POST', 'POST']
    assert first['permission']['id'] == second['permission']['id'] == 'inv-new'
    assert [p['id'] for p in fake.items['item-folder']['permissions']].count('inv-new') == 1
    for warnings in (first_warnings, second_warnings):
        assert any('not in the permission list' in w and 'pending invitation' in w for w in warnings)
        assert any(('another invitation e-mail' in w) is send for w in warnings)
    assert [c['body']['sendInvitation'] for c in fake.writes] == [send, send]


def test_listed_pending_invitation_converges_and_warns_once():
    fake = FakeDrive()
    first, first_warnings = run(fake, params(grantee=EXTERNAL))
    second, second_warnings = run(fake, params(grantee=EXTERNAL))
    assert first['action'] == 'created' and second['action'] == 'unchanged' and methods(fake) == ['POST']
    assert any('not a user of the directory' in w for w in first_warnings)
    assert not any('not in the permission list' in w for w in first_warnings) and second_warnings == []


def test_a_directory_user_gets_no_pending_invitation_note():
    fake = FakeDrive()
    fake.pending_listed = False
    result, warnings = run(fake, report())
    assert result['action'] == 'created' and warnings == []


# ------------------------------------------------------------------ invite_merge under a truncated list
@pytest.mark.parametrize('merge, writes', [('replace', ['POST']), ('union', ['POST', 'PATCH'])])
def test_a_hidden_permission_invited_again_ends_with_exactly_the_roles(merge, writes):
    fake = FakeDrive()
    fake.invite_merge, fake.truncate_after = merge, 1  # Adele's read permission is cut off the list
    check = run(fake, params(roles=['write']), check=True)[0]
    result, warnings = run(fake, params(roles=['write']))
    assert methods(fake) == writes and fake.permission('item-folder', 'perm-adele')['roles'] == ['write']
    assert result['permission']['id'] == 'perm-adele' and result['permission']['roles'] == ['write']
    assert check['action'] == result['action'] == 'created' and check['diff'] == result['diff']
    assert check['permission']['roles'] == result['permission']['roles'] == ['write']
    assert any('not in the permission list' in w and 'incompletely' in w for w in warnings)
    assert any('merged the roles' in w for w in warnings) is (merge == 'union')
    if merge == 'union':
        patch = fake.writes[1]
        assert patch['body'] == {'roles': ['write']} and patch['path'].endswith('/permissions/perm-adele')
        assert patch['headers']['If-Match'] == fake.tags('item-folder')[0].replace(
            ',%d"' % fake.items['item-folder']['n'], ',%d"' % (fake.items['item-folder']['n'] - 1))
    again = run(fake, params(roles=['write']))[0]  # still hidden: invited again, same id, nothing to merge
    assert again['permission']['id'] == 'perm-adele' and methods(fake) == writes + ['POST']
    assert fake.permission('item-folder', 'perm-adele')['roles'] == ['write']


def test_union_to_fewer_roles_is_patched_down():
    fake = FakeDrive()
    fake.invite_merge, fake.truncate_after = 'union', 1
    fake.permission('item-folder', 'perm-adele')['roles'] = ['write']
    result = run(fake, params(roles=['read']))[0]
    assert methods(fake) == ['POST', 'PATCH'] and fake.permission('item-folder', 'perm-adele')['roles'] == ['read']
    assert result['permission']['roles'] == ['read'] and result['diff']['after'] == {'roles': ['read']}


def interfere_after_invite(fake, change):
    """Another writer changes the item (``change``, or a callable doing it) between the invite and the PATCH."""
    fake.invite_merge, fake.truncate_after = 'union', 1
    real_apply = fake._apply

    def apply_then_interfere(item_id, method, pid, body):
        answer = real_apply(item_id, method, pid, body)
        if method == 'POST':
            fake.concurrent_writer = 1
            if callable(change):
                fake._other_writer = change
            else:
                fake.concurrent_change = change
        return answer
    fake._apply = apply_then_interfere


def test_a_412_on_the_converging_patch_reads_the_tag_again():
    fake = FakeDrive()
    interfere_after_invite(fake, 'content')
    result = run(fake, params(roles=['write']))[0]
    assert methods(fake) == ['POST', 'PATCH', 'PATCH'] and result['permission']['roles'] == ['write']
    assert fake.permission('item-folder', 'perm-adele')['roles'] == ['write']


def test_a_412_on_the_converging_patch_after_the_same_change_writes_no_more():
    fake = FakeDrive()
    interfere_after_invite(fake, 'same_change')
    result = run(fake, params(roles=['write']))[0]
    assert methods(fake) == ['POST', 'PATCH'] and result['permission']['roles'] == ['write']
    assert result['action'] == 'created' and fake.permission('item-folder', 'perm-adele')['roles'] == ['write']


@pytest.mark.parametrize('when', ['the PATCH finds the item changed (412)', 'the PATCH finds no permission (404)'])
def test_a_permission_removed_before_its_roles_are_set_fails_saying_so(when):
    fake = FakeDrive()

    def remove(item_id, method, pid, body):
        fake.concurrent_writer = 0
        fake.items[item_id]['permissions'] = [p for p in fake.items[item_id]['permissions'] if p['id'] != pid]
        fake.items[item_id]['n'] += 1
    interfere_after_invite(fake, remove)
    if when.endswith('(404)'):
        fake.concurrent_writer = 0
        real_route = fake._route

        def route(method, path, body, headers):
            if method == 'PATCH':
                remove('item-folder', method, 'perm-adele', body)
            return real_route(method, path, body, headers)
        fake._route = route
        fake._apply = FakeDrive._apply.__get__(fake)
    with pytest.raises(GraphError) as info:
        run(fake, params(roles=['write']))
    text = str(info.value)
    assert 'invite granted the permission perm-adele' in text and 'another writer removed it' in text, text
    assert info.value.applied_changes == ['invited: permission perm-adele of item \'Projects/Plan #2 100% ünïcode\' '
                                          'on the OneDrive of user megan@contoso.com']
    assert methods(fake) == ['POST', 'PATCH'] and fake.permission('item-folder', 'perm-adele') is None


# ------------------------------------------------------------------ 207 Multi-Status
def test_a_failed_invitation_mail_is_granted_and_warned_with_its_code():
    fake = FakeDrive()

    def failed(answer):
        answer['value'][0]['error'] = {'code': 'notAllowed', 'message': 'Account verification needed',
                                       'innererror': {'code': 'accountVerificationRequired'}}
        return answer
    fake.invite_answer = failed
    result, warnings = run(fake, report(send_invitation=True))
    assert result['action'] == 'created' and result['permission']['id'] == 'perm-new-lee'
    assert result['permission']['roles'] == ['write']
    [warning] = [w for w in warnings if 'e-mail' in w]
    assert 'notAllowed/accountVerificationRequired' in warning and 'Account verification needed' in warning
    assert 'permission stands' in warning
    assert run(fake, report(send_invitation=True))[0]['action'] == 'unchanged'


# ------------------------------------------------------------------ app-only invite of a new guest
def test_an_app_only_invite_of_a_new_guest_fails_saying_what_to_do():
    fake = FakeDrive()
    fake.new_guest = 'refused'
    with pytest.raises(GraphError) as caught:
        run(fake, params(grantee=EXTERNAL))
    err = caught.value
    assert err.status == 403 and err.code == 'accessDenied'
    assert 'cannot invite new guests' in err.hint and 'guest first' in err.hint and EXTERNAL in err.hint
    assert not any(p['id'] == 'inv-new' for p in fake.items['item-folder']['permissions'])
    # a user of the directory is still invited
    assert run(fake, report())[0]['action'] == 'created'


def test_a_403_invite_of_a_directory_user_does_not_blame_the_guest_rule():
    fake = FakeDrive()
    original = fake._write
    fake._write = lambda method, *rest: FakeDrive._error(403, 'accessDenied', 'Access denied', method, rest[-1]) \
        if method == 'POST' else original(method, *rest)
    with pytest.raises(GraphError) as caught:
        run(fake, report())
    assert 'new guests' not in (caught.value.hint or '') and 'Files.ReadWrite.All' in caught.value.hint
