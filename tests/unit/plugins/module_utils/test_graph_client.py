# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""GraphClient against a real HTTP(S) server on 127.0.0.1 (the ``http_server``/``https_server`` fixtures of
tests/unit/conftest.py): retries and Retry-After, the retry budget, ambiguous writes, paging, $batch, error mapping,
secret hygiene and TLS trust (ca_path must beat REQUESTS_CA_BUNDLE). Nothing really sleeps: ``sleep`` and ``clock``
are injected."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import email.utils
import json
import logging
import os
import re
import socket
import time
import uuid

import pytest
import requests

from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import (
    COLLECTION_VERSION,
    GraphClient,
    GraphError,
    GraphResponse,
    encode_query,
    error_from_response,
    parse_retry_after,
)
from ansible_collections.msgraph.grants.plugins.module_utils._grant_errors import (
    is_duplicate_grant_error,
    is_not_replicated_error,
)

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
TOKEN_1 = 'eyJ0eXAiOiJKV1QifQ.first-token-value-4f1c2a.sig'
TOKEN_2 = 'eyJ0eXAiOiJKV1QifQ.second-token-value-9d8e7f.sig'


class FakeTime(object):
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def sleep(self, delay):
        self.sleeps.append(delay)
        self.now += delay

    def clock(self):
        return self.now


class FakeProvider(object):
    refreshable = True

    def __init__(self, tokens=(TOKEN_1, TOKEN_2)):
        self.tokens = list(tokens)
        self.index = 0
        self.calls = []

    def get_token(self, force_refresh=False):
        self.calls.append(force_refresh)
        if force_refresh:
            self.index = min(self.index + 1, len(self.tokens) - 1)
        return self.tokens[self.index]


class StaticProvider(FakeProvider):
    refreshable = False


@pytest.fixture
def clock():
    return FakeTime()


def make_client(server, clock, provider=None, budget=120, timeout=5, verify=False, log=None, version='v1.0'):
    return GraphClient(server.url, version, provider or FakeProvider(), verify=verify, timeout=timeout,
                       retry_budget=budget, sleep=clock.sleep, clock=clock.clock, rand=lambda: 0.5, log=log)


def graph_error(status, code, message, request_id='rid-1'):
    return dict(error=dict(code=code, message=message,
                           innerError={'date': '2026-01-01T00:00:00', 'request-id': request_id}))


def throttled(retry_after=None):
    headers = {'Retry-After': retry_after} if retry_after is not None else {}
    return dict(status=429, body=graph_error(429, 'TooManyRequests', 'Please retry again later.'), headers=headers)


# ------------------------------------------------------------------------------------------------ basics / headers

def test_get_sends_auth_user_agent_and_a_fresh_client_request_id(http_server, clock):
    http_server.add(200, {'id': 'a'}).add(200, {'id': 'b'})
    client = make_client(http_server, clock)
    assert client.base_url == http_server.url + '/v1.0'
    assert client.get('/servicePrincipals/a') == {'id': 'a'}
    assert client.get('servicePrincipals/b', params={'$select': 'id,appId'}) == {'id': 'b'}
    first, second = http_server.requests
    assert first.path == '/v1.0/servicePrincipals/a'
    assert second.path == '/v1.0/servicePrincipals/b' and second.query == '$select=id,appId'
    for rec in (first, second):
        assert rec.headers['Authorization'] == 'Bearer ' + TOKEN_1
        assert rec.headers['User-Agent'] == 'msgraph.grants/' + COLLECTION_VERSION
        assert rec.headers['Accept'] == 'application/json'
        uuid.UUID(rec.headers['client-request-id'])
    assert first.headers['client-request-id'] != second.headers['client-request-id']
    assert client.stats['requests'] == 2 and client.stats['retries'] == 0
    assert clock.sleeps == []


def test_collection_version_matches_galaxy_yml():
    with open(os.path.join(REPO_ROOT, 'galaxy.yml')) as f:
        version = re.search(r'^version:\s*([^\s#]+)', f.read(), re.M).group(1).strip('\'"')
    assert COLLECTION_VERSION == version


def test_post_patch_delete_shapes(http_server, clock):
    http_server.add(201, {'id': 'g1', 'scope': 'User.Read'}).add(204).add(204)
    client = make_client(http_server, clock)
    assert client.post('/oauth2PermissionGrants', {'scope': 'User.Read'}) == {'id': 'g1', 'scope': 'User.Read'}
    assert client.patch('/oauth2PermissionGrants/g1', {'scope': 'Mail.Read'}) is None
    assert client.delete('/oauth2PermissionGrants/g1') is None
    post, patch, delete = http_server.requests
    assert (post.method, post.json, post.headers['Content-Type']) == ('POST', {'scope': 'User.Read'}, 'application/json')
    assert (patch.method, patch.path, patch.json) == ('PATCH', '/v1.0/oauth2PermissionGrants/g1', {'scope': 'Mail.Read'})
    assert delete.method == 'DELETE' and not delete.body


