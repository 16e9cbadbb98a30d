# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rules of the fake Graph (``fake_graph.py``): what Graph accepts, grant ids, OData literals and filters,
and the records of calls and programmed faults."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import copy
import re
import uuid

try:
    from urllib.parse import parse_qsl, unquote
except ImportError:  # pragma: no cover
    pass

GUID_RE = re.compile(r'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')
SCOPE_PROPERTY = {'v1.0': 'oauth2PermissionScopes', 'beta': 'publishedPermissionScopes'}
SP_SELECTABLE = {'id', 'appId', 'displayName', 'appDisplayName', 'servicePrincipalType', 'accountEnabled', 'appRoles'}
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
    """The id Graph gives a grant (docs/dev/graph-behaviour.md#grant-id): base64url of the little-endian GUID bytes."""
    raw = uuid.UUID(client_id).bytes_le + uuid.UUID(resource_id).bytes_le
    if principal_id:
        raw += uuid.UUID(principal_id).bytes_le
    return base64.urlsafe_b64encode(raw).decode('ascii').rstrip('=')


def is_grant_id_form(value):
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


def same_id(a, b):
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
    - ``applied_then_status``: applied, but answered ``status`` (a 404 for a POST that did land,
      docs/dev/graph-behaviour.md#replication-lag);
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


def error_body(code, message):
    return {'error': {'code': code, 'message': message,
                      'innerError': {'date': '2026-01-01T00:00:00', 'request-id': 'req-error'}}}
