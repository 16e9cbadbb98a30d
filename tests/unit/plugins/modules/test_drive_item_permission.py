# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""``msgraph.grants.drive_item_permission`` and ``drive_item_permission_info`` end to end through AnsibleModule
(patch_module_args) and the in-memory drive fake (tests/unit/utils/fake_drive.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.msgraph.grants.plugins.modules import drive_item_permission, drive_item_permission_info
from ansible_collections.msgraph.grants.tests.unit.utils.module_harness import needs_patch_module_args
from ansible_collections.msgraph.grants.tests.unit.utils.fake_drive import ADELE, DRIVE, SITE_ID, FakeDrive

pytestmark = needs_patch_module_args
FOLDER = 'Projects/Plan #2 100% ünïcode'


def args(**kwargs):
    base = dict(user='megan@contoso.com', path=FOLDER, grantee='ADELE.VANCE@contoso.com', roles=['write'])
    base.update(kwargs)
    return dict((k, v) for k, v in base.items() if v is not None)


def test_check_mode_diff_real_and_again(run_module):
    fake = FakeDrive()
    check = run_module(drive_item_permission.main, args(), check=True, diff=True, fake=fake)
    assert not check.failed, check.msg
    assert check.result['changed'] and check.result['action'] == 'updated' and fake.writes == []
    assert check.result['diff'] == {'before': {'roles': ['read']}, 'after': {'roles': ['write']}}
    real = run_module(drive_item_permission.main, args(), diff=True, fake=fake)
    assert real.result['changed'] and real.result['diff'] == check.result['diff']
    assert real.result['permission'] == check.result['permission'] and len(fake.writes) == 1
    again = run_module(drive_item_permission.main, args(), fake=fake)
    assert not again.result['changed'] and again.result['action'] == 'unchanged' and 'diff' not in again.result
    assert len(fake.writes) == 1 and again.result['etag'] == real.result['etag']


def test_create_and_delete_by_site(run_module):
    fake = FakeDrive()
    site = dict(user=None, site_id=SITE_ID, path='Finance/Q3 report.xlsx', grantee='lee@contoso.com')
    made = run_module(drive_item_permission.main, args(**site), fake=fake)
    assert made.result['action'] == 'created' and made.result['permission']['grantee']['email'] == 'lee@contoso.com'
    gone = run_module(drive_item_permission.main, args(state='absent', roles=None, **site), fake=fake)
    assert gone.result['action'] == 'deleted' and gone.result['permission'] is None


@pytest.mark.parametrize('extra, words', [
    (dict(drive_id=DRIVE), ['mutually exclusive', 'drive_id', 'user']),
    (dict(user=None), ['one of the following is required', 'drive_id']),
    (dict(item_id='x'), ['mutually exclusive', 'item_id', 'path']),
    (dict(permission_id='perm-adele'), ['mutually exclusive', 'permission_id', 'grantee']),
    (dict(roles=None), ['state is present but all of the following are missing: roles']),
    (dict(roles=['owner']), ["'owner' cannot be given"]),
    (dict(grantee='lee@contoso.com'), ['inherited']),
    (dict(path='Projects/missing #1'), ["No item 'Projects/missing #1'", 'itemNotFound', 'request-id: rid-fake']),
])
def test_bad_input_fails_cleanly_without_writes(run_module, extra, words):
    fake = FakeDrive()
    run = run_module(drive_item_permission.main, args(**extra), fake=fake)
    assert run.failed and all(w in run.msg for w in words), run.msg
    assert fake.writes == []


def test_a_graph_failure_carries_status_code_and_request_id(run_module):
    fake = FakeDrive()
    run = run_module(drive_item_permission.main, args(path='nope'), fake=fake)
    assert run.result['status'] == 404 and run.result['error_code'] == 'itemNotFound'
    assert run.result['request_id'] == 'rid-fake'


def test_info_lists_every_kind_and_filters(run_module):
    fake = FakeDrive(page_size=3)
    listed = run_module(drive_item_permission_info.main, dict(user='megan@contoso.com', path=FOLDER), check=True,
                        fake=fake)
    assert not listed.failed, listed.msg
    assert sorted(p['kind'] for p in listed.result['permissions']) == [
        'group', 'inherited', 'invitation', 'link', 'link', 'owner', 'user']
    assert not listed.result['changed'] and listed.result['etag'] == fake.tags('item-folder')[0]
    adele = run_module(drive_item_permission_info.main,
                       dict(user='megan@contoso.com', path=FOLDER, grantee=ADELE['id']), fake=fake)
    assert [p['id'] for p in adele.result['permissions']] == ['perm-adele'] and fake.writes == []