def test_query_encoding_keeps_odata_readable():
    assert encode_query({'$filter': "clientId eq 'a b' and consentType eq 'AllPrincipals'", '$top': 999}) == \
        "$filter=clientId%20eq%20'a%20b'%20and%20consentType%20eq%20'AllPrincipals'&$top=999"
    assert encode_query({'x': 'a&b=c#d+e'}) == 'x=a%26b%3Dc%23d%2Be'
    assert encode_query(None) == ''


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
    client = GraphClient('https://127.0.0.1:1', 'v1.0', FakeProvider(), rand=lambda: 0.0)
    assert [client._backoff(n) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0]
    client = GraphClient('https://127.0.0.1:1', 'v1.0', FakeProvider(), rand=lambda: 1.0)
    assert [client._backoff(n) for n in (0, 5, 10)] == [1.0, 30.0, 30.0]


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
    assert client.connect_spent <= 12.5


# ---------------------------------------------------------------------------------------------------------- 401

def test_401_reacquires_the_token_once(http_server, clock):
    http_server.add(401, graph_error(401, 'InvalidAuthenticationToken', 'Access token has expired.'))
    http_server.add(200, {'ok': 1})
    provider = FakeProvider()
    client = make_client(http_server, clock, provider=provider)
    assert client.get('/users') == {'ok': 1}
    assert [r.headers['Authorization'] for r in http_server.requests] == ['Bearer ' + TOKEN_1, 'Bearer ' + TOKEN_2]
    assert True in provider.calls and client.stats['token_refreshes'] == 1 and clock.sleeps == []


def test_second_401_is_an_error_with_a_hint(http_server, clock):
    for dummy in range(3):
        http_server.add(401, graph_error(401, 'InvalidAuthenticationToken', 'Access token validation failure.'))
    client = make_client(http_server, clock)
    with pytest.raises(GraphError) as info:
        client.get('/users')
    assert info.value.status == 401 and len(http_server.requests) == 2
    assert 'cloud / graph_url' in str(info.value)


def test_static_token_is_not_refreshed(http_server, clock):
    http_server.add(401, graph_error(401, 'InvalidAuthenticationToken', 'expired'))
    client = make_client(http_server, clock, provider=StaticProvider())
    with pytest.raises(GraphError):
        client.get('/users')
    assert len(http_server.requests) == 1


# -------------------------------------------------------------------------------------------------------- paging

def test_get_all_follows_every_next_link_including_empty_pages(http_server, clock):
    base = http_server.url + '/v1.0/oauth2PermissionGrants'
    http_server.add(200, {'value': [{'id': 1}], '@odata.nextLink': base + '?$skiptoken=p2'})
    http_server.add(200, {'value': [], '@odata.nextLink': base + '?$skiptoken=p3'})
    http_server.add(200, {'value': [], '@odata.nextLink': base + '?$skiptoken=p4'})
    http_server.add(**throttled('1'))
    http_server.add(200, {'value': [{'id': 2}, {'id': 3}]})
    client = make_client(http_server, clock)
    items = client.get_all('/oauth2PermissionGrants', params={'$filter': "clientId eq 'c'", '$top': 999},
                           headers={'ConsistencyLevel': 'eventual'})
    assert items == [{'id': 1}, {'id': 2}, {'id': 3}]
    reqs = http_server.requests
    assert reqs[0].query == "$filter=clientId%20eq%20'c'&$top=999"
    assert [r.query for r in reqs[1:]] == ['$skiptoken=p2', '$skiptoken=p3', '$skiptoken=p4', '$skiptoken=p4']
    assert all(r.headers.get('ConsistencyLevel') == 'eventual' for r in reqs)
    assert clock.sleeps == [1.0]


def test_get_all_rebases_a_foreign_next_link_onto_the_graph_root(http_server, clock):
    http_server.add(200, {'value': [1], '@odata.nextLink': 'https://graph.microsoft.com/v1.0/users?$skiptoken=x'})
    http_server.add(200, {'value': [2]})
    client = make_client(http_server, clock)
    assert client.get_all('/users') == [1, 2]
    assert http_server.requests[1].path == '/v1.0/users' and http_server.requests[1].query == '$skiptoken=x'


def test_get_all_accepts_an_absolute_next_link_as_start(http_server, clock):
    http_server.add(200, {'value': [7]})
    client = make_client(http_server, clock)
    assert client.get_all(http_server.url + '/v1.0/users?$skiptoken=abc') == [7]
    assert http_server.requests[0].query == '$skiptoken=abc'


