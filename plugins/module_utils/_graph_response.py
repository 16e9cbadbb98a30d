# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""One Graph answer (``GraphResponse``: a plain request or one ``$batch`` item) and the ``GraphError`` an error answer
maps to. ``_graph_client`` re-exports both names; this module only keeps that file small."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    from requests.structures import CaseInsensitiveDict
except ImportError:  # pragma: no cover - the client reports the missing library
    CaseInsensitiveDict = dict

from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError, path_only
from ansible_collections.msgraph.grants.plugins.module_utils._graph_retries import READ_METHODS, parse_retry_after


class GraphResponse(object):
    """One Graph answer (a plain request or one $batch item): ``status``, ``headers``, ``json``."""

    def __init__(self, status, headers=None, json=None, text=None, method=None, url=None, read_only=None):
        self.status = status
        self.read_only = (method in READ_METHODS) if read_only is None else read_only
        self.headers = CaseInsensitiveDict(headers or {})
        self.json = json
        self.text = text
        self.method = method
        self.url = url
        self.retry_time = 0.0
        self.attempts = 1
        self.retries_exhausted = False
        self.retry_budget = None
        self.not_before = None  # a 429: the client clock time before which Graph asked not to be called again

    @property
    def ok(self):
        return self.status is not None and 200 <= self.status < 300

    @property
    def request_id(self):
        rid = self.headers.get('request-id')
        if not rid and isinstance(self.json, dict):
            inner = _inner_error(self.json)
            rid = inner.get('request-id') or inner.get('requestId')
        return rid

    @property
    def error(self):
        """A GraphError describing this response, or None when it is a success."""
        if self.ok:
            return None
        return error_from_response(self)

    def raise_for_status(self):
        err = self.error
        if err is not None:
            raise err
        return self

    def __repr__(self):
        return 'GraphResponse(status=%r, method=%r, url=%r)' % (self.status, self.method, path_only(self.url or ''))


def _inner_error(body):
    error = body.get('error') if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return {}
    inner = error.get('innerError') or error.get('innererror') or {}
    return inner if isinstance(inner, dict) else {}


def error_from_response(response, method=None, url=None, **kwargs):
    """GraphError for an error GraphResponse (a plain answer or a $batch item). ``method``/``url`` default to the
    response's own."""
    for name in ('retry_time', 'attempts', 'retries_exhausted', 'retry_budget', 'not_before'):
        kwargs.setdefault(name, getattr(response, name, None))
    kwargs.setdefault('ambiguous', not getattr(response, 'read_only', True) and (response.status or 0) >= 500)
    return _error_from_parts(method or response.method, url or response.url, response.status, response.headers,
                             response.json, response.text, **kwargs)


def _error_from_parts(method, url, status, headers, body, text, **kwargs):
    """Map a Graph error envelope ``{"error": {"code", "message", "innerError": {"request-id"}}}`` to GraphError."""
    headers = CaseInsensitiveDict(headers or {})
    code = None
    message = None
    if isinstance(body, dict):
        error = body.get('error')
        if isinstance(error, dict):
            code = error.get('code')
            message = error.get('message')
            if isinstance(message, dict):  # legacy {"lang", "value"} shape
                message = message.get('value')
        elif isinstance(error, str):
            code = error
            message = body.get('error_description') or body.get('message')
    if not message:
        snippet = (text or '').strip()
        if snippet.startswith('<'):
            snippet = ''  # an HTML error page says nothing useful
        message = snippet[:300] if snippet else _reason(status)
    request_id = headers.get('request-id')
    if not request_id:
        inner = _inner_error(body)
        request_id = inner.get('request-id') or inner.get('requestId')
    hint = None
    if status == 401:
        hint = ('Check that the token is for this Graph root (cloud / graph_url) and has not expired.')
    kwargs.setdefault('retry_after', parse_retry_after(headers.get('Retry-After')))
    return GraphError(message, status=status, code=code, request_id=request_id, method=method, url=url,
                      client_request_id=headers.get('client-request-id'), hint=hint, **kwargs)


_REASONS = {400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict',
            429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable',
            504: 'Gateway Timeout'}


def _reason(status):
    return _REASONS.get(status, 'HTTP error')
