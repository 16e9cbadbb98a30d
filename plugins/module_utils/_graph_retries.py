# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""Retries of Microsoft Graph requests: when a request may be sent again, how long to wait (Retry-After, backoff,
the hold after a 429) and the one retry budget of a run that bounds all of it. ``GraphClient`` (``_graph_client.py``)
sends; this module decides and accounts; ``_retry_log.py`` tells the user what was retried.

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
import threading
import time

try:
    import requests.exceptions
except ImportError:  # pragma: no cover - the client reports the missing library
    requests = None

try:
    import urllib3.exceptions as _urllib3_exceptions
except ImportError:  # pragma: no cover
    _urllib3_exceptions = None

from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._retry_log import (
    RetryLog,
    connect_reason,
    exc_text,
    transport_kind,
    unreachable_hint,
)

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


class RetryState(object):
    """Time accounting of one logical operation (a request, a paged read, or a whole batch), charged to the run.

    The run's ``retry_budget`` bounds the retry time of the whole run (every operation of one client): what closed
    operations spent retrying (``run.spent``) plus what the open ones have spent so far (several are open at once when
    ``$batch`` envelopes are sent from a few threads). Retry time is the time spent waiting before a retry plus the
    time of the attempts that failed (a timed-out attempt costs its timeout); successful attempts are not retry time.
    """

    def __init__(self, run):
        self.run = run
        self.failed_time = 0.0
        self.slept = 0.0
        self.reserved = 0.0  # a wait ``can_wait`` allowed and ``run.wait`` has not made yet
        self.attempts = 0
        self.retries = 0
        self.closed = False
        with run.lock:
            run.open_operations.append(self)

    def failed(self, seconds):
        """Charge the duration of an attempt that failed (and will be retried or reported)."""
        with self.run.lock:
            self.failed_time += max(0.0, seconds)

    def spent(self):
        """Seconds this operation has spent retrying."""
        return self.slept + self.failed_time

    def total(self):
        """Seconds the run has spent retrying, this operation (and any other still open) included."""
        with self.run.lock:
            return self.run.charged()

    def can_wait(self, delay):
        """True when the budget allows waiting ``delay`` before a retry, which is then reserved for this operation
        (under the run's lock, so threads cannot each take the same rest of the budget)."""
        with self.run.lock:
            if self.run.charged() + delay <= self.run.budget and self.retries < MAX_RETRIES:
                self.reserved += delay
                return True
            return False

    def close(self):
        if not self.closed:
            self.closed = True
            with self.run.lock:
                self.run.open_operations.remove(self)
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
        self.spent = 0.0  # seconds of retrying charged to the budget by the operations closed so far
        self.open_operations = []  # the RetryStates not closed yet: what they spent and reserved counts too
        self.connect_spent = 0.0  # seconds spent on connections that could not be opened (CONNECT_BUDGET)
        self.log = RetryLog()  # what was retried, why, how long we waited: shown to the user
        # Clock time before which no Graph request is sent: Graph throttles per application and tenant, so after a 429
        # every request waits (not only the retry of the throttled one).
        self.hold_until = None
        # The hold already charged to the budget: threads waiting out the same hold share one charge, so the budget
        # counts the time the run waited, not that time once per thread.
        self.hold_charged = None
        # Requests of one run may be sent from a few threads (``_graph_concurrency``): counters, the budget and the hold
        # are shared. Re-entrant: connect_retry asks can_wait while holding it.
        self.lock = threading.RLock()
        self.sleep = sleep
        self.clock = clock
        self.random = rand
        self.stats = stats
        self._note = note

    def charged(self):
        """Seconds charged to the budget: closed operations, and what the open ones spent and reserved (call with the
        lock held)."""
        return self.spent + sum(s.spent() + s.reserved for s in self.open_operations)

    def count(self, name, n=1):
        """Add ``n`` to the client's counter ``name`` (thread-safe)."""
        with self.lock:
            self.stats[name] += n

    def claim_hold(self, until):
        """True for the first waiter of the hold ending at ``until`` (it charges the wait to the budget and lists it in
        ``retries``); the threads that wait for the same hold beside it only wait."""
        with self.lock:
            if until is None or (self.hold_charged is not None and until <= self.hold_charged):
                return False
            self.hold_charged = until
            return True

    def operation(self):
        """A RetryState for one logical operation; ``close()`` it when the operation ends."""
        return RetryState(self)

    def request(self, state, method, url, what, is_read, graph_root):
        """The RequestRetries of one request sent within the operation ``state``."""
        return RequestRetries(self, state, method, url, what, is_read, graph_root)

    def give_up(self, target, state, attempts):
        """Mark a response (or error) as the last answer: the retry budget does not allow another attempt."""
        target.retry_time = state.total()
        target.attempts = attempts
        target.retries_exhausted = True
        target.retry_budget = self.budget

    def backoff(self, n):
        return backoff(n, self.random)

    def connect_retry(self, state, failures, spent):
        """The wait before another attempt of a request that could not connect (its ``failures``-th, which took
        ``spent`` seconds), or None when it must give up: a few quick attempts, not the whole budget."""
        with self.lock:
            self.connect_spent += spent
            delay = CONNECT_BACKOFF * (2 ** (failures - 1)) * (0.5 + self.random() / 2.0)
            if failures >= CONNECT_ATTEMPTS or self.connect_spent + delay > CONNECT_BUDGET or not state.can_wait(delay):
                return None
            self.connect_spent += delay
            return delay

    def hold(self, delay):
        """After a 429: no request is sent for ``delay`` seconds. Returns the clock time the hold ends."""
        with self.lock:
            until = self.clock() + delay
            if self.hold_until is None or until > self.hold_until:
                self.hold_until = until
            return self.hold_until

    def respect_hold(self, state, method, url, attempt, what):
        """Wait until Graph's last Retry-After has passed, charged to the retry budget; raise when it does not fit."""
        with self.lock:
            until = self.hold_until
            if until is None:
                return
            delay = until - self.clock()
            if delay <= 0:
                self.hold_until = None
                return
        if not self.claim_hold(until):
            self.sleep(delay)  # another thread charged this hold and lists it: wait beside it
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
        with self.lock:
            self.log.add(what, why, delay)
            state.retries += 1
            self.stats['retries'] += 1
            state.reserved = max(0.0, state.reserved - delay)  # what can_wait reserved is now spent
            state.slept += delay
        if delay > 0:
            self.sleep(delay)

    def wait_hold(self, state, delay, until, what, why):
        """``wait`` for a retry after a 429 that set the hold ending at ``until``: charged and listed once, whichever
        thread waits for that hold first."""
        if self.claim_hold(until):
            self.wait(state, delay, what, why)
            return
        with self.lock:
            state.reserved = max(0.0, state.reserved - delay)  # the thread that claimed the hold charges it
            if delay > 0:
                state.retries += 1
        if delay > 0:
            self.sleep(delay)

    def reserve(self, delay, what, why):
        """Charge a wait the caller makes itself; False (nothing charged) when the budget does not allow it."""
        with self.lock:
            if self.charged() + delay > self.budget:
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


