# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""Pure planning of ``admin_consent`` (what the portal's "Grant admin consent" button does): which permissions are
requested per resource (the app registration's ``requiredResourceAccess``, by id, or the ``permissions`` option, by
value), their ids mapped to values through the resource's published scopes and app roles, and per resource what the
client's AllPrincipals grant and app role assignments must become (``mode`` append/exact, ``state`` absent).

No I/O: ``_consent_service`` reads, calls this, and writes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

from ansible_collections.msgraph.grants.plugins.module_utils._grants import (
    ACTION_UNCHANGED,
    GrantInputError,
    grant_view,
    normalize_scopes,
    plan_change,
)

MODES = ('append', 'exact')
TYPE_SCOPE = 'Scope'
TYPE_ROLE = 'Role'


class ConsentError(GrantInputError):
    """The requested consent cannot be right; raised before any write."""


class Requested(object):
    """What is requested of one resource: scope/role ids (from the app registration) and values (from
    ``permissions``). ``resource``: the resource as given (an appId for the registration)."""

    def __init__(self, resource):
        self.resource = resource
        self.scope_ids = set()
        self.role_ids = set()
        self.scopes = set()
        self.roles = set()

    def merge(self, other):
        for name in ('scope_ids', 'role_ids', 'scopes', 'roles'):
            getattr(self, name).update(getattr(other, name))


def requested_from_registration(required_resource_access):
    """``requiredResourceAccess`` of an application -> {resource appId (lower case): Requested}, ids only."""
    result = {}
    for entry in required_resource_access or []:
        app_id = entry.get('resourceAppId')
        if not app_id:
            continue
        requested = result.setdefault(app_id.lower(), Requested(app_id))
        for access in entry.get('resourceAccess') or []:
            kind = (access.get('type') or '').lower()
            if kind == TYPE_SCOPE.lower():
                requested.scope_ids.add(access.get('id'))
            elif kind == TYPE_ROLE.lower():
                requested.role_ids.add(access.get('id'))
    return result


def requested_from_permissions(entries):
    """The ``permissions`` option -> [Requested] by value, one per entry (the service merges entries naming the same
    resource once resolved)."""
    result = []
    for entry in entries or []:
        resource = (entry.get('resource') or '').strip()
        if not resource:
            raise ConsentError("Every item of 'permissions' needs 'resource' (object id, appId or display name of the "
                               "API), got {0!r}.".format(entry))
        requested = Requested(resource)
        requested.scopes.update(normalize_scopes(entry.get('scopes')))
        requested.roles.update(normalize_scopes(entry.get('app_roles')))
        result.append(requested)
    return result


class Resource(object):
    """A resource service principal as planning needs it (``raw``: Graph's entity with ``appRoles`` and the published
    scopes under ``scopes_property``). ``raw['id']`` is None for one that check mode predicts would be created."""

    def __init__(self, raw, scopes_property='oauth2PermissionScopes', to_create=False):
        self.id = raw.get('id')
        self.app_id = raw.get('appId')
        self.display_name = raw.get('displayName')
        self.published_scopes = raw.get(scopes_property) or []
        self.app_roles = raw.get('appRoles') or []
        self.to_create = to_create
        self.raw = raw

    def label(self):
        if self.display_name:
            return "'{0}' (appId {1})".format(self.display_name, self.app_id)
        return 'appId {0}'.format(self.app_id)

    def role_value(self, role_id):
        """The value of an app role id; the id itself for a role the resource no longer publishes."""
        for role in self.app_roles:
            if (role.get('id') or '').lower() == (role_id or '').lower():
                return role.get('value') or role_id
        return role_id

    def role_id(self, value):
        for role in self.app_roles:
            if role.get('value') == value:
                return role.get('id')
        return None


def _by_id(items, wanted, kind, resource, source):
    """Values of the ``wanted`` ids among ``items`` (published scopes or app roles); an id not published fails."""
    index = dict(((item.get('id') or '').lower(), item.get('value')) for item in items if item.get('id'))
    values = set()
    stale = sorted(i for i in wanted if (i or '').lower() not in index)
    if stale:
        what = 'delegated permission (Scope)' if kind == TYPE_SCOPE else 'application permission (Role)'
        raise ConsentError(
            '{0} requests {1} id {2} of {3}, which that resource no longer publishes (not in its {4}). Remove it from '
            "the app registration's API permissions (requiredResourceAccess), or give the permissions by value with "
            "'permissions'.".format(source, what, ', '.join(stale), resource.label(),
                                    'oauth2PermissionScopes' if kind == TYPE_SCOPE else 'appRoles'))
    for item_id in wanted:
        values.add(index[item_id.lower()])
    return values


def requested_values(requested, resource, source='The app registration'):
    """(scope values, role values) requested of ``resource``, ids mapped through what it publishes. A resource that
    check mode predicts would be created publishes nothing known yet: its ids stand for themselves."""
    if resource.to_create:
        return (sorted(requested.scopes | requested.scope_ids), sorted(requested.roles | requested.role_ids))
    scopes = set(requested.scopes) | _by_id(resource.published_scopes, requested.scope_ids, TYPE_SCOPE, resource, source)
    roles = set(requested.roles) | _by_id(resource.app_roles, requested.role_ids, TYPE_ROLE, resource, source)
    return sorted(scopes), sorted(roles)


