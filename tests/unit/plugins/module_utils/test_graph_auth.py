# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Clouds, resolve_connection, the persistent token cache, and real MSAL token providers against a local HTTPS
token server (OpenID discovery, token endpoint, App Service managed identity endpoint) on 127.0.0.1."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import json
import logging
import os
import stat
import threading
import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import hashes

from ansible_collections.msgraph.grants.plugins.module_utils import _graph_auth as ga
from ansible_collections.msgraph.grants.plugins.module_utils._graph_auth import (
    CLOUDS,
    AuthError,
    ConfigError,
    ForcedRequestsClient,
    TokenCacheStore,
    make_token_provider,
    resolve_connection,
)
from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import GraphClient

TENANT = '11111111-2222-3333-4444-555555555555'
CLIENT_ID = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee'
SECRET = 'Sup3r~Secret.Value-0123456789'
PASSWORD = 'pfx-Passw0rd!'


def params(**kw):
    base = dict(tenant_id=None, client_id=None, client_secret=None, client_certificate_path=None,
                client_certificate_password=None, federated_token_file=None, access_token=None, auth_method='auto',
                cloud='global', graph_url=None, authority_url=None, api_version='v1.0', validate_certs=True,
                ca_path=None, timeout=30, token_cache='false', retry_budget=120)
    base.update(kw)
    return base


# ------------------------------------------------------------------------------------------------------ clouds

def test_cloud_table():
    assert CLOUDS == {
        'global': dict(graph_url='https://graph.microsoft.com', authority_url='https://login.microsoftonline.com'),
        'usgov': dict(graph_url='https://graph.microsoft.us', authority_url='https://login.microsoftonline.us'),
        'usgov_dod': dict(graph_url='https://dod-graph.microsoft.us', authority_url='https://login.microsoftonline.us'),
        'china': dict(graph_url='https://microsoftgraph.chinacloudapi.cn', authority_url='https://login.chinacloudapi.cn'),
    }


@pytest.mark.parametrize('cloud, graph, login', [
    ('global', 'https://graph.microsoft.com', 'https://login.microsoftonline.com'),
    ('usgov', 'https://graph.microsoft.us', 'https://login.microsoftonline.us'),
    ('usgov_dod', 'https://dod-graph.microsoft.us', 'https://login.microsoftonline.us'),
    ('china', 'https://microsoftgraph.chinacloudapi.cn', 'https://login.chinacloudapi.cn'),
])
def test_cloud_settings(cloud, graph, login):
    s = resolve_connection(params(cloud=cloud, tenant_id=TENANT, client_id=CLIENT_ID, client_secret=SECRET))
    assert (s.graph_root, s.authority_host) == (graph, login)
    assert s.scope == graph + '/.default' and s.resource == graph
    assert s.authority == '%s/%s' % (login, TENANT)
    assert not s.authority_overridden and not s.graph_overridden


@pytest.mark.parametrize('graph_url, authority_url, graph, authority', [
    ('https://127.0.0.1:8443', 'https://127.0.0.1:8443', 'https://127.0.0.1:8443', 'https://127.0.0.1:8443'),
    ('127.0.0.1:8443/', '127.0.0.1:9443', 'https://127.0.0.1:8443', 'https://127.0.0.1:9443'),
    ('https://proxy.example/graph/v1.0', 'HTTPS://login.example/', 'https://proxy.example/graph', 'https://login.example'),
    ('https://graph.example/beta/', None, 'https://graph.example', 'https://login.microsoftonline.us'),
])
def test_url_overrides(graph_url, authority_url, graph, authority):
    s = resolve_connection(params(cloud='usgov', graph_url=graph_url, authority_url=authority_url, tenant_id=TENANT,
                                  client_id=CLIENT_ID, client_secret=SECRET))
    assert s.graph_root == graph and s.authority_host == authority
    assert s.scope == graph + '/.default'
    assert s.authority == authority + '/' + TENANT
    assert s.graph_overridden and s.authority_overridden is (authority_url is not None)


