# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Pure logic for app role assignments (application permissions): role value checks, change planning, results.

PRIVATE to this collection: no stability guarantee for other collections. Nothing here performs I/O.

An app role assignment gives one client service principal one app role (``appRoleId``) of one resource service
principal. There is no update: a role is added by creating an assignment and taken away by deleting it, so a plan is
the role ids to add and the assignments to delete. Roles are named by their *value* (``User.Read.All``) and compared
as a set; an assignment whose role the resource no longer publishes is shown by its role id.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import difflib
from collections import namedtuple

from ansible_collections.msgraph.grants.plugins.module_utils._grants import (
    GrantInputError,
    normalize_scopes,
)

MODES = ('exact', 'append', 'remove')
STATES = ('present', 'absent')
APPLICATION_MEMBER = 'Application'
# The "default access" role (an assignment without a role: no value, grants no permission). It cannot be named in
# ``app_roles``, so ``exact`` mode and exclusive mode keep it; only ``state: absent`` removes it.
DEFAULT_ACCESS_ROLE = '00000000-0000-0000-0000-000000000000'

# ``add``: role ids to assign (sorted); ``remove``: assignments (raw Graph entities) to delete, sorted by role value;
# ``before``/``after``: the sorted role values held before and after; ``changed``: anything to write.
AssignmentPlan = namedtuple('AssignmentPlan', ['add', 'remove', 'before', 'after', 'changed'])


class AppRoleError(GrantInputError):
    """An app role value that cannot be used as asked; raised before any write."""


def normalize_values(values):
    """The set of role values as a sorted list (None, a string or a list; case kept: values are case-sensitive)."""
    return normalize_scopes(values)


def role_values(published_roles):
    """``{role id (lower case): value}`` of the roles a resource publishes."""
    return dict(((r.get('id') or '').lower(), r.get('value')) for r in published_roles or [] if r.get('id'))


def value_of(role_id, values_by_id):
    """The value of ``role_id``, or the id itself when the resource does not publish it (any more)."""
    return values_by_id.get((role_id or '').lower()) or role_id


def assignable(role):
    """Whether an application may be given ``role`` now: enabled and allowed for applications."""
    return bool(role.get('isEnabled', True)) and APPLICATION_MEMBER in (role.get('allowedMemberTypes') or [])


def _suggestions(value, candidates):
    lowered = dict((c.lower(), c) for c in candidates)
    found = [lowered[value.lower()]] if value.lower() in lowered and lowered[value.lower()] != value else []
    for match in difflib.get_close_matches(value, list(candidates), n=3, cutoff=0.6):
        if match not in found:
            found.append(match)
    return found[:3]


def check_app_roles(published_roles, values, adding, resource_label='the resource'):
    """The published role dicts for ``values``, in the order of the sorted values.

    Every value must be published by the resource (``appRoles``); with ``adding`` it must also be enabled and allowed
    for applications (``allowedMemberTypes`` holds ``Application``). Raises :class:`AppRoleError` naming the resource,
    every bad value and close matches, so that nothing is written on a typo.
    """
    by_value = {}
    for role in published_roles or []:
        if role.get('value'):
            by_value.setdefault(role['value'], role)
    usable = sorted(v for v, r in by_value.items() if assignable(r)) if adding else sorted(by_value)
    problems, found = [], []
    for value in normalize_values(values):
        role = by_value.get(value)
        if role is None:
            close = _suggestions(value, usable)
            hint = ' (did you mean {0}?)'.format(', '.join("'{0}'".format(c) for c in close)) if close else ''
            problems.append("'{0}' is not an app role of {1}{2}".format(value, resource_label, hint))
        elif adding and not role.get('isEnabled', True):
            problems.append("'{0}' is disabled by {1} and can no longer be assigned".format(value, resource_label))
        elif adding and APPLICATION_MEMBER not in (role.get('allowedMemberTypes') or []):
            problems.append("'{0}' is an app role for users and groups only (allowedMemberTypes: {1}), not an "
                            "application permission".format(value, ', '.join(role.get('allowedMemberTypes') or [])))
        else:
            found.append(role)
    if problems:
        shown = ', '.join(usable[:25]) + (', ...' if len(usable) > 25 else '')
        raise AppRoleError(
            'Cannot {0} these app roles: {1}. {2} published by {3}: {4}. Fix the values in app_roles.'.format(
                'assign' if adding else 'remove', '; '.join(problems),
                'Application permissions' if adding else 'App roles', resource_label, shown or '(none)'))
    return found


