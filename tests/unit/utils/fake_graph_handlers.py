# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fake Graph's resource handlers: what ``FakeGraph`` answers to each read and write once a request passed
the checks common to every endpoint (``fake_graph.py``)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import re
import uuid

from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph_rules import (
    CONSENT_TYPES,
    DUPLICATE_MESSAGE,
    GRANT_PROPS,
    GRANT_SELECTABLE,
    MAX_SCOPE_LENGTH,
    NOT_REPLICATED_MESSAGE,
    SCOPE_PROPERTY,
    SP_SELECTABLE,
    USER_SELECTABLE,
    grant_id_for,
    grant_key,
    is_grant_id_form,
    is_guid,
    parse_filter,
    parse_literal,
    same_id,
)


class GraphHandlers(object):
    """Mixed into ``FakeGraph``: GET of service principals, users and grants (with paging), POST/PATCH/DELETE of
    grants. Uses the fake's state and its ``_violate``/``_response``/``_error``."""

    # ------------------------------------------------------------------------------------------------ reads
    def _get(self, call):
        path, query, url = call.path, call.query, call.raw_url
        m = re.match(r'^/servicePrincipals(?:/([^/()]+)|\(appId=(.*)\))?(/oauth2PermissionGrants)?$', path)
        if m:
            sp = None
            if m.group(1) is not None or m.group(2) is not None:
                if m.group(1) is not None:
                    if not is_guid(m.group(1)):
                        self._violate("Invalid object identifier '%s' in %s" % (m.group(1), url))
                    sp = self.sps.get(m.group(1).lower())
                else:
                    try:
                        app_id, end = parse_literal(m.group(2))
                    except ValueError as exc:
                        self._violate('bad appId key literal in %s: %s' % (url, exc))
                    if end != len(m.group(2)):
                        self._violate('bad appId key literal in %s' % url)
                    sp = next((s for s in self.sps.values() if same_id(s['appId'], app_id)), None)
                if sp is None:
                    if self.alternate_key_miss_status == 400:
                        return self._error('GET', url, 400, 'Request_BadRequest',
                                           "Invalid object identifier '%s'." % (m.group(1) or m.group(2)))
                    return self._error('GET', url, 404, 'Request_ResourceNotFound',
                                       NOT_REPLICATED_MESSAGE.format(m.group(1) or m.group(2)))
                if m.group(3):
                    if '$filter' in query and self.navigation_filter == 'rejected':
                        return self._error('GET', url, 400, 'Request_UnsupportedQuery',
                                           'Unsupported Query.')
                    return self._list_grants(call, client=sp['id'])
                if '$filter' in query:
                    self._violate('$filter on a single entity: %s' % url)
                return self._response('GET', url, 200, self._sp_view(sp, query, url))
            if m.group(3):
                self._violate('bad path %s' % url)
            return self._list_sps(call)
        m = re.match(r'^/users(?:/([^/()]+)|\((.*)\))$', path)
        if m:
            return self._get_user(call, m)
        m = re.match(r'^/oauth2PermissionGrants(?:/([^/]+))?$', path)
        if m:
            if m.group(1) is None:
                return self._list_grants(call)
            self._check_grant_id(m.group(1))
            raw = self._visible_grants().get(m.group(1))
            if raw is None:
                return self._error('GET', url, 404, 'Request_ResourceNotFound',
                                   NOT_REPLICATED_MESSAGE.format(m.group(1)))
            entity = dict(raw, **{'@odata.context': '%s/$metadata#oauth2PermissionGrants/$entity' % self.base_url})
            return self._response('GET', url, 200, entity)
        self._violate('no such endpoint: GET %s' % url)

    def _check_grant_id(self, grant_id):
        if is_guid(grant_id):
            self._violate("Filter is invalid. id (a GUID used as a grant id: %s)" % grant_id)
        if not is_grant_id_form(grant_id):
            self._violate('not a grant id: %r' % grant_id)

    def _sp_view(self, sp, query, url):
        scopes_prop = SCOPE_PROPERTY[self.api_version]
        selectable = SP_SELECTABLE | {scopes_prop}
        fields = [f for f in query.get('$select', '').split(',') if f] or sorted(selectable)
        for field in fields:
            if field not in selectable:
                self._violate("Could not find a property named '%s' on type 'microsoft.graph.servicePrincipal' "
                              "(%s %s)" % (field, self.api_version, url))
        view = {'id': sp['id']}
        for field in fields:
            if field == 'appRoles':
                view[field] = [dict(r, allowedMemberTypes=list(r['allowedMemberTypes'])) for r in sp.get('appRoles', ())]
            else:
                view[field] = [dict(s) for s in sp['_scopes']] if field == scopes_prop else sp.get(field)
        return view

    def _list_sps(self, call):
        query, url = call.query, call.raw_url
        if '$skiptoken' in query:
            return self._list_grants(call)  # a later page (the page store serves every collection)
        if '$filter' not in query and not query.get('$select'):
            # Only the export lists every service principal, and only with the fields it needs.
            self._violate('listing every service principal without $select: %s' % url)
        try:
            clauses = parse_filter(query['$filter'], ('displayName', 'appId')) if '$filter' in query else []
        except ValueError as exc:
            self._violate('bad $filter in %s: %s' % (url, exc))
        items = [self._sp_view(s, query, url) for s in self.sps.values()
                 if all((s.get(p) == v if p == 'displayName' else same_id(s.get(p), v)) for p, v in clauses)]
        size = self.page_size or int(query.get('$top') or 100)
        return self._page(url, call.path, items, size)

    def _get_user(self, call, match):
        url = call.raw_url
        if match.group(1) is not None:
            key = match.group(1)
            if key.startswith('$'):
                self._violate("GET %s: a UPN starting with '$' must use the /users('...') form (Graph: 400)" % url)
        else:
            try:
                key, end = parse_literal(match.group(2))
            except ValueError as exc:
                self._violate('bad key literal in %s: %s' % (url, exc))
            if end != len(match.group(2)):
                self._violate('bad key literal in %s' % url)
        if '$filter' in call.query:
            self._violate('$filter on a single entity: %s' % url)
        user = self.users.get(key.lower()) if is_guid(key) else next(
            (u for u in self.users.values() if u['userPrincipalName'].lower() == key.lower()), None)
        if (call.via == 'batch' and self.batch_special_user_names == 'not_found' and not is_guid(key)
                and ('#' in key or key.startswith('$'))):
            user = None
        if user is None:
            return self._error('GET', url, 404, 'Request_ResourceNotFound', NOT_REPLICATED_MESSAGE.format(key))
        fields = [f for f in call.query.get('$select', '').split(',') if f] or sorted(USER_SELECTABLE)
        for field in fields:
            if field not in USER_SELECTABLE:
                self._violate("Could not find a property named '%s' on type 'microsoft.graph.user'" % field)
        view = {'id': user['id']}
        view.update((f, user.get(f)) for f in fields)
        return self._response('GET', url, 200, view)

    def _visible_grants(self):
        """The grants one read sees (and one read's worth of replication progress)."""
        visible = {}
        for gid, raw in self.grants.items():
            if self.hidden.get(gid, 0) > 0:
                continue
            visible[gid] = dict(raw)
        for gid, (raw, reads) in self.ghosts.items():
            if reads > 0 and gid not in visible:
                visible[gid] = dict(raw)
        for gid in list(self.hidden):
            self.hidden[gid] -= 1
            if self.hidden[gid] <= 0:
                del self.hidden[gid]
        for gid in list(self.ghosts):
            self.ghosts[gid][1] -= 1
            if self.ghosts[gid][1] <= 0:
                del self.ghosts[gid]
        return visible

    def _list_grants(self, call, client=None):
        query, url = call.query, call.raw_url
        if '$skiptoken' in query:
            token = query['$skiptoken']
            if token not in self._pages:
                self._violate('unknown $skiptoken in %s' % url)
            return self._page(url, *self._pages.pop(token))
        clauses = []
        if '$filter' in query:
            try:
                clauses = parse_filter(query['$filter'], GRANT_PROPS)
            except ValueError as exc:
                self._violate('bad $filter in %s: %s' % (url, exc))
        if client is not None and self.navigation_filter == 'ignored':
            clauses = []
        for prop, value in clauses:
            if prop == 'consentType' and value not in CONSENT_TYPES:
                self._violate("consentType eq '%s': the value is case-sensitive (docs/dev/graph-behaviour.md#grant-filters)" % value)
            if prop != 'consentType' and not is_guid(value):
                self._violate("%s eq '%s': not an object id" % (prop, value))
        for field in [f for f in query.get('$select', '').split(',') if f]:
            if field not in GRANT_SELECTABLE:
                self._violate('bad $select %s' % field)
        items = []
        for raw in self._visible_grants().values():
            if client is not None and not same_id(raw['clientId'], client):
                continue
            ok = True
            for prop, value in clauses:
                have = raw.get(prop)
                if prop == 'consentType':
                    ok = ok and have == value
                else:
                    ok = ok and same_id(have, value)
            if ok:
                items.append(raw)
        items.sort(key=lambda g: g['id'])
        if (client is None and self.client_filter_404 and not items
                and any(prop == 'clientId' for prop, _v in clauses)):
            return self._error('GET', url, 404, 'Request_ResourceNotFound', NOT_REPLICATED_MESSAGE.format(''))
        # $count=true counts only with ConsistencyLevel: eventual (else Graph ignores it).
        advanced = query.get('$count') == 'true' and call.headers.get('consistencylevel') == 'eventual'
        if '$count' in query and query['$count'] != 'true':
            self._violate('$count=%s in %s' % (query['$count'], url))
        count = len(items) + self.count_offset if advanced else None
        narrowed = client is None and any(prop == 'clientId' for prop, _v in clauses)
        if self.listing_completeness == 'advanced_only' and not advanced and not narrowed and items:
            items = items[:-1]  # the plain listing silently misses a grant
        size = self.page_size or int(query.get('$top') or 100)
        return self._page(url, call.path, items, size, count=count)

    def _page(self, url, path, items, size, empty_first=None, count=None):
        if empty_first is None:
            empty_first = self.empty_pages
        body = {'@odata.context': '%s/$metadata#oauth2PermissionGrants' % self.base_url}
        if count is not None:
            body['@odata.count'] = count
        if empty_first and items:
            # An empty page that still carries a nextLink (docs/dev/graph-behaviour.md#paging).
            page, rest, empty_next = [], items, False
        else:
            page, rest, empty_next = items[:size], items[size:], self.empty_pages
        body['value'] = page
        if rest:
            token = 'tok%d' % next(self._tokens)
            self._pages[token] = (path, rest, size, empty_next)
            body['@odata.nextLink'] = '%s%s?$skiptoken=%s' % (self.base_url, path, token)
        return self._response('GET', url, 200, body)

    # ----------------------------------------------------------------------------------------------- writes
    def _create(self, call, body):
        url = call.raw_url
        if not isinstance(body, dict):
            self._violate('POST without a JSON object body: %r' % (body,))
        allowed = set(GRANT_PROPS) | {'scope'}
        if self.api_version == 'beta':
            allowed |= {'startTime', 'expiryTime'}
            for name in ('startTime', 'expiryTime'):
                if not body.get(name):
                    self._violate('beta create without %s (beta requires it, docs/dev/graph-behaviour.md#beta)' % name)
        for name in body:
            if name == 'id':
                self._violate("Property 'id' is read-only and cannot be set.")
            if name not in allowed:
                self._violate('create with unexpected property %r on %s (%r)' % (name, self.api_version, body))
        for name in ('clientId', 'consentType', 'resourceId'):
            if not body.get(name):
                self._violate('Missing property: %s.' % name)
        if body['consentType'] not in CONSENT_TYPES:
            self._violate("Invalid value specified for property 'consentType': %r" % body['consentType'])
        if body['consentType'] == 'Principal' and not body.get('principalId'):
            self._violate("Invalid value specified for property 'principalId' (Principal without one)")
        if body['consentType'] == 'AllPrincipals' and body.get('principalId'):
            self._violate("Invalid value specified for property 'principalId' (AllPrincipals with one)")
        scope = body.get('scope')
        if not isinstance(scope, str) or not scope.strip():
            self._violate('create with an empty or null scope %r (the module must never send one)' % (scope,))
        if len(scope) > MAX_SCOPE_LENGTH:
            self._violate("Invalid value specified for property 'scope' (%d characters)" % len(scope))
        if scope != ' '.join(sorted(set(scope.split()))):
            self._violate('scope not written sorted and single-space joined: %r' % scope)
        for name in ('clientId', 'resourceId', 'principalId'):
            if body.get(name) is not None and not is_guid(body[name]):
                self._violate("Invalid object identifier '%s'." % body[name])
        # Referenced objects must exist (an appId is not an object id,
        # docs/dev/graph-behaviour.md#create-validation).
        for name, table in (('clientId', self.sps), ('resourceId', self.sps), ('principalId', self.users)):
            value = body.get(name)
            if value is not None and value.lower() not in table:
                return self._error('POST', url, 404, 'Request_ResourceNotFound', NOT_REPLICATED_MESSAGE.format(value))
        key = grant_key(body)
        existing = [g for g in self.grants.values() if grant_key(g) == key]
        if existing:
            self.duplicate_posts += 1
            if self.unique_keys:
                code = ('Request_MultipleObjectsWithSameKeyValue' if self.duplicate_status == 409
                        or self.duplicate_message == 'other' else 'Request_BadRequest')
                message = DUPLICATE_MESSAGE if self.duplicate_message == 'permission_entry' else (
                    'Another object with the same value for property clientId already exists.')
                return self._error('POST', url, self.duplicate_status, code, message)
            gid = base64.urlsafe_b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes).decode('ascii').rstrip('=')
        else:
            gid = grant_id_for(body['clientId'], body['resourceId'], body.get('principalId'))
        raw = {'id': gid, 'clientId': body['clientId'], 'consentType': body['consentType'],
               'principalId': body.get('principalId'), 'resourceId': body['resourceId'], 'scope': scope}
        if self.api_version == 'beta':
            raw['startTime'] = body['startTime']
            raw['expiryTime'] = body['expiryTime']
        self.grants[gid] = raw
        if self.lag_new_grants:
            self.hidden[gid] = self.lag_new_grants
        entity = dict(raw, **{'@odata.context': '%s/$metadata#oauth2PermissionGrants/$entity' % self.base_url})
        return self._response('POST', url, 201, entity)

    def _update(self, call, grant_id, body):
        url = call.raw_url
        if not isinstance(body, dict) or set(body) != {'scope'}:
            names = sorted(set(body or {}) - {'scope'}) or ['(no scope)']
            self._violate('Property cannot be updated: %s (PATCH %s %r)' % (', '.join(names), url, body))
        scope = body['scope']
        if not isinstance(scope, str) or not scope.strip():
            self._violate('PATCH to an empty or null scope %r (the module must delete instead)' % (scope,))
        if len(scope) > MAX_SCOPE_LENGTH:
            self._violate("Invalid value specified for property 'scope' (%d characters)" % len(scope))
        if scope != ' '.join(sorted(set(scope.split()))):
            self._violate('scope not written sorted and single-space joined: %r' % scope)
        raw = self.grants.get(grant_id)
        if raw is None:
            return self._error('PATCH', url, 404, 'Request_ResourceNotFound', NOT_REPLICATED_MESSAGE.format(grant_id))
        raw['scope'] = scope
        return self._response('PATCH', url, 204, None)

    def _delete(self, call, grant_id):
        url = call.raw_url
        raw = self.grants.pop(grant_id, None)
        if raw is None:
            return self._error('DELETE', url, 404, 'Request_ResourceNotFound', NOT_REPLICATED_MESSAGE.format(grant_id))
        self.hidden.pop(grant_id, None)
        if self.ghost_deleted_grants:
            self.ghosts[grant_id] = [raw, self.ghost_deleted_grants]
        return self._response('DELETE', url, 204, None)