def test_bad_values_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match='cloud must be one of'):
        resolve_connection(params(cloud='mars'))
    with pytest.raises(ConfigError, match='api_version'):
        resolve_connection(params(api_version='v2'))
    with pytest.raises(ConfigError, match='https URL'):
        resolve_connection(params(graph_url='ftp://x'))
    with pytest.raises(ConfigError, match='timeout'):
        resolve_connection(params(timeout=0, access_token='t' * 20))
    with pytest.raises(ConfigError, match=r'ca_path .* does not exist \(set by the ca_path option \(or environment '
                                          r'variable MSGRAPH_CA_PATH\)\)'):
        resolve_connection(params(access_token='t' * 20, ca_path=str(tmp_path / 'nope.pem')))


def test_tls_verification_settings(tmp_path):
    ca = tmp_path / 'ca.pem'
    ca.write_text(u'x')
    token = dict(access_token='t' * 20)
    assert resolve_connection(params(**token)).verify is True
    assert resolve_connection(params(ca_path=str(ca), **token)).verify == str(ca)
    assert resolve_connection(params(ca_path=str(ca), validate_certs=False, **token)).verify is False
    assert resolve_connection(params(validate_certs='no', **token)).verify is False


# -------------------------------------------------------------------------------------------- auth method choice

@pytest.mark.parametrize('given, expected', [
    (dict(access_token='tok' * 5, client_certificate_path='CERT', client_secret=SECRET, federated_token_file='FED'),
     'access_token'),
    (dict(client_certificate_path='CERT', client_secret=SECRET, federated_token_file='FED'), 'certificate'),
    (dict(client_secret=SECRET, federated_token_file='FED'), 'client_secret'),
    (dict(federated_token_file='FED'), 'federated'),
    (dict(), 'managed_identity'),
])
def test_auto_order(tmp_path, given, expected):
    for key, value in list(given.items()):
        if value in ('CERT', 'FED'):
            path = tmp_path / value
            path.write_text(u'x')
            given[key] = str(path)
    s = resolve_connection(params(tenant_id=TENANT, client_id=CLIENT_ID, **given))
    assert s.auth_method == expected and s.auth_method_requested == 'auto'


def test_explicit_method_wins_over_auto_order():
    s = resolve_connection(params(auth_method='client_secret', access_token='t' * 20, tenant_id=TENANT,
                                  client_id=CLIENT_ID, client_secret=SECRET))
    assert s.auth_method == 'client_secret'


def test_managed_identity_needs_nothing_and_client_id_selects_user_assigned():
    assert resolve_connection(params(auth_method='managed_identity')).client_id is None
    assert resolve_connection(params(client_id=CLIENT_ID)).auth_method == 'managed_identity'


def test_missing_input_names_option_and_env_vars():
    with pytest.raises(ConfigError) as info:
        resolve_connection(params(client_secret=SECRET, client_id=CLIENT_ID))
    text = str(info.value)
    assert 'auth_method auto chose client_secret' in text and 'because client_secret is set' in text
    assert 'tenant_id is missing: set the tenant_id option (or environment variable AZURE_TENANT_ID or AZURE_TENANT)' \
        in text
    assert SECRET not in text

    with pytest.raises(ConfigError) as info:
        resolve_connection(params(auth_method='certificate'))
    text = str(info.value)
    for needed in ('client_certificate_path', 'AZURE_CLIENT_CERTIFICATE_PATH', 'tenant_id', 'AZURE_TENANT_ID',
                   'client_id', 'AZURE_CLIENT_ID'):
        assert needed in text

    with pytest.raises(ConfigError, match='AZURE_CLIENT_SECRET or AZURE_SECRET'):
        resolve_connection(params(auth_method='client_secret', tenant_id=TENANT, client_id=CLIENT_ID))
    with pytest.raises(ConfigError, match='MSGRAPH_ACCESS_TOKEN'):
        resolve_connection(params(auth_method='access_token'))
    with pytest.raises(ConfigError, match='AZURE_FEDERATED_TOKEN_FILE'):
        resolve_connection(params(auth_method='federated', tenant_id=TENANT, client_id=CLIENT_ID))


def test_credential_files_must_exist(tmp_path):
    with pytest.raises(ConfigError, match='client_certificate_path .*missing.pem does not exist'):
        resolve_connection(params(client_certificate_path=str(tmp_path / 'missing.pem'), tenant_id=TENANT,
                                  client_id=CLIENT_ID))


