# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""GraphClient against a real HTTP(S) server on 127.0.0.1 (the ``http_server``/``https_server`` fixtures of
tests/unit/conftest.py): request shape, the 401 token refresh, paging, error mapping, secret hygiene and TLS trust
(ca_path must beat REQUESTS_CA_BUNDLE). Retries: test_graph_retries.py; ``$batch``: test_graph_batch.py."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import logging
import os
import re
import uuid

import pytest
import requests

from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import (
    COLLECTION_VERSION,
    GraphClient,
    encode_query,
    error_from_response,
)
from ansible_collections.msgraph.grants.plugins.module_utils._grant_errors import (
    is_duplicate_grant_error,
    is_not_replicated_error,
)
from ansible_collections.msgraph.grants.tests.unit.utils.graph_client_doubles import clock  # noqa: F401 pylint: disable=unused-import
from ansible_collections.msgraph.grants.tests.unit.utils.graph_client_doubles import (
    TOKEN_1,
    TOKEN_2,
    FakeProvider,
    StaticProvider,
    graph_error,
    make_client,
    throttled,
)

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))


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
