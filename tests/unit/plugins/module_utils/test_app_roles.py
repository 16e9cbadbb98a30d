# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the pure app role rules (_app_roles): role checks with close matches, planning per mode/state."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.msgraph.grants.plugins.module_utils._app_roles import (
    AppRoleError,
    assignments_after,
    check_app_roles,
    DEFAULT_ACCESS_ROLE,
    plan_assignments,
    role_values,
    roles_changed,
)

CLIENT = '263a5b01-03e5-408e-8557-bab681df104c'
RESOURCE = '1804a6f8-e623-4520-8f40-ba1b0c11c42d'
VALUES = ['A.Read', 'B.Read', 'C.Write', 'D.All', 'E.All']


def _role(n, value, members=('Application',), enabled=True):
    return {'id': '00000000-0000-4000-8000-%012d' % n, 'value': value, 'allowedMemberTypes': list(members),
            'isEnabled': enabled}


PUBLISHED = [_role(n, v) for n, v in enumerate(VALUES)] + [
    _role(10, 'Users.Only', ('User',)), _role(11, 'Old.Role', enabled=False), _role(12, 'Both.Kinds', ('User', 'Application'))]
IDS = dict((r['value'], r['id']) for r in PUBLISHED)
STALE_ID = '99999999-0000-4000-8000-000000000000'


def _assignment(value_or_id, n=0):
    role_id = IDS.get(value_or_id, value_or_id)
    return {'id': 'asg-%s-%d' % (role_id, n), 'appRoleId': role_id, 'principalId': CLIENT, 'resourceId': RESOURCE}


def _plan(held, wanted, mode='exact', state='present'):
    return plan_assignments([_assignment(v) for v in held], [IDS[v] for v in wanted], mode, state, PUBLISHED)


# ------------------------------------------------------------------------------------------------ check_app_roles
def test_check_returns_the_roles_sorted_and_deduplicated():
    found = check_app_roles(PUBLISHED, ['E.All', 'A.Read', 'A.Read', 'Both.Kinds'], adding=True)
    assert [r['value'] for r in found] == ['A.Read', 'Both.Kinds', 'E.All']


def test_unknown_role_names_the_resource_and_close_matches():
    with pytest.raises(AppRoleError) as info:
        check_app_roles(PUBLISHED, ['A.Raed', 'a.read'], adding=True, resource_label="'Microsoft Graph'")
    text = str(info.value)
    assert "'A.Raed' is not an app role of 'Microsoft Graph' (did you mean 'A.Read'" in text
    assert "'a.read' is not an app role" in text and "did you mean 'A.Read'" in text
    assert 'Old.Role' not in text.split('published by')[1]  # a disabled role is not offered for adding


@pytest.mark.parametrize('value, words', [('Old.Role', 'disabled'), ('Users.Only', 'users and groups only')])
def test_adding_needs_an_enabled_application_role(value, words):
    with pytest.raises(AppRoleError) as info:
        check_app_roles(PUBLISHED, [value], adding=True)
    assert words in str(info.value) and value in str(info.value)


@pytest.mark.parametrize('value', ['Old.Role', 'Users.Only'])
def test_removing_needs_only_a_published_role(value):
    assert [r['value'] for r in check_app_roles(PUBLISHED, [value], adding=False)] == [value]


def test_removing_an_unknown_role_fails():
    with pytest.raises(AppRoleError):
        check_app_roles(PUBLISHED, ['Nope'], adding=False)


# ---------------------------------------------------------------------------------------------- plan_assignments
def test_exact_adds_missing_and_removes_extra():
    plan = _plan(['A.Read', 'B.Read'], ['B.Read', 'C.Write'])
    assert plan.add == [IDS['C.Write']]
    assert [a['appRoleId'] for a in plan.remove] == [IDS['A.Read']]
    assert plan.before == ['A.Read', 'B.Read'] and plan.after == ['B.Read', 'C.Write'] and plan.changed


def test_append_and_remove_keep_the_rest():
    plan = _plan(['A.Read'], ['B.Read'], mode='append')
    assert plan.add == [IDS['B.Read']] and plan.remove == [] and plan.after == ['A.Read', 'B.Read']
    plan = _plan(['A.Read', 'B.Read'], ['B.Read', 'C.Write'], mode='remove')
    assert plan.add == [] and [a['appRoleId'] for a in plan.remove] == [IDS['B.Read']] and plan.after == ['A.Read']