class RequestRetries(object):
    """The retry decisions of one request (``GraphClient._send``): after an exception or an answer, wait and send it
    again, or let the answer stand. Counts the request's attempts, backoff rounds and failed connections."""

    def __init__(self, run, state, method, url, what, is_read, graph_root):
        self.run = run
        self.state = state
        self.method = method
        self.url = url
        self.what = what
        self.is_read = is_read
        self.statuses = RETRY_STATUS_READ if is_read else RETRY_STATUS_WRITE
        self.graph_root = graph_root
        self.attempt = 0
        self.backoff_round = 0
        self.connect_failures = 0

    def before_attempt(self):
        self.attempt += 1
        self.state.attempts += 1
        self.run.respect_hold(self.state, self.method, self.url, self.attempt, self.what)

    def after_exception(self, exc, sent_at):
        """Wait before the next attempt after ``session.request`` raised ``exc``; raise the GraphError to report when
        the request may not be sent again."""
        run, state, method, url = self.run, self.state, self.method, self.url
        failure = transport_failure(method, url, exc, self.is_read)
        if failure is not None:  # not retryable
            failure.retry_time = state.total()
            failure.attempts = self.attempt
            raise failure
        spent = run.clock() - sent_at
        state.failed(spent)
        if not_sent(exc):
            # Nothing is listening (or the name does not resolve): a few quick attempts, not the whole budget.
            self.connect_failures += 1
            delay = run.connect_retry(state, self.connect_failures, spent)
            if delay is None:
                raise GraphError(
                    'cannot connect to Microsoft Graph at %s (%s).' % (self.graph_root, connect_reason(exc)),
                    method=method, url=url, retry_time=state.total(), attempts=self.attempt,
                    retries_exhausted=True, hint=unreachable_hint(self.graph_root))
            run.wait(state, delay, self.what, connect_reason(exc))
            return
        delay = run.backoff(self.backoff_round)
        self.backoff_round += 1
        if not state.can_wait(delay):
            raise GraphError('%s: %s' % (transport_kind(exc), exc_text(exc)), method=method, url=url,
                             retry_time=state.total(), attempts=self.attempt, retries_exhausted=True,
                             retry_budget=run.budget, hint=unreachable_hint(self.graph_root))
        run.wait(state, delay, self.what, transport_kind(exc))

    def after_status(self, resp, retry_throttled, sent_at):
        """True after waiting when the answer ``resp`` calls for another attempt; False when it stands (marked as
        exhausted when the budget refused the wait). A 429 holds every later request for its Retry-After."""
        run, state, status = self.run, self.state, resp.status
        if status in self.statuses or status == 429:
            retry_after = parse_retry_after(resp.headers.get('Retry-After'))
            if retry_after:  # absent or 0: back off ourselves rather than hammer the service
                delay = retry_after
            else:
                delay = run.backoff(self.backoff_round)
                self.backoff_round += 1
            if status == 429:
                run.count('throttled')
                resp.not_before = run.hold(delay)
        if status in self.statuses and (status != 429 or retry_throttled):
            state.failed(run.clock() - sent_at)
            if not state.can_wait(delay):
                run.give_up(resp, state, self.attempt)
                return False
            why = 'HTTP %s' % status + (' with Retry-After' if resp.headers.get('Retry-After') else '')
            if status == 429:
                run.wait_hold(state, delay, resp.not_before, self.what, why)
            else:
                run.wait(state, delay, self.what, why)
            return True
        return False
