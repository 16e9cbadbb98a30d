# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""GraphClient retries against a real HTTP server on 127.0.0.1 (plugins/module_utils/_graph_retries.py): Retry-After,
backoff, the run-wide retry budget, the hold after a 429, read-modify-writes, transient 5xx, dropped connections and
ambiguous writes, unreachable hosts. Nothing really sleeps: ``sleep`` and ``clock`` are injected."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import email.utils
import socket
import time

import pytest
import requests

from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import GraphClient
from ansible_collections.msgraph.grants.plugins.module_utils._graph_retries import backoff, parse_retry_after
from ansible_collections.msgraph.grants.tests.unit.utils.graph_client_doubles import clock  # noqa: F401 pylint: disable=unused-import
from ansible_collections.msgraph.grants.tests.unit.utils.graph_client_doubles import (
    FakeProvider,
    graph_error,
    make_client,
    throttled,
)


# ------------------------------------------------------------------------------------------------------ Retry-After

@pytest.mark.parametrize('header, expected', [('10', 10.0), ('2.128', 2.128), ('0', 0.75)])
def test_retry_after_seconds_forms_are_honoured(http_server, clock, header, expected):
    http_server.add(**throttled(header)).add(200, {'ok': True})
    client = make_client(http_server, clock)
    assert client.get('/users') == {'ok': True}
    assert clock.sleeps == [expected]
    assert len(http_server.requests) == 2
    assert http_server.requests[1].headers['retry-attempt'] == '1'
    assert client.stats['throttled'] == 1 and client.stats['retries'] == 1


def test_retry_after_http_date_is_honoured(http_server, clock):
    when = email.utils.formatdate(time.time() + 42, usegmt=True)
    http_server.add(**throttled(when)).add(200, {'ok': True})
    client = make_client(http_server, clock)
    assert client.get('/users') == {'ok': True}
    assert len(clock.sleeps) == 1 and 39 <= clock.sleeps[0] <= 43


def test_missing_retry_after_uses_exponential_backoff_with_jitter(http_server, clock):
    for dummy in range(4):
        http_server.add(**throttled())
    http_server.add(200, {'ok': True})
    client = GraphClient(http_server.url, 'v1.0', FakeProvider(), verify=False, retry_budget=120,
                         sleep=clock.sleep, clock=clock.clock, rand=lambda: 1.0)
    client.get('/users')
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0]


def test_backoff_jitter_bounds_and_cap():
    assert [backoff(n, lambda: 0.0) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0]
    assert [backoff(n, lambda: 1.0) for n in (0, 5, 10)] == [1.0, 30.0, 30.0]


@pytest.mark.parametrize('value, expected', [
    ('10', 10.0), (' 2.128 ', 2.128), ('-3', 0.0), ('soon', None), ('', None), (None, None), ('nan', None),
    ('Wed, 21 Oct 2015 07:28:00 GMT', 0.0),
])
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date_relative_to_now():
    now = 1700000000
    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now=now) == 30.0


# ------------------------------------------------------------------------------------------------------ the budget

def test_budget_exhaustion_reports_time_and_attempts(http_server, clock):
    for dummy in range(10):
        http_server.add(**throttled('50'))
    client = make_client(http_server, clock, budget=120)
    with pytest.raises(GraphError) as info:
        client.get('/oauth2PermissionGrants')
    err = info.value
    assert clock.sleeps == [50.0, 50.0]  # a third wait would end after 150 s > 120 s
    assert len(http_server.requests) == 3
    assert err.status == 429 and err.code == 'TooManyRequests' and err.retries_exhausted
    assert err.retry_time == 100.0 and err.attempts == 3 and not err.ambiguous
    text = str(err)
    assert text.startswith('GET /v1.0/oauth2PermissionGrants failed: HTTP 429 TooManyRequests: Please retry again later.')
    assert 'Gave up after 3 attempts and 100.0 s of retrying (retry budget 120 s).' in text


def test_retry_after_longer_than_the_budget_fails_at_once(http_server, clock):
    http_server.add(**throttled('600'))
    client = make_client(http_server, clock, budget=120)
    with pytest.raises(GraphError) as info:
        client.get('/users')
    assert clock.sleeps == [] and info.value.attempts == 1 and info.value.status == 429


def test_zero_budget_means_no_retry(http_server, clock):
    http_server.add(status=503, body=graph_error(503, 'serviceUnavailable', 'busy'))
    client = make_client(http_server, clock, budget=0)
    with pytest.raises(GraphError) as info:
        client.get('/users')
    assert info.value.status == 503 and len(http_server.requests) == 1