def test_get_all_stops_on_a_repeated_next_link(http_server, clock):
    link = http_server.url + '/v1.0/users?$skiptoken=same'
    http_server.add(200, {'value': [], '@odata.nextLink': link}).add(200, {'value': [], '@odata.nextLink': link})
    client = make_client(http_server, clock)
    with pytest.raises(GraphError, match='same @odata.nextLink'):
        client.get_all('/users')


# --------------------------------------------------------------------------------------------------------- $batch

def batch_echo(server, order=None, throttle=None):
    """A $batch handler answering each item with its own url; ``order`` reorders, ``throttle`` maps a url to a
    list of Retry-After values to answer 429 with (consumed one per batch)."""
    throttle = dict((k, list(v)) for k, v in (throttle or {}).items())

    def handler(rec):
        assert rec.path == '/v1.0/$batch' and rec.method == 'POST'
        items = rec.json['requests']
        assert len(items) <= 20
        responses = []
        for item in items:
            pending = throttle.get(item['url'])
            if pending:
                ra = pending.pop(0)
                headers = {'Retry-After': ra} if ra is not None else {}
                responses.append({'id': item['id'], 'status': 429, 'headers': headers,
                                  'body': graph_error(429, 'TooManyRequests', 'Please retry again later.')})
            else:
                responses.append({'id': item['id'], 'status': 200, 'headers': {'Content-Type': 'application/json'},
                                  'body': {'url': item['url'], 'method': item['method']}})
        if order == 'reverse':
            responses.reverse()
        elif order == 'rotate':
            responses = responses[3:] + responses[:3]
        return {'responses': responses}
    server.handler = handler


def test_batch_splits_by_20_and_keeps_input_order(http_server, clock):
    batch_echo(http_server, order='reverse')
    client = make_client(http_server, clock)
    reqs = [{'method': 'GET', 'url': '/users/%d' % i} for i in range(45)]
    results = client.batch(reqs)
    assert [len(r.json['requests']) for r in http_server.requests] == [20, 20, 5]
    assert [r.json['url'] for r in results] == ['/users/%d' % i for i in range(45)]
    assert all(isinstance(r, GraphResponse) and r.status == 200 and r.ok for r in results)
    assert client.stats['batches'] == 3


def test_batch_correlates_out_of_order_answers_by_id(http_server, clock):
    batch_echo(http_server, order='rotate')
    client = make_client(http_server, clock)
    results = client.batch([{'method': 'GET', 'url': '/servicePrincipals/%s' % c} for c in 'abcdefg'])
    assert [r.json['url'] for r in results] == ['/servicePrincipals/%s' % c for c in 'abcdefg']


def test_batch_retries_only_the_throttled_items_after_the_longest_retry_after(http_server, clock):
    batch_echo(http_server, throttle={'/users/3': ['7'], '/users/5': ['2', '1']})
    client = make_client(http_server, clock)
    results = client.batch([{'method': 'GET', 'url': '/users/%d' % i} for i in range(8)])
    sent = [[item['url'] for item in r.json['requests']] for r in http_server.requests]
    assert sent == [['/users/%d' % i for i in range(8)], ['/users/3', '/users/5'], ['/users/5']]
    assert clock.sleeps == [7.0, 1.0]
    assert [r.status for r in results] == [200] * 8
    assert [r.json['url'] for r in results] == ['/users/%d' % i for i in range(8)]


def test_batch_retries_read_items_answered_503_or_504_but_not_write_items(http_server, clock):
    failures = {'/users/1': 503, '/users/2': 504, '/oauth2PermissionGrants': 503}

    def handler(rec):
        responses = []
        for item in rec.json['requests']:
            status = failures.pop(item['url'], None) if item['method'] == 'GET' else failures.get(item['url'])
            if status:
                responses.append({'id': item['id'], 'status': status, 'headers': {},
                                  'body': graph_error(status, 'serviceNotAvailable', 'Service unavailable.')})
            else:
                responses.append({'id': item['id'], 'status': 200, 'headers': {}, 'body': {'url': item['url']}})
        return {'responses': responses}
    http_server.handler = handler
    client = make_client(http_server, clock)
    results = client.batch([{'method': 'GET', 'url': '/users/%d' % i} for i in range(3)]
                           + [{'method': 'POST', 'url': '/oauth2PermissionGrants', 'body': {'scope': 'x'}}])
    sent = [[item['url'] for item in r.json['requests']] for r in http_server.requests]
    # The two reads are re-sent alone; the write is not replayed: its 503 goes back to the caller to reconcile.
    assert sent[1:] == [['/users/1', '/users/2']]
    assert [r.status for r in results] == [200, 200, 200, 503]


