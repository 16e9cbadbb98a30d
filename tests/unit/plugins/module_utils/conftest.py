# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""A strict, in-memory fake of the Microsoft Graph endpoints the grant code uses, with programmable faults.

``FakeGraph`` has the interface of ``GraphClient`` (``request``, ``get``, ``get_all``, ``post``, ``patch``,
``delete``, ``batch``) and holds service principals, users and grants. Every request is recorded (``calls``) and
checked against what the real service accepts (shared/graph/graph-semantics.md): a request Graph would reject, or
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
- ``client_filter_404``: a ``clientId`` filter matching nothing answers 404 (as Graph did, graph-semantics §3.2);
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

This file is also imported by ``tests/unit/plugins/modules/conftest.py``; it registers itself in ``sys.modules``
as ``msgraph_grants_fake_graph`` so that test files can ``from msgraph_grants_fake_graph import ...``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import copy
import itertools
import re
import sys
import uuid

try:
    from urllib.parse import parse_qsl, unquote
except ImportError:  # pragma: no cover
    pass

import pytest

from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import (
    GraphResponse,
    encode_query,
    error_from_response,
)

ALIAS = 'msgraph_grants_fake_graph'

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

# ------------------------------------------------------------------------------------------------- Graph rules
GUID_RE = re.compile(r'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')
SCOPE_PROPERTY = {'v1.0': 'oauth2PermissionScopes', 'beta': 'publishedPermissionScopes'}
SP_SELECTABLE = {'id', 'appId', 'displayName', 'appDisplayName', 'servicePrincipalType', 'accountEnabled'}
USER_SELECTABLE = {'id', 'userPrincipalName', 'displayName', 'mail'}
GRANT_PROPS = ('clientId', 'consentType', 'principalId', 'resourceId')
GRANT_SELECTABLE = {'id', 'clientId', 'consentType', 'principalId', 'resourceId', 'scope', 'startTime', 'expiryTime'}
CONSENT_TYPES = ('AllPrincipals', 'Principal')
WRITE_METHODS = ('POST', 'PATCH', 'DELETE')
MAX_SCOPE_LENGTH = 3850
DUPLICATE_MESSAGE = 'Permission entry already exists.'
NOT_REPLICATED_MESSAGE = ("Resource '{0}' does not exist or one of its queried reference-property objects are not "
                          "present.")
BASE = 'https://graph.fake.test'


class GraphViolation(BaseException):
    """A request the real Microsoft Graph would reject, or one the collection must never send."""


def is_guid(value):
    return bool(value) and bool(GUID_RE.match(value))


def grant_id_for(client_id, resource_id, principal_id=None):
    """The id Graph gives a grant (graph-semantics §2.2): base64url of the little-endian GUID bytes."""
    raw = uuid.UUID(client_id).bytes_le + uuid.UUID(resource_id).bytes_le
    if principal_id:
        raw += uuid.UUID(principal_id).bytes_le
    return base64.urlsafe_b64encode(raw).decode('ascii').rstrip('=')


def _is_grant_id_form(value):
    if not re.match(r'^[A-Za-z0-9_-]+$', value or ''):
        return False
    try:
        raw = base64.urlsafe_b64decode(value + '=' * (-len(value) % 4))
    except (ValueError, TypeError):
        return False
    return len(raw) in (32, 48)


def parse_literal(text, pos=0):
    """An OData string literal starting at ``pos``: ('value', next position). Quotes inside must be doubled."""
    if pos >= len(text) or text[pos] != "'":
        raise ValueError('expected a quoted literal at %d in %r' % (pos, text))
    out = []
    i = pos + 1
    while True:
        if i >= len(text):
            raise ValueError('unterminated literal in %r' % text)
        ch = text[i]
        if ch == "'":
            if i + 1 < len(text) and text[i + 1] == "'":
                out.append("'")
                i += 2
                continue
            return ''.join(out), i + 1
        out.append(ch)
        i += 1


def parse_filter(text, allowed):
    """``prop eq 'literal' [and prop eq 'literal' ...]`` -> [(prop, value)]; ValueError for anything else."""
    clauses = []
    pos = 0
    while True:
        match = re.compile(r'(\w+) eq ').match(text, pos)
        if not match:
            raise ValueError('unsupported filter %r' % text)
        prop = match.group(1)
        if prop not in allowed:
            raise ValueError('Filter is invalid. %s' % prop)
        value, pos = parse_literal(text, match.end())
        clauses.append((prop, value))
        if pos == len(text):
            return clauses
        if not text.startswith(' and ', pos):
            raise ValueError('unsupported filter %r (after %r)' % (text, text[:pos]))
        pos += len(' and ')


def _same_id(a, b):
    if a is None or b is None:
        return a is None and b is None
    return a.lower() == b.lower()


def grant_key(raw):
    principal = raw.get('principalId') if raw.get('consentType') == 'Principal' else None
    return ((raw.get('clientId') or '').lower(), (raw.get('resourceId') or '').lower(), (principal or '').lower())


class Call(object):
    """One request as the fake saw it: ``method``, ``path`` (decoded), ``raw_path`` (as sent), ``query`` (decoded
    dict), ``body``, ``via`` ('request' or 'batch') and ``batch`` (the index of the $batch it came in)."""

    def __init__(self, method, raw_url, body, via, batch=None, headers=None):
        self.headers = dict((k.lower(), v) for k, v in (headers or {}).items())
        self.method = method
        self.raw_url = raw_url
        parts = raw_url.split('?', 1)
        self.raw_path = parts[0]
        self.raw_query = parts[1] if len(parts) > 1 else ''
        self.path = unquote(self.raw_path)
        self.query = dict(parse_qsl(self.raw_query, keep_blank_values=True))
        self.body = dict(body) if isinstance(body, dict) else copy.deepcopy(body)
        self.via = via
        self.batch = batch

    @property
    def is_write(self):
        return self.method in WRITE_METHODS

    def __repr__(self):
        body = ' body=%r' % (self.body,) if self.body else ''
        batch = ' [batch %s]' % self.batch if self.via == 'batch' else ''
        return 'Call(%s %s%s%s)' % (self.method, self.raw_url, body, batch)


