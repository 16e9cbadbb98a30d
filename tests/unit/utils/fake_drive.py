# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""A small in-memory fake of Graph's drive endpoints that ``DriveItemService`` uses, with the interface of
``GraphClient`` (``request``, ``get``, ``get_all``): drives of a user, a group and a site; items by id and by path
(each segment percent-decoded once, names compared without regard to case, a raw ``#``/``?``/space refused as a client
would never send them); permissions of every kind (listed, or one by id); PATCH/DELETE with ``If-Match`` against the item's eTag or cTag (412
on a mismatch); ``invite``; paging.

Knobs, named like the emulator's (docs/dev/emulator.md):
- ``bumps``: a permission write changes the item's eTag (``permission_change_bumps_etag``), default True;
- ``precondition_code``: the outer code of the 412 (``drive_precondition_code``: ``resourceModified``, ``notAllowed``);
- ``concurrent_writer`` / ``concurrent_change``: the next N permission writes find that another writer changed the
  item first (``content``: the item's content; ``add_permission``: grants ``read`` to Lee; ``same_change``: the very
  change being sent), so their If-Match is stale;
- ``page_size``: permissions listed that many per page, with ``@odata.nextLink``;
- ``lose_answers``: that many writes are applied and then answered 503 (a write whose outcome the client cannot know);
- ``pending_listed`` (``drive_pending_invitations_listed``), ``invite_merge`` (``replace``/``union``),
  ``truncate_after`` (the list cut after N entries, no nextLink), ``new_guest`` (``invited``/``refused``: 403
  ``accessDenied`` for an address the directory does not know, ``app_only_new_guest``).
Every request is kept in ``calls`` (method, path, headers, body); ``writes`` are the POST/PATCH/DELETE among them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import re

try:
    from urllib.parse import unquote
except ImportError:  # pragma: no cover
    from urllib import unquote  # type: ignore

from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import GraphResponse

DRIVE = 'b!megan-onedrive-0001'
SITE_DRIVE = 'b!finance-library-0002'
SITE_ID = 'contoso.sharepoint.com,2c7e6a40-1d3b-4e8a-9f17-5b6c7d8e9fa0,7a3e2c1d-4b5a-4c6d-8e9f-0a1b2c3d4e5f'
GROUP_ID = '02bd9fd6-8f93-4758-87c3-1fb73740a315'
MEGAN = {'id': '6b4f2c1d-1111-4a2b-8c3d-000000000001', 'userPrincipalName': 'megan@contoso.com',
         'mail': 'megan@contoso.com', 'displayName': 'Megan Bowen'}
ADELE = {'id': '48d31887-5fad-4d73-a9f5-3c356e68a038', 'userPrincipalName': 'adele@contoso.onmicrosoft.com',
         'mail': 'Adele.Vance@contoso.com', 'displayName': 'Adele Vance'}
LEE = {'id': '5c7e9a1b-2222-4b3c-9d4e-000000000003', 'userPrincipalName': 'lee@contoso.com',
       'mail': 'lee@contoso.com', 'displayName': 'Lee Gu'}
SALES = {'id': '9f1e2d3c-3333-4c4d-8e5f-000000000004', 'displayName': 'Sales'}
USERS = [MEGAN, ADELE, LEE]


def user_permission(pid, user, roles, **extra):
    raw = {'id': pid, 'roles': list(roles), 'grantedToV2': {'user': {
        'id': user['id'], 'displayName': user['displayName'], 'email': user['mail']}}}
    raw.update(extra)
    return raw


def standard_permissions():
    """A folder of Megan's OneDrive shared every way the semantics describe."""
    return [
        user_permission('owner-megan', MEGAN, ['owner']),
        user_permission('perm-adele', ADELE, ['read']),
        {'id': 'perm-sales', 'roles': ['write'], 'grantedToV2': {'group': {'id': SALES['id'], 'displayName': 'Sales'}}},
        {'id': 'link-org', 'roles': ['read'], 'link': {'type': 'view', 'scope': 'organization'}},
        {'id': 'link-people', 'roles': ['write'], 'link': {'type': 'edit', 'scope': 'users'},
         'grantedToIdentitiesV2': [{'user': {'id': LEE['id'], 'displayName': 'Lee Gu', 'email': 'lee@contoso.com'}}],
         'expirationDateTime': '2026-12-31T23:59:59Z'},
        {'id': 'inv-guest', 'roles': ['read'], 'invitation': {'email': 'guest@fabrikam.com', 'signInRequired': True},
         'expirationDateTime': '0001-01-01T00:00:00Z'},
        user_permission('inh-lee', LEE, ['read'], inheritedFrom={}),
    ]