def test_batch_item_throttling_without_retry_after_backs_off(http_server, clock):
    batch_echo(http_server, throttle={'/users/1': [None]})
    client = make_client(http_server, clock)
    results = client.batch([{'method': 'GET', 'url': '/users/0'}, {'method': 'GET', 'url': '/users/1'}])
    assert clock.sleeps == [0.75] and [r.status for r in results] == [200, 200]


def test_batch_item_throttling_exhausts_the_budget_into_a_429_result(http_server, clock):
    batch_echo(http_server, throttle={'/users/1': ['50'] * 10})
    client = make_client(http_server, clock, budget=120)
    results = client.batch([{'method': 'GET', 'url': '/users/0'}, {'method': 'GET', 'url': '/users/1'}])
    assert results[0].status == 200 and results[1].status == 429
    err = results[1].error
    assert isinstance(err, GraphError) and err.status == 429 and err.retries_exhausted
    assert 'Gave up after 3 attempts and 100.0 s' in str(err)
    with pytest.raises(GraphError):
        results[1].raise_for_status()


def test_batch_wire_format(http_server, clock):
    batch_echo(http_server)
    client = make_client(http_server, clock)
    client.batch([
        {'method': 'post', 'url': '/oauth2PermissionGrants', 'body': {'scope': 'a'}},
        {'method': 'GET', 'url': http_server.url + '/v1.0/users/x?$select=id'},
        {'method': 'GET', 'url': 'users', 'params': {'$filter': "displayName eq 'O''Brien'"},
         'headers': {'ConsistencyLevel': 'eventual'}},
    ])
    items = http_server.requests[0].json['requests']
    assert items[0] == {'id': '0', 'method': 'POST', 'url': '/oauth2PermissionGrants', 'body': {'scope': 'a'},
                        'headers': {'Content-Type': 'application/json'}}
    assert items[1] == {'id': '1', 'method': 'GET', 'url': '/users/x?$select=id'}
    assert items[2] == {'id': '2', 'method': 'GET', 'url': "/users?$filter=displayName%20eq%20'O''Brien'",
                        'headers': {'ConsistencyLevel': 'eventual'}}
    assert http_server.requests[0].headers['Content-Type'] == 'application/json'


def test_batch_envelope_5xx_for_reads_is_retried_and_for_writes_is_ambiguous(http_server, clock):
    http_server.add(503, graph_error(503, 'x', 'busy'), {'Retry-After': '2'})
    http_server.add(200, {'responses': [{'id': '0', 'status': 200, 'body': {'v': 1}}]})
    client = make_client(http_server, clock)
    assert client.batch([{'method': 'GET', 'url': '/users/0'}])[0].json == {'v': 1}
    http_server.add(503, graph_error(503, 'x', 'busy'))
    with pytest.raises(GraphError) as info:
        client.batch([{'method': 'DELETE', 'url': '/oauth2PermissionGrants/g'}])
    assert info.value.ambiguous


def test_batch_item_errors_map_to_graph_errors(http_server, clock):
    http_server.handler = lambda rec: {'responses': [
        {'id': '1', 'status': 500, 'body': graph_error(500, 'Service_InternalServerError', 'boom', 'r-500')},
        {'id': '0', 'status': 404, 'headers': {'request-id': 'r-404'},
         'body': graph_error(404, 'Request_ResourceNotFound',
                             "Resource 'x' does not exist or one of its queried reference-property objects are not present.")},
    ]}
    client = make_client(http_server, clock)
    missing, failed = client.batch([{'method': 'GET', 'url': '/users/x'},
                                    {'method': 'PATCH', 'url': '/oauth2PermissionGrants/g', 'body': {'scope': 'a'}}])
    assert missing.status == 404 and missing.request_id == 'r-404'
    assert is_not_replicated_error(missing.error) and not missing.error.ambiguous
    assert failed.error.ambiguous and failed.error.code == 'Service_InternalServerError'
    assert str(missing.error).startswith('GET /v1.0/users/x failed: HTTP 404 Request_ResourceNotFound:')


def test_batch_missing_answer_is_an_error(http_server, clock):
    http_server.handler = lambda rec: {'responses': []}
    client = make_client(http_server, clock)
    with pytest.raises(GraphError, match='no answer for request id 0'):
        client.batch([{'method': 'GET', 'url': '/users/x'}])


def test_empty_batch_sends_nothing(http_server, clock):
    assert make_client(http_server, clock).batch([]) == []
    assert http_server.requests == []


