# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fake Graph's applications, app roles and app role assignments (mixed into ``FakeGraph``, ``fake_graph.py``).

What it answers follows docs/dev/graph-behaviour.md and the emulator (docs/dev/emulator.md):
- ``GET /applications/{id}``, ``GET /applications(appId='...')`` (404 when unknown), ``GET /applications?$filter=appId
  eq '...'`` (``[]`` when unknown);
- ``GET /servicePrincipals/{id}/appRoleAssignments`` (roles the SP holds) and ``.../appRoleAssignedTo`` (roles granted
  on the SP as a resource), paged like every collection of the fake; ``$filter=resourceId eq <guid>`` (unquoted; a
  quoted GUID, or a filter on ``appRoleId``/``principalId``, is answered 400 as Graph does);
- ``POST /servicePrincipals/{id}/appRoleAssignments`` and ``.../appRoleAssignedTo`` with exactly ``principalId``,
  ``resourceId``, ``appRoleId``: 404 for an unknown resource, 400 "Not a valid reference update." for an unknown
  principal, 400 "Permission being assigned was not found ..." for a role that is not published, disabled or not
  for applications, 400 "Permission being assigned already exists on the object" for a duplicate
  (``assignment_duplicate_message='entitlement'``: the "EntitlementGrant entry already exists" variant);
- ``DELETE .../appRoleAssignments/{id}`` and ``.../appRoleAssignedTo/{id}``: 204, or 404 when gone.
A PATCH of an assignment, a body with other properties, or a URL whose service principal is not the body's
principal (``appRoleAssignments``) or resource (``appRoleAssignedTo``) is a violation: the collection never sends one.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import re
import uuid

from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph_rules import (
    NOT_REPLICATED_MESSAGE,
    is_guid,
    parse_literal,
    same_id,
)

ASSIGNMENT_PROPS = ('principalId', 'resourceId', 'appRoleId')
APPLICATION_SELECTABLE = {'id', 'appId', 'displayName', 'signInAudience', 'requiredResourceAccess'}
DUPLICATE_ASSIGNMENT_MESSAGES = {
    'permission_exists': 'Permission being assigned already exists on the object',
    'entitlement': 'EntitlementGrant entry already exists.',
}
NOT_VALID_REFERENCE = 'Not a valid reference update.'
ROLE_NOT_FOUND = "Permission being assigned was not found on application '{0}'."

_SP_NAV = re.compile(r'^/servicePrincipals(?:/([^/()]+)|\(appId=([^/]*)\))/(appRoleAssignments|appRoleAssignedTo)'
                     r'(?:/([^/]+))?$')
_APPS = re.compile(r'^/applications(?:/([^/()]+)|\(appId=(.*)\))?$')


def app_role(resource_sp_id, value, member_types=('Application',), enabled=True):
    """An appRole as Graph publishes it; the id is derived from the resource and the value (stable across runs)."""
    return {'id': str(uuid.uuid5(uuid.NAMESPACE_URL, '%s/%s' % (resource_sp_id, value))), 'value': value,
            'displayName': value, 'description': value, 'allowedMemberTypes': list(member_types),
            'isEnabled': enabled, 'origin': 'Application'}


def assignment_id_for(principal_id, resource_id, app_role_id):
    """Opaque like Graph's: base64url of the principal's little-endian GUID bytes and 16 more bytes."""
    tail = uuid.uuid5(uuid.NAMESPACE_URL, '%s/%s' % (resource_id.lower(), app_role_id.lower()))
    raw = uuid.UUID(principal_id).bytes_le + tail.bytes_le
    return base64.urlsafe_b64encode(raw).decode('ascii').rstrip('=')