def test_settings_repr_hides_secrets():
    s = resolve_connection(params(tenant_id=TENANT, client_id=CLIENT_ID, client_secret=SECRET))
    assert SECRET not in repr(s) and "client_secret='********'" in repr(s)


def test_token_cache_option(monkeypatch, tmp_path):
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    assert ga.resolve_token_cache(None) == (str(tmp_path / 'xdg' / 'msgraph.grants'), True)
    monkeypatch.delenv('XDG_CACHE_HOME')
    monkeypatch.setenv('HOME', str(tmp_path))
    assert ga.resolve_token_cache('') == (str(tmp_path / '.cache' / 'msgraph.grants'), True)
    for off in ('false', 'False', 'off', 'no', '0'):
        assert ga.resolve_token_cache(off) == (None, False)
    assert ga.resolve_token_cache(False) == (None, False)
    assert ga.resolve_token_cache(str(tmp_path / 'mine')) == (str(tmp_path / 'mine'), False)
    (tmp_path / 'afile').write_text(u'x')
    with pytest.raises(ConfigError, match='must be a directory'):
        ga.resolve_token_cache(str(tmp_path / 'afile'))


# -------------------------------------------------------------------------------------------- persistent store

class FakeCache(object):
    """Stands in for msal.SerializableTokenCache in store tests."""

    def __init__(self, state=None):
        self.state = state or {}

    def serialize(self):
        return json.dumps(self.state)

    def deserialize(self, text):
        self.state = json.loads(text)


def test_store_writes_private_files_atomically(tmp_path, monkeypatch):
    directory = tmp_path / 'cache'
    store = TokenCacheStore(str(directory), ('a', 'b', 'c'), is_default_dir=True)
    created = []
    real_open = os.open
    real_replace = os.replace

    def spy_open(path, flags, mode=0o777, *args, **kwargs):
        if path.endswith('.tmp'):
            created.append((flags, mode))
        return real_open(path, flags, mode, *args, **kwargs)

    def spy_replace(src, dst):
        # At the moment of the swap the temp file is complete and already private; the old file is untouched.
        assert stat.S_IMODE(os.stat(src).st_mode) == 0o600
        assert json.loads(open(src).read())['token_cache'] == {'AccessToken': {'k': 1}}
        real_replace(src, dst)

    monkeypatch.setattr(os, 'open', spy_open)
    monkeypatch.setattr(os, 'replace', spy_replace)
    old_umask = os.umask(0)  # even with a permissive umask nothing is group/other accessible
    try:
        with store.locked():
            store.load(FakeCache(), {})
            assert store.save(FakeCache({'AccessToken': {'k': 1}}), {})
    finally:
        os.umask(old_umask)
    assert created and all(flags & os.O_EXCL and flags & os.O_CREAT and mode == 0o600 for flags, mode in created)
    assert stat.S_IMODE(os.stat(str(directory)).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.lock_path).st_mode) == 0o600
    assert sorted(os.listdir(str(directory))) == sorted([store.name, store.name + '.lock'])  # no temp file left
    # unchanged content is not rewritten
    again = TokenCacheStore(str(directory), ('a', 'b', 'c'))
    cache = FakeCache()
    again.load(cache, {})
    assert cache.state == {'AccessToken': {'k': 1}}
    assert again.save(cache, {}) is False


def test_store_key_separates_authority_tenant_and_client(tmp_path):
    names = set(TokenCacheStore(str(tmp_path), key).name for key in (
        ('confidential', 'https://a', 't1', 'c1'), ('confidential', 'https://b', 't1', 'c1'),
        ('confidential', 'https://a', 't2', 'c1'), ('confidential', 'https://a', 't1', 'c2')))
    assert len(names) == 4


def test_store_tightens_the_default_dir_but_refuses_a_shared_custom_dir(tmp_path):
    default = tmp_path / 'default'
    default.mkdir(mode=0o755)
    os.chmod(str(default), 0o755)
    store = TokenCacheStore(str(default), ('k',), is_default_dir=True)
    with store.locked():
        assert store.enabled
    assert stat.S_IMODE(os.stat(str(default)).st_mode) == 0o700

    shared = tmp_path / 'shared'
    shared.mkdir()
    os.chmod(str(shared), 0o777)
    warnings = []
    store = TokenCacheStore(str(shared), ('k',), warn=warnings.append)
    with store.locked():
        store.load(FakeCache(), {})
        assert store.save(FakeCache({'x': 1}), {}) is False
    assert not store.enabled and 'writable by other users' in warnings[0]
    assert os.listdir(str(shared)) == []


