# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""Sharing permissions of one driveItem: resolve -> read -> plan (pure, ``_drive_permissions``) -> write.

Why it reads and writes the way it does (docs/dev/graph-behaviour.md#drive-permissions):
- the drive and the item are resolved once to ids (``/users/{id or UPN}/drive``, ``/groups/{id}/drive``,
  ``/sites/{id}/drive``; a path as ``/drives/{d}/root:/{path}:`` encoded per segment); every later request names
  ``/drives/{d}/items/{i}``;
- a write is sent with ``If-Match`` carrying the tag of the item *just read*: whether a permission change bumps the
  item's eTag is not documented either way, so no tag is ever carried over from before a write;
- a 412 means somebody changed the item between our read and our write: read again and plan again (at most
  ``MAX_REPLANS`` times); if the item is then as asked, nothing more is written. With the caller's own ``if_match``
  the 412 is the answer: the item changed since that tag, and the run fails without planning again;
- a new permission is created through ``invite`` (``requireSignIn: true``, ``sendInvitation`` always sent), never
  for a grantee that already has a permission of its own (whether invite replaces or merges roles is not documented);
  when the listing hid that permission, the roles invite answers are set to exactly the ones asked for with a PATCH,
  and a permission invite answered that the list then does not show is reported (``_drive_invite``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover
    from urllib import quote  # type: ignore

from ansible_collections.msgraph.grants.plugins.module_utils._drive_invite import (
    invite_body,
    merged_roles_warning,
    new_guest_hint,
    notify_warnings,
    roles_of,
    unlisted_warning,
)
from ansible_collections.msgraph.grants.plugins.module_utils._drive_item_options import (
    DRIVE_SOURCES,
    ITEM_FORMS,
    PERMISSION_FORMS,
)
from ansible_collections.msgraph.grants.plugins.module_utils._drive_permissions import (
    ACTIONS,
    DrivePermissionError,
    check_named,
    Grantee,
    check_roles,
    encode_path,
    filter_permissions,
    permission_view,
    plan_permission,
    predicted_permission,
    result_of,
    tag_matches,
)
from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._grant_errors import permission_hints, with_hint
from ansible_collections.msgraph.grants.plugins.module_utils._resolve import user_path

MAX_REPLANS = 3
JSON = {'Content-Type': 'application/json'}
USER_SELECT = 'id,userPrincipalName,mail,displayName'
# docs/permissions.md is the one list of these permissions (tests/unit/test_docs_agree.py holds the two together).
PERMISSIONS_HINT = ('The application needs the Graph application permission Files.ReadWrite.All (Sites.ReadWrite.All '
                    'also works; with Sites.Selected with an owner permission on the site) and, for a '
                    'grantee given by UPN or id, User.ReadBasic.All, with admin consent (reading alone: '
                    'Files.Read.All); see docs/permissions.md.')


def drive_permission_hints():
    """The 403 hint of this resource's permissions (``_grant_errors.permission_hints``)."""
    return permission_hints(PERMISSIONS_HINT)


def drive_path(params):
    """The drive root path of the one drive source the options name."""
    if params.get('drive_id'):
        return '/drives/{0}'.format(quote(params['drive_id'], safe='!'))
    if params.get('user'):
        return user_path(params['user']) + '/drive'
    if params.get('group'):
        return '/groups/{0}/drive'.format(quote(params['group'], safe=''))
    if params.get('site_id'):
        return '/sites/{0}/drive'.format(quote(params['site_id'], safe=','))
    raise DrivePermissionError('name the drive with one of drive_id, user, group or site_id.')


def item_path(drive_id, item_id):
    return '/drives/{0}/items/{1}'.format(quote(drive_id, safe='!'), quote(item_id, safe='!'))


def permissions_path(drive_id, item_id, permission_id=None):
    path = item_path(drive_id, item_id) + ('/permissions' if permission_id is None else '/permissions/')
    return path + ('' if permission_id is None else quote(permission_id, safe=''))


def refused_hint(plan, item):
    """Why Graph may refuse a PATCH/DELETE of a permission the listing showed as the item's own, and what to do."""
    return ('Graph refused to {0} permission {1} of {2}. If that permission is inherited from a parent folder '
            '(OneDrive for Business and SharePoint do not always mark inherited permissions), change it on that '
            'folder; a sharing link or the owner cannot be changed here either.'.format(
                'delete' if plan.action == 'delete' else 'change the roles of', plan.permission['id'], item.label))


def refused(err):
    """Graph refused the write itself (400, or 403 ``notAllowed``), as it does for an inherited permission; a 403
    with another code is the application's missing permission (``PERMISSIONS_HINT``)."""
    return err.status == 400 or (err.status == 403 and err.code == 'notAllowed')


PLACES = (('drive_id', 'drive {0}'), ('user', 'the OneDrive of user {0}'), ('group', 'the library of group {0}'),
          ('site_id', 'the library of site {0}'))


def _source_label(params):
    """``(source, place)``: the drive option as given (``user x``) and where the item is, in words."""
    for name, place in PLACES:
        if params.get(name):
            return '{0} {1}'.format(name, params[name]), place.format(params[name])
    return 'the drive', 'the drive'


class DriveItem(object):
    """The item as last read: ids, tags and a label for messages."""

    def __init__(self, drive_id, raw, label):
        self.drive_id = drive_id
        self.id = raw.get('id')
        self.etag = raw.get('eTag')
        self.ctag = raw.get('cTag')
        self.label = label

    @property
    def tag(self):
        """The tag a write is guarded with: the eTag (whole item), else the cTag (content), else nothing."""
        return self.etag or self.ctag


class DriveItemService(object):
    """``info(params)``: ``drive_item_permission_info``; ``ensure(params)``: ``drive_item_permission``."""

    def __init__(self, client, check_mode=False, warn=None, max_replans=MAX_REPLANS):
        self.client = client
        self.check_mode = check_mode
        self.warn = warn or (lambda text: None)
        self.max_replans = max_replans

    # -- resolve and read ---------------------------------------------------------------------------------------
    def resolve(self, params):
        """The drive id and the item as read now (from its id or its path)."""
        source, place = _source_label(params)
        if params.get('drive_id'):
            drive_id = params['drive_id']
        else:
            try:
                drive_id = self.client.get(drive_path(params), params={'$select': 'id'}).get('id')
            except GraphError as err:
                if err.status == 404:
                    with_hint(err, 'No drive for {0}: check the id (for a user, the OneDrive may not be provisioned '
                                   'yet; it is created when the user first opens it).'.format(source))
                raise
        if params.get('path'):
            where = "'{0}'".format(params['path'])
            url = '/drives/{0}/root:/{1}:'.format(quote(drive_id, safe='!'), encode_path(params['path']))
        else:
            where = 'id {0}'.format(params['item_id'])
            url = item_path(drive_id, params['item_id'])
        try:
            raw = self.client.get(url)
        except GraphError as err:
            if err.status == 404:
                with_hint(err, 'No item {0} on {1}: check the {2} (a path is relative to the drive root and names '
                               'the item as the drive shows it).'.format(
                                   where, place, 'path' if params.get('path') else 'item_id'))
            raise
        return DriveItem(drive_id, raw, 'item {0} on {1}'.format(where, place))

    def reread(self, item):
        raw = self.client.get(item_path(item.drive_id, item.id))
        return DriveItem(item.drive_id, raw, item.label)

    def permissions_of(self, item):
        """Every permission Graph lists for the item (every page)."""
        return self.client.get_all(permissions_path(item.drive_id, item.id))

    def grantee(self, value):
        """The grantee with the directory's view of the user (id, UPN, mail) when Graph knows one by that value."""
        if not value:
            return None
        response = self.client.request('GET', user_path(value), params={'$select': USER_SELECT},
                                       raise_for_status=False)
        if response.status in (400, 404):
            return Grantee(value)  # an external address or a group id: matched by the value alone
        response.raise_for_status()
        return Grantee(value, response.json or {})

    # -- the info module ----------------------------------------------------------------------------------------
    def info(self, params):
        check_named(params, (DRIVE_SOURCES, ITEM_FORMS, ('grantee',)))
        with drive_permission_hints():
            item = self.resolve(params)
            permissions = self.permissions_of(item)
            if params.get('grantee'):
                permissions = filter_permissions(permissions, self.grantee(params['grantee']))
        views = [permission_view(p, with_expiration=True) for p in permissions]
        return {'changed': False, 'permissions': views, 'etag': item.etag, 'item_id': item.id,
                'drive_id': item.drive_id}

    # -- the module ---------------------------------------------------------------------------------------------
    def ensure(self, params):
        check_named(params, (DRIVE_SOURCES, ITEM_FORMS, PERMISSION_FORMS))
        state = params.get('state') or 'present'
        roles = params.get('roles')
        if state == 'absent' and roles:
            raise DrivePermissionError('state=absent deletes the permission whatever its roles, so it takes no '
                                       'roles (got {0}); drop roles, or use state=present.'.format(', '.join(roles)))
        wanted = check_roles(roles) if state == 'present' else None
        with drive_permission_hints():
            item = self.resolve(params)
            grantee = self.grantee(params.get('grantee'))
            return self._converge(item, grantee, wanted, state, params)

    def _plan(self, item, grantee, wanted, state, params):
        return plan_permission(self.permissions_of(item), wanted, state, params.get('permission_id'), grantee,
                               params.get('create', True), item.label, bool(params.get('send_invitation')))

    def _converge(self, item, grantee, wanted, state, params):
        expected = params.get('if_match')
        plan = self._plan(item, grantee, wanted, state, params)
        maybe_applied = None  # a write whose outcome is unknown: the action it was, if the re-read shows it done
        for attempt in range(self.max_replans + 1):
            if plan.action == 'unchanged':
                self._warn_note(plan)
                result = result_of(plan, predicted_permission(plan, grantee), item.etag)
                if maybe_applied is not None:
                    result.update(changed=True, action=maybe_applied)
                return result
            if expected and not tag_matches(expected, item.etag, item.ctag):
                raise DrivePermissionError(
                    '{0} changed since if_match {1}: it now has eTag {2}{3}. Nothing was written; read the item again '
                    'and decide.'.format(item.label, expected, item.etag,
                                         ' (cTag {0})'.format(item.ctag) if item.ctag else ''))
            if self.check_mode:
                self._warn_note(plan)
                return result_of(plan, predicted_permission(plan, grantee), item.etag)
            try:
                written = self.write(item, plan, grantee, params)
            except GraphError as err:
                # 412 first, whatever its code: Graph has sent it with `notAllowed` too (docs/dev/graph-behaviour.md)
                if err.status == 412 and expected:
                    raise with_hint(err, '{0} changed since if_match {1} (Graph answered 412 Precondition Failed); '
                                         'nothing was written.'.format(item.label, expected))
                if plan.action != 'create' and refused(err):
                    raise with_hint(err, refused_hint(plan, item))
                if err.status == 412 or err.ambiguous or (plan.action == 'delete' and err.status == 404):
                    if err.ambiguous:
                        maybe_applied = ACTIONS[plan.action]
                    if attempt == self.max_replans and err.status == 412:
                        raise with_hint(err, '{0} kept changing: {1} writes were each refused because the item had '
                                             'changed since it was read (412). Nothing was written; run again '
                                             'later.'.format(item.label, attempt + 1))
                    if attempt == self.max_replans:
                        raise err
                    item = self.reread(item)
                    plan = self._plan(item, grantee, wanted, state, params)
                    continue
                raise
            self._warn_note(plan)
            after = self.reread(item)
            return result_of(plan, predicted_permission(plan, grantee, written), after.etag)
        raise GraphError('{0}: no plan converged'.format(item.label))  # pragma: no cover - the loop returns or raises

    def _warn_note(self, plan):
        if plan.note:
            self.warn(plan.note)

    def _if_match(self, item, params):
        expected = params.get('if_match')
        tag = next((t for t in (item.etag, item.ctag) if tag_matches(expected, t)), None) if expected else item.tag
        if not tag:
            self.warn('{0} has neither eTag nor cTag: the write is sent without If-Match, so a change made '
                      'meanwhile by somebody else cannot be detected.'.format(item.label))
            return dict(JSON)
        headers = dict(JSON)
        headers['If-Match'] = tag
        return headers

    def write(self, item, plan, grantee, params):
        """One PATCH, DELETE or invite, guarded by If-Match; the permission Graph returned (None for a DELETE)."""
        headers = self._if_match(item, params)
        if plan.action == 'delete':
            headers.pop('Content-Type')
            self.client.request('DELETE', permissions_path(item.drive_id, item.id, plan.permission['id']),
                                headers=headers)
            return None
        if plan.action == 'update':
            response = self.client.request('PATCH', permissions_path(item.drive_id, item.id, plan.permission['id']),
                                           json={'roles': list(plan.roles)}, headers=headers)
            return response.json or None
        return self.invite(item, plan, grantee, params, headers)

    def invite(self, item, plan, grantee, params, headers):
        """The invite, then what its answer says: failed mails (207), roles merged into a permission the list did
        not show (PATCHed to exactly ``plan.roles``), a permission the list does not show (later runs invite again)."""
        send = bool(params.get('send_invitation'))
        try:
            response = self.client.request('POST', item_path(item.drive_id, item.id) + '/invite',
                                           json=invite_body(grantee, plan.roles, send), headers=headers)
        except GraphError as err:
            if err.status == 403 and grantee.user is None:
                with_hint(err, new_guest_hint(grantee, item.label))
            raise
        created = [p for p in (response.json or {}).get('value') or [] if isinstance(p, dict)]
        for warning in notify_warnings(created, grantee.email, item.label):
            self.warn(warning)
        listed = self.permissions_of(item)
        found = next((p for p in created if p.get('id')), None)
        if found is None:  # Graph answered without the new permission (reported): take it from the list
            mine = filter_permissions(listed, grantee)
            found = mine[0] if len(mine) == 1 else None
        elif found['id'] not in [p.get('id') for p in listed]:
            self.warn(unlisted_warning(found, grantee, item.label, send))
        if found is not None and found.get('id') and roles_of(found) != list(plan.roles):
            self.warn(merged_roles_warning(grantee, item.label, roles_of(found), plan.roles))
            found = self.set_roles(item, found['id'], plan.roles)
        return found

    def set_roles(self, item, permission_id, roles):
        """PATCH the roles of a permission invite has just answered, guarded by the tag read now (the invite may have
        changed it). After a 412 another writer changed the item: the permission is read again and the PATCH planned
        again (already as asked: nothing more; gone: the run fails saying so), at most ``max_replans`` times."""
        for attempt in range(self.max_replans + 1):
            current = self.reread(item)
            try:
                if attempt:  # by id: the list may not show it (the reason for this PATCH); 404: gone
                    found = self.client.get(permissions_path(item.drive_id, item.id, permission_id))
                    if roles_of(found) == list(roles):
                        return found
                response = self.client.request('PATCH', permissions_path(item.drive_id, item.id, permission_id),
                                               json={'roles': list(roles)}, headers=self._if_match(current, {}))
                return response.json or {'id': permission_id, 'roles': list(roles)}
            except GraphError as err:
                if err.status != 412 or attempt == self.max_replans:
                    raise self._roles_failed(err, item, permission_id, roles, gone=err.status == 404)
        return None  # pragma: no cover - the loop returns or raises

    @staticmethod
    def _roles_failed(err, item, permission_id, roles, gone=False):
        """The invite landed, the roles fix-up did not: say which, and that the run changed the item."""
        why = ('another writer removed it before its roles could be set to exactly {0}; nothing more was written: '
               'run again to grant it' if gone else 'setting its roles to exactly {0} failed: run again').format(
                   ', '.join(roles))
        err.applied_changes = ['invited: permission {0} of {1}'.format(permission_id, item.label)]
        return with_hint(err, 'invite granted the permission {0} of {1}, but {2}.'.format(permission_id, item.label,
                                                                                          why))
