# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Pure logic for delegated permission grants: scope sets, change planning, result shaping.

PRIVATE to this collection: no stability guarantee for other collections.
Nothing here performs I/O, so every rule is unit-testable on its own.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import difflib
import re
from collections import namedtuple

# Graph documents this limit for oAuth2PermissionGrant.scope; the service's error for exceeding it is unknown,
# so we refuse before sending anything.
MAX_SCOPE_LENGTH = 3850

CONSENT_ALL_PRINCIPALS = 'AllPrincipals'
CONSENT_PRINCIPAL = 'Principal'
CONSENT_TYPES = (CONSENT_ALL_PRINCIPALS, CONSENT_PRINCIPAL)

SCOPE_MODES = ('exact', 'append', 'remove')
STATES = ('present', 'absent')

ACTION_CREATED = 'created'
ACTION_UPDATED = 'updated'
ACTION_DELETED = 'deleted'
ACTION_UNCHANGED = 'unchanged'

_GUID_RE = re.compile(r'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')
# A grant id is opaque; what Graph hands out is unpadded base64url. Anything else cannot be an id.
_GRANT_ID_RE = re.compile(r'^[A-Za-z0-9_-]{20,128}$')


GrantPlan = namedtuple('GrantPlan', ['action', 'scopes_before', 'scopes_after', 'scopes_added', 'scopes_removed'])
# What a write did: ``action`` taken, the grant's views ``before`` and ``after`` (None: no grant), the ``plan`` it
# carried out. The write engine returns it; ``change_result`` shapes it for a module.
GrantOutcome = namedtuple('GrantOutcome', ['action', 'before', 'after', 'plan'])


class GrantInputError(ValueError):
    """The user's input cannot be right; raised before any write (and usually before any request)."""


def record_applied(err, changes):
    """Remember on an exception the changes a run had applied before it failed (``'updated: <label>'``), so that the
    failure can still report them (``changed`` and ``changes`` in the module result)."""
    if changes:
        try:
            err.applied_changes = list(getattr(err, 'applied_changes', None) or []) + [c for c in changes if c]
        except AttributeError:  # pragma: no cover - exceptions without __dict__
            pass
    return err


def is_guid(value):
    return bool(value) and bool(_GUID_RE.match(value))


def looks_like_grant_id(value):
    return bool(value) and bool(_GRANT_ID_RE.match(value)) and not is_guid(value)


def same_object_id(left, right):
    """Directory object ids are GUIDs; Graph compares them case-insensitively."""
    if left is None or right is None:
        return left is None and right is None
    return left.lower() == right.lower()


def normalize_scopes(value):
    """Return the scope *set* as a sorted list.

    Accepts None, a space-separated string (as Graph stores it, stray whitespace included) or a list whose
    items may themselves hold several space-separated scopes. Case is kept: claim values are case-sensitive.
    """
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    scopes = set()
    for item in items:
        if item is None:
            continue
        scopes.update(str(item).split())
    return sorted(scopes)


def scope_string(scopes):
    """The string we write to Graph: sorted, single-space joined."""
    return ' '.join(normalize_scopes(scopes))


def absent_scopes_error(state, scopes):
    """The refusal of ``state: absent`` together with ``scopes``, or None when the combination is fine.

    Ambiguous (the whole grant, or only those scopes?) and once read as "delete the whole grant": refused before any
    request, saying what to write instead. An empty ``scopes`` is not ambiguous.
    """
    if state != 'absent' or not normalize_scopes(scopes):
        return None
    return ('state=absent deletes the whole grant, so it takes no scopes (got {0}). To take only these scopes away, '
            'use state=present with scope_mode=remove; to delete the whole grant, leave scopes out.'.format(
                ', '.join(normalize_scopes(scopes))))


def check_scope_length(scopes):
    text = scope_string(scopes)
    if len(text) > MAX_SCOPE_LENGTH:
        raise GrantInputError(
            'The scope string would be {0} characters long; Microsoft Graph allows at most {1}. '
            'Split the permissions across fewer, broader scopes or remove some.'.format(len(text), MAX_SCOPE_LENGTH))


