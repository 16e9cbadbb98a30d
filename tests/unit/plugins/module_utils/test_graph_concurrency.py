# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Concurrency with manners (plugins/module_utils/_graph_concurrency.py, GraphClient.parallel and batch): at most 4
requests in flight, results in input order, one throttling hold for every thread (charged to the retry budget
once), writes never re-sent. Against a real HTTP server on 127.0.0.1; waits go through injected sleeps."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import threading
import time

import pytest

from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._graph_concurrency import run_parallel, values
from ansible_collections.msgraph.grants.plugins.module_utils._graph_retries import RetryBudget
from ansible_collections.msgraph.grants.tests.unit.utils.graph_client_doubles import clock  # noqa: F401 pylint: disable=unused-import
from ansible_collections.msgraph.grants.tests.unit.utils.graph_client_doubles import graph_error, make_client
from ansible_collections.msgraph.grants.tests.unit.utils.http_server import Reply


class InFlight(object):
    """Counts the requests the server is answering at once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0

    def __enter__(self):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *args):
        with self.lock:
            self.now -= 1


def echo_items(rec, status=200):
    return {'responses': [{'id': item['id'], 'status': status, 'body': {'url': item['url']}}
                          for item in rec.json['requests']]}


# ------------------------------------------------------------------------------------------------- run_parallel
def test_run_parallel_keeps_input_order_and_limits_the_threads():
    running = InFlight()

    def task(n):
        def run():
            with running:
                time.sleep(0.02 * (5 - n % 5))  # later tasks finish first
            return n
        return run

    outcomes = run_parallel([task(n) for n in range(12)], limit=4)
    assert values(outcomes) == list(range(12))
    assert 1 < running.most <= 4


def test_run_parallel_stops_starting_tasks_after_an_error_and_reports_it_in_order():
    def fail():
        raise GraphError('refused', status=403)

    outcomes = run_parallel([fail] + [lambda: 'late'] * 10, limit=1, stop=lambda err: True)
    assert outcomes[0].error is not None and not any(o.started for o in outcomes[1:])
    with pytest.raises(GraphError):
        values(outcomes)


def run_threads(target, count):
    threads = [threading.Thread(target=target) for _n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# ------------------------------------------------------------------------------------------------- the hold
def test_a_hold_is_waited_by_every_thread_and_charged_to_the_budget_once():
    slept = []
    lock = threading.Lock()

    def sleep(delay):
        with lock:
            slept.append(delay)

    stats = dict(retries=0, throttled=0, retry_time=0.0)
    run = RetryBudget(60, sleep, lambda: 100.0, lambda: 0.5, stats, lambda text: None)  # the clock stands still
    run.hold(7.0)
    barrier = threading.Barrier(4)

    def worker():
        state = run.operation()
        barrier.wait()
        run.respect_hold(state, 'GET', '/x', 1, 'GET /x')
        state.close()

    run_threads(worker, 4)
    assert slept == [7.0] * 4          # nobody sent before the Retry-After
    assert run.spent == 7.0            # ... but the run waited 7 s, not 28
    assert len(run.log.entries) == 1 and stats['retry_time'] == 7.0


def budget(seconds=10):
    stats = dict(retries=0, throttled=0, retry_time=0.0)
    return RetryBudget(seconds, lambda delay: None, lambda: 100.0, lambda: 0.5, stats, lambda text: None)


def test_operations_open_at_once_cannot_each_take_the_rest_of_the_budget():
    # Four envelopes in flight, each wanting a 4 s backoff within a 10 s budget: two fit, not four (each used to see
    # only what closed operations had spent).
    run = budget(10)
    states = [run.operation() for _n in range(4)]
    assert [s.can_wait(4.0) for s in states] == [True, True, False, False]
    for state in states[:2]:
        run.wait(state, 4.0, 'GET /x', 'HTTP 503')
    assert states[3].total() == 8.0 and not run.reserve(4.0, 'reading the grant back', 'replication')
    for state in states:
        state.close()
    assert run.spent == 8.0 and run.stats['retry_time'] == 8.0 and run.stats['retries'] == 2


def test_threads_waiting_on_backoff_stay_within_the_budget():
    run, barrier = budget(10), threading.Barrier(4)
    allowed = []

    def worker():
        state = run.operation()
        barrier.wait()
        ok = state.can_wait(4.0)
        barrier.wait()  # every thread decided before any closes: the old accounting let all four wait
        if ok:
            run.wait(state, 4.0, 'GET /x', 'HTTP 503')
        allowed.append(ok)
        state.close()

    run_threads(worker, 4)
    assert sorted(allowed) == [False, False, True, True] and run.spent == 8.0


def test_a_thread_waiting_beside_a_charged_hold_gives_back_its_reservation():
    run = budget(10)
    until = run.hold(6.0)
    first, second = run.operation(), run.operation()
    assert first.can_wait(6.0)
    run.wait_hold(first, 6.0, until, 'GET /a', 'HTTP 429')  # charged once, by the first waiter
    assert second.can_wait(4.0)
    run.wait_hold(second, 4.0, until, 'GET /b', 'HTTP 429')  # the same hold: waits beside it, not charged
    assert second.total() == 6.0
    first.close()
    second.close()
    assert run.spent == 6.0 and run.operation().can_wait(4.0)


def test_a_429_in_one_envelope_holds_the_envelopes_not_yet_sent(http_server, clock):
    arrivals = []

    def handler(rec):
        arrivals.append(clock.now)
        if len(arrivals) == 1:
            return 429, graph_error(429, 'TooManyRequests', 'slow down'), {'Retry-After': '9'}
        return echo_items(rec)

    http_server.handler = handler
    client = make_client(http_server, clock)
    client.max_concurrency = 1  # one envelope at a time: every later one is sent after the 429 was read
    results = client.batch([{'method': 'GET', 'url': '/users/%d' % i} for i in range(60)])
    assert [r.json['url'] for r in results] == ['/users/%d' % i for i in range(60)]
    assert arrivals[0] == 1000.0 and all(t >= 1009.0 for t in arrivals[1:])
    assert client.stats['throttled'] == 1 and clock.sleeps == [9.0]


def test_a_worker_takes_and_returns_its_session_while_a_token_refresh_holds_the_token_lock(http_server, clock):
    client = make_client(http_server, clock)
    done = threading.Event()

    def work():
        if client._with_session(lambda: 'ok')() == 'ok':  # pylint: disable=protected-access
            done.set()
    with client._token_lock:  # pylint: disable=protected-access  # another thread is fetching a token
        worker = threading.Thread(target=work)
        worker.start()
        finished = done.wait(2)
    worker.join()
    assert finished and len(client._spare_sessions) == 1  # pylint: disable=protected-access


# ------------------------------------------------------------------------------------------------- batches
def test_envelopes_go_out_four_at_a_time_and_come_back_in_input_order(http_server, clock):
    running = InFlight()

    def handler(rec):
        with running:
            first = int(rec.json['requests'][0]['url'].rsplit('/', 1)[1])
            time.sleep(0.01 * (10 - first // 20))  # later envelopes answer first
        return echo_items(rec)

    http_server.handler = handler
    client = make_client(http_server, clock)
    results = client.batch([{'method': 'GET', 'url': '/users/%d' % i} for i in range(200)])
    assert [r.json['url'] for r in results] == ['/users/%d' % i for i in range(200)]
    assert 1 < running.most <= 4 and client.stats['batches'] == 10 and client.stats['requests'] == 10


def test_throttled_writes_computed_from_a_read_are_returned_not_resent(http_server, clock):
    sent = []
    lock = threading.Lock()

    def handler(rec):
        with lock:
            sent.extend(item['url'] for item in rec.json['requests'])
        return {'responses': [{'id': item['id'], 'status': 429, 'headers': {'Retry-After': '2'},
                               'body': graph_error(429, 'TooManyRequests', 'slow down')}
                              for item in rec.json['requests']]}

    http_server.handler = handler
    client = make_client(http_server, clock)
    writes = [{'method': 'PATCH', 'url': '/oauth2PermissionGrants/g%d' % i, 'body': {'scope': 'a'}, 'retry_throttled': False}
              for i in range(50)]
    results = client.batch(writes)
    assert [r.status for r in results] == [429] * 50
    assert sorted(sent) == sorted(w['url'] for w in writes)  # each write sent exactly once
    assert all(r.not_before is not None for r in results)


def test_a_lost_envelope_of_writes_is_never_replayed_and_the_others_are_reported(http_server, clock):
    def handler(rec):
        if rec.json['requests'][0]['url'].endswith('/g20'):
            return Reply(0, action='drop')
        return {'responses': [{'id': item['id'], 'status': 204} for item in rec.json['requests']]}

    http_server.handler = handler
    client = make_client(http_server, clock)
    with pytest.raises(GraphError) as info:
        client.batch([{'method': 'DELETE', 'url': '/oauth2PermissionGrants/g%d' % i} for i in range(60)])
    err = info.value
    assert err.ambiguous
    assert err.partial_results[20:40] == [None] * 20  # unknown: the caller reads them back
    assert all(r.status == 204 for r in err.partial_results[:20] + err.partial_results[40:])
    assert len(http_server.requests) == 3
