# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the pure grant rules: scope sets, change planning, result shaping, scope validation."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.msgraph.grants.plugins.module_utils._grants import (
    ACTION_CREATED,
    ACTION_DELETED,
    ACTION_UNCHANGED,
    ACTION_UPDATED,
    MAX_SCOPE_LENGTH,
    GrantInputError,
    GrantKey,
    check_requested_scopes,
    check_scope_length,
    desired_scopes,
    diff_view,
    grant_after_write,
    grant_view,
    is_guid,
    looks_like_grant_id,
    normalize_scopes,
    plan_change,
    scope_string,
    select_grant,
)

CLIENT = '263a5b01-03e5-408e-8557-bab681df104c'
RESOURCE = '1804a6f8-e623-4520-8f40-ba1b0c11c42d'
USER = '3a1b7e5c-1111-4a2b-9c3d-5e6f7a8b9c0d'

scope_token = st.text(alphabet=st.sampled_from('abcXYZ.019_-'), min_size=1, max_size=8)
scope_sets = st.lists(scope_token, max_size=8)


def view(scopes, principal=None, grant_id='g1'):
    return grant_view({
        'id': grant_id, 'clientId': CLIENT, 'resourceId': RESOURCE,
        'consentType': 'Principal' if principal else 'AllPrincipals', 'principalId': principal,
        'scope': scopes if isinstance(scopes, str) else ' '.join(scopes),
    })


class TestNormalizeScopes:
    @pytest.mark.parametrize('value, expected', [
        (None, []),
        ('', []),
        (' openid  profile User.Read', ['User.Read', 'openid', 'profile']),
        ('a\tb\nc  a', ['a', 'b', 'c']),
        (['User.Read', 'User.Read', ' Mail.Read '], ['Mail.Read', 'User.Read']),
        (['User.Read Mail.Read', None], ['Mail.Read', 'User.Read']),
        (['user.read', 'User.Read'], ['User.Read', 'user.read']),  # case is kept: claim values are case-sensitive
    ])
    def test_examples(self, value, expected):
        assert normalize_scopes(value) == expected

    @given(scope_sets)
    def test_order_and_duplicates_do_not_matter(self, scopes):
        assert normalize_scopes(scopes) == normalize_scopes(list(reversed(scopes)) + scopes)

    @given(scope_sets)
    def test_scope_string_round_trips(self, scopes):
        text = scope_string(scopes)
        assert normalize_scopes(text) == normalize_scopes(scopes)
        assert '  ' not in text and text == text.strip()


class TestDesiredScopes:
    @given(scope_sets, scope_sets)
    def test_set_algebra(self, current, requested):
        cur, req = set(current), set(requested)
        assert set(desired_scopes(current, requested, 'exact')) == req
        assert set(desired_scopes(current, requested, 'append')) == cur | req
        assert set(desired_scopes(current, requested, 'remove')) == cur - req

    @given(scope_sets, scope_sets)
    def test_append_and_remove_are_idempotent(self, current, requested):
        once = desired_scopes(current, requested, 'append')
        assert desired_scopes(once, requested, 'append') == once
        once = desired_scopes(current, requested, 'remove')
        assert desired_scopes(once, requested, 'remove') == once

    def test_bad_mode(self):
        with pytest.raises(GrantInputError, match='scope_mode'):
            desired_scopes([], ['a'], 'merge')