def test_batch_does_not_resend_a_non_retryable_item_answered_429(http_server, clock):
    batch_echo(http_server, throttle={'/oauth2PermissionGrants/g1': ['5'], '/oauth2PermissionGrants': ['2']})
    client = make_client(http_server, clock)
    results = client.batch([
        {'method': 'PATCH', 'url': '/oauth2PermissionGrants/g1', 'body': {'scope': 'a b'}, 'retry_throttled': False},
        {'method': 'POST', 'url': '/oauth2PermissionGrants', 'body': {'scope': 'c'}},
        {'method': 'GET', 'url': '/users/0'},
    ])
    sent = [[item['url'] for item in r.json['requests']] for r in http_server.requests]
    assert sent == [['/oauth2PermissionGrants/g1', '/oauth2PermissionGrants', '/users/0'], ['/oauth2PermissionGrants']]
    assert all('retry_throttled' not in item for item in http_server.requests[0].json['requests'])
    # Graph throttles per application: the longest Retry-After of the batch (5 s, of the item that is not re-sent)
    # holds the re-sent one too.
    assert clock.sleeps == [5.0]
    assert [r.status for r in results] == [429, 200, 200]
    err = results[0].error
    assert err.status == 429 and err.retry_after == 5.0 and not err.retries_exhausted and not err.ambiguous
    assert err.method == 'PATCH' and err.url == '/v1.0/oauth2PermissionGrants/g1'
    assert results[1].json == {'url': '/oauth2PermissionGrants', 'method': 'POST'}


def test_batch_envelope_429_is_every_items_answer_when_one_must_not_be_resent(http_server, clock):
    http_server.add(**throttled('4'))
    http_server.add(200, {'responses': [{'id': '1', 'status': 201, 'body': {'id': 'new'}}]})
    client = make_client(http_server, clock)
    results = client.batch([
        {'method': 'PATCH', 'url': '/oauth2PermissionGrants/g1', 'body': {'scope': 'a b'}, 'retry_throttled': False},
        {'method': 'POST', 'url': '/oauth2PermissionGrants', 'body': {'scope': 'c'}},
    ])
    assert [[item['id'] for item in r.json['requests']] for r in http_server.requests] == [['0', '1'], ['1']]
    assert clock.sleeps == [4.0]
    assert [r.status for r in results] == [429, 201]
    assert results[0].error.retry_after == 4.0 and results[0].error.code == 'TooManyRequests'
    assert results[0].method == 'PATCH' and not results[0].retries_exhausted
    assert results[1].json == {'id': 'new'}


def test_batch_envelope_429_with_only_non_retryable_items_is_returned_at_once(http_server, clock):
    http_server.add(**throttled('4'))
    client = make_client(http_server, clock)
    results = client.batch([{'method': 'DELETE', 'url': '/oauth2PermissionGrants/g%d' % i, 'retry_throttled': False}
                            for i in range(3)])
    assert [r.status for r in results] == [429, 429, 429]
    assert [r.error.retry_after for r in results] == [4.0, 4.0, 4.0]
    assert clock.sleeps == [] and len(http_server.requests) == 1 and client.retry_spent == 0.0


def test_batch_envelope_429_with_only_retryable_items_resends_the_envelope(http_server, clock):
    http_server.add(**throttled('4'))
    http_server.add(200, {'responses': [{'id': '0', 'status': 204}]})
    client = make_client(http_server, clock)
    results = client.batch([{'method': 'DELETE', 'url': '/oauth2PermissionGrants/g0'}])
    assert [r.status for r in results] == [204] and clock.sleeps == [4.0] and len(http_server.requests) == 2


@pytest.mark.parametrize('failure', ['504', 'drop'])
def test_batch_of_writes_with_a_lost_envelope_sends_the_rest_and_reports_partial_results(http_server, clock, failure):
    if failure == 'drop':
        http_server.add(action='drop')
    else:
        http_server.add(504, graph_error(504, 'GatewayTimeout', 'gateway timeout'))
    http_server.add(200, {'responses': [{'id': str(i), 'status': 204} for i in range(24, 19, -1)]})
    client = make_client(http_server, clock)
    with pytest.raises(GraphError) as info:
        client.batch([{'method': 'DELETE', 'url': '/oauth2PermissionGrants/g%d' % i} for i in range(25)])
    err = info.value
    assert err.ambiguous and 'outcome of this write is unknown' in str(err)
    assert err.status == (504 if failure == '504' else None)
    assert [[item['id'] for item in r.json['requests']] for r in http_server.requests] == [
        [str(i) for i in range(20)], [str(i) for i in range(20, 25)]]
    results = err.partial_results
    assert len(results) == 25 and results[:20] == [None] * 20
    assert all(isinstance(r, GraphResponse) and r.status == 204 for r in results[20:])
    assert [r.url for r in results[20:]] == [http_server.url + '/v1.0/oauth2PermissionGrants/g%d' % i for i in range(20, 25)]
    assert clock.sleeps == []


