# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""Microsoft Graph HTTP client: one requests.Session, retries within a time budget, paging, $batch, GraphError.

Design notes (see docs/dev/architecture.md):
- ``verify`` (False, True or a CA bundle path) and ``timeout`` are passed on every request: a machine-wide
  REQUESTS_CA_BUNDLE would otherwise silently win over ``Session.verify`` (psf/requests#3829).
- Reads are retried on 429/502/503/504, connection errors and timeouts. Writes are retried only on 429 (Graph does not
  apply a throttled request) and when the connection could not even be opened; any other failure of a write
  (timeout, dropped connection, 5xx) raises ``GraphError(ambiguous=True)``: the caller must re-read.
- A connection that cannot be opened (refused, name not resolved, connect timeout) means Graph is not there, not that
  it is busy: it has a short budget of its own (``_graph_retries.CONNECT_*``), so a stale graph_url fails in seconds.
- Every retry is recorded in ``retry_log`` (what, why, seconds waited), which the modules return as ``retries``.
- All waiting goes through an injectable ``sleep`` and is bounded by one retry budget for the whole run (all the
  operations of one client), not per request: a run throttled again and again still ends within the budget.
- A read-modify-write (a PATCH or DELETE whose body was computed from what the caller read) must not be re-sent
  blindly after a 429: another writer may change the grant while we wait. Callers pass ``retry_throttled=False``,
  get the 429 back, and use ``wait_before_retry`` before they read and plan again.
- No access token ever appears in an exception, a log line or a result.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import email.utils
import json as _json
import math
import random
import re
import time
import uuid

try:
    from urllib.parse import quote, urlsplit, urlunsplit
except ImportError:  # pragma: no cover - Python 2 is not supported, this only keeps the import sanity test quiet
    from urllib import quote  # type: ignore
    from urlparse import urlsplit, urlunsplit  # type: ignore

REQUESTS_IMPORT_ERROR = None
try:
    import requests
    import requests.exceptions
    from requests.structures import CaseInsensitiveDict
    HAS_REQUESTS = True
except ImportError:  # pragma: no cover - exercised by the import sanity test only
    import traceback
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
    CaseInsensitiveDict = dict

try:
    import urllib3.exceptions as _urllib3_exceptions
except ImportError:  # pragma: no cover
    _urllib3_exceptions = None

from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError, path_only
from ansible_collections.msgraph.grants.plugins.module_utils._redaction import redact, register_secret  # noqa: F401 pylint: disable=unused-import
from ansible_collections.msgraph.grants.plugins.module_utils._graph_retries import (
    CONNECT_ATTEMPTS,
    CONNECT_BACKOFF,
    CONNECT_BUDGET,
    CONNECT_TIMEOUT,
    RetryLog,
    connect_reason,
    describe_requests,
    unreachable_hint,
)


# Keep in sync with galaxy.yml (a unit test checks it).
COLLECTION_VERSION = '0.1.0'
USER_AGENT = 'msgraph.grants/%s' % COLLECTION_VERSION

DEFAULT_TIMEOUT = 30
DEFAULT_RETRY_BUDGET = 120.0
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
MAX_RETRIES = 60           # a safety net only; the time budget is what normally stops retrying
BATCH_LIMIT = 20           # Graph JSON batching: at most 20 requests per $batch

READ_METHODS = frozenset(['GET', 'HEAD', 'OPTIONS'])
BATCH_READ_RETRY_STATUSES = (502, 503, 504)
# An item answered 424 Failed Dependency was not executed (like a 429): safe to send again.
BATCH_NOT_RUN_STATUSES = (424, 429)
RETRY_STATUS_READ = frozenset([429, 502, 503, 504])
RETRY_STATUS_WRITE = frozenset([429])


def parse_retry_after(value, now=None):
    """Seconds to wait from a Retry-After value: integer or decimal seconds, or an HTTP-date. None if unusable."""
    if value is None:
        return None
    value = str(value).strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = None
    if seconds is not None:
        if math.isnan(seconds) or math.isinf(seconds):
            return None
        return max(0.0, seconds)
    try:
        parsed = email.utils.parsedate_tz(value)
    except (TypeError, ValueError):
        parsed = None
    if not parsed:
        return None
    when = email.utils.mktime_tz(parsed)
    return max(0.0, when - (time.time() if now is None else now))


def encode_query(params):
    """Encode query parameters keeping OData's ``$`` and quotes readable (``$filter=clientId%20eq%20'x'``)."""
    if not params:
        return ''
    items = params.items() if hasattr(params, 'items') else params
    out = []
    for key, value in items:
        if value is None:
            continue
        if isinstance(value, bool):
            value = 'true' if value else 'false'
        out.append('%s=%s' % (quote(str(key), safe='$'), quote(str(value), safe="$'(),:@/*")))
    return '&'.join(out)


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


class _RetryState(object):
    """Time accounting of one logical operation (a request, a paged read, or a whole batch), charged to the run.

    ``retry_budget`` bounds the retry time of the whole run (every operation of one client): what earlier operations
    spent retrying (``ledger.retry_spent``) plus what this one has spent so far. Retry time is the time spent waiting
    before a retry plus the time of the attempts that failed (a timed-out attempt costs its timeout); successful
    attempts are not retry time.
    """

    def __init__(self, clock, budget, ledger):
        self.clock = clock
        self.budget = budget
        self.ledger = ledger
        self.failed_time = 0.0
        self.slept = 0.0
        self.attempts = 0
        self.retries = 0
        self.closed = False

    def failed(self, seconds):
        """Charge the duration of an attempt that failed (and will be retried or reported)."""
        self.failed_time += max(0.0, seconds)

    def spent(self):
        """Seconds this operation has spent retrying."""
        return self.slept + self.failed_time

    def total(self):
        """Seconds the run has spent retrying, this operation included."""
        return self.ledger.retry_spent + self.spent()

    def can_wait(self, delay):
        return self.total() + delay <= self.budget and self.retries < MAX_RETRIES

    def close(self):
        if not self.closed:
            self.closed = True
            self.ledger.retry_spent += self.spent()
            self.ledger.stats['retry_time'] += self.slept


class GraphClient(object):
    """A small Microsoft Graph client. See docs/dev/architecture.md for the contract."""

    def __init__(self, graph_root, api_version, token_provider, verify=True, timeout=DEFAULT_TIMEOUT,
                 retry_budget=DEFAULT_RETRY_BUDGET, session=None, sleep=None, clock=None, rand=None, log=None,
                 user_agent=USER_AGENT):
        if not HAS_REQUESTS:
            raise GraphError('The Python library "requests" is required but could not be imported.')
        self.graph_root = graph_root.rstrip('/')
        self.api_version = api_version.strip('/')
        self.base_url = '%s/%s' % (self.graph_root, self.api_version)
        self.token_provider = token_provider
        self.verify = verify
        self.timeout = timeout
        self.retry_budget = float(retry_budget if retry_budget is not None else DEFAULT_RETRY_BUDGET)
        self.session = session if session is not None else requests.Session()
        self._sleep = sleep or time.sleep
        self._clock = clock or time.monotonic
        self._random = rand or random.random
        self._log = log
        self.user_agent = user_agent
        self.stats = dict(requests=0, retries=0, batches=0, throttled=0, token_refreshes=0, retry_time=0.0)
        self.retry_spent = 0.0  # seconds of retrying charged to retry_budget so far (the whole run)
        self.retry_log = RetryLog()  # what was retried, why, how long we waited: shown to the user
        self.connect_spent = 0.0  # seconds spent on connections that could not be opened (CONNECT_BUDGET)
        self._batch_what = None  # while a $batch is sent: what it carries, to name it in errors and retries
        # Clock time before which no Graph request is sent: Graph throttles per application and tenant, so after a 429
        # every request waits (not only the retry of the throttled one).
        self._hold_until = None
        if verify is False:
            _silence_insecure_warnings()

    # ------------------------------------------------------------------ public API
    def request(self, method, path, params=None, json=None, headers=None, raise_for_status=True, retry_throttled=True):
        """Send one request (with retries). Returns a GraphResponse; raises GraphError on failure unless
        ``raise_for_status=False`` (then an error response is returned as is, after retries).

        ``retry_throttled=False``: a 429 is returned (or raised) at once instead of being re-sent after Retry-After;
        for a write whose body was computed from a read (see ``wait_before_retry``)."""
        method = method.upper()
        url = self._url(path, params)
        state = self._retry_state()
        try:
            resp = self._send(method, url, json, headers, state, retry_throttled=retry_throttled)
        finally:
            state.close()
        if raise_for_status:
            resp.raise_for_status()
        return resp

    def get(self, path, params=None, headers=None):
        return self.request('GET', path, params=params, headers=headers).json or {}

    def get_all(self, path, params=None, headers=None, max_pages=100000):
        """Every item of a collection: follows each ``@odata.nextLink`` (empty pages included), re-sending
        ``headers`` (for example ConsistencyLevel) on every page."""
        items = []
        url = self._url(path, params)
        state = self._retry_state()
        try:
            return self._get_pages(url, headers, max_pages, state, items)
        finally:
            state.close()

    def _get_pages(self, url, headers, max_pages, state, items):
        seen = set()
        pages = 0
        while url:
            if url in seen:
                raise GraphError('the server returned the same @odata.nextLink twice; stopping to avoid a loop',
                                 method='GET', url=url)
            seen.add(url)
            pages += 1
            if pages > max_pages:
                raise GraphError('more than %d pages; stopping' % max_pages, method='GET', url=url)
            body = self._send('GET', url, None, headers, state).raise_for_status().json or {}
            value = body.get('value')
            if value is None:
                value = []
            if not isinstance(value, list):
                raise GraphError('expected a collection ("value" list) in the response', method='GET', url=url)
            items.extend(value)
            next_link = body.get('@odata.nextLink')
            url = self._url(next_link) if next_link else None
        return items

    def post(self, path, body, headers=None):
        return self.request('POST', path, json=body, headers=headers).json or {}

    def patch(self, path, body, headers=None, retry_throttled=True):
        self.request('PATCH', path, json=body, headers=headers, retry_throttled=retry_throttled)

    def delete(self, path, headers=None, retry_throttled=True):
        self.request('DELETE', path, headers=headers, retry_throttled=retry_throttled)

    def reserve_wait(self, delay):
        """Charge a wait the caller makes itself (for replication to catch up) to the run's retry budget. False when
        the budget does not allow it (then the caller must not wait)."""
        if self.retry_spent + delay > self.retry_budget:
            return False
        self.retry_spent += delay
        self.retry_log.add('reading the grant back', 'waiting for directory replication', delay)
        return True

    def wait_before_retry(self, err):
        """Wait before the caller re-plans a write that was answered 429 (sent with ``retry_throttled=False``):
        Retry-After if Graph gave one, else a jittered backoff, charged to the run's retry budget. Raises ``err``
        (marked as exhausted) when the budget does not allow the wait."""
        state = self._retry_state()
        if err.not_before is not None:
            delay = max(0.0, err.not_before - self._clock())  # what is left of the wait Graph asked for
        else:
            delay = err.retry_after if err.retry_after else self._backoff(0)
        try:
            if not state.can_wait(delay):
                err.retries_exhausted = True
                err.retry_time = state.total()
                err.retry_budget = self.retry_budget
                raise err
            self._wait(state, delay, '%s %s' % (err.method, err.url), 'HTTP %s; the grant is read again and the '
                       'change planned anew' % err.status)
        finally:
            state.close()

    def batch(self, requests_):
        """Send many requests through ``POST /$batch``, 20 per batch.

        ``requests_``: dicts with ``method``, ``url`` (relative to the version root, may carry a query), optional
        ``body``, ``headers``, ``params`` and ``retry_throttled`` (default True; False for a write computed from a
        read, whose 429 is returned instead of re-sent). Returns one GraphResponse per input, in input order.
        Responses are correlated by id (Graph may answer in any order). Items answered 429 (and reads answered
        502/503/504) are re-sent alone after the longest item Retry-After, within the retry budget; when the budget
        runs out they are returned as their error response (``.error`` says so). The batch envelope itself follows
        the usual retry rules (a batch holding a write is a write; a 429 on it counts as a 429 on every item).

        When the answer to a batch holding writes is lost (timeout, dropped connection, 5xx), the other batches are
        still sent, then a ``GraphError(ambiguous=True)`` is raised whose ``partial_results`` holds the responses
        that are known and None for every request whose outcome is unknown: the caller reconciles those by reading.
        When a batch holding writes fails otherwise (refused, budget exhausted), the error raised at once carries
        ``partial_results`` too (None for that batch and the ones not sent), so the caller knows what landed.
        """
        items = [self._batch_item(i, req) for i, req in enumerate(requests_)]
        results = [None] * len(items)
        unknown = None
        state = self._retry_state()
        try:
            for start in range(0, len(items), BATCH_LIMIT):
                chunk = list(range(start, min(start + BATCH_LIMIT, len(items))))
                # The user never asked for a $batch: errors and retries name the requests it carries.
                self._batch_what = describe_requests([items[i] for i in chunk])
                try:
                    self._batch_chunk(items, chunk, results, state)
                except GraphError as err:
                    if (err.url or '').endswith('/$batch'):
                        err.what = self._batch_what
                        err.message = err.message.replace('the $batch ', 'the ')
                    if err.ambiguous:
                        unknown = unknown or err
                        continue  # the other batches are independent: send them
                    if unknown is None:
                        if any(item['method'] not in READ_METHODS for item in items):
                            err.partial_results = results  # the writes of earlier batches did land: say which
                        raise
                    # An earlier batch's outcome is unknown: report that, so the caller reconciles by reading; this
                    # batch (refused) and the ones after it (not sent) are None in partial_results as well.
                    break
        finally:
            self._batch_what = None
            state.close()
        if unknown is not None:
            unknown.partial_results = results
            raise unknown
        return results

    def _batch_chunk(self, items, pending, results, state):
        """Send items[pending] (at most 20) until each has an answer that is not to be retried."""
        backoff_round = 0
        rounds = 0
        batch_url = self.base_url + '/$batch'
        while pending:
            rounds += 1
            for i in pending:
                results[i] = None  # re-sent: an earlier answer (a 429) no longer says what happened to it
            chunk = [items[i]['wire'] for i in pending]
            method = 'GET' if all(items[i]['method'] in READ_METHODS for i in pending) else 'POST'
            retry_envelope = all(items[i]['retry_throttled'] for i in pending)
            envelope = self._send('POST', batch_url, {'requests': chunk}, None, state, treat_as=method,
                                  retry_throttled=retry_envelope)
            responses = _batch_answers(envelope)
            if responses is None and envelope.status == 429:
                # Only when an item must not be re-sent blindly: the envelope's 429 is every item's answer.
                by_id = dict((items[i]['id'].lower(), {'id': items[i]['id'], 'status': 429, 'headers': dict(envelope.headers),
                                                       'body': envelope.json}) for i in pending)
            else:
                # Graph's pages disagree on the envelope status when items are throttled (200, or 424 per the
                # throttling page; docs/dev/graph-behaviour.md): whenever it carries the items' answers, use them.
                if responses is None:
                    envelope.raise_for_status()
                self.stats['batches'] += 1
                if not isinstance(responses, list):
                    raise GraphError('the $batch response has no "responses" list', method='POST', url=batch_url,
                                     ambiguous=(method != 'GET'), request_id=envelope.request_id)
                by_id = {}
                for entry in responses:
                    if isinstance(entry, dict) and entry.get('id') is not None:
                        by_id[str(entry.get('id')).lower()] = entry
            retry = []
            waits = []
            throttled = False
            for i in pending:
                entry = by_id.get(items[i]['id'].lower())
                if entry is None:
                    raise GraphError('the $batch response has no answer for request id %s (%s %s)' % (
                        items[i]['id'], items[i]['method'], items[i]['url']), method='POST',
                        url=batch_url, ambiguous=(method != 'GET'), request_id=envelope.request_id)
                resp = self._batch_response(items[i], entry)
                results[i] = resp
                if resp.status == 429:
                    self.stats['throttled'] += 1
                    throttled = True
                    # Graph throttles per application: the longest Retry-After of the batch holds every request, those
                    # returned to the caller (who plans them again) included.
                    waits.append(parse_retry_after(resp.headers.get('Retry-After')))
                # 429 was never applied; a read answered 502/503/504 is safe to repeat. A write item answered 5xx is
                # returned as is: its outcome is unknown and the caller reconciles it by reading.
                if (resp.status in BATCH_NOT_RUN_STATUSES and items[i]['retry_throttled']) or (
                        resp.status in BATCH_READ_RETRY_STATUSES and items[i]['method'] in READ_METHODS):
                    retry.append(i)
                    if resp.status != 429:
                        waits.append(parse_retry_after(resp.headers.get('Retry-After')))
            if not retry and not throttled:
                return
            known = [w for w in waits if w]
            delay = max(known) if known else self._backoff(backoff_round)
            backoff_round += 1
            if throttled:
                self._hold(delay)
                for i in pending:
                    if results[i].status == 429:
                        results[i].not_before = self._hold_until
            if not retry:
                return  # the throttled items go back to the caller; the hold delays whatever it sends next
            if not state.can_wait(delay):
                for i in retry:
                    results[i].retry_time = state.total()
                    results[i].attempts = rounds
                    results[i].retries_exhausted = True
                    results[i].retry_budget = self.retry_budget
                return
            self._wait(state, delay, describe_requests([items[i] for i in retry]),
                       'HTTP %s' % '/'.join(sorted(set(str(results[i].status) for i in retry))))
            pending = retry

    def close(self):
        try:
            self.session.close()
        except Exception:  # pragma: no cover - closing is best effort
            pass

    # ------------------------------------------------------------------ internals
    def _note(self, text):
        if self._log is not None:
            try:
                self._log(redact(text))
            except Exception:  # pragma: no cover - logging must never break a run
                pass

    def _url(self, path, params=None):
        """Absolute URL for ``path``: relative to the version root, or absolute (a nextLink). An absolute URL on a
        different host is re-based onto our Graph root, so the token is only ever sent to the configured host."""
        if re.match(r'(?i)^https?://', path):
            parts = urlsplit(path)
            root = urlsplit(self.graph_root)
            if (parts.scheme.lower(), parts.netloc.lower()) != (root.scheme.lower(), root.netloc.lower()):
                url_path = parts.path
                if root.path and not url_path.startswith(root.path.rstrip('/') + '/'):
                    url_path = root.path.rstrip('/') + url_path
                url = urlunsplit((root.scheme, root.netloc, url_path, parts.query, ''))
            else:
                url = urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ''))
        else:
            if not path.startswith('/'):
                path = '/' + path
            url = self.base_url + path
        query = encode_query(params)
        if query:
            url += ('&' if '?' in url else '?') + query
        return url

    def _headers(self, token, extra, has_body):
        headers = {
            'Accept': 'application/json',
            'User-Agent': self.user_agent,
            'client-request-id': str(uuid.uuid4()),
            'Authorization': 'Bearer ' + token,
        }
        if has_body:
            headers['Content-Type'] = 'application/json'
        if extra:
            for key, value in extra.items():
                if key.lower() == 'authorization':
                    continue
                headers[key] = value
        return headers

    def _token(self, force_refresh=False):
        if force_refresh:
            token = self.token_provider.get_token(force_refresh=True)
        else:
            token = self.token_provider.get_token()
        register_secret(token)
        return token

    def _backoff(self, n):
        delay = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** n))
        return delay / 2.0 + self._random() * delay / 2.0  # "equal jitter": within [delay/2, delay]

    def _hold(self, delay):
        until = self._clock() + delay
        if self._hold_until is None or until > self._hold_until:
            self._hold_until = until

    def _respect_hold(self, state, method, url, attempt):
        """Wait until Graph's last Retry-After has passed, charged to the retry budget; raise when it does not fit."""
        if self._hold_until is None:
            return
        delay = self._hold_until - self._clock()
        if delay <= 0:
            self._hold_until = None
            return
        if not state.can_wait(delay):
            raise GraphError('Microsoft Graph is throttling this application; the next request may be sent in %.1f s'
                             % delay, status=429, code='TooManyRequests', method=method, url=url,
                             retry_time=state.total(), attempts=attempt, retries_exhausted=True,
                             retry_budget=self.retry_budget)
        self._wait(state, delay, self._what(method, url), 'Graph asked to pause after HTTP 429')

    def _retry_state(self):
        return _RetryState(self._clock, self.retry_budget, self)

    def _what(self, method, url):
        if self._batch_what and url.endswith('/$batch'):
            return self._batch_what
        return '%s %s' % (method, path_only(url))

    def _wait(self, state, delay, what, why):
        """Wait before a retry: listed in ``retry_log`` (the module result), logged, charged to ``state``."""
        self._note('%s: %s; retrying in %.1f s' % (what, why, delay))
        self.retry_log.add(what, why, delay)
        state.retries += 1
        self.stats['retries'] += 1
        state.slept += delay
        if delay > 0:
            self._sleep(delay)

    def _send(self, method, url, body, extra_headers, state, treat_as=None, retry_throttled=True):
        """One logical request with retries. Returns a GraphResponse (possibly an error response: the caller
        decides); raises GraphError for transport failures, ambiguous writes and an exhausted budget."""
        policy = treat_as or method
        is_read = policy in READ_METHODS
        retry_statuses = RETRY_STATUS_READ if is_read else RETRY_STATUS_WRITE
        refreshed = False
        backoff_round = 0
        connect_failures = 0
        data = None
        if body is not None:
            data = _json.dumps(body, separators=(',', ':'))
        attempt = 0
        while True:
            attempt += 1
            state.attempts += 1
            self._respect_hold(state, method, url, attempt)
            token = self._token()
            headers = self._headers(token, extra_headers, body is not None)
            if attempt > 1:
                headers['retry-attempt'] = str(attempt - 1)
            self.stats['requests'] += 1
            sent_at = self._clock()
            try:
                raw = self.session.request(method, url, data=data, headers=headers, verify=self.verify,
                                           timeout=(min(self.timeout, CONNECT_TIMEOUT), self.timeout))
            except Exception as exc:  # requests.exceptions.RequestException and friends
                failure = self._transport_failure(method, url, exc, is_read)
                if failure is not None:  # not retryable
                    failure.retry_time = state.total()
                    failure.attempts = attempt
                    raise failure
                spent = self._clock() - sent_at
                state.failed(spent)
                if _not_sent(exc):
                    # Nothing is listening (or the name does not resolve): a few quick attempts, not the whole budget.
                    connect_failures += 1
                    self.connect_spent += spent
                    delay = CONNECT_BACKOFF * (2 ** (connect_failures - 1)) * (0.5 + self._random() / 2.0)
                    if (connect_failures >= CONNECT_ATTEMPTS or self.connect_spent + delay > CONNECT_BUDGET
                            or not state.can_wait(delay)):
                        raise GraphError(
                            'cannot connect to Microsoft Graph at %s (%s).' % (self.graph_root, connect_reason(exc)),
                            method=method, url=url, retry_time=state.total(), attempts=attempt,
                            retries_exhausted=True, hint=unreachable_hint(self.graph_root))
                    self.connect_spent += delay
                    self._wait(state, delay, self._what(method, url), connect_reason(exc))
                    continue
                delay = self._backoff(backoff_round)
                backoff_round += 1
                if not state.can_wait(delay):
                    raise GraphError('%s: %s' % (_transport_kind(exc), _exc_text(exc)), method=method, url=url,
                                     retry_time=state.total(), attempts=attempt, retries_exhausted=True,
                                     retry_budget=self.retry_budget, hint=unreachable_hint(self.graph_root))
                self._wait(state, delay, self._what(method, url), _transport_kind(exc))
                continue

            resp = _to_response(raw, method, url, is_read)
            status = resp.status
            if status == 401 and not refreshed and getattr(self.token_provider, 'refreshable', True):
                # An expired/revoked token: drop it from the cache, get a new one, and try once more.
                refreshed = True
                self.stats['token_refreshes'] += 1
                self._note('%s %s: HTTP 401, acquiring a new token and retrying once' % (method, path_only(url)))
                self.retry_log.add(self._what(method, url), 'HTTP 401: a new token was acquired', 0.0)
                self._token(force_refresh=True)
                continue
            if status >= 300 and url.endswith('/$batch') and _batch_answers(resp) is not None:
                # An envelope that failed but answers item by item: the items say what ran (never re-sent whole).
                resp.retry_time = state.total()
                return resp
            if status in retry_statuses or status == 429:
                retry_after = parse_retry_after(resp.headers.get('Retry-After'))
                if retry_after:  # absent or 0: back off ourselves rather than hammer the service
                    delay = retry_after
                else:
                    delay = self._backoff(backoff_round)
                    backoff_round += 1
                if status == 429:
                    self.stats['throttled'] += 1
                    self._hold(delay)
                    resp.not_before = self._hold_until
            if status in retry_statuses and (status != 429 or retry_throttled):
                state.failed(self._clock() - sent_at)
                if not state.can_wait(delay):
                    resp.retry_time = state.total()
                    resp.attempts = attempt
                    resp.retries_exhausted = True
                    resp.retry_budget = self.retry_budget
                    return resp
                self._wait(state, delay, self._what(method, url), 'HTTP %s' % status + (
                    ' with Retry-After' if resp.headers.get('Retry-After') else ''))
                continue
            if status >= 500 and not is_read:
                err = resp.error
                err.ambiguous = True
                err.retry_time = state.total()
                err.attempts = attempt
                raise err
            resp.retry_time = state.total()
            resp.attempts = attempt
            return resp

    def _transport_failure(self, method, url, exc, is_read):
        """None if the failure may be retried; otherwise the GraphError to raise."""
        if isinstance(exc, requests.exceptions.SSLError):
            return GraphError('TLS error: %s' % _exc_text(exc), method=method, url=url,
                              hint='Set ca_path (MSGRAPH_CA_PATH) to a CA bundle that signs this server\'s certificate'
                                   ' (validate_certs: false disables verification; only for tests).')
        if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                            requests.exceptions.InvalidSchema, requests.exceptions.InvalidHeader)):
            return GraphError('invalid request: %s' % _exc_text(exc), method=method, url=url)
        if not isinstance(exc, requests.exceptions.RequestException):
            if isinstance(exc, GraphError):
                return exc
            return GraphError('%s: %s' % (type(exc).__name__, _exc_text(exc)), method=method, url=url)
        if is_read or _not_sent(exc):
            return None
        return GraphError('%s: %s' % (_transport_kind(exc), _exc_text(exc)), method=method, url=url, ambiguous=True)

    def _batch_item(self, index, req):
        if not isinstance(req, dict) or not req.get('url') or not req.get('method'):
            raise GraphError('batch request #%d needs "method" and "url"' % index)
        method = str(req['method']).upper()
        url = str(req['url'])
        if re.match(r'(?i)^https?://', url):
            parts = urlsplit(url)
            url = parts.path + ('?' + parts.query if parts.query else '')
            prefix = urlsplit(self.base_url).path
            if url.startswith(prefix + '/'):
                url = url[len(prefix):]
        if not url.startswith('/'):
            url = '/' + url
        query = encode_query(req.get('params'))
        if query:
            url += ('&' if '?' in url else '?') + query
        wire = {'id': str(index), 'method': method, 'url': url}
        headers = dict(req.get('headers') or {})
        if req.get('body') is not None:
            wire['body'] = req['body']
            if not any(k.lower() == 'content-type' for k in headers):
                headers['Content-Type'] = 'application/json'
        if headers:
            wire['headers'] = headers
        return dict(id=str(index), method=method, url=url, wire=wire, retry_throttled=req.get('retry_throttled', True))

    def _batch_response(self, item, entry):
        try:
            status = int(entry.get('status'))
        except (TypeError, ValueError):
            raise GraphError('the $batch answer for request id %s has no valid status' % item['id'], method='POST',
                             url=self.base_url + '/$batch', ambiguous=(item['method'] not in READ_METHODS))
        body = entry.get('body')
        text = None
        if isinstance(body, str):
            text = body
            try:
                body = _json.loads(body)
            except ValueError:
                pass
        return GraphResponse(status, headers=entry.get('headers') or {}, json=body, text=text,
                             method=item['method'], url=self.base_url + item['url'])