# ------------------------------------------------------------------------- the run-wide budget, read-modify-writes

def test_retry_budget_bounds_the_whole_run_not_each_operation(http_server, clock):
    http_server.add(**throttled('3')).add(200, {'value': [{'id': 1}]})
    http_server.add(**throttled('3')).add(201, {'id': 'never-reached'})
    client = make_client(http_server, clock, budget=4)
    assert client.retry_spent == 0.0
    assert client.get_all('/oauth2PermissionGrants') == [{'id': 1}]
    assert clock.sleeps == [3.0] and client.retry_spent == 3.0
    # A second operation alone would fit its 3 s wait into 4 s, but the run has already spent 3 s of it.
    with pytest.raises(GraphError) as info:
        client.post('/oauth2PermissionGrants', {'clientId': 'c'})
    err = info.value
    assert clock.sleeps == [3.0] and len(http_server.requests) == 3
    assert err.status == 429 and err.retries_exhausted and not err.ambiguous
    assert (err.attempts, err.retry_time, err.retry_budget) == (1, 3.0, 4.0)
    assert str(err).endswith('Gave up after 1 attempt and 3.0 s of retrying (retry budget 4 s).')
    assert client.retry_spent == 3.0 and client.stats['retries'] == 1 and client.stats['throttled'] == 2


def test_retry_spent_accumulates_over_operations(http_server, clock):
    for dummy in range(3):
        http_server.add(**throttled('3')).add(200, {'ok': True})
    http_server.add(**throttled('3'))
    client = make_client(http_server, clock, budget=10)
    spent = []
    for dummy in range(3):
        assert client.get('/users') == {'ok': True}
        spent.append(client.retry_spent)
    assert spent == [3.0, 6.0, 9.0] and clock.sleeps == [3.0, 3.0, 3.0]
    assert client.stats['retry_time'] == 9.0
    with pytest.raises(GraphError) as info:
        client.get('/users')
    assert 'Gave up after 1 attempt and 9.0 s of retrying (retry budget 10 s).' in str(info.value)


def test_replication_waits_reserved_by_the_caller_share_the_budget(http_server, clock):
    http_server.add(**throttled('5'))
    client = make_client(http_server, clock, budget=10)
    assert client.reserve_wait(6.0) is True and client.retry_spent == 6.0
    assert client.reserve_wait(5.0) is False and client.retry_spent == 6.0  # refused waits are not charged
    with pytest.raises(GraphError) as info:
        client.get('/users')  # 6 s reserved + Retry-After 5 > 10
    assert clock.sleeps == [] and len(http_server.requests) == 1
    assert 'Gave up after 1 attempt and 6.0 s of retrying (retry budget 10 s).' in str(info.value)


@pytest.mark.parametrize('method', ['PATCH', 'DELETE'])
def test_write_with_retry_throttled_false_raises_the_429_at_once(http_server, clock, method):
    http_server.add(**throttled('7')).add(204)
    client = make_client(http_server, clock)
    with pytest.raises(GraphError) as info:
        if method == 'PATCH':
            client.patch('/oauth2PermissionGrants/g1', {'scope': 'User.Read'}, retry_throttled=False)
        else:
            client.delete('/oauth2PermissionGrants/g1', retry_throttled=False)
    err = info.value
    assert (err.status, err.code, err.method, err.retry_after) == (429, 'TooManyRequests', method, 7.0)
    assert not err.retries_exhausted and not err.ambiguous and 'Gave up' not in str(err)
    assert clock.sleeps == [] and len(http_server.requests) == 1 and http_server.requests[0].method == method
    assert client.retry_spent == 0.0 and client.stats['retries'] == 0 and client.stats['throttled'] == 1


def test_request_with_retry_throttled_false_returns_the_429_when_not_raising(http_server, clock):
    http_server.add(**throttled('2'))
    resp = make_client(http_server, clock).request('PATCH', '/oauth2PermissionGrants/g1', json={'scope': 'a'},
                                                   raise_for_status=False, retry_throttled=False)
    assert resp.status == 429 and resp.error.retry_after == 2.0 and not resp.retries_exhausted
    assert clock.sleeps == [] and len(http_server.requests) == 1