def test_batch_item_resent_in_a_lost_envelope_is_unknown_not_its_old_429(http_server, clock):
    http_server.add(200, {'responses': [{'id': '0', 'status': 201, 'body': {'id': 'a'}},
                                        {'id': '1', 'status': 429, 'headers': {'Retry-After': '1'},
                                         'body': graph_error(429, 'TooManyRequests', 'Please retry again later.')}]})
    http_server.add(504, graph_error(504, 'GatewayTimeout', 'gateway timeout'))
    client = make_client(http_server, clock)
    with pytest.raises(GraphError) as info:
        client.batch([{'method': 'POST', 'url': '/oauth2PermissionGrants', 'body': {'scope': s}} for s in 'ab'])
    assert info.value.ambiguous and clock.sleeps == [1.0] and len(http_server.requests) == 2
    results = info.value.partial_results
    assert results[0].status == 201
    assert results[1] is None  # the re-sent POST may have been applied; a 429 would say it certainly was not


def test_batch_lost_chunk_stays_ambiguous_when_a_later_chunk_fails_plainly(http_server, clock):
    http_server.add(504, graph_error(504, 'GatewayTimeout', 'gateway timeout'))
    http_server.add(403, graph_error(403, 'Authorization_RequestDenied', 'Insufficient privileges.'))
    client = make_client(http_server, clock)
    with pytest.raises(GraphError) as info:
        client.batch([{'method': 'DELETE', 'url': '/oauth2PermissionGrants/g%d' % i} for i in range(25)])
    assert len(http_server.requests) == 2
    assert info.value.ambiguous
    assert info.value.partial_results == [None] * 25  # refused or not known: the caller reads every one back


def test_read_only_batch_with_a_failed_envelope_is_not_ambiguous(http_server, clock):
    http_server.add(500, graph_error(500, 'Service_InternalServerError', 'boom'))
    client = make_client(http_server, clock)
    with pytest.raises(GraphError) as info:
        client.batch([{'method': 'GET', 'url': '/users/%d' % i} for i in range(25)])
    err = info.value
    assert err.status == 500 and not err.ambiguous and err.partial_results is None
    assert 'outcome of this write is unknown' not in str(err)
    assert len(http_server.requests) == 1 and clock.sleeps == []  # a read-only failure stops the batch at once


# ------------------------------------------------------------------------------------------------- error mapping

def test_error_mapping_and_message_format(http_server, clock):
    http_server.add(409, graph_error(409, 'Request_MultipleObjectsWithSameKeyValue', 'Permission entry already exists.',
                                     'inner-rid'), {'request-id': 'hdr-rid', 'client-request-id': 'crid'})
    client = make_client(http_server, clock)
    with pytest.raises(GraphError) as info:
        client.post('/oauth2PermissionGrants', {'clientId': 'c'})
    err = info.value
    assert (err.status, err.code, err.message) == (409, 'Request_MultipleObjectsWithSameKeyValue',
                                                   'Permission entry already exists.')
    assert (err.request_id, err.method, err.url, err.ambiguous) == ('hdr-rid', 'POST', '/v1.0/oauth2PermissionGrants', False)
    assert str(err) == ('POST /v1.0/oauth2PermissionGrants failed: HTTP 409 Request_MultipleObjectsWithSameKeyValue: '
                        'Permission entry already exists. (request-id: hdr-rid)')
    assert is_duplicate_grant_error(err) and not is_not_replicated_error(err)


def test_request_id_falls_back_to_inner_error(http_server, clock):
    http_server.add(403, graph_error(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the '
                                                                         'operation.', 'inner-only'))
    client = make_client(http_server, clock)
    with pytest.raises(GraphError) as info:
        client.get('/oauth2PermissionGrants', params={'$filter': "clientId eq 'x'"})
    err = info.value
    assert err.request_id == 'inner-only' and err.url == '/v1.0/oauth2PermissionGrants'


def test_non_json_error_body(http_server, clock):
    http_server.add(502, '<html><body>Bad gateway</body></html>', {'Content-Type': 'text/html'})
    client = make_client(http_server, clock, budget=0)
    with pytest.raises(GraphError) as info:
        client.get('/users')
    assert str(info.value) == ('GET /v1.0/users failed: HTTP 502: Bad Gateway Gave up after 1 attempt and 0.0 s of '
                               'retrying (retry budget 0 s).')


def test_request_without_raising(http_server, clock):
    http_server.add(404, graph_error(404, 'Request_ResourceNotFound', 'nope'))
    resp = make_client(http_server, clock).request('GET', '/users/x', raise_for_status=False)
    assert resp.status == 404 and not resp.ok and resp.error.code == 'Request_ResourceNotFound'
    assert error_from_response(resp, 'GET', '/users/x').url == '/users/x'


