# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real MSAL, through the collection's token providers, against the local Graph emulator (HTTPS on 127.0.0.1):
client secret, certificate (PEM and PFX registered through ``POST /_emulator/apps``), managed identity (App Service
shape, via IDENTITY_ENDPOINT/IDENTITY_HEADER) and workload identity federation (a token file). A second Python
process sharing the token cache directory gets its token and calls Graph with ZERO token-side requests.

Every test runs with REQUESTS_CA_BUNDLE pointing at the system bundle: ``ca_path`` must still win.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid

import jwt
import pytest
import requests

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
EMULATOR_DIR = os.path.join(REPO_ROOT, 'emulator')
if EMULATOR_DIR not in sys.path:
    sys.path.insert(0, EMULATOR_DIR)


def _collection_path():
    """A directory holding ``ansible_collections/msgraph/grants`` -> the repository (the repo root is the collection
    root), for this process and for the subprocesses started below."""
    parts = REPO_ROOT.split(os.sep)
    if len(parts) >= 3 and parts[-3] == 'ansible_collections':
        return os.sep.join(parts[:-3])
    base = tempfile.mkdtemp(prefix='msgraph-grants-emu-collections-')
    os.makedirs(os.path.join(base, 'ansible_collections', 'msgraph'))
    os.symlink(REPO_ROOT, os.path.join(base, 'ansible_collections', 'msgraph', 'grants'))
    return base


COLLECTION_PATH = _collection_path()
if COLLECTION_PATH not in sys.path:
    sys.path.insert(0, COLLECTION_PATH)
    for _name in [n for n in sys.modules if n == 'ansible_collections' or n.startswith('ansible_collections.')]:
        del sys.modules[_name]

from graph_emulator.testing import running_emulator  # noqa: E402

from ansible_collections.msgraph.grants.plugins.module_utils._auth_methods import make_token_provider, resolve_connection  # noqa: E402
from ansible_collections.msgraph.grants.plugins.module_utils._errors import AuthError  # noqa: E402
from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import GraphClient  # noqa: E402

GRAPH_PERMISSIONS = ['DelegatedPermissionGrant.ReadWrite.All', 'Application.Read.All', 'User.Read.All', 'AppRoleAssignment.ReadWrite.All',
                     'Application.ReadWrite.All']
FEDERATED_ISSUER = 'https://oidc.emulator.invalid/kubernetes'
FEDERATED_SUBJECT = 'system:serviceaccount:automation:msgraph-grants'


@pytest.fixture(scope='module')
def emu(tmp_path_factory):
    with running_emulator(tmp_path_factory.mktemp('emulator')) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def system_ca_bundle_everywhere(monkeypatch, emu):
    """The machine-wide setting that would silently override Session.verify (psf/requests#3829)."""
    bundle = requests.certs.where()
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', bundle)
    monkeypatch.setenv('CURL_CA_BUNDLE', bundle)
    for name in ('IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'MSI_ENDPOINT', 'MSI_SECRET', 'IDENTITY_SERVER_THUMBPRINT'):
        monkeypatch.delenv(name, raising=False)
    emu.control.reset()


def connection(emu, cache_dir, **kw):
    params = dict(tenant_id=emu.tenant_id, client_id=emu.client_id, client_secret=None, client_certificate_path=None,
                  client_certificate_password=None, federated_token_file=None, access_token=None, auth_method='auto',
                  cloud='global', graph_url=emu.url, authority_url=emu.url, api_version='v1.0', validate_certs=True,
                  ca_path=emu.ca_path, timeout=30, token_cache=str(cache_dir), retry_budget=30)
    params.update(kw)
    return resolve_connection(params)


def graph_get(settings, provider, session):
    client = GraphClient(settings.graph_root, settings.api_version, provider, verify=settings.verify,
                         timeout=settings.timeout, retry_budget=settings.retry_budget, session=session)
    return client.get('/oauth2PermissionGrants', params={'$top': 5})


def summary(emu):
    return emu.control.requests_with_summary()['summary']


def kinds(emu):
    return [e['kind'] for e in emu.control.requests()]


def make_certificate(directory, name, fmt='pem', password=None):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u'msgraph.grants %s' % name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2)).sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    encryption = serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    if fmt == 'pfx':
        data = pkcs12.serialize_key_and_certificates(name.encode(), key, cert, None, encryption)
    else:
        data = cert_pem + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    path = os.path.join(str(directory), '%s.%s' % (name, fmt))
    with open(path, 'wb') as handle:
        handle.write(data)
    return path, cert_pem.decode('ascii')