def test_absent_removes_everything_and_converged_is_unchanged():
    plan = _plan(['A.Read', 'B.Read'], [], state='absent')
    assert len(plan.remove) == 2 and plan.after == [] and plan.changed
    assert not _plan(['A.Read'], ['A.Read']).changed
    assert not _plan([], [], state='absent').changed


def test_a_role_no_longer_published_is_shown_by_id_and_removed_in_exact_mode_only():
    current = [_assignment('A.Read'), _assignment(STALE_ID)]
    plan = plan_assignments(current, [IDS['A.Read']], 'exact', 'present', PUBLISHED)
    assert plan.before == sorted(['A.Read', STALE_ID])
    assert [a['appRoleId'] for a in plan.remove] == [STALE_ID]
    assert roles_changed(plan, role_values(PUBLISHED)) == ([], [STALE_ID])
    assert not plan_assignments(current, [IDS['A.Read']], 'append', 'present', PUBLISHED).changed


def test_a_second_assignment_of_a_kept_role_is_removed_but_not_reported_as_a_removed_role():
    current = [_assignment('A.Read', 0), _assignment('A.Read', 1)]
    plan = plan_assignments(current, [IDS['A.Read']], 'exact', 'present', PUBLISHED)
    assert [a['id'] for a in plan.remove] == [current[1]['id']]
    assert roles_changed(plan, role_values(PUBLISHED)) == ([], [])


def test_unknown_mode_or_state_is_refused():
    with pytest.raises(AppRoleError):
        plan_assignments([], [], 'replace')
    with pytest.raises(AppRoleError):
        plan_assignments([], [], 'exact', 'gone')


def test_assignments_after_predicts_new_ones_without_an_id():
    current = [_assignment('A.Read')]
    plan = plan_assignments(current, [IDS['B.Read']], 'exact', 'present', PUBLISHED)
    after = assignments_after(current, plan, {}, CLIENT, RESOURCE, role_values(PUBLISHED))
    assert after == [{'id': None, 'app_role_id': IDS['B.Read'], 'app_role_value': 'B.Read', 'resource_id': RESOURCE,
                      'client_id': CLIENT}]


value_sets = st.lists(st.sampled_from(VALUES), max_size=5)


@settings(max_examples=200, deadline=None)
@given(held=value_sets, wanted=value_sets, mode=st.sampled_from(['exact', 'append', 'remove']),
       state=st.sampled_from(['present', 'absent']))
def test_plan_properties(held, wanted, mode, state):
    plan = _plan(sorted(set(held)), wanted, mode, state)
    held, wanted = set(held), set(wanted)
    expected = set() if state == 'absent' else {'exact': wanted, 'append': held | wanted, 'remove': held - wanted}[mode]
    assert plan.after == sorted(expected)
    assert plan.before == sorted(held)
    # Only what differs is written: each added role was missing, each removed assignment was held and is not wanted.
    assert set(plan.add) == set(IDS[v] for v in expected - held)
    assert set(a['appRoleId'] for a in plan.remove) == set(IDS[v] for v in held - expected)
    assert plan.changed == (expected != held)
    # Applying the plan and planning again changes nothing (idempotence).
    again = _plan(sorted(expected), sorted(wanted), mode, state)
    assert not again.changed


# ------------------------------------------------------------------------------------------- default access role
def test_exact_keeps_the_default_access_role_which_cannot_be_named():
    plan = plan_assignments([_assignment(DEFAULT_ACCESS_ROLE), _assignment('A.Read')], [IDS['B.Read']], 'exact',
                            'present', PUBLISHED)
    assert [a['appRoleId'] for a in plan.remove] == [IDS['A.Read']]
    assert plan.add == [IDS['B.Read']]


def test_exact_without_other_roles_leaves_the_default_access_role_alone():
    plan = plan_assignments([_assignment(DEFAULT_ACCESS_ROLE)], [], 'exact', 'present', PUBLISHED)
    assert not plan.changed


def test_absent_removes_the_default_access_role_too():
    plan = plan_assignments([_assignment(DEFAULT_ACCESS_ROLE)], [], 'exact', 'absent', PUBLISHED)
    assert [a['appRoleId'] for a in plan.remove] == [DEFAULT_ACCESS_ROLE]