def test_graph_error_without_http_context():
    assert str(GraphError('plain message')) == 'plain message'
    assert str(GraphError('m', code='C')) == 'C: m'
    assert 'GraphError(status=None' in repr(GraphError('m'))


# ------------------------------------------------------------------------------------------------ secret hygiene

def test_tokens_never_appear_in_errors_or_logs(http_server, clock, caplog):
    def echo_auth(rec):  # a hostile/buggy server echoing the Authorization header into the error body
        return (400, graph_error(400, 'BadRequest', 'bad header: %s' % rec.headers.get('Authorization')))
    http_server.handler = echo_auth
    logged = []
    client = make_client(http_server, clock, log=logged.append)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(GraphError) as info:
        client.get('/users')
    http_server.handler = None
    http_server.add(action='drop').add(503, 'Bearer %s' % TOKEN_1).add(503, 'x')
    with pytest.raises(GraphError) as info2:
        make_client(http_server, clock, budget=1.5, log=logged.append).get('/users')
    for text in (str(info.value), repr(info.value), str(info2.value), repr(info2.value), caplog.text,
                 json.dumps(info.value.to_dict()), ' '.join(logged)):
        assert TOKEN_1 not in text and TOKEN_2 not in text
    assert '********' in str(info.value)


# -------------------------------------------------------------------------------------------------------- TLS

def test_ca_path_beats_requests_ca_bundle(https_server, pki, clock, monkeypatch):
    system_bundle = requests.certs.where()
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', system_bundle)
    monkeypatch.setenv('CURL_CA_BUNDLE', system_bundle)
    for dummy in range(3):
        https_server.add(200, {'ok': True})

    # The trap this guards against (psf/requests#3829): Session.verify loses against REQUESTS_CA_BUNDLE.
    naive = requests.Session()
    naive.verify = pki.ca_path
    with pytest.raises(requests.exceptions.SSLError):
        naive.get(https_server.url + '/v1.0/users', timeout=5)

    client = GraphClient(https_server.url, 'v1.0', FakeProvider(), verify=pki.ca_path, timeout=5,
                         sleep=clock.sleep, clock=clock.clock)
    assert client.get('/users') == {'ok': True}

    strict = GraphClient(https_server.url, 'v1.0', FakeProvider(), verify=True, timeout=5,
                         sleep=clock.sleep, clock=clock.clock)
    with pytest.raises(GraphError) as info:
        strict.get('/users')
    assert 'TLS error' in str(info.value) and 'ca_path' in str(info.value)
    assert clock.sleeps == []  # a certificate problem is not retried

    insecure = GraphClient(https_server.url, 'v1.0', FakeProvider(), verify=False, timeout=5)
    assert insecure.get('/users') == {'ok': True}


def test_verify_and_timeout_are_passed_on_every_request(clock):
    seen = []

    class RecordingSession(requests.Session):
        def request(self, method, url, **kwargs):
            seen.append((kwargs.get('verify'), kwargs.get('timeout')))
            resp = requests.Response()
            resp.status_code = 200
            resp._content = b'{"value": []}'
            return resp

    client = GraphClient('https://127.0.0.1:9', 'beta', FakeProvider(), verify='/some/ca.pem', timeout=7,
                         session=RecordingSession())
    client.get('/users')
    client.get_all('/users')
    assert seen == [('/some/ca.pem', (7, 7)), ('/some/ca.pem', (7, 7))]
    assert client.base_url == 'https://127.0.0.1:9/beta'


# ------------------------------------------------------------------------ one Retry-After, many throttled writes

def test_many_writes_throttled_by_one_answer_wait_once(http_server, clock):
    """Three read-modify-write items answered 429 (Retry-After 30) in one batch: the caller plans each again after
    wait_before_retry, and only the first wait sleeps; the others find the Retry-After already passed."""
    batch_echo(http_server, throttle=dict(('/oauth2PermissionGrants/g%d' % i, ['30']) for i in range(3)))
    client = make_client(http_server, clock)
    results = client.batch([{'method': 'PATCH', 'url': '/oauth2PermissionGrants/g%d' % i, 'body': {'scope': 'a'},
                             'retry_throttled': False} for i in range(3)])
    errors = [r.error for r in results]
    assert [e.status for e in errors] == [429, 429, 429]
    for err in errors:
        client.wait_before_retry(err)
    assert clock.sleeps == [30.0] and client.retry_spent == 30.0


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