# ---------------------------------------------------------------------------------------------------------- tests

SECOND_PROCESS = textwrap.dedent('''
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import requests
    from ansible_collections.msgraph.grants.plugins.module_utils._auth_methods import make_token_provider, resolve_connection
    from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import GraphClient
    settings = resolve_connection(json.loads(sys.argv[2]))
    session = requests.Session()
    provider = make_token_provider(settings, session)
    client = GraphClient(settings.graph_root, settings.api_version, provider, verify=settings.verify,
                         timeout=settings.timeout, session=session)
    body = client.get('/oauth2PermissionGrants', params={'$top': 5})
    print(json.dumps({'source': provider.last_source, 'items': len(body.get('value', [])), 'stats': client.stats}))
''')


def test_client_secret_then_a_second_process_makes_zero_token_requests(emu, tmp_path):
    cache_dir = tmp_path / 'token-cache'
    settings = connection(emu, cache_dir, client_secret=emu.client_secret)
    assert settings.auth_method == 'client_secret'
    session = requests.Session()
    provider = make_token_provider(settings, session)
    assert 'value' in graph_get(settings, provider, session)
    assert provider.last_source == 'identity_provider'
    first = kinds(emu)
    assert first.count('discovery') == 1 and first.count('token') == 1 and first.count('graph') == 1

    emu.control.clear_requests()
    params = dict(tenant_id=emu.tenant_id, client_id=emu.client_id, client_secret=emu.client_secret,
                  graph_url=emu.url, authority_url=emu.url, ca_path=emu.ca_path, token_cache=str(cache_dir))
    env = dict(os.environ, REQUESTS_CA_BUNDLE=requests.certs.where())
    out = subprocess.run([sys.executable, '-c', SECOND_PROCESS, COLLECTION_PATH, json.dumps(params)],
                         capture_output=True, text=True, timeout=120, env=env, check=False)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result['source'] == 'cache' and result['stats']['requests'] == 1
    totals = summary(emu)
    assert totals['token_requests'] == 0, emu.control.requests()
    assert totals['graph_requests'] == 1
    assert emu.client_secret not in out.stdout + out.stderr

    files = sorted(os.listdir(str(cache_dir)))
    assert all(oct(os.stat(str(cache_dir / f)).st_mode & 0o777) == '0o600' for f in files)
    assert oct(os.stat(str(cache_dir)).st_mode & 0o777) == '0o700'


def test_wrong_secret_is_a_readable_auth_error(emu, tmp_path):
    settings = connection(emu, tmp_path / 'c', client_secret='not-the-secret-12345')
    with pytest.raises(AuthError) as info:
        make_token_provider(settings, requests.Session()).get_token()
    text = str(info.value)
    assert 'AADSTS7000215' in text and 'not-the-secret-12345' not in text and emu.client_secret not in text


@pytest.mark.parametrize('fmt, password', [('pem', None), ('pem', 'pem-pass-123'), ('pfx', 'pfx-pass-456')])
def test_certificate(emu, tmp_path, fmt, password):
    client_id = str(uuid.uuid4())
    path, cert_pem = make_certificate(tmp_path, 'cert-%s' % fmt, fmt=fmt, password=password)
    emu.control.register_app(client_id, certificate_pem=cert_pem, permissions=GRAPH_PERMISSIONS,
                             display_name='cert app %s' % fmt)
    emu.control.clear_requests()
    settings = connection(emu, tmp_path / 'c', client_id=client_id, client_certificate_path=path,
                          client_certificate_password=password)
    assert settings.auth_method == 'certificate'
    session = requests.Session()
    provider = make_token_provider(settings, session)
    assert 'value' in graph_get(settings, provider, session)
    assert kinds(emu).count('token') == 1

    emu.control.clear_requests()
    again = make_token_provider(connection(emu, tmp_path / 'c', client_id=client_id, client_certificate_path=path,
                                           client_certificate_password=password), session)
    assert 'value' in graph_get(settings, again, session)
    assert summary(emu)['token_requests'] == 0 and again.last_source == 'cache'


