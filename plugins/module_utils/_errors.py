# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""Every error type of the collection, in one place: ``GraphError`` (Graph answered, or could not be reached) and its
two kinds raised before or while getting a token, ``AuthError`` and ``ConfigError``. ``str()`` of each is the
readable message, scrubbed of secrets."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported, this only keeps the import sanity test quiet
    from urlparse import urlsplit  # type: ignore

from ansible_collections.msgraph.grants.plugins.module_utils._redaction import redact


def path_only(url):
    try:
        parts = urlsplit(url)
    except (TypeError, ValueError):
        return url
    return parts.path or url


class GraphError(Exception):
    """The one error type of the collection's Graph layer. ``str()`` is the readable message; never a secret.

    Attributes: ``status`` (HTTP status or None), ``code`` (Graph error code or None), ``message``, ``request_id``,
    ``method``, ``url`` (path only), ``ambiguous`` (a write whose outcome is unknown), ``retry_time`` (seconds spent
    retrying before giving up), ``attempts``, ``client_request_id``, ``hint``.
    """

    def __init__(self, message, status=None, code=None, request_id=None, method=None, url=None, ambiguous=False,
                 retry_time=0.0, attempts=1, client_request_id=None, hint=None, retries_exhausted=False,
                 retry_budget=None, retry_after=None, not_before=None):
        self.message = redact(message or '')
        self.status = status
        self.code = code
        self.request_id = request_id
        self.method = method
        self.url = path_only(url) if url else url
        self.ambiguous = bool(ambiguous)
        self.retry_time = float(retry_time or 0.0)
        self.attempts = attempts or 1
        self.client_request_id = client_request_id
        self.hint = redact(hint) if hint else hint
        self.retries_exhausted = retries_exhausted
        self.retry_budget = retry_budget
        self.retry_after = retry_after  # seconds Graph asked us to wait (Retry-After of a 429/503), or None
        self.partial_results = None  # GraphClient.batch: the answers known when a batch's outcome is unknown
        self.not_before = not_before  # a 429 seen by GraphClient: its clock time when the Retry-After has passed
        self.what = None  # what was being done, when "METHOD url" would name an internal request ($batch)
        self.item = None  # which of the user's items this error is about, e.g. "grants[1] (A -> B)"
        super(GraphError, self).__init__(self.message)

    def _head(self):
        head = '%s: ' % self.item if self.item else ''
        if self.what:
            return head + '%s failed: ' % self.what
        if self.method and self.url:
            return head + '%s %s failed: ' % (self.method, self.url)
        return head

    def _core(self):
        if self.status:
            text = 'HTTP %s' % self.status
            if self.code:
                text += ' %s' % self.code
            return '%s: %s' % (text, self.message)
        if self.code:
            return '%s: %s' % (self.code, self.message)
        return self.message

    def __str__(self):
        text = self._head() + self._core()
        if self.request_id:
            text += ' (request-id: %s)' % self.request_id
        if self.retries_exhausted:
            text += ' Gave up after %d attempt%s and %.1f s of retrying' % (
                self.attempts, '' if self.attempts == 1 else 's', self.retry_time)
            if self.retry_budget is not None:
                text += ' (retry budget %g s)' % self.retry_budget
            text += '.'
        if self.ambiguous:
            text += (' The outcome of this write is unknown: it may or may not have been applied by Microsoft Graph;'
                     ' read the current state before retrying.')
        if self.hint:
            text += ' ' + self.hint
        return redact(text)

    def __repr__(self):
        return '%s(status=%r, code=%r, message=%r, request_id=%r, method=%r, url=%r, ambiguous=%r, retry_time=%r)' % (
            type(self).__name__, self.status, self.code, self.message, self.request_id, self.method, self.url,
            self.ambiguous, self.retry_time)

    def to_dict(self):
        """The error as plain data (for module results); no secrets."""
        return dict(msg=str(self), status=self.status, error_code=self.code, request_id=self.request_id,
                    method=self.method, url=self.url, ambiguous=self.ambiguous, retry_time=round(self.retry_time, 3))


class AuthError(GraphError):
    """Token acquisition failed (MSAL error, unreachable token endpoint, unreadable credential)."""

    def __init__(self, message, context=None, **kwargs):
        self.context = context
        super(AuthError, self).__init__(message, **kwargs)

    def __str__(self):
        head = 'Could not get a token for Microsoft Graph'
        if self.context:
            head += ' (%s)' % self.context
        core = self.message
        if self.code and self.code not in core:
            core = '%s: %s' % (self.code, core)
        text = '%s: %s' % (head, core)
        if self.request_id:
            text += ' (correlation id: %s)' % self.request_id
        if self.hint:
            text += ' ' + self.hint
        return redact(text)


class ConfigError(GraphError):
    """The connection options are incomplete or inconsistent; ``str()`` says what to set."""

    def __str__(self):
        return redact(self.message + ((' ' + self.hint) if self.hint else ''))