class TestPlanChange:
    def test_create(self):
        plan = plan_change(None, ['User.Read', 'Mail.Read'], 'exact', 'present')
        assert plan.action == ACTION_CREATED
        assert plan.scopes_after == ['Mail.Read', 'User.Read'] == plan.scopes_added
        assert plan.scopes_removed == []

    @pytest.mark.parametrize('mode', ['exact', 'append'])
    def test_unchanged_when_set_is_equal_despite_whitespace_and_order(self, mode):
        plan = plan_change(view(' openid  profile User.Read'), ['User.Read', 'profile', 'openid', 'openid'], mode)
        assert plan.action == ACTION_UNCHANGED
        assert plan.scopes_added == plan.scopes_removed == []

    def test_exact_update(self):
        plan = plan_change(view('User.Read Mail.Read'), ['User.Read', 'Files.Read'], 'exact')
        assert plan.action == ACTION_UPDATED
        assert plan.scopes_after == ['Files.Read', 'User.Read']
        assert plan.scopes_added == ['Files.Read'] and plan.scopes_removed == ['Mail.Read']

    def test_append_keeps_others(self):
        plan = plan_change(view('User.Read Mail.Read'), ['Files.Read'], 'append')
        assert plan.action == ACTION_UPDATED and plan.scopes_after == ['Files.Read', 'Mail.Read', 'User.Read']
        assert plan.scopes_removed == []

    def test_remove_keeps_others(self):
        plan = plan_change(view('User.Read Mail.Read'), ['Mail.Read', 'Not.There'], 'remove')
        assert plan.action == ACTION_UPDATED and plan.scopes_after == ['User.Read'] and plan.scopes_removed == ['Mail.Read']

    def test_remove_of_absent_scope_is_unchanged(self):
        assert plan_change(view('User.Read'), ['Mail.Read'], 'remove').action == ACTION_UNCHANGED

    @pytest.mark.parametrize('mode, requested', [('remove', ['User.Read', 'Mail.Read']), ('exact', [])])
    def test_empty_result_deletes(self, mode, requested):
        plan = plan_change(view('User.Read Mail.Read'), requested, mode)
        assert plan.action == ACTION_DELETED and plan.scopes_removed == ['Mail.Read', 'User.Read'] and plan.scopes_after == []

    @pytest.mark.parametrize('mode, requested', [('remove', ['User.Read']), ('exact', []), ('append', [])])
    def test_nothing_to_create(self, mode, requested):
        assert plan_change(None, requested, mode).action == ACTION_UNCHANGED

    def test_absent(self):
        plan = plan_change(view('User.Read'), ['ignored'], 'exact', 'absent')
        assert plan.action == ACTION_DELETED and plan.scopes_removed == ['User.Read']
        assert plan_change(None, [], 'exact', 'absent').action == ACTION_UNCHANGED

    def test_bad_state(self):
        with pytest.raises(GrantInputError):
            plan_change(None, ['a'], 'exact', 'gone')

    @settings(max_examples=200)
    @given(st.one_of(st.none(), scope_sets), scope_sets, st.sampled_from(['exact', 'append', 'remove']), st.sampled_from(['present', 'absent']))
    def test_plan_is_consistent_and_idempotent(self, current_scopes, requested, mode, state):
        current = view(current_scopes) if current_scopes is not None else None
        plan = plan_change(current, requested, mode, state)
        before = set(current['scopes']) if current else set()
        assert set(plan.scopes_added) == set(plan.scopes_after) - before
        assert set(plan.scopes_removed) == before - set(plan.scopes_after)
        # Applying the plan and planning again must be a no-op: the core promise of idempotence.
        after = grant_after_write(current, GrantKey(CLIENT, RESOURCE, None), plan)
        again = plan_change(after, requested, mode, state)
        assert again.action == ACTION_UNCHANGED
        nothing_moved = not plan.scopes_added and not plan.scopes_removed and (after is None) == (current is None)
        assert (plan.action == ACTION_UNCHANGED) == nothing_moved


class TestShapes:
    def test_grant_view(self):
        raw = {'id': 'x', 'clientId': CLIENT, 'consentType': 'AllPrincipals', 'principalId': None, 'resourceId': RESOURCE,
               'scope': ' b a', '@odata.id': 'ignored'}
        assert grant_view(raw) == {'id': 'x', 'client_id': CLIENT, 'consent_type': 'AllPrincipals', 'principal_id': None,
                                   'resource_id': RESOURCE, 'scopes': ['a', 'b'], 'scope': ' b a'}
        assert grant_view(None) is None

    def test_diff_view(self):
        assert diff_view(None) == {}
        assert diff_view(view('b a')) == {'client_id': CLIENT, 'resource_id': RESOURCE, 'consent_type': 'AllPrincipals',
                                          'principal_id': None, 'scopes': ['a', 'b']}

    def test_predicted_create(self):
        key = GrantKey(CLIENT, RESOURCE, USER)
        plan = plan_change(None, ['b', 'a'])
        predicted = grant_after_write(None, key, plan)
        assert predicted == {'id': None, 'client_id': CLIENT, 'consent_type': 'Principal', 'principal_id': USER,
                             'resource_id': RESOURCE, 'scopes': ['a', 'b'], 'scope': 'a b'}


