# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""GraphClient.batch against a real HTTP server on 127.0.0.1 (plugins/module_utils/_graph_batch.py): chunks of 20,
answers correlated by id, which items are sent again, lost envelopes and partial results, and how a ``$batch`` is
named in errors and retries. Nothing really sleeps: ``sleep`` and ``clock`` are injected."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


import pytest

from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import GraphResponse
from ansible_collections.msgraph.grants.plugins.module_utils._grant_errors import is_not_replicated_error
from ansible_collections.msgraph.grants.tests.unit.utils.http_server import Reply
from ansible_collections.msgraph.grants.tests.unit.utils.graph_client_doubles import clock  # noqa: F401 pylint: disable=unused-import
from ansible_collections.msgraph.grants.tests.unit.utils.graph_client_doubles import (
    graph_error,
    make_client,
    throttled,
)


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
    # sent concurrently: the envelopes may arrive in any order, the results come back in input order
    assert sorted(len(r.json['requests']) for r in http_server.requests) == [5, 20, 20]
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
    lost = Reply(0, action='drop') if failure == 'drop' else Reply(504, graph_error(504, 'GatewayTimeout', 'gateway timeout'))
    answered = Reply(200, {'responses': [{'id': str(i), 'status': 204} for i in range(24, 19, -1)]})
    # by content, not arrival order: the two envelopes are sent concurrently
    http_server.handler = lambda rec: lost if len(rec.json['requests']) == 20 else answered
    client = make_client(http_server, clock)
    with pytest.raises(GraphError) as info:
        client.batch([{'method': 'DELETE', 'url': '/oauth2PermissionGrants/g%d' % i} for i in range(25)])
    err = info.value
    assert err.ambiguous and 'outcome of this write is unknown' in str(err)
    assert err.status == (504 if failure == '504' else None)
    assert sorted([item['id'] for item in r.json['requests']] for r in http_server.requests) == sorted([
        [str(i) for i in range(20)], [str(i) for i in range(20, 25)]])
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


@pytest.mark.parametrize('lost_size', [20, 5])
def test_batch_lost_chunk_wins_over_a_refused_one_whichever_comes_first(http_server, clock, lost_size):
    def handler(rec):  # by content, not arrival order: the envelopes are sent concurrently
        if len(rec.json['requests']) == lost_size:
            return 504, graph_error(504, 'GatewayTimeout', 'gateway timeout')
        return 403, graph_error(403, 'Authorization_RequestDenied', 'Insufficient privileges.')
    http_server.handler = handler
    client = make_client(http_server, clock)
    with pytest.raises(GraphError) as info:
        client.batch([{'method': 'DELETE', 'url': '/oauth2PermissionGrants/g%d' % i} for i in range(25)])
    assert info.value.ambiguous and info.value.partial_results == [None] * 25


def test_read_only_batch_with_a_failed_envelope_is_not_ambiguous(http_server, clock):
    for _envelope in range(2):  # both envelopes may be in flight at once (sent concurrently)
        http_server.add(500, graph_error(500, 'Service_InternalServerError', 'boom'))
    client = make_client(http_server, clock)
    with pytest.raises(GraphError) as info:
        client.batch([{'method': 'GET', 'url': '/users/%d' % i} for i in range(25)])
    err = info.value
    assert err.status == 500 and not err.ambiguous and err.partial_results is None
    assert 'outcome of this write is unknown' not in str(err)
    assert len(http_server.requests) <= 2 and clock.sleeps == []  # a read-only failure is not retried


def test_batch_of_writes_refused_in_a_later_chunk_says_which_writes_landed(http_server, clock):
    def handler(rec):  # by content, not arrival order: the two envelopes are sent concurrently
        items = rec.json['requests']
        if len(items) == 20:
            return {'responses': [{'id': item['id'], 'status': 204} for item in items]}
        return 403, graph_error(403, 'Authorization_RequestDenied', 'Insufficient privileges.')
    http_server.handler = handler
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
