# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""Microsoft Graph HTTP client: one requests.Session, paging, $batch, GraphResponse and the GraphError of an answer.

Design notes (see docs/dev/architecture.md):
- ``verify`` (False, True or a CA bundle path) and ``timeout`` are passed on every request: a machine-wide
  REQUESTS_CA_BUNDLE would otherwise silently win over ``Session.verify`` (psf/requests#3829).
- When a request is sent again, how long the client waits and the run's one retry budget: ``_graph_retries.py``.
  ``$batch`` chunking and the handling of its items' answers: ``_graph_batch.py``.
- A read-modify-write (a PATCH or DELETE whose body was computed from what the caller read) must not be re-sent
  blindly after a 429: another writer may change the grant while we wait. Callers pass ``retry_throttled=False``,
  get the 429 back, and use ``wait_before_retry`` before they read and plan again.
- No access token ever appears in an exception, a log line or a result.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json as _json
import random
import re
import threading
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
    HAS_REQUESTS = True
except ImportError:  # pragma: no cover - exercised by the import sanity test only
    import traceback
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
    requests = None

from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError, path_only
from ansible_collections.msgraph.grants.plugins.module_utils._redaction import redact, register_secret
from ansible_collections.msgraph.grants.plugins.module_utils._graph_batch import BatchSender, batch_answers
from ansible_collections.msgraph.grants.plugins.module_utils._graph_concurrency import MAX_CONCURRENCY, run_parallel
# Re-exported: callers import these from here (the names moved to _graph_response to keep this file small).
from ansible_collections.msgraph.grants.plugins.module_utils._graph_response import (  # noqa: F401 pylint: disable=unused-import
    GraphResponse,
    _error_from_parts,
    error_from_response,
)
from ansible_collections.msgraph.grants.plugins.module_utils._graph_retries import (
    CONNECT_TIMEOUT,
    READ_METHODS,
    RetryBudget,
)


# Keep in sync with galaxy.yml (a unit test checks it).
COLLECTION_VERSION = '0.1.0'
USER_AGENT = 'msgraph.grants/%s' % COLLECTION_VERSION

# The defaults of the timeout and retry_budget options (the one home of both; the module argument spec uses them).
DEFAULT_TIMEOUT = 30
DEFAULT_RETRY_BUDGET = 120


def encode_query(params):
    """Encode query parameters keeping OData's ``$`` and quotes readable (``$filter=clientId%20eq%20'x'``).

    The collection's one query encoder: URLs sent inside a ``$batch`` use it too (``_graph_batch``)."""
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
        self.session = session if session is not None else requests.Session()
        # Worker threads (``parallel``) borrow sessions of their own; an injected session (tests) is shared.
        self._own_sessions = session is None
        self._spare_sessions = []
        self._local = threading.local()
        self._token_lock = threading.Lock()
        # The session pool's own lock: _token_lock is held across a token refresh (a network call).
        self._pool_lock = threading.Lock()
        self.max_concurrency = MAX_CONCURRENCY
        # At most max_concurrency requests in flight, however the parallel calls nest (a batch inside a parallel read).
        self._in_flight = threading.Semaphore(MAX_CONCURRENCY)
        self._clock = clock or time.monotonic
        self._log = log
        self.user_agent = user_agent
        self.stats = dict(requests=0, retries=0, batches=0, throttled=0, token_refreshes=0, retry_time=0.0)
        # Every wait, the hold after a 429 and the run's retry budget (one for all the operations of this client).
        self._retries = RetryBudget(retry_budget if retry_budget is not None else DEFAULT_RETRY_BUDGET,
                                    sleep or time.sleep, self._clock, rand or random.random, self.stats, self._note)
        if verify is False:
            _silence_insecure_warnings()

    @property
    def retry_budget(self):
        return self._retries.budget

    @property
    def retry_spent(self):
        """Seconds of retrying charged to retry_budget so far (the whole run)."""
        return self._retries.spent

    @property
    def retry_log(self):
        """What was retried, why, how long the run waited (a RetryLog): the modules return it as ``retries``."""
        return self._retries.log

    # ------------------------------------------------------------------ public API
    def request(self, method, path, params=None, json=None, headers=None, raise_for_status=True, retry_throttled=True):
        """Send one request (with retries). Returns a GraphResponse; raises GraphError on failure unless
        ``raise_for_status=False`` (then an error response is returned as is, after retries).

        ``retry_throttled=False``: a 429 is returned (or raised) at once instead of being re-sent after Retry-After;
        for a write whose body was computed from a read (see ``wait_before_retry``)."""
        method = method.upper()
        url = self._url(path, params)
        state = self._retries.operation()
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
        state = self._retries.operation()
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
        return self._retries.reserve(delay, 'reading the grant back', 'waiting for directory replication')

    def wait_before_retry(self, err):
        """Wait before the caller re-plans a write that was answered 429 (sent with ``retry_throttled=False``):
        Retry-After if Graph gave one, else a jittered backoff, charged to the run's retry budget. Raises ``err``
        (marked as exhausted) when the budget does not allow the wait."""
        self._retries.wait_before_retry(err)

    def post_read(self, path, body, headers=None):
        """A POST that only reads (``/directoryObjects/getByIds``): retried like a GET. Returns the GraphResponse,
        error answers included (the caller decides)."""
        url = self._url(path)
        state = self._retries.operation()
        try:
            return self._send('POST', url, body, headers, state, treat_as='GET')
        finally:
            state.close()

    def current_token(self):
        """The access token requests are sent with (never logged or returned)."""
        return self._token()

    def parallel(self, tasks, stop=None):
        """Run independent request-sending callables up to ``max_concurrency`` at a time (``_graph_concurrency``);
        Outcomes in input order. The token is fetched once before fanning out; every thread shares the throttling
        hold and the retry budget."""
        if len(tasks) > 1 and self.max_concurrency > 1:
            self._token()
        return run_parallel(tasks, limit=self.max_concurrency, stop=stop, wrap=self._with_session)

    def _with_session(self, task):
        def run():
            session = self._borrow_session()
            self._local.session = session
            try:
                return task()
            finally:
                self._local.session = None
                with self._pool_lock:
                    self._spare_sessions.append(session)
        return run

    def _borrow_session(self):
        if not self._own_sessions:
            return self.session
        with self._pool_lock:
            if self._spare_sessions:
                return self._spare_sessions.pop()
        return requests.Session()

    def batch(self, requests_):
        """Send many requests through ``POST /$batch``, 20 per batch; one GraphResponse per input, in input order.

        ``requests_``: dicts with ``method``, ``url`` (relative to the version root, may carry a query), optional
        ``body``, ``headers``, ``params`` and ``retry_throttled``. What is sent again, and the ``partial_results`` of
        an error raised when a batch holding writes fails: ``_graph_batch.BatchSender.run``."""
        return BatchSender(self.base_url, self._send, self._retries, self.stats, GraphResponse, encode_query,
                           parallel=self.parallel).run(requests_)

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
        with self._token_lock:  # one token for every thread (a cache file is not written twice at once)
            if force_refresh:
                token = self.token_provider.get_token(force_refresh=True)
            else:
                token = self.token_provider.get_token()
        register_secret(token)
        return token

    def _send(self, method, url, body, extra_headers, state, treat_as=None, retry_throttled=True, what=None):
        """One logical request with retries. Returns a GraphResponse (possibly an error response: the caller
        decides); raises GraphError for transport failures, ambiguous writes and an exhausted budget. ``treat_as``:
        the method whose retry rules apply (a $batch of reads is a read); ``what``: how retries name the request."""
        retry = self._retries.request(state, method, url, what or '%s %s' % (method, path_only(url)),
                                      (treat_as or method) in READ_METHODS, self.graph_root)
        refreshed = False
        data = None
        if body is not None:
            data = _json.dumps(body, separators=(',', ':'))
        while True:
            retry.before_attempt()  # waits out the hold after a 429
            token = self._token()
            headers = self._headers(token, extra_headers, body is not None)
            if retry.attempt > 1:
                headers['retry-attempt'] = str(retry.attempt - 1)
            self._retries.count('requests')
            sent_at = self._clock()
            try:
                with self._in_flight:
                    raw = (getattr(self._local, 'session', None) or self.session).request(
                        method, url, data=data, headers=headers, verify=self.verify,
                        timeout=(min(self.timeout, CONNECT_TIMEOUT), self.timeout))
            except Exception as exc:  # requests.exceptions.RequestException and friends
                retry.after_exception(exc, sent_at)  # waits before the next attempt, or raises the error
                continue

            resp = _to_response(raw, method, url, retry.is_read)
            status = resp.status
            if status == 401 and not refreshed and getattr(self.token_provider, 'refreshable', True):
                # An expired/revoked token: drop it from the cache, get a new one, and try once more.
                refreshed = True
                self._retries.count('token_refreshes')
                self._note('%s %s: HTTP 401, acquiring a new token and retrying once' % (method, path_only(url)))
                self._retries.log.add(retry.what, 'HTTP 401: a new token was acquired', 0.0)
                self._token(force_refresh=True)
                continue
            if status >= 300 and url.endswith('/$batch') and batch_answers(resp) is not None:
                # An envelope that failed but answers item by item: the items say what ran (never re-sent whole).
                resp.retry_time = state.total()
                return resp
            if retry.after_status(resp, retry_throttled, sent_at):  # waited: send it again
                continue
            if status >= 500 and not retry.is_read:
                err = resp.error
                err.ambiguous = True
                err.retry_time = state.total()
                err.attempts = retry.attempt
                raise err
            resp.retry_time = state.total()
            resp.attempts = retry.attempt
            return resp


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


def _silence_insecure_warnings():
    try:
        import warnings
        import urllib3
        warnings.filterwarnings('ignore', category=urllib3.exceptions.InsecureRequestWarning)
    except Exception:  # pragma: no cover
        pass
