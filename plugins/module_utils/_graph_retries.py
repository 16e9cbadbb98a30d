# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""Retries of Microsoft Graph requests: when a request may be sent again, how long to wait (Retry-After, backoff,
the hold after a 429), the one retry budget of a run that bounds all of it, and what the run retried in words a user
can read (the ``retries`` list of module results and its warning; an internal ``$batch`` is named by the requests it
carries, never by itself). ``GraphClient`` (``_graph_client.py``) sends; this module decides and accounts.

- Reads are retried on 429/502/503/504, connection errors and timeouts. Writes are retried only on 429 (Graph does not
  apply a throttled request) and when the connection could not even be opened; any other failure of a write
  (timeout, dropped connection, 5xx) raises ``GraphError(ambiguous=True)``: the caller must re-read.
- A connection that cannot be opened (refused, name not resolved, connect timeout) means Graph is not there, not that
  it is busy: it has a short budget of its own (``CONNECT_*``), so a stale graph_url fails in seconds.
- Every retry is recorded in the ``RetryLog`` (what, why, seconds waited), which the modules return as ``retries``.
- All waiting goes through an injectable ``sleep`` and is bounded by one retry budget for the whole run (all the
  operations of one client), not per request: a run throttled again and again still ends within the budget.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import email.utils
import math
import re
import time

try:
    import requests.exceptions
    HAS_REQUESTS = True
except ImportError:  # pragma: no cover - the client reports the missing library
    HAS_REQUESTS = False

try:
    import urllib3.exceptions as _urllib3_exceptions
except ImportError:  # pragma: no cover
    _urllib3_exceptions = None

from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._redaction import redact

BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
MAX_RETRIES = 60           # a safety net only; the time budget is what normally stops retrying

READ_METHODS = frozenset(['GET', 'HEAD', 'OPTIONS'])
RETRY_STATUS_READ = frozenset([429, 502, 503, 504])
RETRY_STATUS_WRITE = frozenset([429])

# Connection failures (refused, name not resolved, connect timeout) are not throttling: Graph is not there, and
# waiting the whole retry_budget for it only delays the failure. They get a budget of their own.
CONNECT_ATTEMPTS = 3       # attempts of one request that could not connect
CONNECT_BUDGET = 10.0      # seconds a run may spend on connection failures (failed attempts and waits)
CONNECT_BACKOFF = 0.5      # first wait between two connection attempts (then doubled, with jitter)
CONNECT_TIMEOUT = 10.0     # cap of the TCP connect timeout; ``timeout`` still bounds the wait for the answer
MAX_LISTED = 50            # entries kept in ``retries`` (a run throttled for minutes must not flood its result)


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


def backoff(n, rand):
    """The wait before retry ``n`` (0-based) when Graph gave no usable Retry-After: exponential, capped, with "equal
    jitter" (within [delay/2, delay]); ``rand`` returns a float in [0, 1)."""
    delay = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** n))
    return delay / 2.0 + rand() * delay / 2.0


def transport_failure(method, url, exc, is_read):
    """None if the failure of ``session.request`` may be retried; otherwise the GraphError to raise."""
    if isinstance(exc, requests.exceptions.SSLError):
        return GraphError('TLS error: %s' % exc_text(exc), method=method, url=url,
                          hint='Set ca_path (MSGRAPH_CA_PATH) to a CA bundle that signs this server\'s certificate'
                               ' (validate_certs: false disables verification; only for tests).')
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema, requests.exceptions.InvalidHeader)):
        return GraphError('invalid request: %s' % exc_text(exc), method=method, url=url)
    if not isinstance(exc, requests.exceptions.RequestException):
        if isinstance(exc, GraphError):
            return exc
        return GraphError('%s: %s' % (type(exc).__name__, exc_text(exc)), method=method, url=url)
    if is_read or not_sent(exc):
        return None
    return GraphError('%s: %s' % (transport_kind(exc), exc_text(exc)), method=method, url=url, ambiguous=True)