def desired_scopes(current_scopes, requested_scopes, scope_mode):
    """The scope set the grant must end with, given what it holds now."""
    current = set(normalize_scopes(current_scopes))
    requested = set(normalize_scopes(requested_scopes))
    if scope_mode == 'exact':
        result = requested
    elif scope_mode == 'append':
        result = current | requested
    elif scope_mode == 'remove':
        result = current - requested
    else:
        raise GrantInputError('scope_mode must be one of {0}, got {1!r}.'.format(', '.join(SCOPE_MODES), scope_mode))
    return sorted(result)


def plan_change(current_grant, requested_scopes, scope_mode='exact', state='present'):
    """Decide what to do with one grant key.

    ``current_grant`` is the normalised view of the grant (see :func:`grant_view`) or None when no grant has the
    key. Returns a :class:`GrantPlan`. This is the single source of truth for check mode and for the real run.
    """
    before = list(current_grant['scopes']) if current_grant else []
    if state == 'absent':
        if current_grant is None:
            return GrantPlan(ACTION_UNCHANGED, [], [], [], [])
        return GrantPlan(ACTION_DELETED, before, [], [], before)
    if state != 'present':
        raise GrantInputError("state must be 'present' or 'absent', got {0!r}.".format(state))

    after = desired_scopes(before, requested_scopes, scope_mode)
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    if current_grant is None:
        if not after:
            # Nothing to grant (for example remove mode, or an empty exact list): an empty grant is never created.
            return GrantPlan(ACTION_UNCHANGED, [], [], [], [])
        return GrantPlan(ACTION_CREATED, [], after, after, [])
    if not after:
        # Graph accepts an empty or null scope but the portal misbehaves on such grants; deleting is the honest state.
        return GrantPlan(ACTION_DELETED, before, [], [], before)
    if not added and not removed:
        return GrantPlan(ACTION_UNCHANGED, before, before, [], [])
    return GrantPlan(ACTION_UPDATED, before, after, added, removed)


def grant_view(raw):
    """Graph's grant entity in the shape our modules return (snake_case, scopes as a sorted list)."""
    if raw is None:
        return None
    return {
        'id': raw.get('id'),
        'client_id': raw.get('clientId'),
        'consent_type': raw.get('consentType'),
        'principal_id': raw.get('principalId'),
        'resource_id': raw.get('resourceId'),
        'scopes': normalize_scopes(raw.get('scope')),
        'scope': raw.get('scope'),
    }


def grant_after_write(before_view, key, plan, new_raw=None):
    """The grant as it stands after applying ``plan`` (also used to predict it in check mode)."""
    if plan.action == ACTION_DELETED:
        return None
    if plan.action == ACTION_UNCHANGED:
        return before_view
    if new_raw is not None:
        return grant_view(new_raw)
    view = dict(before_view) if before_view else {
        'id': None,
        'client_id': key.client_id,
        'consent_type': key.consent_type,
        'principal_id': key.principal_id,
        'resource_id': key.resource_id,
    }
    view['scopes'] = list(plan.scopes_after)
    view['scope'] = scope_string(plan.scopes_after)
    return view


def change_result(outcome, header):
    """The module result of one grant's ``outcome``; ``header`` names the grant above each side of the diff."""
    action, before, after, plan = outcome
    result = {
        'changed': action != ACTION_UNCHANGED,
        'action': action,
        'scopes_added': list(plan.scopes_added),
        'scopes_removed': list(plan.scopes_removed),
        # Ansible prints the headers above each side of the diff: which grant, by the names a reviewer knows.
        'diff': {'before': diff_view(before), 'after': diff_view(after), 'before_header': header, 'after_header': header},
    }
    if after is not None:
        result['grant'] = after
    if action == ACTION_DELETED and before is not None:
        result['deleted_grant'] = before  # the grant as it was: what it takes to re-create it
    return result


