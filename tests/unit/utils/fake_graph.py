# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""A strict, in-memory fake of the Microsoft Graph endpoints the grant code uses, with programmable faults.

``FakeGraph`` has the interface of ``GraphClient`` (``request``, ``get``, ``get_all``, ``post``, ``patch``,
``delete``, ``batch``) and holds service principals, users and grants. Every request is recorded (``calls``) and
checked against what the real service accepts (docs/dev/graph-behaviour.md): a request Graph would reject, or
one the collection promised never to send (a PATCH of anything but ``scope``, a write through a navigation path, a
beta create without ``startTime``/``expiryTime`` or a v1.0 create with them, an empty scope, a GUID used as a grant
id, a malformed OData literal, an unencoded ``#``, ``$top`` > 999, ...) raises ``GraphViolation``. It derives from
BaseException, so no ``except Exception`` in the code under test (or in a module's ``failing_cleanly``) can swallow
it, and it is also kept in ``violations``, which the fixtures check after every test.

Faults (see ``add_fault``) and consistency knobs:
- ``hide(grant_id, reads)``: the grant is invisible to the next ``reads`` grant reads (replication lag);
  ``lag_new_grants``: every grant created by POST is hidden that way;
- ``ghost_deleted_grants``: a deleted grant stays visible to that many further grant reads;
- ``duplicate_status``: 409 (default) or 400 for "Permission entry already exists.";
- ``client_filter_404``: a ``clientId`` filter matching nothing answers 404 (as Graph did,
  docs/dev/graph-behaviour.md#grant-filters);
- ``page_size`` / ``empty_pages``: paging with ``@odata.nextLink`` (and empty pages carrying one), for every collection
  (grants, navigations, service principals by filter);

Readings of Graph where Microsoft's sources are silent or disagree (docs/dev/graph-behaviour.md), same names as the
emulator's knobs:
- ``navigation_filter``: ``honoured`` (default), ``ignored`` (every grant of the client comes back) or ``rejected``
  (400 Request_UnsupportedQuery) for ``$filter`` on ``/servicePrincipals/{id|(appId=...)}/oauth2PermissionGrants``;
- ``listing_completeness``: ``complete`` or ``advanced_only`` (a grant listing without a clientId filter omits the
  last grant unless sent with ``ConsistencyLevel: eventual`` and ``$count=true``); ``count_offset`` is added to the
  ``@odata.count`` of advanced listings; ``$count=true`` without the header is ignored, as Graph does;
- ``batch_special_user_names``: ``supported`` or ``not_found`` (a guest ``#EXT#`` or ``$`` UPN inside ``$batch``
  answers 404; a plain GET finds it);
- ``duplicate_message``: ``permission_entry`` or ``other`` (the code stays Request_MultipleObjectsWithSameKeyValue);
- ``alternate_key_miss_status``: 404 or 400 for ``/servicePrincipals/{id}`` or ``(appId='...')`` naming nothing;
- replication lag on writes: ``add_fault('PATCH'|'DELETE', path, 'status', status=404)`` (nothing applied);
- ``max_calls``: more requests than this (2000) is a violation, so an unbounded retry loop fails fast;
- ``lose_batch_answers``: that many ``$batch`` requests holding writes are applied, then answered with an
  ambiguous GraphError whose ``partial_results`` are all None (the envelope's answer was lost);
- ``unique_keys=False``: a lenient replica that does not reject a second grant for a key, so that tests can see
  what the code would do without Graph's uniqueness check (``assert_unique_keys`` then catches duplicates).

The resource handlers live in ``fake_graph_handlers.py``, the Graph rules (ids, literals, filters) in
``fake_graph_rules.py``; the pytest fixtures (``fakes``, ``graph``, ``sleeper``) in ``tests/unit/plugins/conftest.py``.
Test files import the tenant's ids and the helpers from here.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import itertools
import re

from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import (
    GraphResponse,
    encode_query,
    error_from_response,
)
from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph_app_roles import AppRoleHandlers, app_role
from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph_handlers import GraphHandlers
from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph_rules import (
    BASE,
    NOT_REPLICATED_MESSAGE,
    WRITE_METHODS,
    Call,
    Fault,
    GraphViolation,
    error_body,
    grant_id_for,
    grant_key,
    same_id,
)

# ----------------------------------------------------------------------------------------------- the fake tenant
CLIENT_ID = '263a5b01-03e5-408e-8557-bab681df104c'      # Contoso HR Portal
CLIENT_APP = '9a3c54c7-0c1b-4c5e-9a0e-8f1e2f1a0b11'
CLIENT2_ID = 'b7dc5c41-6867-4416-ad5d-14a887f1c665'     # Contoso Payroll
CLIENT2_APP = '5f1e6a2b-7c3d-4e8f-9a0b-1c2d3e4f5a6b'
RESOURCE_ID = '1804a6f8-e623-4520-8f40-ba1b0c11c42d'    # Microsoft Graph
RESOURCE_APP = '00000003-0000-0000-c000-000000000000'
RESOURCE2_ID = '7e9aa944-6e4c-4d4a-95a5-6a7f0b2c3d4e'   # Contoso Orders API
RESOURCE2_APP = 'c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f'
TWIN_A_ID = '11111111-aaaa-4aaa-8aaa-111111111111'      # "Twin App" (twice)
TWIN_A_APP = '11111111-bbbb-4bbb-8bbb-111111111111'
TWIN_B_ID = '22222222-aaaa-4aaa-8aaa-222222222222'
TWIN_B_APP = '22222222-bbbb-4bbb-8bbb-222222222222'
QUOTE_SP_ID = '33333333-aaaa-4aaa-8aaa-333333333333'    # "O'Brien's App"
QUOTE_SP_APP = '33333333-bbbb-4bbb-8bbb-333333333333'
QUOTE_SP_NAME = "O'Brien's App"
ODD_SP_ID = '44444444-aaaa-4aaa-8aaa-444444444444'      # "R&D #1 / Tools"
ODD_SP_APP = '44444444-bbbb-4bbb-8bbb-444444444444'
ODD_SP_NAME = 'R&D #1 / Tools'

ADELE_ID = '3a1b7e5c-1111-4a2b-9c3d-5e6f7a8b9c0d'
ADELE_UPN = 'adele.vance@contoso.com'
GUEST_ID = '4b2c8f6d-2222-4b3c-8d4e-6f7a8b9c0d1e'
GUEST_UPN = 'adele_fabrikam.com#EXT#@contoso.onmicrosoft.com'
DOLLAR_ID = '5c3d907e-3333-4c4d-9e5f-7a8b9c0d1e2f'
DOLLAR_UPN = '$svc@contoso.com'
ONEIL_ID = '6d4e0a8f-4444-4d5e-8f6a-8b9c0d1e2f3a'
ONEIL_UPN = "o'neil@contoso.com"
DOLLAR_QUOTE_ID = '7e5f1b9a-5555-4e6f-9a7b-9c0d1e2f3a4b'
DOLLAR_QUOTE_UPN = "$o'hara@contoso.com"

GRAPH_SCOPES = ['openid', 'profile', 'offline_access', 'User.Read', 'Mail.Read', 'Mail.Send', 'Files.Read',
                'Calendars.Read', 'Directory.Read.All']
DISABLED_SCOPE = 'Legacy.Scope'
ORDERS_SCOPES = ['Orders.Read', 'Orders.Write']
# Application permissions (appRoles for applications), a role only users can hold and a disabled one.
GRAPH_APP_ROLES = ['Application.Read.All', 'Directory.Read.All', 'Group.Read.All', 'Mail.Send', 'User.Read.All']
GRAPH_USER_ROLE = 'Survey.Participate'
GRAPH_DISABLED_ROLE = 'Legacy.Role'
ORDERS_APP_ROLES = ['Orders.Read.All', 'Orders.Write.All']
ORDERS_USER_ROLE = 'Orders.Approver'


class FakeGraph(GraphHandlers, AppRoleHandlers):
    """In-memory, strict stand-in for GraphClient (see the module docstring)."""

    def __init__(self, api_version='v1.0'):
        self.api_version = api_version
        self.base_url = '%s/%s' % (BASE, api_version)
        self.sps = {}
        self.users = {}
        self.grants = {}
        self.applications = {}     # app registrations and app role assignments: fake_graph_app_roles.py
        self.assignments = {}
        self.assignment_duplicate_message = 'permission_exists'
        self.calls = []
        self.batches = []          # sizes of the $batch calls, in order
        self.batch_requests = []   # every $batch item as the code under test built it (retry_throttled included)
        self.violations = []
        self.faults = []
        self.hidden = {}           # grant id -> grant reads during which it is still invisible
        self.ghosts = {}           # grant id -> [raw, grant reads during which it is still visible after delete]
        self.lag_new_grants = 0
        self.ghost_deleted_grants = 0
        self.duplicate_status = 409
        self.client_filter_404 = False
        self.page_size = None
        self.empty_pages = False
        self.navigation_filter = 'honoured'
        self.listing_completeness = 'complete'
        self.count_offset = 0
        self.batch_special_user_names = 'supported'
        self.duplicate_message = 'permission_entry'
        self.alternate_key_miss_status = 404
        self.unique_keys = True
        self.max_calls = 2000
        self.duplicate_posts = 0   # POSTs that named a key which already had a grant
        self.retry_flags = []      # (method, retry_throttled) of every direct PATCH/DELETE
        self.lose_batch_answers = 0  # this many $batch requests holding writes are applied, then their answer is lost
        self.throttle_waits = []   # Retry-After of every 429 the code under test waited for before re-planning
        self.wait_budget = None    # seconds of replication waits the run's retry budget still allows (None: no limit)
        self._pages = {}
        self._tokens = itertools.count(1)
        self._request_ids = itertools.count(1)

    # ------------------------------------------------------------------------------------------ tenant set-up
    def add_sp(self, sp_id, app_id, name, scopes=(), disabled=()):
        # Treated as immutable: copies of the tenant share these lists.
        entries = [(s, True) for s in scopes] + [(s, False) for s in disabled]
        published = tuple({'id': '%s%04d' % (sp_id[:-4], n), 'value': s, 'type': 'User', 'isEnabled': enabled}
                          for n, (s, enabled) in enumerate(entries))
        self.sps[sp_id] = {'id': sp_id, 'appId': app_id, 'displayName': name, 'appDisplayName': name,
                           'servicePrincipalType': 'Application', 'accountEnabled': True, '_scopes': published}
        return sp_id

    def add_user(self, user_id, upn, name=None):
        self.users[user_id] = {'id': user_id, 'userPrincipalName': upn, 'displayName': name or upn.split('@')[0],
                               'mail': None}
        return user_id

    def add_grant(self, client_id, resource_id, scope, principal_id=None, consent_type=None, grant_id=None):
        """Put a grant into the tenant (``scope`` as Graph stores it: a string, stray whitespace allowed)."""
        consent_type = consent_type or ('Principal' if principal_id else 'AllPrincipals')
        gid = grant_id or grant_id_for(client_id, resource_id, principal_id)
        self.grants[gid] = {'id': gid, 'clientId': client_id, 'consentType': consent_type,
                            'principalId': principal_id, 'resourceId': resource_id, 'scope': scope}
        return gid

    def hide(self, grant_id, reads):
        self.hidden[grant_id] = reads

    def add_fault(self, method, path, kind, times=1, status=None, code=None, message=None, hook=None):
        fault = Fault(method, path, kind, times=times, status=status, code=code, message=message, hook=hook)
        self.faults.append(fault)
        return fault

    def vanish_before(self, method, grant_id):
        """Another writer deletes the grant just before our next ``method`` on it reaches Graph."""
        def delete_it(graph, call):
            graph.grants.pop(grant_id, None)
        return self.add_fault(method, '^/oauth2PermissionGrants/' + re.escape(grant_id) + '$', 'hook', hook=delete_it)

    def clone(self):
        """A fake with the same tenant (objects and grants), no calls and no faults."""
        other = FakeGraph(self.api_version)
        other.sps = dict((k, dict(v)) for k, v in self.sps.items())
        other.users = dict((k, dict(v)) for k, v in self.users.items())
        other.grants = dict((k, dict(v)) for k, v in self.grants.items())
        other.applications = dict((k, dict(v)) for k, v in self.applications.items())
        other.assignments = dict((k, dict(v)) for k, v in self.assignments.items())
        return other

    # --------------------------------------------------------------------------------------------- inspection
    @property
    def writes(self):
        return [c for c in self.calls if c.is_write]

    def calls_of(self, method, path=None):
        return [c for c in self.calls if c.method == method and (path is None or re.search(path, c.path))]

    @property
    def round_trips(self):
        """HTTP requests a real client would send: direct calls, plus one per 20 items of each $batch."""
        direct = len([c for c in self.calls if c.via == 'request'])
        return direct + sum((size + 19) // 20 for size in self.batches)

    def grants_for(self, client_id=None, resource_id=None, principal_id=None, consent_type=None):
        out = []
        for raw in self.grants.values():
            if client_id and not same_id(raw['clientId'], client_id):
                continue
            if resource_id and not same_id(raw['resourceId'], resource_id):
                continue
            if principal_id and not same_id(raw.get('principalId'), principal_id):
                continue
            if consent_type and raw['consentType'] != consent_type:
                continue
            out.append(raw)
        return out

    def assert_unique_keys(self):
        keys = [grant_key(g) for g in self.grants.values()]
        dupes = sorted(set(k for k in keys if keys.count(k) > 1))
        assert not dupes, 'more than one grant for the key(s) %s: %r' % (dupes, list(self.grants.values()))

    def check(self):
        assert not self.violations, 'requests real Graph would reject: %s' % '; '.join(self.violations)
        self.assert_unique_keys()

    # ------------------------------------------------------------------------------------- GraphClient API
    def request(self, method, path, params=None, json=None, headers=None, raise_for_status=True):
        method = method.upper()
        response = self._perform(method, self._relative(path, params), json, via='request', headers=headers)
        if raise_for_status and not response.ok:
            raise error_from_response(response)
        return response

    def get(self, path, params=None, headers=None):
        return self.request('GET', path, params=params, headers=headers).json or {}

    def get_all(self, path, params=None, headers=None, max_pages=100000):
        items = []
        url = self._relative(path, params)
        pages = 0
        while url:
            pages += 1
            if pages > 1000:
                self._violate('get_all followed more than 1000 pages (a nextLink loop?)')
            response = self._perform('GET', url, None, via='request', headers=headers)
            if not response.ok:
                raise error_from_response(response)
            body = response.json or {}
            items.extend(body.get('value') or [])
            next_link = body.get('@odata.nextLink')
            url = self._relative(next_link) if next_link else None
        return items

    def post(self, path, body, headers=None):
        return self.request('POST', path, json=body, headers=headers).json or {}

    def patch(self, path, body, headers=None, retry_throttled=True):
        self.retry_flags.append(('PATCH', retry_throttled))
        self.request('PATCH', path, json=body, headers=headers)

    def delete(self, path, headers=None, retry_throttled=True):
        self.retry_flags.append(('DELETE', retry_throttled))
        self.request('DELETE', path, headers=headers)

    def reserve_wait(self, delay):
        """GraphClient charges the caller's replication waits to the run's retry budget; ``wait_budget`` (None:
        unbounded) stands for what is left of it."""
        if self.wait_budget is not None:
            if delay > self.wait_budget:
                return False
            self.wait_budget -= delay
        return True

    def wait_before_retry(self, err):
        """GraphClient waits Retry-After here (within the run's budget); the fake only records the request to wait."""
        self.throttle_waits.append(err.retry_after)
        if len(self.throttle_waits) > 50:
            self._violate('more than 50 waits after a 429: a re-plan loop that does not end?')

    def batch(self, requests_):
        index = len(self.batches)
        self.batches.append(len(requests_))
        self.batch_requests.extend(requests_)
        responses = []
        for number, req in enumerate(requests_):
            if not isinstance(req, dict) or not req.get('method') or not req.get('url'):
                self._violate('batch request #%d needs "method" and "url": %r' % (number, req))
            method = str(req['method']).upper()
            if req.get('body') is not None and method not in WRITE_METHODS:
                self._violate('batch request #%d: a body on %s' % (number, method))
            url = self._relative(str(req['url']), req.get('params'))
            responses.append(self._perform(method, url, req.get('body'), via='batch', batch=index, headers=req.get('headers')))
        if self.lose_batch_answers and any(str(req['method']).upper() in WRITE_METHODS for req in requests_):
            # Graph applied every item, but the answer to the $batch was lost (as GraphClient.batch reports it).
            self.lose_batch_answers -= 1
            err = GraphError('timed out waiting for the response', method='POST', url=self.base_url + '/$batch',
                             ambiguous=True)
            err.partial_results = [None] * len(responses)
            raise err
        return responses

    # ------------------------------------------------------------------------------------------- machinery
    def _violate(self, text):
        self.violations.append(text)
        raise GraphViolation(text)

    def _relative(self, path, params=None):
        if re.match(r'(?i)^https?://', path):
            if not path.startswith(self.base_url + '/'):
                self._violate('absolute URL outside %s: %s' % (self.base_url, path))
            path = path[len(self.base_url):]
        elif not path.startswith('/'):
            path = '/' + path
        if re.match(r'^/(v1\.0|beta)/', path):
            self._violate('path must be relative to the version root, got %s' % path)
        query = encode_query(params)
        if query:
            path += ('&' if '?' in path else '?') + query
        return path

    def _response(self, method, url, status, body=None):
        headers = {'request-id': 'req-%d' % next(self._request_ids)}
        return GraphResponse(status, headers=headers, json=body, method=method, url=self.base_url + url)

    def _error(self, method, url, status, code, message):
        return self._response(method, url, status, error_body(code, message))

    def _perform(self, method, url, body, via, batch=None, headers=None):
        call = Call(method, url, body, via, batch, headers)
        self.calls.append(call)
        if len(self.calls) > self.max_calls:
            self._violate('more than %d requests: a retry loop that does not end?' % self.max_calls)
        for bad in ('#', ' ', '\t', '\n'):
            if bad in url:
                self._violate('unencoded %r in the URL %s' % (bad, url))
        fault = next((f for f in self.faults if f.matches(method, call.path)), None)
        if fault is not None:
            fault.times -= 1
            fault.used += 1
            if fault.kind == 'not_replicated':
                status = fault.status or 404
                code = 'Request_ResourceNotFound' if status == 404 else 'Request_BadRequest'
                return self._error(method, url, status, code, NOT_REPLICATED_MESSAGE.format((body or {}).get(
                    'clientId', '')))
            if fault.kind == 'hook':
                answer = fault.hook(self, call)
                return answer if answer is not None else self._dispatch(method, call, body)
            if fault.kind == 'status':
                return self._error(method, url, fault.status, fault.code or 'Request_BadRequest',
                                   fault.message or 'programmed failure')
            if fault.kind in ('ambiguous_before', 'ambiguous_after', 'applied_then_status'):
                if fault.kind != 'ambiguous_before':
                    applied = self._dispatch(method, call, body)
                    if not applied.ok:
                        return applied  # nothing was applied: the real answer stands
                if fault.kind == 'applied_then_status':
                    return self._error(method, url, fault.status or 404, fault.code or 'Request_ResourceNotFound',
                                       fault.message or NOT_REPLICATED_MESSAGE.format((body or {}).get('clientId')))
                if via == 'batch':
                    return self._error(method, url, 504, 'UnknownError', 'Gateway Timeout')
                raise GraphError('timed out waiting for the response', method=method, url=self.base_url + url,
                                 ambiguous=True)
            raise AssertionError('unknown fault kind %r' % fault.kind)
        return self._dispatch(method, call, body)

    def _dispatch(self, method, call, body):
        path, query, url = call.path, call.query, call.raw_url
        for name in query:
            if not name.startswith('$'):
                self._violate('unknown query option %r in %s' % (name, url))
            if name not in ('$filter', '$select', '$top', '$skiptoken', '$count'):
                self._violate('query option %s is not used with these endpoints: %s' % (name, url))
        if '$top' in query:
            try:
                top = int(query['$top'])
            except ValueError:
                top = 0
            if not 1 <= top <= 999:
                self._violate("Invalid page size specified: '%s'. Must be between 1 and 999 inclusive." % query['$top'])
        if method in WRITE_METHODS and call.raw_query:
            self._violate('a write with a query string: %s %s' % (method, url))
        if method != 'GET' and method not in WRITE_METHODS:
            self._violate('unexpected method %s' % method)

        if method == 'GET':
            return self._get_app_role_routes(call) or self._get(call)
        answer = self._app_role_write(call, body)
        if answer is not None:
            return answer
        grant_match = re.match(r'^/oauth2PermissionGrants(?:/([^/]+))?$', path, re.I)
        if not grant_match or not path.startswith('/oauth2PermissionGrants'):
            # Navigation paths (/servicePrincipals/x/oauth2PermissionGrants/...) are read-only (docs/dev/graph-behaviour.md#navigation-read-only).
            self._violate('Write requests are only supported on contained entities or navigation properties with '
                          'bindings: %s %s' % (method, url))
        grant_id = grant_match.group(1)
        if method == 'POST':
            if grant_id is not None:
                self._violate('POST to %s (create posts to /oauth2PermissionGrants)' % url)
            return self._create(call, body)
        if grant_id is None:
            self._violate('%s on the collection %s' % (method, url))
        self._check_grant_id(grant_id)
        if method == 'PATCH':
            return self._update(call, grant_id, body)
        if body is not None:
            self._violate('DELETE with a body: %r' % (body,))
        return self._delete(call, grant_id)


_TEMPLATE = []


def another_writer(scope_they_write, ours='applied'):
    """A hook for our write on a grant, with another run writing ``scope_they_write`` (from a read older than ours):
    ``ours='applied'``: our write lands, then theirs overwrites it; ``'throttled'``: theirs lands and ours is answered
    429 (not applied)."""
    def hook(graph, call):
        grant_id = call.path.rsplit('/', 1)[-1]
        if ours == 'throttled':
            graph.grants[grant_id]['scope'] = scope_they_write
            return graph._error(call.method, call.raw_url, 429, 'TooManyRequests', 'Too many requests')
        answer = graph._dispatch(call.method, call, call.body)
        graph.grants[grant_id]['scope'] = scope_they_write
        return answer
    return hook


def standard_tenant(api_version='v1.0'):
    if not _TEMPLATE:
        _TEMPLATE.append(_build_standard_tenant())
    graph = _TEMPLATE[0].clone()
    graph.api_version = api_version
    graph.base_url = '%s/%s' % (BASE, api_version)
    return graph


def _build_standard_tenant(api_version='v1.0'):
    graph = FakeGraph(api_version)
    graph.add_sp(CLIENT_ID, CLIENT_APP, 'Contoso HR Portal')
    graph.add_sp(CLIENT2_ID, CLIENT2_APP, 'Contoso Payroll')
    graph.add_sp(RESOURCE_ID, RESOURCE_APP, 'Microsoft Graph', GRAPH_SCOPES, [DISABLED_SCOPE])
    graph.add_sp(RESOURCE2_ID, RESOURCE2_APP, 'Contoso Orders API', ORDERS_SCOPES)
    graph.add_sp(TWIN_A_ID, TWIN_A_APP, 'Twin App')
    graph.add_sp(TWIN_B_ID, TWIN_B_APP, 'Twin App')
    graph.add_sp(QUOTE_SP_ID, QUOTE_SP_APP, QUOTE_SP_NAME, ['Read'])
    graph.add_sp(ODD_SP_ID, ODD_SP_APP, ODD_SP_NAME, ['Read'])
    graph.add_user(ADELE_ID, ADELE_UPN, 'Adele Vance')
    graph.add_user(GUEST_ID, GUEST_UPN, 'Adele (Fabrikam)')
    graph.add_user(DOLLAR_ID, DOLLAR_UPN, 'Service account')
    graph.add_user(ONEIL_ID, ONEIL_UPN, "Pat O'Neil")
    graph.add_user(DOLLAR_QUOTE_ID, DOLLAR_QUOTE_UPN, "Sam O'Hara")
    graph.set_app_roles(RESOURCE_ID, [app_role(RESOURCE_ID, v) for v in GRAPH_APP_ROLES] + [
        app_role(RESOURCE_ID, GRAPH_USER_ROLE, ('User',)), app_role(RESOURCE_ID, GRAPH_DISABLED_ROLE, enabled=False)])
    graph.set_app_roles(RESOURCE2_ID, [app_role(RESOURCE2_ID, v) for v in ORDERS_APP_ROLES] + [
        app_role(RESOURCE2_ID, ORDERS_USER_ROLE, ('User',))])
    # The HR Portal's registration lives in this tenant: delegated and application permissions on both APIs.
    graph.add_application(CLIENT_APP, 'Contoso HR Portal', [
        {'resourceAppId': RESOURCE_APP, 'resourceAccess': [
            {'id': graph.sps[RESOURCE_ID]['_scopes'][3]['id'], 'type': 'Scope'},
            {'id': graph.role_id(RESOURCE_ID, 'User.Read.All'), 'type': 'Role'}]},
        {'resourceAppId': RESOURCE2_APP, 'resourceAccess': [
            {'id': graph.sps[RESOURCE2_ID]['_scopes'][0]['id'], 'type': 'Scope'},
            {'id': graph.role_id(RESOURCE2_ID, 'Orders.Read.All'), 'type': 'Role'}]}])
    return graph


class Sleeper(object):
    """Injected instead of time.sleep: records the delays, never sleeps."""

    def __init__(self):
        self.delays = []

    def __call__(self, seconds):
        assert seconds >= 0
        self.delays.append(seconds)

    @property
    def total(self):
        return sum(self.delays)