class Fault(object):
    """A programmed answer for the next ``times`` requests matching ``method`` and ``path`` (a regex searched in
    the decoded path). ``kind``:

    - ``not_replicated``: 404 (or ``status=400``) "... does not exist or one of its queried reference-property
      objects are not present", nothing applied;
    - ``ambiguous_before``: the outcome is lost, nothing applied (a direct call raises GraphError(ambiguous=True),
      a $batch item answers 504);
    - ``ambiguous_after``: applied, then the outcome is lost (same signals);
    - ``status``: answer ``status`` with ``code``/``message``, nothing applied;
    - ``applied_then_status``: applied, but answered ``status`` (graph-semantics §6, I33: a 404 for a POST that did
      land);
    - ``hook``: ``hook(graph, call)`` runs first (for example another writer deleting the grant); it returns a
      GraphResponse to answer with, or None to go on normally.
    """

    def __init__(self, method, path, kind, times=1, status=None, code=None, message=None, hook=None):
        self.hook = hook
        self.method = method
        self.path = re.compile(path)
        self.kind = kind
        self.times = times
        self.status = status
        self.code = code
        self.message = message
        self.used = 0

    def matches(self, method, path):
        return self.times > 0 and method == self.method and bool(self.path.search(path))


def _error_body(code, message):
    return {'error': {'code': code, 'message': message,
                      'innerError': {'date': '2026-01-01T00:00:00', 'request-id': 'req-error'}}}


class FakeGraph(object):
    """In-memory, strict stand-in for GraphClient (see the module docstring)."""

    def __init__(self, api_version='v1.0'):
        self.api_version = api_version
        self.base_url = '%s/%s' % (BASE, api_version)
        self.sps = {}
        self.users = {}
        self.grants = {}
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
            if client_id and not _same_id(raw['clientId'], client_id):
                continue
            if resource_id and not _same_id(raw['resourceId'], resource_id):
                continue
            if principal_id and not _same_id(raw.get('principalId'), principal_id):
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
        return self._response(method, url, status, _error_body(code, message))

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
            return self._get(call)
        grant_match = re.match(r'^/oauth2PermissionGrants(?:/([^/]+))?$', path, re.I)
        if not grant_match or not path.startswith('/oauth2PermissionGrants'):
            # Navigation paths (/servicePrincipals/x/oauth2PermissionGrants/...) are read-only (graph-semantics E11).
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
                    sp = next((s for s in self.sps.values() if _same_id(s['appId'], app_id)), None)
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
        if not _is_grant_id_form(grant_id):
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
            view[field] = [dict(s) for s in sp['_scopes']] if field == scopes_prop else sp.get(field)
        return view

    def _list_sps(self, call):
        query, url = call.query, call.raw_url
        if '$skiptoken' in query:
            return self._list_grants(call)  # a later page (the page store serves every collection)
        if '$filter' not in query:
            self._violate('listing every service principal: %s' % url)
        try:
            clauses = parse_filter(query['$filter'], ('displayName', 'appId'))
        except ValueError as exc:
            self._violate('bad $filter in %s: %s' % (url, exc))
        items = [self._sp_view(s, query, url) for s in self.sps.values()
                 if all((s.get(p) == v if p == 'displayName' else _same_id(s.get(p), v)) for p, v in clauses)]
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
                self._violate("consentType eq '%s': the value is case-sensitive (graph-semantics I6)" % value)
            if prop != 'consentType' and not is_guid(value):
                self._violate("%s eq '%s': not an object id" % (prop, value))
        for field in [f for f in query.get('$select', '').split(',') if f]:
            if field not in GRANT_SELECTABLE:
                self._violate('bad $select %s' % field)
        items = []
        for raw in self._visible_grants().values():
            if client is not None and not _same_id(raw['clientId'], client):
                continue
            ok = True
            for prop, value in clauses:
                have = raw.get(prop)
                if prop == 'consentType':
                    ok = ok and have == value
                else:
                    ok = ok and _same_id(have, value)
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
            # An empty page that still carries a nextLink (graph-semantics §3.2).
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
                    self._violate('beta create without %s (beta requires it, graph-semantics §2.1)' % name)
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
        # Referenced objects must exist (an appId is not an object id, graph-semantics §4.4).
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


@pytest.fixture
def fakes():
    """Factory of standard-tenant fakes; each one is checked (no violation, one grant per key) after the test."""
    made = []

    def make(api_version='v1.0'):
        graph = standard_tenant(api_version)
        made.append(graph)
        return graph
    yield make
    for graph in made:
        graph.check()


@pytest.fixture
def graph(fakes):
    return fakes()


@pytest.fixture
def sleeper():
    return Sleeper()


# Make this file importable by the test files (and the modules/ conftest) under one stable name. If another copy
# was registered first (the modules/ conftest loaded it by path), take over its objects so that classes and
# fixtures are the same everywhere.
_registered = sys.modules.get(ALIAS)
if _registered is None:
    sys.modules[ALIAS] = sys.modules[__name__]
elif _registered is not sys.modules.get(__name__):
    globals().update(dict((k, v) for k, v in vars(_registered).items() if not k.startswith('__')))