def diff_view(view):
    """One side of the ``diff`` return value: key fields and the sorted scope list, ``{}`` for no grant."""
    if not view:
        return {}
    return {
        'client_id': view['client_id'],
        'resource_id': view['resource_id'],
        'consent_type': view['consent_type'],
        'principal_id': view['principal_id'],
        'scopes': list(view['scopes']),
    }


class GrantKey(namedtuple('GrantKey', ['client_id', 'resource_id', 'principal_id'])):
    """What makes a grant unique in Graph: (client SP, resource SP, user or none). consentType follows from it."""

    __slots__ = ()

    @property
    def consent_type(self):
        return CONSENT_PRINCIPAL if self.principal_id else CONSENT_ALL_PRINCIPALS

    def matches(self, raw):
        if not same_object_id(raw.get('clientId'), self.client_id) or not same_object_id(raw.get('resourceId'), self.resource_id):
            return False
        if self.principal_id:
            return raw.get('consentType') == CONSENT_PRINCIPAL and same_object_id(raw.get('principalId'), self.principal_id)
        return raw.get('consentType') == CONSENT_ALL_PRINCIPALS

    def odata_filter(self):
        clauses = ["clientId eq '{0}'".format(self.client_id), "resourceId eq '{0}'".format(self.resource_id),
                   "consentType eq '{0}'".format(self.consent_type)]
        if self.principal_id:
            clauses.append("principalId eq '{0}'".format(self.principal_id))
        return ' and '.join(clauses)

    def describe(self):
        text = 'client {0}, resource {1}, {2}'.format(self.client_id, self.resource_id, self.consent_type)
        if self.principal_id:
            text += ' for user {0}'.format(self.principal_id)
        return text


def select_grant(grants, key):
    """The one grant with ``key`` among ``grants`` (raw Graph entities), or None.

    Graph allows only one grant per key; should a listing ever hold several (replication artefacts), the first by
    id is taken so the choice is stable between runs.
    """
    matching = sorted((g for g in grants if key.matches(g)), key=lambda g: g.get('id') or '')
    return matching[0] if matching else None


def check_requested_scopes(requested, published, resource_label):
    """Every requested scope must be an enabled delegated permission the resource publishes.

    ``published`` is the resource's ``oauth2PermissionScopes`` (or beta ``publishedPermissionScopes``). Raises
    :class:`GrantInputError` naming each bad scope with close matches, so nothing is written on a typo.
    """
    enabled = {}
    disabled = set()
    for item in published or []:
        value = item.get('value')
        if not value:
            continue
        if item.get('isEnabled', True):
            enabled[value] = item
        else:
            disabled.add(value)
    problems = []
    lowered = dict((v.lower(), v) for v in enabled)
    for scope in normalize_scopes(requested):
        if scope in enabled:
            continue
        if scope in disabled:
            problems.append("'{0}' is published by {1} but disabled".format(scope, resource_label))
            continue
        suggestions = []
        if scope.lower() in lowered:
            suggestions.append(lowered[scope.lower()])
        for candidate in difflib.get_close_matches(scope, list(enabled), n=3, cutoff=0.6):
            if candidate not in suggestions:
                suggestions.append(candidate)
        hint = ' (did you mean {0}?)'.format(', '.join("'{0}'".format(s) for s in suggestions[:3])) if suggestions else ''
        problems.append("'{0}' is not a delegated permission of {1}{2}".format(scope, resource_label, hint))
    if problems:
        available = sorted(enabled)
        shown = ', '.join(available[:25]) + (', ...' if len(available) > 25 else '')
        raise GrantInputError(
            'Unknown or disabled scopes: {0}. Delegated permissions published by {1}: {2}. '
            'Fix the scope names, or set validate_scopes=false to skip this check.'.format(
                '; '.join(problems), resource_label, shown or '(none)'))
