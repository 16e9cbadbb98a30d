# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""auth_method certificate (_auth_method_certificate.py): PEM and PFX against a local HTTPS token server, and
clear errors for unusable files."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import hashes

from ansible_collections.msgraph.grants.plugins.module_utils._auth_method_certificate import load_certificate_credential
from ansible_collections.msgraph.grants.plugins.module_utils._auth_methods import make_token_provider, resolve_connection
from ansible_collections.msgraph.grants.plugins.module_utils._errors import ConfigError
from ansible_collections.msgraph.grants.tests.unit.utils.auth_testing import (  # noqa: F401 pylint: disable=unused-import
    CLIENT_ID,
    PASSWORD,
    TENANT,
    certificate_thumbprints,
    emulator_params,
    guard_hosts,
    idp,
)


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
        load_certificate_credential(enc)
    with pytest.raises(ConfigError, match='wrong client_certificate_password'):
        load_certificate_credential(enc, 'nope')
    pfx, _c, _k = pki.client_certificate('enc-pfx', password=PASSWORD, fmt='pfx')
    with pytest.raises(ConfigError, match='protected PFX'):
        load_certificate_credential(pfx)
    with pytest.raises(ConfigError) as info:
        load_certificate_credential(pfx, 'wrong-password')
    assert 'wrong-password' not in str(info.value)
    cert_only = tmp_path / 'cert-only.pem'
    with open(enc, 'rb') as f:
        data = f.read()
    end = b'-----END CERTIFICATE-----'
    cert_only.write_bytes(data[data.index(b'-----BEGIN CERTIFICATE'):data.index(end) + len(end)] + b'\n')
    with pytest.raises(ConfigError, match='contains no private key'):
        load_certificate_credential(str(cert_only))


def test_certificate_credential_shape(pki):
    path, cert, _key = pki.client_certificate('shape')
    cred = load_certificate_credential(path)
    assert cred['thumbprint'] == cert.fingerprint(hashes.SHA1()).hex().upper()
    assert cred['public_certificate'].startswith('-----BEGIN CERTIFICATE-----')
    assert cred['private_key'].startswith('-----BEGIN PRIVATE KEY-----')
    sha1, sha256 = certificate_thumbprints(path)
    assert sha1 == cred['thumbprint'] and len(sha256) == 64
