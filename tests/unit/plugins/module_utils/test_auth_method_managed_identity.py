# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""auth_method managed_identity (_auth_method_managed_identity.py) against a local App Service identity endpoint:
the resource spelling, the auto fallback, an endpoint that answers with something else."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import logging

import pytest
import requests

from ansible_collections.msgraph.grants.plugins.module_utils._auth_method_managed_identity import ManagedIdentityTokenProvider
from ansible_collections.msgraph.grants.plugins.module_utils._auth_methods import make_token_provider, resolve_connection
from ansible_collections.msgraph.grants.plugins.module_utils._errors import AuthError
from ansible_collections.msgraph.grants.tests.unit.utils.auth_testing import (  # noqa: F401 pylint: disable=unused-import
    CLIENT_ID,
    emulator_params,
    guard_hosts,
    idp,
    params,
)


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
    text = ManagedIdentityTokenProvider._endpoint_source()
    assert expected in text, text