def test_batch_of_writes_refused_in_a_later_chunk_says_which_writes_landed(http_server, clock):
    http_server.add(200, {'responses': [{'id': str(i), 'status': 204} for i in range(20)]})
    http_server.add(403, graph_error(403, 'Authorization_RequestDenied', 'Insufficient privileges.'))
    client = make_client(http_server, clock)
    with pytest.raises(GraphError) as info:
        client.batch([{'method': 'DELETE', 'url': '/oauth2PermissionGrants/g%d' % i} for i in range(25)])
    err = info.value
    assert err.status == 403 and not err.ambiguous
    assert [r.status for r in err.partial_results[:20]] == [204] * 20 and err.partial_results[20:] == [None] * 5


# ------------------------------------------------------------------ $batch envelope that is not 200 (issue 12.2)
@pytest.mark.parametrize('status', [424, 429, 400])
def test_batch_envelope_not_200_with_responses_is_handled_item_by_item(http_server, clock, status):
    """The throttling page says a batch holding throttled items fails with 424; the batching page says 200. Either
    way the items' answers are used: the throttled read is re-sent after its Retry-After, the write that ran is not
    re-sent, the throttled write whose body came from a read is returned to the caller."""
    http_server.add(status, {'responses': [
        {'id': '0', 'status': 429, 'headers': {'Retry-After': '3'}, 'body': graph_error(429, 'TooManyRequests', 'x')},
        {'id': '1', 'status': 201, 'body': {'id': 'new'}},
        {'id': '2', 'status': 429, 'headers': {'Retry-After': '2'}, 'body': graph_error(429, 'TooManyRequests', 'x')},
    ]})
    http_server.add(200, {'responses': [{'id': '0', 'status': 200, 'body': {'id': 'u0'}}]})
    client = make_client(http_server, clock)
    results = client.batch([
        {'method': 'GET', 'url': '/users/0'},
        {'method': 'POST', 'url': '/oauth2PermissionGrants', 'body': {'scope': 'c'}},
        {'method': 'PATCH', 'url': '/oauth2PermissionGrants/g1', 'body': {'scope': 'a b'}, 'retry_throttled': False},
    ])
    assert [[item['id'] for item in r.json['requests']] for r in http_server.requests] == [['0', '1', '2'], ['0']]
    assert clock.sleeps == [3.0]
    assert [r.status for r in results] == [200, 201, 429]


def test_batch_items_answered_424_are_sent_again(http_server, clock):
    http_server.add(424, {'responses': [
        {'id': '0', 'status': 424, 'body': graph_error(424, 'FailedDependency', 'x')},
        {'id': '1', 'status': 200, 'body': {'id': 'u1'}},
    ]})
    http_server.add(200, {'responses': [{'id': '0', 'status': 200, 'body': {'id': 'u0'}}]})
    client = make_client(http_server, clock)
    results = client.batch([{'method': 'GET', 'url': '/users/0'}, {'method': 'GET', 'url': '/users/1'}])
    assert [r.status for r in results] == [200, 200] and len(http_server.requests) == 2


# ---------------------------------------------------------------- a $batch is an implementation detail: name its work

def test_a_refused_batch_is_named_by_what_it_carries(http_server, clock):
    http_server.add(403, graph_error(403, 'Authorization_RequestDenied', 'Insufficient privileges'))
    client = make_client(http_server, clock)
    with pytest.raises(GraphError) as info:
        client.batch([{'method': 'GET', 'url': "/servicePrincipals(appId='a')"},
                      {'method': 'GET', 'url': '/servicePrincipals/b?$select=id'},
                      {'method': 'POST', 'url': '/oauth2PermissionGrants', 'body': {}}])
    text = str(info.value)
    assert '$batch' not in text
    assert text.startswith('GET /servicePrincipals (2 requests) and POST /oauth2PermissionGrants failed: HTTP 403')


def test_batch_item_retries_are_listed_by_what_they_do(http_server, clock):
    http_server.add(200, {'responses': [{'id': '0', 'status': 429, 'headers': {'Retry-After': '2'}}]})
    http_server.add(200, {'responses': [{'id': '0', 'status': 200, 'body': {'v': 1}}]})
    client = make_client(http_server, clock)
    assert client.batch([{'method': 'GET', 'url': '/users/u1'}])[0].json == {'v': 1}
    assert client.retry_log.entries == [dict(what='GET /users', why='HTTP 429', waited=2.0)]


def test_a_malformed_batch_answer_does_not_name_the_batch(http_server, clock):
    http_server.add(200, {'unexpected': True})
    client = make_client(http_server, clock)
    with pytest.raises(GraphError) as info:
        client.batch([{'method': 'GET', 'url': '/users/u1'}, {'method': 'GET', 'url': '/users/u2'}])
    assert str(info.value).startswith('GET /users (2 requests) failed: the response has no "responses" list')