def test_retry_after_is_none_without_the_header(http_server, clock):
    http_server.add(**throttled())
    with pytest.raises(GraphError) as info:
        make_client(http_server, clock).patch('/oauth2PermissionGrants/g1', {'scope': 'a'}, retry_throttled=False)
    assert info.value.status == 429 and info.value.retry_after is None and clock.sleeps == []


def test_wait_before_retry_sleeps_retry_after_then_gives_up_over_budget(http_server, clock):
    http_server.add(**throttled('7')).add(**throttled('7'))
    client = make_client(http_server, clock, budget=10)
    with pytest.raises(GraphError) as info:
        client.patch('/oauth2PermissionGrants/g1', {'scope': 'a'}, retry_throttled=False)
    err = info.value
    assert client.wait_before_retry(err) is None
    assert clock.sleeps == [7.0] and client.retry_spent == 7.0 and client.stats['retries'] == 1
    assert not err.retries_exhausted
    client.wait_before_retry(err)  # the same 429 again: its Retry-After has passed, nothing more to wait
    assert clock.sleeps == [7.0] and client.retry_spent == 7.0
    with pytest.raises(GraphError) as info:
        client.patch('/oauth2PermissionGrants/g1', {'scope': 'a'}, retry_throttled=False)
    second = info.value
    with pytest.raises(GraphError) as again:
        client.wait_before_retry(second)  # 7 s spent + 7 s more > 10 s
    assert again.value is second
    assert clock.sleeps == [7.0] and client.retry_spent == 7.0
    assert second.retries_exhausted and (second.retry_time, second.retry_budget, second.status) == (7.0, 10.0, 429)
    assert str(second).endswith('Gave up after 1 attempt and 7.0 s of retrying (retry budget 10 s).')
    assert len(http_server.requests) == 2  # waiting sends nothing


def test_no_request_is_sent_before_the_retry_after_of_a_429_returned_to_the_caller(http_server, clock):
    """Graph throttles per application: after a 429 handed back to the caller (retry_throttled=False), the client's
    next request of any kind waits out the Retry-After, whoever sends it."""
    http_server.add(**throttled('4')).add(200, {'value': []})
    client = make_client(http_server, clock, budget=10)
    with pytest.raises(GraphError):
        client.patch('/oauth2PermissionGrants/g1', {'scope': 'a'}, retry_throttled=False)
    assert clock.sleeps == []
    assert client.get_all('/oauth2PermissionGrants') == []
    assert clock.sleeps == [4.0] and client.retry_spent == 4.0


def test_a_held_request_that_would_overrun_the_budget_is_not_sent(http_server, clock):
    http_server.add(**throttled('30'))
    client = make_client(http_server, clock, budget=10)
    with pytest.raises(GraphError):
        client.delete('/oauth2PermissionGrants/g1', retry_throttled=False)
    with pytest.raises(GraphError) as info:
        client.get('/users')
    err = info.value
    assert err.status == 429 and err.retries_exhausted and 'next request may be sent in 30.0 s' in str(err)
    assert clock.sleeps == [] and len(http_server.requests) == 1


@pytest.mark.parametrize('header', [None, '0'])
def test_wait_before_retry_backs_off_without_a_usable_retry_after(http_server, clock, header):
    http_server.add(**throttled(header))
    client = make_client(http_server, clock, budget=10)
    with pytest.raises(GraphError) as info:
        client.delete('/oauth2PermissionGrants/g1', retry_throttled=False)
    client.wait_before_retry(info.value)
    # rand=0.5: the first backoff is 0.5 + 0.5 * 0.5 s, within [0.5, 1]
    assert clock.sleeps == [0.75] and client.retry_spent == 0.75


def test_wait_before_retry_refuses_a_backoff_longer_than_the_budget(http_server, clock):
    http_server.add(**throttled())
    client = make_client(http_server, clock, budget=0.5)
    with pytest.raises(GraphError) as info:
        client.patch('/oauth2PermissionGrants/g1', {'scope': 'a'}, retry_throttled=False)
    err = info.value
    with pytest.raises(GraphError) as again:
        client.wait_before_retry(err)
    assert again.value is err and err.retries_exhausted and err.retry_budget == 0.5 and err.retry_time == 0.0
    assert clock.sleeps == [] and client.retry_spent == 0.0