class AppRoleHandlers(object):
    """Uses the fake's state (``sps``, ``applications``, ``assignments``) and its ``_violate``/``_response``/``_error``/
    ``_page``."""

    # ------------------------------------------------------------------------------------------ tenant set-up
    def set_app_roles(self, sp_id, roles):
        """``roles``: appRole dicts (see :func:`app_role`); treated as immutable like the published scopes."""
        self.sps[sp_id]['appRoles'] = tuple(roles)

    def role_id(self, sp_id, value):
        return next(r['id'] for r in self.sps[sp_id].get('appRoles', ()) if r['value'] == value)

    def add_application(self, app_id, name, required_resource_access=(), object_id=None):
        object_id = object_id or str(uuid.uuid5(uuid.NAMESPACE_URL, 'application/' + app_id))
        self.applications[object_id] = {'id': object_id, 'appId': app_id, 'displayName': name,
                                        'signInAudience': 'AzureADMyOrg',
                                        'requiredResourceAccess': list(required_resource_access)}
        return object_id

    def add_assignment(self, principal_id, resource_id, app_role_id):
        aid = assignment_id_for(principal_id, resource_id, app_role_id)
        principal, resource = self.sps.get(principal_id.lower()), self.sps.get(resource_id.lower())
        self.assignments[aid] = {
            'id': aid, 'deletedDateTime': None, 'appRoleId': app_role_id, 'createdDateTime': '2026-01-01T00:00:00Z',
            'principalId': principal_id, 'principalType': 'ServicePrincipal',
            'principalDisplayName': principal and principal['displayName'], 'resourceId': resource_id,
            'resourceDisplayName': resource and resource['displayName']}
        return aid

    def assignments_for(self, principal_id=None, resource_id=None):
        return sorted((a for a in self.assignments.values()
                       if (principal_id is None or same_id(a['principalId'], principal_id))
                       and (resource_id is None or same_id(a['resourceId'], resource_id))), key=lambda a: a['id'])

    def held_roles(self, principal_id, resource_id):
        """The values of the roles ``principal_id`` holds on ``resource_id`` (sorted; ids the resource no longer
        publishes as they are)."""
        by_id = dict((r['id'], r['value']) for r in self.sps[resource_id.lower()].get('appRoles', ()))
        return sorted(by_id.get(a['appRoleId'], a['appRoleId']) for a in self.assignments_for(principal_id, resource_id))

    # ------------------------------------------------------------------------------------------------ reads
    def _get_app_role_routes(self, call):
        """The answer to a GET this mixin serves, or None when the path is not one of its routes."""
        if _SP_NAV.match(call.path):
            return self._list_assignments(call)
        if _APPS.match(call.path):
            return self._get_applications(call)
        return None

    def _list_assignments(self, call):
        query, url = call.query, call.raw_url
        sp_id, app_key, nav, item = _SP_NAV.match(call.path).groups()
        if '$skiptoken' in query:
            return self._list_grants(call)  # a later page (the page store serves every collection)
        if item is not None:
            self._violate('GET of one assignment is not used: %s' % url)
        sp_id = self._nav_sp_id(sp_id, app_key, url)
        if sp_id is None:
            return self._error('GET', url, 404, 'Request_ResourceNotFound', NOT_REPLICATED_MESSAGE.format(
                _SP_NAV.match(call.path).group(1) or app_key))
        resource_filter = None
        if '$filter' in query:
            match = re.match(r'^resourceId eq (.+)$', query['$filter'])
            if not match or not is_guid(match.group(1)):
                text = query['$filter']
                prop = text.split(' ', 1)[0]
                return self._error('GET', url, 400, 'Request_BadRequest', 'Invalid filter clause %s' % (
                    '%s: System.Guid' % prop if prop in ('appRoleId', 'principalId') else text))
            resource_filter = match.group(1)
        for field in [f for f in query.get('$select', '').split(',') if f]:
            if field not in set(ASSIGNMENT_PROPS) | {'id', 'principalType', 'principalDisplayName',
                                                      'resourceDisplayName', 'createdDateTime', 'deletedDateTime'}:
                self._violate('bad $select %s in %s' % (field, url))
        if nav == 'appRoleAssignments':
            items = self.assignments_for(principal_id=sp_id, resource_id=resource_filter)
        else:
            items = [a for a in self.assignments_for(resource_id=sp_id)
                     if resource_filter is None or same_id(a['resourceId'], resource_filter)]
        items = [dict(a) for a in items]
        size = self.page_size or int(query.get('$top') or 100)
        return self._page(url, call.path, items, size)

    def _nav_sp_id(self, sp_id, app_key, url):
        """The object id of the service principal a navigation path names (by object id or appId), or None."""
        if sp_id is not None:
            if not is_guid(sp_id):
                self._violate("Invalid object identifier '%s' in %s" % (sp_id, url))
            return sp_id if sp_id.lower() in self.sps else None
        try:
            app_id, end = parse_literal(app_key)
        except ValueError as exc:
            self._violate('bad appId key literal in %s: %s' % (url, exc))
        sp = next((s for s in self.sps.values() if same_id(s['appId'], app_id)), None)
        return sp and sp['id']

    def _get_applications(self, call):
        query, url = call.query, call.raw_url
        object_id, key = _APPS.match(call.path).groups()
        fields = [f for f in query.get('$select', '').split(',') if f] or sorted(APPLICATION_SELECTABLE)
        for field in fields:
            if field not in APPLICATION_SELECTABLE:
                self._violate("Could not find a property named '%s' on type 'microsoft.graph.application'" % field)

        def view(app):
            out = {'id': app['id']}
            out.update((f, app.get(f)) for f in fields)
            return out
        if object_id is None and key is None:
            match = re.match(r"^appId eq (.+)$", query.get('$filter', ''))
            if not match:
                self._violate('listing applications needs $filter=appId eq: %s' % url)
            try:
                app_id, end = parse_literal(match.group(1))
            except ValueError as exc:
                self._violate('bad $filter in %s: %s' % (url, exc))
            items = [view(a) for a in self.applications.values() if same_id(a['appId'], app_id)]
            return self._page(url, call.path, items, self.page_size or 100)
        if '$filter' in query:
            self._violate('$filter on a single entity: %s' % url)
        if object_id is not None:
            app = self.applications.get(object_id.lower()) if is_guid(object_id) else None
        else:
            try:
                app_id, end = parse_literal(key)
            except ValueError as exc:
                self._violate('bad appId key literal in %s: %s' % (url, exc))
            app = next((a for a in self.applications.values() if same_id(a['appId'], app_id)), None)
        if app is None:
            return self._error('GET', url, 404, 'Request_ResourceNotFound', NOT_REPLICATED_MESSAGE.format(
                object_id or key))
        return self._response('GET', url, 200, view(app))

    # ----------------------------------------------------------------------------------------------- writes
    def _app_role_write(self, call, body):
        """The answer to a write of an assignment, or None when the path is not an assignment path."""
        match = _SP_NAV.match(call.path)
        if not match:
            return None
        sp_id, app_key, nav, item = match.groups()
        url = call.raw_url
        if app_key is not None:
            self._violate('writes address the service principal by object id: %s %s' % (call.method, url))
        if not is_guid(sp_id):
            self._violate("Invalid object identifier '%s' in %s" % (sp_id, url))
        if call.method == 'PATCH':
            self._violate('an app role assignment cannot be updated (delete and create): PATCH %s' % url)
        if call.method == 'DELETE':
            if item is None or body is not None:
                self._violate('DELETE needs an assignment id and no body: %s' % url)
            raw = self.assignments.get(item)
            owner = 'principalId' if nav == 'appRoleAssignments' else 'resourceId'
            if raw is None or not same_id(raw[owner], sp_id):
                return self._error('DELETE', url, 404, 'Request_ResourceNotFound', NOT_REPLICATED_MESSAGE.format(item))
            del self.assignments[item]
            return self._response('DELETE', url, 204, None)
        if item is not None:
            self._violate('POST to %s (create posts to the collection)' % url)
        return self._create_assignment(call, body, sp_id, nav)

    def _create_assignment(self, call, body, sp_id, nav):
        url = call.raw_url
        if not isinstance(body, dict) or set(body) != set(ASSIGNMENT_PROPS):
            self._violate('an assignment is created with exactly %s, got %r' % (', '.join(ASSIGNMENT_PROPS), body))
        for name in ASSIGNMENT_PROPS:
            if not is_guid(body[name]):
                self._violate("Invalid value for property '%s': %r" % (name, body[name]))
        owner = 'principalId' if nav == 'appRoleAssignments' else 'resourceId'
        if not same_id(body[owner], sp_id):
            self._violate('the URL names %s but the body has %s %s (Graph: 400 Not a valid reference update.)'
                          % (sp_id, owner, body[owner]))
        resource = self.sps.get(body['resourceId'].lower())
        if resource is None:
            return self._error('POST', url, 404, 'Request_ResourceNotFound',
                               NOT_REPLICATED_MESSAGE.format(body['resourceId']))
        if body['principalId'].lower() not in self.sps:
            return self._error('POST', url, 400, 'Request_BadRequest', NOT_VALID_REFERENCE)
        role = next((r for r in resource.get('appRoles', ()) if same_id(r['id'], body['appRoleId'])), None)
        if role is None or not role['isEnabled'] or 'Application' not in role['allowedMemberTypes']:
            return self._error('POST', url, 400, 'Request_BadRequest', ROLE_NOT_FOUND.format(resource['appId']))
        aid = assignment_id_for(body['principalId'], body['resourceId'], body['appRoleId'])
        if aid in self.assignments:
            self.duplicate_posts += 1
            return self._error('POST', url, 400, 'Request_BadRequest',
                               DUPLICATE_ASSIGNMENT_MESSAGES[self.assignment_duplicate_message])
        self.add_assignment(body['principalId'], body['resourceId'], body['appRoleId'])
        entity = dict(self.assignments[aid], **{'@odata.context': '%s/$metadata#servicePrincipals(\'%s\')/%s/$entity'
                                                % (self.base_url, sp_id, nav)})
        return self._response('POST', url, 201, entity)