class FakeDrive(object):
    api_version = 'v1.0'

    def __init__(self, permissions=None, bumps=True, page_size=None):
        self.drives = {DRIVE: {}, SITE_DRIVE: {}}
        self.drive_of = {'/users/%s/drive' % MEGAN['id']: DRIVE, '/users/megan@contoso.com/drive': DRIVE,
                         '/sites/%s/drive' % SITE_ID: SITE_DRIVE, '/groups/%s/drive' % GROUP_ID: SITE_DRIVE}
        self.items = {}
        self.add_item(DRIVE, 'item-folder', 'Projects/Plan #2 100% ünïcode', permissions=standard_permissions())
        self.add_item(SITE_DRIVE, 'item-report', 'Finance/Q3 report.xlsx',
                      permissions=[user_permission('perm-adele-site', ADELE, ['write'])])
        self.bumps = bumps
        self.page_size = page_size
        self.concurrent_writer = 0
        self.concurrent_change = 'content'
        self.calls = []
        self.invite_answer = None  # a callable(entry) -> body, to script invite answers
        self.lose_answers = 0  # that many writes are applied, then answered 503 (their outcome unknown to the client)
        self.pending_listed = True
        self.invite_merge = 'replace'
        self.truncate_after = None
        self.new_guest = 'invited'
        self.precondition_code = 'resourceModified'

    def add_item(self, drive, item_id, path, permissions=()):
        self.items[item_id] = {'drive': drive, 'path': path, 'n': 1, 'c': 1, 'permissions': list(permissions)}

    # -- helpers ------------------------------------------------------------------------------------------------
    @property
    def writes(self):
        return [c for c in self.calls if c['method'] in ('POST', 'PATCH', 'DELETE')]

    def tags(self, item_id):
        item = self.items[item_id]
        return '"{%s},%d"' % (item_id, item['n']), '"c:{%s},%d"' % (item_id, item['c'])

    def permission(self, item_id, pid):
        return next((p for p in self.items[item_id]['permissions'] if p['id'] == pid), None)

    def _item_view(self, item_id):
        etag, ctag = self.tags(item_id)
        return {'id': item_id, 'name': self.items[item_id]['path'].split('/')[-1], 'eTag': etag, 'cTag': ctag}

    @staticmethod
    def _answer(status, body=None, method='GET', url=''):
        return GraphResponse(status, {'request-id': 'rid-fake'}, body, method=method, url=url)

    @staticmethod
    def _error(status, code, message, method, url):
        return FakeDrive._answer(status, {'error': {'code': code, 'message': message, 'innerError': {
            'request-id': 'rid-fake', 'date': '2026-01-01T00:00:00'}}}, method, url)

    # -- GraphClient interface ----------------------------------------------------------------------------------
    def get(self, path, params=None, headers=None):
        return self.request('GET', path, params=params, headers=headers).json or {}

    def get_all(self, path, params=None, headers=None):
        items, url = [], path
        while url:
            body = self.request('GET', url, params=params).json
            items.extend(body['value'])
            url, params = body.get('@odata.nextLink'), None
        return items

    def request(self, method, path, params=None, json=None, headers=None, raise_for_status=True, **_kwargs):
        self.calls.append({'method': method, 'path': path, 'params': params, 'body': copy.deepcopy(json),
                           'headers': dict(headers or {})})
        assert not re.search(r'[ #?]', path.split('?')[0]), 'a client never sends a raw space, # or ?: %s' % path
        response = self._route(method, path, json, dict(headers or {}))
        if raise_for_status:
            response.raise_for_status()
        return response

    def _route(self, method, path, body, headers):
        route = path.split('?')[0]
        if route in self.drive_of:
            return self._answer(200, {'id': self.drive_of[route]})
        if route.startswith('/users/') or route.startswith('/users('):
            key = unquote(route[len('/users/'):]).lower()
            user = next((u for u in USERS if key in (u['id'], u['userPrincipalName'].lower())), None)
            return self._answer(200, dict(user)) if user else self._error(
                404, 'Request_ResourceNotFound', "Resource '%s' does not exist" % key, method, path)
        found = re.match(r'^/drives/([^/]+)/root:/(.+):$', route)
        if found:
            wanted = '/'.join(unquote(s) for s in found.group(2).split('/')).lower()
            item_id = next((i for i, it in self.items.items() if it['drive'] == unquote(found.group(1))
                            and it['path'].lower() == wanted), None)
            if item_id is None:
                return self._error(404, 'itemNotFound', 'The resource could not be found.', method, path)
            return self._answer(200, self._item_view(item_id))
        found = re.match(r'^/drives/([^/]+)/items/([^/]+)(/permissions|/invite)?(?:/([^/]+))?$', route)
        if not found or found.group(2) not in self.items or self.items[found.group(2)]['drive'] != found.group(1):
            return self._error(404, 'itemNotFound', 'Item not found', method, path)
        item_id, what, pid = found.group(2), found.group(3), found.group(4)
        if what is None:
            return self._answer(200, self._item_view(item_id))
        if method == 'GET' and pid is not None:
            perm = self.permission(item_id, unquote(pid))
            return self._answer(200, copy.deepcopy(perm)) if perm else self._error(
                404, 'itemNotFound', 'Item not found', method, path)
        if method == 'GET':
            return self._list(item_id, path)
        return self._write(method, item_id, unquote(pid) if pid else None, body, headers, path)

    def _list(self, item_id, path):
        perms = [p for p in copy.deepcopy(self.items[item_id]['permissions'])
                 if self.pending_listed or not (p.get('invitation') and not p.get('grantedToV2'))][:self.truncate_after]
        start = int(path.split('skip=')[1]) if 'skip=' in path else 0
        size = self.page_size or len(perms) or 1
        body = {'value': perms[start:start + size]}
        if start + size < len(perms):
            body['@odata.nextLink'] = '/drives/%s/items/%s/permissions?skip=%d' % (
                self.items[item_id]['drive'], item_id, start + size)
        return self._answer(200, body)

    def _other_writer(self, item_id, method, pid, body):
        self.concurrent_writer -= 1
        item = self.items[item_id]
        if self.concurrent_change == 'content':
            item['c'] += 1
        elif self.concurrent_change == 'add_permission':
            item['permissions'].append(user_permission('perm-lee-other', LEE, ['read']))
        else:
            self._apply(item_id, method, pid, body)
        item['n'] += 1

    def _apply(self, item_id, method, pid, body):
        item = self.items[item_id]
        if method == 'PATCH':
            self.permission(item_id, pid)['roles'] = list(body['roles'])
            return self.permission(item_id, pid)
        if method == 'DELETE':
            item['permissions'] = [p for p in item['permissions'] if p['id'] != pid]
            return None
        email = body['recipients'][0]['email']
        user = next((u for u in USERS if email.lower() in (u['mail'].lower(), u['userPrincipalName'].lower())), None)
        new = user_permission('perm-new-' + email.split('@')[0].lower(), user, body['roles']) if user else {
            'id': 'inv-' + email.split('@')[0].lower(), 'roles': list(body['roles']),
            'invitation': {'email': email, 'signInRequired': True}}
        old = next((p for p in item['permissions'] if 'inheritedFrom' not in p and (
            (user and (p.get('grantedToV2') or {}).get('user', {}).get('id') == user['id'])
            or (p.get('invitation') or {}).get('email', '').lower() == email.lower())), None)
        if old is not None:  # the same grantee again: the same id, roles replaced or merged
            new['id'] = old['id']
            if self.invite_merge == 'union':
                new['roles'] = sorted(set(old['roles']) | set(body['roles']))
        item['permissions'] = [p for p in item['permissions'] if p['id'] != new['id']] + [new]
        return new

    def _write(self, method, item_id, pid, body, headers, path):
        if pid is not None and self.permission(item_id, pid) is None:
            return self._error(404, 'itemNotFound', 'Item not found', method, path)
        if method == 'POST' and self.new_guest == 'refused' and not any(
                body['recipients'][0]['email'].lower() in (u['mail'].lower(), u['userPrincipalName'].lower())
                for u in USERS):
            return self._error(403, 'accessDenied', 'Access denied', method, path)
        if self.concurrent_writer > 0:
            self._other_writer(item_id, method, pid, body)
        tag = headers.get('If-Match')
        if tag is not None and tag not in self.tags(item_id):
            return self._error(412, self.precondition_code, "ETag does not match current item's value", method, path)
        perm = self._apply(item_id, method, pid, body)
        if self.bumps:
            self.items[item_id]['n'] += 1
        if self.lose_answers > 0:
            self.lose_answers -= 1
            return self._error(503, 'serviceNotAvailable', 'Service unavailable', method, path)
        if method == 'DELETE':
            return self._answer(204, None, method, path)
        if method == 'PATCH':
            return self._answer(200, copy.deepcopy(perm), method, path)
        answer = {'value': [copy.deepcopy(perm)]}
        return self._answer(200, self.invite_answer(answer) if self.invite_answer else answer, method, path)