def test_read_modify_write_loop_waits_then_writes_again(http_server, clock):
    http_server.add(**throttled('4')).add(204)
    client = make_client(http_server, clock, budget=10)
    try:
        client.patch('/oauth2PermissionGrants/g1', {'scope': 'a'}, retry_throttled=False)
    except GraphError as err:
        client.wait_before_retry(err)
    client.patch('/oauth2PermissionGrants/g1', {'scope': 'a b'}, retry_throttled=False)
    assert clock.sleeps == [4.0] and client.retry_spent == 4.0
    assert [r.json for r in http_server.requests] == [{'scope': 'a'}, {'scope': 'a b'}]
    assert 'retry-attempt' not in http_server.requests[1].headers  # a new request, not a re-send


# ------------------------------------------------------------------------------------------- transient 5xx and IO

@pytest.mark.parametrize('status', [503, 504, 502])
def test_transient_5xx_on_get_is_retried(http_server, clock, status):
    http_server.add(status, graph_error(status, 'UnknownError', 'transient'), {'Retry-After': '3'})
    http_server.add(status, graph_error(status, 'UnknownError', 'transient'))
    http_server.add(200, {'value': []})
    client = make_client(http_server, clock)
    assert client.get('/users') == {'value': []}
    assert clock.sleeps == [3.0, 0.75]
    assert len(http_server.requests) == 3


def test_500_on_get_is_not_retried(http_server, clock):
    http_server.add(500, graph_error(500, 'Service_InternalServerError', 'Encountered an internal server error.'))
    client = make_client(http_server, clock)
    with pytest.raises(GraphError) as info:
        client.get('/oauth2PermissionGrants')
    assert info.value.status == 500 and not info.value.ambiguous and len(http_server.requests) == 1


@pytest.mark.parametrize('status', [503, 504, 500])
def test_5xx_on_post_is_ambiguous_and_not_replayed(http_server, clock, status):
    http_server.add(status, graph_error(status, 'UnknownError', 'transient'), {'Retry-After': '1'})
    client = make_client(http_server, clock)
    with pytest.raises(GraphError) as info:
        client.post('/oauth2PermissionGrants', {'clientId': 'c'})
    err = info.value
    assert err.ambiguous and err.status == status and err.method == 'POST'
    assert len(http_server.requests) == 1 and clock.sleeps == []
    assert 'outcome of this write is unknown' in str(err)


@pytest.mark.parametrize('method', ['PATCH', 'DELETE'])
def test_504_on_patch_and_delete_is_ambiguous(http_server, clock, method):
    http_server.add(504, graph_error(504, 'GatewayTimeout', 'gateway timeout'))
    client = make_client(http_server, clock)
    with pytest.raises(GraphError) as info:
        client.request(method, '/oauth2PermissionGrants/g1', json={'scope': 'a'} if method == 'PATCH' else None)
    assert info.value.ambiguous and len(http_server.requests) == 1


def test_429_on_post_is_retried_because_it_was_not_applied(http_server, clock):
    http_server.add(**throttled('5')).add(**throttled('1')).add(201, {'id': 'g1'})
    client = make_client(http_server, clock)
    assert client.post('/oauth2PermissionGrants', {'clientId': 'c'}) == {'id': 'g1'}
    assert [r.method for r in http_server.requests] == ['POST'] * 3
    assert all(r.json == {'clientId': 'c'} for r in http_server.requests)
    assert clock.sleeps == [5.0, 1.0]


def test_429_exhaustion_on_post_is_not_ambiguous(http_server, clock):
    for dummy in range(3):
        http_server.add(**throttled('60'))
    client = make_client(http_server, clock, budget=100)
    with pytest.raises(GraphError) as info:
        client.post('/oauth2PermissionGrants', {'clientId': 'c'})
    assert not info.value.ambiguous and info.value.status == 429 and info.value.retries_exhausted


def test_dropped_connection_on_get_is_retried(http_server, clock):
    http_server.add(action='drop').add(action='drop').add(200, {'value': [1]})
    client = make_client(http_server, clock)
    assert client.get('/users') == {'value': [1]}
    assert len(http_server.requests) == 3 and len(clock.sleeps) == 2


def test_dropped_connection_on_post_is_ambiguous(http_server, clock):
    http_server.add(action='drop').add(201, {'id': 'never-sent'})
    client = make_client(http_server, clock)
    with pytest.raises(GraphError) as info:
        client.post('/oauth2PermissionGrants', {'clientId': 'c'})
    err = info.value
    assert err.ambiguous and err.status is None and 'connection error' in str(err)
    assert len(http_server.requests) == 1 and clock.sleeps == []