def _batch_answers(envelope):
    """The ``responses`` list of a ``$batch`` answer whatever its status, or None when it carries none."""
    body = envelope.json if isinstance(envelope.json, dict) else {}
    responses = body.get('responses')
    return responses if isinstance(responses, list) else None


def _to_response(raw, method, url, read_only=None):
    body = None
    text = None
    content = raw.content or b''
    if content:
        try:
            text = raw.text
        except Exception:  # pragma: no cover - undecodable body
            text = None
        try:
            body = _json.loads(content.decode('utf-8'))
        except (ValueError, UnicodeDecodeError):
            body = None
    return GraphResponse(raw.status_code, headers=raw.headers, json=body, text=text, method=method, url=url,
                         read_only=read_only)


def _not_sent(exc):
    """True when the request certainly never reached the server (could not connect), so even a write may be
    retried."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(exc, requests.exceptions.ConnectionError) or _urllib3_exceptions is None:
        return False
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, 'reason', reason)
    return isinstance(reason, (_urllib3_exceptions.NewConnectionError, _urllib3_exceptions.ConnectTimeoutError))


def _transport_kind(exc):
    if HAS_REQUESTS:
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return 'connection timed out'
        if isinstance(exc, requests.exceptions.Timeout):
            return 'timed out waiting for the response'
        if isinstance(exc, requests.exceptions.ConnectionError):
            return 'connection error'
    return type(exc).__name__


def _exc_text(exc):
    text = str(exc) or type(exc).__name__
    return redact(text)


def _silence_insecure_warnings():
    try:
        import warnings
        import urllib3
        warnings.filterwarnings('ignore', category=urllib3.exceptions.InsecureRequestWarning)
    except Exception:  # pragma: no cover
        pass