def plan_assignments(current, desired_role_ids, mode='exact', state='present', published_roles=()):
    """What to write so that the client holds the roles ``mode``/``state`` ask for on one resource.

    ``current``: the client's assignments on that resource (raw Graph entities); ``desired_role_ids``: ids of the
    roles named in ``app_roles``; ``published_roles``: the resource's ``appRoles`` (for values only). The single
    source of truth for check mode and the real run.
    """
    if mode not in MODES:
        raise AppRoleError('mode must be one of {0}, got {1!r}.'.format(', '.join(MODES), mode))
    if state not in STATES:
        raise AppRoleError("state must be 'present' or 'absent', got {0!r}.".format(state))
    values = role_values(published_roles)
    desired = set((i or '').lower() for i in desired_role_ids or [])
    held = {}
    for raw in sorted(current or [], key=lambda a: a.get('id') or ''):
        held.setdefault((raw.get('appRoleId') or '').lower(), []).append(raw)
    if state == 'absent':
        keep = set()
    elif mode == 'exact':
        keep = desired | (set([DEFAULT_ACCESS_ROLE]) & set(held))
    elif mode == 'append':
        keep = set(held) | desired
    else:
        keep = set(held) - desired
    add = sorted(desired - set(held)) if state == 'present' and mode != 'remove' else []
    remove = []
    for role_id, raws in held.items():
        # A second assignment of one role (a replication artefact) is never needed: only the first is kept.
        remove.extend(raws if role_id not in keep else raws[1:])
    remove.sort(key=lambda a: (value_of(a.get('appRoleId'), values), a.get('id') or ''))
    before = sorted(set(value_of(i, values) for i in held))
    after = sorted(set(value_of(i, values) for i in (set(held) & keep) | set(add)))
    return AssignmentPlan(add, remove, before, after, bool(add or remove))


def assignment_view(raw, values_by_id):
    """An assignment in the shape the module returns."""
    return {
        'id': raw.get('id'),
        'app_role_id': raw.get('appRoleId'),
        'app_role_value': value_of(raw.get('appRoleId'), values_by_id),
        'resource_id': raw.get('resourceId'),
        'client_id': raw.get('principalId'),
    }


def assignments_after(current, plan, created, client_id, resource_id, values_by_id):
    """The client's assignments on the resource after ``plan`` (views sorted by value). ``created``: role id ->
    the entity Graph returned, or None where unknown (check mode: the id is not known before Graph assigns it)."""
    removed = set(id(a) for a in plan.remove)
    views = [assignment_view(a, values_by_id) for a in current or [] if id(a) not in removed]
    for role_id in plan.add:
        raw = (created or {}).get(role_id) or {'id': None, 'appRoleId': role_id, 'resourceId': resource_id,
                                               'principalId': client_id}
        views.append(assignment_view(raw, values_by_id))
    return sorted(views, key=lambda v: (v['app_role_value'] or '', v['id'] or ''))


def diff_side(client_id, resource_id, values):
    return {'resource_id': resource_id, 'client_id': client_id, 'app_roles': sorted(values)}


def roles_changed(plan, values_by_id):
    """``(roles_added, roles_removed)``: sorted values."""
    added = sorted(set(value_of(i, values_by_id) for i in plan.add))
    removed = sorted(set(value_of(a.get('appRoleId'), values_by_id) for a in plan.remove) - set(plan.after))
    return added, removed