def test_read_timeout_on_get_is_retried_and_on_post_ambiguous(http_server, clock):
    http_server.add(200, {'slow': True}, delay=0.6).add(200, {'fast': True})
    client = make_client(http_server, clock, timeout=0.2)
    assert client.get('/users') == {'fast': True}
    http_server.add(201, {'slow': True}, delay=0.6)
    with pytest.raises(GraphError) as info:
        client.post('/oauth2PermissionGrants', {'clientId': 'c'})
    assert info.value.ambiguous and 'timed out' in str(info.value)


def _closed_port():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_connection_refused_is_retried_even_for_a_write_and_is_not_ambiguous(clock):
    client = GraphClient('http://127.0.0.1:%d' % _closed_port(), 'v1.0', FakeProvider(), retry_budget=10,
                         sleep=clock.sleep, clock=clock.clock, rand=lambda: 1.0)
    with pytest.raises(GraphError) as info:
        client.post('/oauth2PermissionGrants', {'clientId': 'c'})
    err = info.value
    assert not err.ambiguous and err.retries_exhausted
    assert clock.sleeps == [0.5, 1.0]  # CONNECT_ATTEMPTS (3) quick attempts
    assert 'Gave up after 3 attempts and 1.5 s' in str(err)


def test_unreachable_graph_fails_fast_whatever_the_retry_budget(clock):
    """Nothing listens: a refused connection is not throttling. Three quick attempts (seconds), not the 120 s
    retry_budget of 429/503; the message names the cause and the remedy (a stale MSGRAPH_GRAPH_URL)."""
    port = _closed_port()
    client = GraphClient('https://127.0.0.1:%d' % port, 'v1.0', FakeProvider(), retry_budget=120,
                         sleep=clock.sleep, clock=clock.clock)
    with pytest.raises(GraphError) as info:
        client.get('/servicePrincipals')
    text = str(info.value)
    assert sum(clock.sleeps) < 2 and len(clock.sleeps) == 2
    assert 'cannot connect to Microsoft Graph at https://127.0.0.1:%d (connection refused)' % port in text
    assert 'MSGRAPH_GRAPH_URL' in text and 'retry budget' not in text
    assert [e['why'] for e in client.retry_log.entries] == ['connection refused', 'connection refused']
    assert client.retry_log.entries[0]['what'] == 'GET /v1.0/servicePrincipals'


def test_connection_failures_have_a_run_wide_budget_of_their_own(clock):
    """A connect timeout costs its whole duration: the run stops once CONNECT_BUDGET (10 s) is spent, even if each
    request has attempts left, so a blackholed address cannot hold a play for the retry_budget."""
    class Blackhole(requests.Session):
        def request(self, method, url, **kwargs):
            assert kwargs['timeout'] == (10.0, 60)  # the connect part is capped, the read part is ``timeout``
            clock.now += 6.0
            raise requests.exceptions.ConnectTimeout('connect timed out')

    client = GraphClient('https://192.0.2.1', 'v1.0', FakeProvider(), retry_budget=300, timeout=60,
                         session=Blackhole(), sleep=clock.sleep, clock=clock.clock, rand=lambda: 0.0)
    with pytest.raises(GraphError) as info:
        client.get('/users')
    assert 'connection timed out' in str(info.value) and len(clock.sleeps) == 1
    assert client._retries.connect_spent <= 12.5  # pylint: disable=protected-access


# --------------------------------------------------------------------------------- what counts as retry time

def test_successful_pages_after_a_transient_failure_are_not_retry_time(http_server, clock):
    """Retry time is the waits and the failed attempts, not the successful work that follows a failure."""
    http_server.add(503, graph_error(503, 'ServiceUnavailable', 'busy'))
    for page in range(5):
        body = {'value': [{'id': str(page)}]}
        if page < 4:
            body['@odata.nextLink'] = http_server.url + '/v1.0/users?page=%d' % (page + 1)
        http_server.add(200, body)
    client = make_client(http_server, clock, budget=10)
    send = client.session.request

    def slow_request(*args, **kwargs):
        clock.now += 2.0  # every round trip takes 2 s (of the fake clock)
        return send(*args, **kwargs)
    client.session.request = slow_request
    assert [u['id'] for u in client.get_all('/users')] == ['0', '1', '2', '3', '4']
    # the failed attempt (2 s) and the backoff (0.75 s); not the five successful pages (10 s)
    assert client.retry_spent == 2.75 and clock.sleeps == [0.75]
    assert client.reserve_wait(7.0) is True