# One resource's plan: ``grant`` is a ``_grants.GrantPlan`` (None: delegated half not managed or nothing requested nor
# granted) of ``grant_current`` (the grant's view); ``roles`` a RolePlan (None: application half not managed);
# ``scopes``/``app_roles`` the requested values (what the writers converge to); ``scope_mode``/``role_mode``/``state``
# what they are given.
ResourcePlan = namedtuple('ResourcePlan', ['resource', 'grant', 'grant_current', 'roles', 'scopes', 'app_roles',
                                           'scope_mode', 'state', 'delegated'])
# ``current``: the client's assignments on the resource (raw); ``add``: role values to assign; ``remove``: the
# assignments to delete; ``before``/``after``: sorted values.
RolePlan = namedtuple('RolePlan', ['current', 'add', 'remove', 'before', 'after'])


def _plan_roles(resource, current, wanted, mode, state):
    held = {}
    for assignment in current:
        held.setdefault(resource.role_value(assignment.get('appRoleId')), []).append(assignment)
    before = sorted(held)
    if state == 'absent':
        return RolePlan(current, [], list(current), before, [])
    add = sorted(set(wanted) - set(held))
    remove = []
    if mode == 'exact':
        for value in sorted(set(held) - set(wanted)):
            remove.extend(held[value])
    after = sorted((set(held) | set(wanted)) if mode != 'exact' else set(wanted))
    return RolePlan(current, add, remove, before, after)


def plan_consent(resources, wanted, grants, assignments, delegated=True, application=True, mode='append',
                 state='present'):
    """Plan every resource.

    ``resources``: {resource id (lower case) or, for one to create, 'new:' + appId: Resource}, every resource
    requested or holding something of the client; ``wanted``: {same key: (scope values, role values)} requested;
    ``grants``: the client's AllPrincipals grants (raw); ``assignments``: the client's app role assignments (raw).
    Resources not requested are planned only in exact mode and for ``state: absent``. Returns [ResourcePlan] sorted
    by appId.
    """
    if mode not in MODES:
        raise ConsentError('mode must be one of {0}, got {1!r}.'.format(', '.join(MODES), mode))
    grants_by = dict(((g.get('resourceId') or '').lower(), g) for g in grants or []
                     if g.get('consentType') == 'AllPrincipals')
    held_by = {}
    for assignment in assignments or []:
        held_by.setdefault((assignment.get('resourceId') or '').lower(), []).append(assignment)
    keys = set() if state == 'absent' else set(wanted)
    if state == 'absent' or mode == 'exact':
        keys.update(k for k in grants_by if delegated)
        keys.update(k for k in held_by if application)
    plans = []
    for key in keys:
        resource = resources[key]
        requested = key in wanted and state == 'present'
        scopes, roles = wanted[key] if requested else ([], [])
        scope_mode = 'exact' if mode == 'exact' or not requested else 'append'
        grant_plan = current = None
        if delegated:
            current = grant_view(grants_by.get(key))
            if current is not None or scopes:
                grant_plan = plan_change(current, scopes, scope_mode, state)
        role_plan = _plan_roles(resource, held_by.get(key, []), roles, scope_mode, state) if application else None
        plans.append(ResourcePlan(resource, grant_plan, current, role_plan, scopes, roles, scope_mode, state, delegated))
    return sorted(plans, key=lambda p: ((p.resource.app_id or '').lower(), p.resource.id or ''))


def plan_changes(plan):
    """True when carrying out ``plan`` writes anything (its service principal's creation included)."""
    grant_changes = plan.grant is not None and plan.grant.action != ACTION_UNCHANGED
    role_changes = plan.roles is not None and bool(plan.roles.add or plan.roles.remove)
    return plan.resource.to_create or grant_changes or role_changes


def resource_result(plan, grant_action=None, roles_added=None, roles_removed=None):
    """One item of ``resources`` (the contract); the write outcome overrides the plan where given."""
    grant = plan.grant
    roles = plan.roles
    item = {
        'resource_id': plan.resource.id,
        'resource_app_id': plan.resource.app_id,
        'resource_display_name': plan.resource.display_name,
        'grant_action': grant_action or (grant.action if grant is not None else None),
        'scopes_added': list(grant.scopes_added) if grant is not None else [],
        'scopes_removed': list(grant.scopes_removed) if grant is not None else [],
        'roles_added': sorted(roles_added if roles_added is not None else (roles.add if roles else [])),
        'roles_removed': sorted(roles_removed if roles_removed is not None else
                                (set(plan.resource.role_value(a.get('appRoleId')) for a in roles.remove) if roles else [])),
    }
    if plan.resource.to_create:
        item['service_principal_created'] = True
    return item


def diff_side(plan, after):
    """``{scopes, app_roles}`` of one resource before or after, the halves the run manages."""
    side = {}
    if plan.grant is not None:
        side['scopes'] = list(plan.grant.scopes_after if after else plan.grant.scopes_before)
    elif plan.delegated:
        side['scopes'] = []  # managed, nothing requested nor granted
    if plan.roles is not None:
        side['app_roles'] = list(plan.roles.after if after else plan.roles.before)
    return side


def consent_result(plans, items, header=None):
    """The module result: ``changed``, ``resources`` (``items``, one per plan) and ``diff`` keyed by appId."""
    before = {}
    after = {}
    for plan in plans:
        before[plan.resource.app_id] = diff_side(plan, False)
        after[plan.resource.app_id] = diff_side(plan, True)
    changed = any(plan_changes(plan) for plan in plans)
    diff = {'before': before, 'after': after}
    if header:
        diff['before_header'] = diff['after_header'] = header
    return {'changed': changed, 'resources': items, 'diff': diff}
