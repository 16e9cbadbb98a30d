# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the auth unit tests share (tests/unit/plugins/module_utils/test_auth_*.py, test_token_*.py): module parameters,
a stand-in for MSAL's token cache, and a scripted identity provider on the ``https_server`` fixture (OpenID discovery,
token endpoint, App Service managed identity endpoint) on 127.0.0.1.

The fixtures ``idp`` and ``guard_hosts`` are imported by the test files that use them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re
import time

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs12

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


class FakeCache(object):
    """Stands in for msal.SerializableTokenCache in store tests."""

    def __init__(self, state=None):
        self.state = state or {}

    def serialize(self):
        return json.dumps(self.state)

    def deserialize(self, text):
        self.state = json.loads(text)


def certificate_thumbprints(path, password=None):
    """(sha1 hex, sha256 hex) of the certificate in a PEM or PFX file."""
    with open(path, 'rb') as handle:
        data = handle.read()
    pw = password.encode('utf-8') if password else None
    if b'-----BEGIN' in data:
        block = re.search(br'-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----', data, re.S).group(0)
        cert = x509.load_pem_x509_certificate(block)
    else:
        cert = pkcs12.load_key_and_certificates(data, pw)[1]
    return cert.fingerprint(hashes.SHA1()).hex().upper(), cert.fingerprint(hashes.SHA256()).hex().upper()  # nosec


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
