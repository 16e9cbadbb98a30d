# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The MSAL token flow every MSAL method shares (_token_provider.py), with a client secret against a local
HTTPS token server: the warm cache, refresh after a 401, MSAL errors as AuthError, verify/timeout on every request."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import logging
import os
import stat

import pytest
import requests

from ansible_collections.msgraph.grants.plugins.module_utils._auth_methods import make_token_provider, resolve_connection
from ansible_collections.msgraph.grants.plugins.module_utils._errors import AuthError, GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import GraphClient
from ansible_collections.msgraph.grants.plugins.module_utils._token_provider import ForcedRequestsClient
from ansible_collections.msgraph.grants.tests.unit.utils.auth_testing import (  # noqa: F401 pylint: disable=unused-import
    CLIENT_ID,
    SECRET,
    TENANT,
    emulator_params,
    guard_hosts,
    idp,
)


def test_secret_flow_and_warm_cache_makes_zero_requests(idp, pki, tmp_path, guard_hosts, monkeypatch):
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', requests.certs.where())  # must not matter: ca_path wins
    settings = resolve_connection(emulator_params(idp.server, pki, tmp_path / 'cache', client_secret=SECRET))
    provider = make_token_provider(settings, requests.Session())
    token = provider.get_token()
    assert token == idp.issued[0] and provider.last_source == 'identity_provider'
    kinds = [(r.method, r.path) for r in idp.token_requests()]
    assert kinds == [('GET', '/%s/v2.0/.well-known/openid-configuration' % TENANT),
                     ('POST', '/%s/oauth2/v2.0/token' % TENANT)]
    form = idp.token_requests()[1].form
    assert form['grant_type'] == 'client_credentials' and form['scope'] == idp.server.url + '/.default'
    assert provider.get_token() == token and provider.last_source == 'memory'

    # A new provider (as a new process would) with the same cache dir: no request at all, not even discovery.
    before = len(idp.server.requests)
    again = make_token_provider(resolve_connection(emulator_params(idp.server, pki, tmp_path / 'cache',
                                                                   client_secret=SECRET)), requests.Session())
    assert again.get_token() == token and again.last_source == 'cache'
    assert len(idp.server.requests) == before
    files = os.listdir(str(tmp_path / 'cache'))
    assert len([f for f in files if f.endswith('.json')]) == 1
    assert all(stat.S_IMODE(os.stat(str(tmp_path / 'cache' / f)).st_mode) == 0o600 for f in files)
    with open(str(tmp_path / 'cache' / [f for f in files if f.endswith('.json')][0])) as f:
        doc = json.load(f)
    assert SECRET not in json.dumps(doc) and doc['http_cache']


def test_force_refresh_replaces_the_rejected_token_in_the_persistent_cache(idp, pki, tmp_path):
    settings = resolve_connection(emulator_params(idp.server, pki, tmp_path / 'c', client_secret=SECRET))
    provider = make_token_provider(settings, requests.Session())
    first = provider.get_token()
    second = provider.get_token(force_refresh=True)
    assert first != second and second == idp.issued[-1]
    other = make_token_provider(settings, requests.Session())
    assert other.get_token() == second  # the rejected token is gone from the file too


def test_graph_401_triggers_one_refresh_end_to_end(idp, pki, tmp_path):
    settings = resolve_connection(emulator_params(idp.server, pki, tmp_path / 'c', client_secret=SECRET))
    provider = make_token_provider(settings, requests.Session())
    graph_calls = []
    idp_handle = idp.handle

    def handler(rec):
        if rec.path.startswith('/v1.0/'):
            graph_calls.append(rec.headers['Authorization'])
            if len(graph_calls) == 1:
                return (401, {'error': {'code': 'InvalidAuthenticationToken', 'message': 'expired'}})
            return {'value': []}
        return idp_handle(rec)
    idp.server.handler = handler
    client = GraphClient(settings.graph_root, 'v1.0', provider, verify=settings.verify)
    assert client.get('/users') == {'value': []}
    assert graph_calls == ['Bearer ' + idp.issued[0], 'Bearer ' + idp.issued[1]]


def test_msal_error_becomes_auth_error_without_secret(idp, pki, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    settings = resolve_connection(emulator_params(idp.server, pki, tmp_path / 'c', client_secret='wrong-' + SECRET))
    provider = make_token_provider(settings, requests.Session())
    with pytest.raises(AuthError) as info:
        provider.get_token()
    err = info.value
    assert isinstance(err, GraphError) and err.code == 'AADSTS7000215' and err.request_id == 'corr-1'
    text = str(err)
    assert text.startswith('Could not get a token for Microsoft Graph (auth_method client_secret, tenant %s, client_id '
                           '%s, authority %s): invalid_client: AADSTS7000215: Invalid client secret provided.'
                           % (TENANT, CLIENT_ID, idp.server.url))
    assert 'Trace ID' not in text and "Value, not its Secret ID" in text
    for blob in (text, repr(err), caplog.text):
        assert SECRET not in blob


def test_unreachable_authority_and_bad_tls_are_auth_errors(idp, pki, tmp_path, monkeypatch):
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', requests.certs.where())
    settings = resolve_connection(emulator_params(idp.server, pki, tmp_path / 'c', client_secret=SECRET,
                                                  ca_path=None))
    with pytest.raises(AuthError) as info:
        make_token_provider(settings, requests.Session()).get_token()
    assert 'TLS' in str(info.value) and 'ca_path' in str(info.value)
    settings = resolve_connection(emulator_params(idp.server, pki, tmp_path / 'c', client_secret=SECRET,
                                                  authority_url='https://127.0.0.1:1'))
    with pytest.raises(AuthError) as info:
        make_token_provider(settings, requests.Session()).get_token()
    assert 'cannot reach the token endpoint' in str(info.value) and 'authority_url' in str(info.value)


def test_forced_client_overrides_verify_and_timeout():
    seen = []

    class Session(object):
        def request(self, method, url, **kw):
            seen.append(('request', kw))

        def get(self, url, **kw):
            seen.append(('get', kw))

        def post(self, url, **kw):
            seen.append(('post', kw))

    client = ForcedRequestsClient(Session(), '/ca.pem', 9)
    client.get('https://x', verify=True, headers={})
    client.post('https://x', data={}, timeout=1)
    client.request('GET', 'https://x')
    client.close()
    assert [(kind, kw['verify'], kw['timeout']) for kind, kw in seen] == [
        ('get', '/ca.pem', 9), ('post', '/ca.pem', 9), ('request', '/ca.pem', 9)]