def test_store_ignores_a_file_others_can_read_or_that_another_user_owns(tmp_path):
    directory = tmp_path / 'c'
    writer = TokenCacheStore(str(directory), ('k',))
    with writer.locked():
        writer.save(FakeCache({'AccessToken': {'evil': 1}}), {})
    os.chmod(writer.path, 0o644)
    warnings = []
    reader = TokenCacheStore(str(directory), ('k',), warn=warnings.append)
    cache = FakeCache()
    with reader.locked():
        reader.load(cache, {})
    assert cache.state == {} and 'not private to the current user' in warnings[0]

    if os.geteuid() == 0:  # chown needs root
        os.chmod(writer.path, 0o600)
        os.chown(writer.path, 12345, -1)
        reader = TokenCacheStore(str(directory), ('k',), warn=warnings.append)
        cache = FakeCache()
        reader.load(cache, {})
        assert cache.state == {} and 'owner uid 12345' in warnings[-1]


def test_store_ignores_a_symlinked_file(tmp_path):
    directory = tmp_path / 'c'
    store = TokenCacheStore(str(directory), ('k',))
    with store.locked():
        pass
    target = tmp_path / 'elsewhere.json'
    target.write_text(json.dumps({'version': 1, 'token_cache': {'AccessToken': {'planted': 1}}}))
    os.chmod(str(target), 0o600)
    os.symlink(str(target), store.path)
    cache = FakeCache()
    store.load(cache, {})
    assert cache.state == {}


def test_store_survives_garbage(tmp_path):
    store = TokenCacheStore(str(tmp_path / 'c'), ('k',))
    with store.locked():
        pass
    fd = os.open(store.path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b'{not json')
    os.close(fd)
    cache = FakeCache()
    store.load(cache, {})
    assert cache.state == {} and store.enabled
    assert store.save(FakeCache({'ok': 1}), {})


def test_store_lock_is_exclusive_and_bounded(tmp_path):
    directory = str(tmp_path / 'c')
    first = TokenCacheStore(directory, ('k',))
    warnings = []
    second = TokenCacheStore(directory, ('k',), warn=warnings.append, lock_timeout=0.3)
    events = []
    with first.locked():
        t0 = time.monotonic()
        with second.locked():
            events.append(time.monotonic() - t0)
    assert events[0] >= 0.25 and not second.enabled and 'timed out' in warnings[0]

    third = TokenCacheStore(directory, ('k',), lock_timeout=5)
    order = []

    def holder():
        with first.locked():
            order.append('first-in')
            time.sleep(0.3)
            order.append('first-out')
    first.enabled = True
    thread = threading.Thread(target=holder)
    thread.start()
    while not order:
        time.sleep(0.01)
    with third.locked():
        order.append('third-in')
    thread.join()
    assert order == ['first-in', 'first-out', 'third-in'] and third.enabled