def test_unregistered_certificate_is_rejected(emu, tmp_path):
    client_id = str(uuid.uuid4())
    registered_path, cert_pem = make_certificate(tmp_path, 'registered')
    other_path, _other = make_certificate(tmp_path, 'other')
    emu.control.register_app(client_id, certificate_pem=cert_pem, permissions=GRAPH_PERMISSIONS)
    settings = connection(emu, tmp_path / 'c', client_id=client_id, client_certificate_path=other_path)
    with pytest.raises(AuthError) as info:
        make_token_provider(settings, requests.Session()).get_token()
    assert 'AADSTS700027' in str(info.value)


@pytest.mark.parametrize('user_assigned', [False, True])
def test_managed_identity(emu, tmp_path, monkeypatch, user_assigned):
    monkeypatch.setenv('IDENTITY_ENDPOINT', emu.msi_endpoint)
    monkeypatch.setenv('IDENTITY_HEADER', emu.msi_header)
    mi_client_id = emu.control.state()['managed_identity']['client_id'] if user_assigned else None
    settings = connection(emu, tmp_path / 'c', tenant_id=None, client_id=mi_client_id)
    assert settings.auth_method == 'managed_identity'
    session = requests.Session()
    provider = make_token_provider(settings, session)
    assert 'value' in graph_get(settings, provider, session)
    msi = emu.control.requests(kind='msi')
    assert len(msi) == 1 and msi[0]['status'] == 200
    assert 'discovery' not in kinds(emu) and 'token' not in kinds(emu)

    emu.control.clear_requests()
    again = make_token_provider(connection(emu, tmp_path / 'c', tenant_id=None, client_id=mi_client_id), session)
    assert 'value' in graph_get(settings, again, session)
    assert summary(emu)['token_requests'] == 0


def test_federated_token_file(emu, tmp_path):
    now = int(time.time())
    assertion = jwt.encode({'iss': FEDERATED_ISSUER, 'sub': FEDERATED_SUBJECT, 'aud': 'api://AzureADTokenExchange',
                            'iat': now, 'nbf': now, 'exp': now + 3600}, 'external-idp-key-not-checked-by-the-emulator-0123456789', algorithm='HS256')
    token_file = tmp_path / 'azure-identity-token'
    token_file.write_text(assertion)
    settings = connection(emu, tmp_path / 'c', federated_token_file=str(token_file))
    assert settings.auth_method == 'federated'
    session = requests.Session()
    provider = make_token_provider(settings, session)
    assert 'value' in graph_get(settings, provider, session)
    assert kinds(emu).count('token') == 1

    # a subject the app does not trust: a clear AADSTS error, and the assertion never shows up in it
    bad = jwt.encode({'iss': FEDERATED_ISSUER, 'sub': 'system:serviceaccount:other:sa', 'aud': 'api://AzureADTokenExchange',
                      'iat': now, 'nbf': now, 'exp': now + 3600}, 'another-external-idp-key-0123456789abcdef', algorithm='HS256')
    token_file.write_text(bad)
    with pytest.raises(AuthError) as info:
        make_token_provider(connection(emu, tmp_path / 'c2', federated_token_file=str(token_file)),
                            requests.Session()).get_token()
    assert 'AADSTS70021' in str(info.value) and bad not in str(info.value)


def test_ca_path_is_required_despite_requests_ca_bundle(emu, tmp_path):
    settings = connection(emu, tmp_path / 'c', client_secret=emu.client_secret, ca_path=None)
    with pytest.raises(AuthError) as info:
        make_token_provider(settings, requests.Session()).get_token()
    assert 'TLS' in str(info.value) and 'ca_path' in str(info.value)