def not_sent(exc):
    """True when the request certainly never reached the server (could not connect), so even a write may be
    retried."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(exc, requests.exceptions.ConnectionError) or _urllib3_exceptions is None:
        return False
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, 'reason', reason)
    return isinstance(reason, (_urllib3_exceptions.NewConnectionError, _urllib3_exceptions.ConnectTimeoutError))


def transport_kind(exc):
    if HAS_REQUESTS:
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return 'connection timed out'
        if isinstance(exc, requests.exceptions.Timeout):
            return 'timed out waiting for the response'
        if isinstance(exc, requests.exceptions.ConnectionError):
            return 'connection error'
    return type(exc).__name__


def exc_text(exc):
    text = str(exc) or type(exc).__name__
    return redact(text)


class RetryState(object):
    """Time accounting of one logical operation (a request, a paged read, or a whole batch), charged to the run.

    The run's ``retry_budget`` bounds the retry time of the whole run (every operation of one client): what earlier
    operations spent retrying (``run.spent``) plus what this one has spent so far. Retry time is the time spent waiting
    before a retry plus the time of the attempts that failed (a timed-out attempt costs its timeout); successful
    attempts are not retry time.
    """

    def __init__(self, run):
        self.run = run
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
        return self.run.spent + self.spent()

    def can_wait(self, delay):
        return self.total() + delay <= self.run.budget and self.retries < MAX_RETRIES

    def close(self):
        if not self.closed:
            self.closed = True
            self.run.spent += self.spent()
            self.run.stats['retry_time'] += self.slept


class RetryBudget(object):
    """The retry accounting of one run (one GraphClient): the budget and what was spent of it, the separate budget of
    connections that could not be opened, the hold after a 429, and every wait (listed in ``log``).

    All waiting goes through the injectable ``sleep``; ``clock`` is monotonic; ``stats`` is the client's counters;
    ``note`` logs a line (already redacted by the caller's logger).
    """

    def __init__(self, budget, sleep, clock, rand, stats, note):
        self.budget = float(budget)
        self.spent = 0.0  # seconds of retrying charged to the budget so far (the whole run)
        self.connect_spent = 0.0  # seconds spent on connections that could not be opened (CONNECT_BUDGET)
        self.log = RetryLog()  # what was retried, why, how long we waited: shown to the user
        # Clock time before which no Graph request is sent: Graph throttles per application and tenant, so after a 429
        # every request waits (not only the retry of the throttled one).
        self.hold_until = None
        self.sleep = sleep
        self.clock = clock
        self.random = rand
        self.stats = stats
        self._note = note

    def operation(self):
        """A RetryState for one logical operation; ``close()`` it when the operation ends."""
        return RetryState(self)

    def backoff(self, n):
        return backoff(n, self.random)

    def connect_retry(self, state, failures, spent):
        """The wait before another attempt of a request that could not connect (its ``failures``-th, which took
        ``spent`` seconds), or None when it must give up: a few quick attempts, not the whole budget."""
        self.connect_spent += spent
        delay = CONNECT_BACKOFF * (2 ** (failures - 1)) * (0.5 + self.random() / 2.0)
        if failures >= CONNECT_ATTEMPTS or self.connect_spent + delay > CONNECT_BUDGET or not state.can_wait(delay):
            return None
        self.connect_spent += delay
        return delay

    def hold(self, delay):
        """After a 429: no request is sent for ``delay`` seconds. Returns the clock time the hold ends."""
        until = self.clock() + delay
        if self.hold_until is None or until > self.hold_until:
            self.hold_until = until
        return self.hold_until

    def respect_hold(self, state, method, url, attempt, what):
        """Wait until Graph's last Retry-After has passed, charged to the retry budget; raise when it does not fit."""
        if self.hold_until is None:
            return
        delay = self.hold_until - self.clock()
        if delay <= 0:
            self.hold_until = None
            return
        if not state.can_wait(delay):
            raise GraphError('Microsoft Graph is throttling this application; the next request may be sent in %.1f s'
                             % delay, status=429, code='TooManyRequests', method=method, url=url,
                             retry_time=state.total(), attempts=attempt, retries_exhausted=True,
                             retry_budget=self.budget)
        self.wait(state, delay, what, 'Graph asked to pause after HTTP 429')

    def wait(self, state, delay, what, why):
        """Wait before a retry: listed in ``log`` (the module result), logged, charged to ``state``."""
        self._note('%s: %s; retrying in %.1f s' % (what, why, delay))
        self.log.add(what, why, delay)
        state.retries += 1
        self.stats['retries'] += 1
        state.slept += delay
        if delay > 0:
            self.sleep(delay)

    def reserve(self, delay, what, why):
        """Charge a wait the caller makes itself; False (nothing charged) when the budget does not allow it."""
        if self.spent + delay > self.budget:
            return False
        self.spent += delay
        self.log.add(what, why, delay)
        return True

    def wait_before_retry(self, err):
        """Wait before the caller re-plans a write answered 429: what is left of the hold, else Retry-After, else a
        backoff. Raises ``err`` (marked as exhausted) when the budget does not allow the wait."""
        state = self.operation()
        if err.not_before is not None:
            delay = max(0.0, err.not_before - self.clock())  # what is left of the wait Graph asked for
        else:
            delay = err.retry_after if err.retry_after else self.backoff(0)
        try:
            if not state.can_wait(delay):
                err.retries_exhausted = True
                err.retry_time = state.total()
                err.retry_budget = self.budget
                raise err
            self.wait(state, delay, '%s %s' % (err.method, err.url), 'HTTP %s; the grant is read again and the '
                      'change planned anew' % err.status)
        finally:
            state.close()


def _path(url):
    """``/v1.0/users/x`` from a full URL, without the query (names in filters stay out of the summary)."""
    text = re.sub(r'^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]+', '', url or '')
    return text.split('?', 1)[0] or '/'


def _collection(url):
    """``/servicePrincipals`` for ``/servicePrincipals(appId='...')`` or ``/servicePrincipals/{id}``."""
    path = _path(url)
    match = re.match(r'^(/[^/(?]+)', path)
    return match.group(1) if match else path


def describe_requests(items):
    """What a group of requests sent in one round trip does, e.g. ``GET /servicePrincipals (3 requests) and POST
    /oauth2PermissionGrants``. ``items``: dicts with ``method`` and ``url`` (relative to the version root)."""
    counts = []
    for item in items:
        key = '%s %s' % (item['method'], _collection(item['url']))
        for entry in counts:
            if entry[0] == key:
                entry[1] += 1
                break
        else:
            counts.append([key, 1])
    parts = ['%s (%d requests)' % (key, n) if n > 1 else key for key, n in counts[:4]]
    if len(counts) > 4:
        parts.append('%d more kinds of request' % (len(counts) - 4))
    return ' and '.join([', '.join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)


def connect_reason(exc):
    """A short reason for a connection that could not be opened, from the exception chain's text."""
    text = str(exc)
    for needle, reason in (('refused', 'connection refused'),
                           ('NameResolution', 'host name not resolved'), ('Name or service not known', 'host name not resolved'),
                           ('nodename nor servname', 'host name not resolved'), ('getaddrinfo', 'host name not resolved'),
                           ('timed out', 'connection timed out'), ('unreachable', 'network unreachable')):
        if needle in text:
            return reason
    return 'connection failed'


def unreachable_hint(graph_root):
    return ('Check graph_url (MSGRAPH_GRAPH_URL) and cloud: a value left over from an earlier emulator session sends '
            'every request to 127.0.0.1 (unset MSGRAPH_GRAPH_URL to use the cloud\'s Graph). Otherwise check that '
            '%s is reachable from this host (proxy, firewall, DNS).' % graph_root)


class RetryLog(object):
    """The retries of one run: ``what`` was retried, ``why``, and how long the run ``waited`` before it (seconds).

    Never a token, a secret or a query string: only the method, the path and a status or reason.
    """

    def __init__(self):
        self.entries = []
        self.dropped = 0

    def add(self, what, why, waited):
        if len(self.entries) >= MAX_LISTED:
            self.dropped += 1
            return
        self.entries.append(dict(what=what, why=why, waited=round(max(0.0, waited), 3)))

    def summary(self, retry_spent):
        """The warning text of a run that retried (None when it did not)."""
        if not self.entries:
            return None
        count = len(self.entries) + self.dropped
        reasons = []
        for entry in self.entries:
            if entry['why'] not in reasons:
                reasons.append(entry['why'])
        return ('Microsoft Graph: this run retried %d time%s and spent %.1f s of its retry_budget waiting or on '
                'failed attempts (%s). The result\'s "retries" lists each retry (shown with -v).' % (
                    count, '' if count == 1 else 's', retry_spent, '; '.join(reasons[:4])))