class TestGrantKey:
    def test_consent_type_follows_principal(self):
        assert GrantKey(CLIENT, RESOURCE, None).consent_type == 'AllPrincipals'
        assert GrantKey(CLIENT, RESOURCE, USER).consent_type == 'Principal'

    def test_all_principals_and_principal_grants_are_different_keys(self):
        admin = {'id': 'a', 'clientId': CLIENT, 'resourceId': RESOURCE, 'consentType': 'AllPrincipals', 'principalId': None}
        user = {'id': 'u', 'clientId': CLIENT, 'resourceId': RESOURCE, 'consentType': 'Principal', 'principalId': USER}
        other = dict(user, id='o', principalId='99999999-1111-4a2b-9c3d-5e6f7a8b9c0d')
        grants = [user, other, admin]
        assert select_grant(grants, GrantKey(CLIENT, RESOURCE, None)) is admin
        assert select_grant(grants, GrantKey(CLIENT.upper(), RESOURCE, USER.upper())) is user
        assert select_grant([user], GrantKey(CLIENT, RESOURCE, None)) is None
        assert select_grant([admin], GrantKey(CLIENT, '00000000-0000-0000-0000-000000000000', None)) is None

    def test_filter(self):
        assert GrantKey(CLIENT, RESOURCE, USER).odata_filter() == (
            "clientId eq '{0}' and resourceId eq '{1}' and consentType eq 'Principal' and principalId eq '{2}'".format(CLIENT, RESOURCE, USER))
        assert "consentType eq 'AllPrincipals'" in GrantKey(CLIENT, RESOURCE, None).odata_filter()


class TestValidation:
    published = [
        {'value': 'User.Read', 'isEnabled': True}, {'value': 'Mail.Read', 'isEnabled': True},
        {'value': 'Mail.ReadWrite', 'isEnabled': True}, {'value': 'Legacy.Thing', 'isEnabled': False},
    ]

    def test_valid(self):
        check_requested_scopes(['User.Read', 'Mail.Read'], self.published, 'Microsoft Graph')

    def test_unknown_scope_lists_close_matches(self):
        with pytest.raises(GrantInputError) as err:
            check_requested_scopes(['User.Read', 'Mail.Raed', 'user.read'], self.published, "'Microsoft Graph'")
        text = str(err.value)
        assert "'Mail.Raed' is not a delegated permission" in text and "'Mail.Read'" in text
        assert "'user.read'" in text and "did you mean 'User.Read'" in text
        assert 'validate_scopes=false' in text

    def test_disabled_scope(self):
        with pytest.raises(GrantInputError, match="'Legacy.Thing' is published by .* but disabled"):
            check_requested_scopes(['Legacy.Thing'], self.published, 'X')

    def test_scope_length(self):
        check_scope_length(['a' * MAX_SCOPE_LENGTH])
        with pytest.raises(GrantInputError, match='at most 3850'):
            check_scope_length(['a' * 2000, 'b' * 2000])


def test_id_shapes():
    assert is_guid(CLIENT) and not is_guid('AVs6JuUDjkCFV7q2gd8QTPimBBgj5iBFj0C6GwwRxC0')
    assert looks_like_grant_id('AVs6JuUDjkCFV7q2gd8QTPimBBgj5iBFj0C6GwwRxC0')
    assert not looks_like_grant_id(CLIENT)  # a GUID is an object id, a common mistake (docs/dev/graph-behaviour.md#grant-id)
    assert not looks_like_grant_id('not an id!')


# ================================================================================== state absent with scopes
@pytest.mark.parametrize('state, scopes, refused', [
    ('absent', ['SMTP.Send'], True),
    ('absent', ['  IMAP.AccessAsUser.All  '], True),
    ('absent', None, False),
    ('absent', [], False),            # nothing named: not ambiguous
    ('absent', ['  '], False),
    ('present', ['User.Read'], False),
])
def test_absent_with_scopes_is_refused(state, scopes, refused):
    from ansible_collections.msgraph.grants.plugins.module_utils._grants import absent_scopes_error
    message = absent_scopes_error(state, scopes)
    assert (message is not None) == refused
    if refused:
        assert 'scope_mode=remove' in message and 'leave scopes out' in message and scopes[0].strip() in message