def test_unwritable_cache_dir_degrades_to_memory(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text(u'x')
    warnings = []
    store = TokenCacheStore(str(blocker / 'sub'), ('k',), warn=warnings.append)
    with store.locked():
        store.load(FakeCache(), {})
        assert store.save(FakeCache({'a': 1}), {}) is False
    assert not store.enabled and warnings


def test_http_cache_round_trip_keeps_only_successful_gets():
    from msal.individual_cache import _ExpiringMapping

    class Raw(object):
        def __init__(self, status, text):
            self.status_code, self.text, self.headers = status, text, {'Content-Type': 'application/json'}

    def NormalizedResponse(raw):  # what MSAL stores: its NormalizedResponse (>= 1.33) or the raw response
        return ga._cached_response(raw.status_code, raw.text, raw.headers)

    mapping = {}
    em = _ExpiringMapping(mapping=mapping, capacity=10)
    em.set('GET https://h/t/v2.0/.well-known/openid-configuration hash=1 2xx', NormalizedResponse(Raw(200, '{"a":1}')), 3600)
    em.set('POST https://h/t/oauth2/v2.0/token hash=2 400', NormalizedResponse(Raw(400, 'bad')), 60)
    em.set('GET https://h/other hash=3 2xx', NormalizedResponse(Raw(404, 'nf')), 3600)
    dumped = ga.dump_http_cache(mapping)
    assert list(dumped) == ['GET https://h/t/v2.0/.well-known/openid-configuration hash=1 2xx']
    fresh = {}
    ga.load_http_cache(fresh, json.loads(json.dumps(dumped)))
    loaded = _ExpiringMapping(mapping=fresh)['GET https://h/t/v2.0/.well-known/openid-configuration hash=1 2xx']
    assert (loaded.status_code, loaded.text) == (200, '{"a":1}')
    ga.load_http_cache(fresh, {'GET x': {'expires_at': 1, 'created_at': 0, 'status_code': 200, 'text': ''}})
    assert 'GET x' not in fresh  # expired entries are not loaded


# --------------------------------------------------------------------------------------- MSAL against a local IdP

class IdP(object):
    """Scripted identity provider on the https_server fixture: discovery, token endpoint, App Service MSI."""

    def __init__(self, server, secret=SECRET):
        self.server = server
        self.secret = secret
        self.issued = []
        self.fail_with = None
        self.msi_header = 'msi-header-value'
        self.msi_resource_form = 'any'  # 'slash' / 'no_slash': the only form the endpoint accepts
        server.handler = self.handle

    def handle(self, rec):
        url = self.server.url
        if rec.path.endswith('/v2.0/.well-known/openid-configuration'):
            tenant = rec.path.split('/')[1]
            return {'token_endpoint': '%s/%s/oauth2/v2.0/token' % (url, tenant),
                    'authorization_endpoint': '%s/%s/oauth2/v2.0/authorize' % (url, tenant),
                    'issuer': '%s/%s/v2.0' % (url, tenant)}
        if rec.path.endswith('/oauth2/v2.0/token') and rec.method == 'POST':
            form = rec.form
            if self.fail_with:
                return self.fail_with
            ok = form.get('client_secret') == self.secret or bool(form.get('client_assertion'))
            if not ok:
                return (401, {'error': 'invalid_client', 'error_codes': [7000215], 'correlation_id': 'corr-1',
                              'error_description': 'AADSTS7000215: Invalid client secret provided. Ensure the secret '
                                                   'being sent is the value. Trace ID: t-1 Correlation ID: corr-1'})
            return self._token(form.get('scope'))
        if rec.path == '/msi/token':
            if rec.headers.get('X-IDENTITY-HEADER') != self.msi_header:
                return (401, {'statusCode': 401, 'message': 'bad identity header'})
            resource = rec.args.get('resource') or ''
            if (self.msi_resource_form == 'slash') != resource.endswith('/') and self.msi_resource_form != 'any':
                return (400, {'statusCode': 400, 'message': 'invalid resource %s' % resource})
            body = self._token(rec.args.get('resource'))
            body['expires_on'] = str(int(time.time()) + 3600)
            body.pop('expires_in')
            return body
        return (404, {'error': 'not_found', 'error_description': rec.path})

    def _token(self, scope):
        token = 'issued-token-%d-%s' % (len(self.issued) + 1, 'x' * 12)
        self.issued.append(token)
        return {'access_token': token, 'token_type': 'Bearer', 'expires_in': 3600, 'scope': scope}

    def token_requests(self):
        return [r for r in self.server.requests if not r.path.startswith('/v1.0')]


@pytest.fixture
def idp(https_server):
    return IdP(https_server)


@pytest.fixture
def guard_hosts(monkeypatch):
    """Fail loudly if MSAL tries to reach anything but 127.0.0.1 (no instance discovery, no region probing)."""
    contacted = []
    real = requests.Session.request

    def request(self, method, url, *args, **kwargs):
        contacted.append(url)
        assert url.startswith('https://127.0.0.1:') or url.startswith('http://127.0.0.1:'), url
        return real(self, method, url, *args, **kwargs)
    monkeypatch.setattr(requests.Session, 'request', request)
    return contacted


def emulator_params(server, pki, cache_dir, **kw):
    base = dict(graph_url=server.url, authority_url=server.url, ca_path=pki.ca_path, tenant_id=TENANT,
                client_id=CLIENT_ID, token_cache=str(cache_dir))
    base.update(kw)
    return params(**base)


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


def _assertion_header(form):
    return jwt.get_unverified_header(form['client_assertion'])


def _b64(data):
    return base64.urlsafe_b64encode(data).decode('ascii').rstrip('=')


@pytest.mark.parametrize('password, key_first', [(None, False), (PASSWORD, True)])
def test_certificate_pem(idp, pki, tmp_path, guard_hosts, password, key_first):
    path, cert, key = pki.client_certificate('pem-%s' % bool(password), password=password, key_first=key_first)
    settings = resolve_connection(emulator_params(idp.server, pki, tmp_path / 'c', client_certificate_path=path,
                                                  client_certificate_password=password))
    assert settings.auth_method == 'certificate'
    token = make_token_provider(settings, requests.Session()).get_token()
    assert token == idp.issued[0]
    form = idp.token_requests()[-1].form
    assert form['client_assertion_type'] == 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
    assert 'client_secret' not in form
    header = _assertion_header(form)
    assert header['alg'] == 'RS256' and header['x5t'].rstrip('=') == _b64(cert.fingerprint(hashes.SHA1()))
    assert 'x5c' in header
    claims = jwt.decode(form['client_assertion'], cert.public_key(), algorithms=['RS256'],
                        audience='%s/%s/oauth2/v2.0/token' % (idp.server.url, TENANT))
    assert claims['iss'] == claims['sub'] == CLIENT_ID


def test_certificate_pfx(idp, pki, tmp_path, guard_hosts):
    path, cert, key = pki.client_certificate('pfx', password=PASSWORD, fmt='pfx')
    settings = resolve_connection(emulator_params(idp.server, pki, tmp_path / 'c', client_certificate_path=path,
                                                  client_certificate_password=PASSWORD))
    assert make_token_provider(settings, requests.Session()).get_token() == idp.issued[0]
    form = idp.token_requests()[-1].form
    header = _assertion_header(form)
    assert (header.get('x5t#S256') or '').rstrip('=') == _b64(cert.fingerprint(hashes.SHA256())) or \
        (header.get('x5t') or '').rstrip('=') == _b64(cert.fingerprint(hashes.SHA1()))
    jwt.decode(form['client_assertion'], cert.public_key(), algorithms=[header['alg']],
               audience='%s/%s/oauth2/v2.0/token' % (idp.server.url, TENANT))


def test_certificate_errors_are_clear(pki, tmp_path):
    enc, _c, _k = pki.client_certificate('enc', password=PASSWORD)
    with pytest.raises(ConfigError, match='encrypted: set the client_certificate_password option .*'
                                          'AZURE_CLIENT_CERTIFICATE_PASSWORD'):
        ga.load_certificate_credential(enc)
    with pytest.raises(ConfigError, match='wrong client_certificate_password'):
        ga.load_certificate_credential(enc, 'nope')
    pfx, _c, _k = pki.client_certificate('enc-pfx', password=PASSWORD, fmt='pfx')
    with pytest.raises(ConfigError, match='protected PFX'):
        ga.load_certificate_credential(pfx)
    with pytest.raises(ConfigError) as info:
        ga.load_certificate_credential(pfx, 'wrong-password')
    assert 'wrong-password' not in str(info.value)
    cert_only = tmp_path / 'cert-only.pem'
    with open(enc, 'rb') as f:
        data = f.read()
    end = b'-----END CERTIFICATE-----'
    cert_only.write_bytes(data[data.index(b'-----BEGIN CERTIFICATE'):data.index(end) + len(end)] + b'\n')
    with pytest.raises(ConfigError, match='contains no private key'):
        ga.load_certificate_credential(str(cert_only))


def test_certificate_credential_shape(pki):
    path, cert, _key = pki.client_certificate('shape')
    cred = ga.load_certificate_credential(path)
    assert cred['thumbprint'] == cert.fingerprint(hashes.SHA1()).hex().upper()
    assert cred['public_certificate'].startswith('-----BEGIN CERTIFICATE-----')
    assert cred['private_key'].startswith('-----BEGIN PRIVATE KEY-----')
    sha1, sha256 = ga.certificate_thumbprints(path)
    assert sha1 == cred['thumbprint'] and len(sha256) == 64


def test_federated_token_file_is_reread(idp, pki, tmp_path, guard_hosts):
    token_file = tmp_path / 'federated-token'
    token_file.write_text(u'federated-assertion-ONE-abcdef\n')
    settings = resolve_connection(emulator_params(idp.server, pki, tmp_path / 'c', federated_token_file=str(token_file)))
    assert settings.auth_method == 'federated'
    provider = make_token_provider(settings, requests.Session())
    provider.get_token()
    assert idp.token_requests()[-1].form['client_assertion'] == 'federated-assertion-ONE-abcdef'
    token_file.write_text(u'federated-assertion-TWO-abcdef')
    provider.get_token(force_refresh=True)
    assert idp.token_requests()[-1].form['client_assertion'] == 'federated-assertion-TWO-abcdef'

    idp.fail_with = (400, {'error': 'invalid_request', 'error_codes': [700213],
                           'error_description': 'AADSTS700213: No matching federated identity record found.'})
    with pytest.raises(AuthError) as info:
        provider.get_token(force_refresh=True)
    assert 'AADSTS700213' in str(info.value) and 'federated-assertion' not in str(info.value)
    idp.fail_with = None
    fresh = resolve_connection(emulator_params(idp.server, pki, tmp_path / 'c2', federated_token_file=str(token_file)))
    os.unlink(str(token_file))
    with pytest.raises(AuthError, match='federated_token_file .* cannot be read'):
        make_token_provider(fresh, requests.Session()).get_token()


@pytest.mark.parametrize('client_id', [None, CLIENT_ID])
def test_managed_identity_app_service(idp, pki, tmp_path, monkeypatch, guard_hosts, client_id):
    monkeypatch.setenv('IDENTITY_ENDPOINT', idp.server.url + '/msi/token')
    monkeypatch.setenv('IDENTITY_HEADER', idp.msi_header)
    settings = resolve_connection(emulator_params(idp.server, pki, tmp_path / 'c', tenant_id=None, client_id=client_id))
    assert settings.auth_method == 'managed_identity'
    provider = make_token_provider(settings, requests.Session())
    assert provider.get_token() == idp.issued[0]
    rec = idp.token_requests()[-1]
    assert rec.path == '/msi/token' and rec.args['resource'] == idp.server.url
    assert rec.args.get('client_id') == client_id
    # persistent cache works for managed identity too
    before = len(idp.server.requests)
    assert make_token_provider(settings, requests.Session()).get_token() == idp.issued[0]
    assert len(idp.server.requests) == before


@pytest.mark.parametrize('form', ['slash', 'no_slash'])
def test_managed_identity_accepts_the_resource_with_or_without_a_trailing_slash(idp, pki, tmp_path, monkeypatch,
                                                                                guard_hosts, form):
    idp.msi_resource_form = form
    monkeypatch.setenv('IDENTITY_ENDPOINT', idp.server.url + '/msi/token')
    monkeypatch.setenv('IDENTITY_HEADER', idp.msi_header)
    settings = resolve_connection(emulator_params(idp.server, pki, tmp_path / 'c', tenant_id=None, client_id=None))
    assert make_token_provider(settings, requests.Session()).get_token() == idp.issued[0]
    asked = [r.args['resource'] for r in idp.token_requests()]
    # The configured form (no slash) first; the other one once, only when the endpoint refused the first.
    assert asked == ([idp.server.url, idp.server.url + '/'] if form == 'slash' else [idp.server.url])


def test_managed_identity_failure_in_auto_mode_explains_what_to_set(idp, pki, tmp_path, monkeypatch):
    monkeypatch.setenv('IDENTITY_ENDPOINT', 'https://127.0.0.1:1/msi/token')
    monkeypatch.setenv('IDENTITY_HEADER', 'h')
    settings = resolve_connection(emulator_params(idp.server, pki, tmp_path / 'c', tenant_id=None, client_id=None))
    with pytest.raises(AuthError) as info:
        make_token_provider(settings, requests.Session()).get_token()
    assert 'fell back to managed identity' in str(info.value)


def test_access_token_provider_needs_no_msal(monkeypatch):
    monkeypatch.setattr(ga, 'HAS_MSAL', False)
    settings = resolve_connection(params(access_token='eyJhbGciOiJub25lIn0.cHJlLWFjcXVpcmVk.value'))
    provider = make_token_provider(settings)
    assert provider.get_token() == 'eyJhbGciOiJub25lIn0.cHJlLWFjcXVpcmVk.value' and not provider.refreshable
    assert ga.missing_libraries(settings) == []
    other = resolve_connection(params(tenant_id=TENANT, client_id=CLIENT_ID, client_secret=SECRET))
    assert [name for name, _tb in ga.missing_libraries(other)] == ['msal']


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


def test_a_cached_token_is_not_reused_with_another_secret(idp, pki, tmp_path):
    settings = resolve_connection(emulator_params(idp.server, pki, tmp_path / 'c', client_secret=SECRET))
    assert make_token_provider(settings, requests.Session()).get_token() == idp.issued[0]
    wrong = resolve_connection(emulator_params(idp.server, pki, tmp_path / 'c', client_secret='revoked-' + SECRET))
    with pytest.raises(AuthError, match='AADSTS7000215'):
        make_token_provider(wrong, requests.Session()).get_token()
    assert SECRET not in ''.join(os.listdir(str(tmp_path / 'c')))


@pytest.mark.parametrize('status', [200, 500])
@pytest.mark.parametrize('auth_method', ['auto', 'managed_identity'])
def test_managed_identity_endpoint_answering_html_is_explained(http_server, monkeypatch, guard_hosts, caplog, status,
                                                               auth_method):
    page = '<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head><body>It works</body></html>'
    http_server.handler = lambda rec: (status, page, {'Content-Type': 'text/html'})
    endpoint = http_server.url + '/msi/token'
    monkeypatch.setenv('IDENTITY_ENDPOINT', endpoint)
    monkeypatch.setenv('IDENTITY_HEADER', 'msi-header-value')
    caplog.set_level(logging.DEBUG)
    settings = resolve_connection(params(auth_method=auth_method))
    assert settings.auth_method == 'managed_identity'
    with pytest.raises(AuthError) as info:
        make_token_provider(settings, requests.Session()).get_token()
    text = str(info.value)
    assert text.startswith('Could not get a token for Microsoft Graph (')
    assert 'the managed identity endpoint (IDENTITY_ENDPOINT=%s) answered with something that is not a token' % endpoint in text
    assert 'Traceback' not in text and 'JSONDecodeError' not in text and '\n' not in text
    assert 'msi-header-value' not in text
    if auth_method == 'auto':
        assert 'fell back to managed identity' in text and 'client_secret' in text and 'IDENTITY_HEADER' not in text
    else:
        assert 'IDENTITY_ENDPOINT/IDENTITY_HEADER' in text and 'client_secret' not in text
    assert [r.path for r in http_server.requests] == ['/msi/token']
    assert http_server.requests[0].headers.get('X-IDENTITY-HEADER') == 'msi-header-value'


@pytest.mark.parametrize('env, expected', [
    ({'IDENTITY_ENDPOINT': 'http://127.0.0.1:9/msi', 'IDENTITY_HEADER': 'h'}, 'IDENTITY_ENDPOINT=http://127.0.0.1:9/msi'),
    ({'MSI_ENDPOINT': 'http://127.0.0.1:9/ml', 'MSI_SECRET': 's'}, 'MSI_ENDPOINT=http://127.0.0.1:9/ml'),
    ({'IDENTITY_ENDPOINT': 'http://127.0.0.1:9/arc', 'IMDS_ENDPOINT': 'http://127.0.0.1:9'}, 'Azure Arc, IDENTITY_ENDPOINT=http://127.0.0.1:9/arc'),
    ({'IDENTITY_ENDPOINT': 'http://127.0.0.1:9/msi'}, '169.254.169.254 (IDENTITY_ENDPOINT is set but ignored without IDENTITY_HEADER'),
    ({}, 'the Azure instance metadata service at 169.254.169.254'),
])
def test_managed_identity_message_names_the_endpoint_msal_used(monkeypatch, env, expected):
    for name in ('IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'MSI_ENDPOINT', 'MSI_SECRET', 'IMDS_ENDPOINT'):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    text = ga.ManagedIdentityTokenProvider._endpoint_source()
    assert expected in text, text
