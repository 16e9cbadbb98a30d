# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Clouds and connection settings (_auth_settings.py): Graph root, authority, TLS, timeouts, the token cache
option, secrets kept out of repr()."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.msgraph.grants.plugins.module_utils import _auth_settings
from ansible_collections.msgraph.grants.plugins.module_utils._auth_methods import resolve_connection
from ansible_collections.msgraph.grants.plugins.module_utils._auth_settings import AZURE_CLOUD_ENVIRONMENTS, CLOUDS
from ansible_collections.msgraph.grants.plugins.module_utils._errors import ConfigError
from ansible_collections.msgraph.grants.tests.unit.utils.auth_testing import CLIENT_ID, SECRET, TENANT, params


def test_cloud_table():
    assert CLOUDS == {
        'global': dict(graph_url='https://graph.microsoft.com', authority_url='https://login.microsoftonline.com'),
        'usgov': dict(graph_url='https://graph.microsoft.us', authority_url='https://login.microsoftonline.us'),
        'usgov_dod': dict(graph_url='https://dod-graph.microsoft.us', authority_url='https://login.microsoftonline.us'),
        'china': dict(graph_url='https://microsoftgraph.chinacloudapi.cn', authority_url='https://login.chinacloudapi.cn'),
    }


def test_aap_cloud_names_sit_beside_the_clouds_they_name():
    # AZURE_CLOUD_ENVIRONMENT values (lower-cased) each name one of our clouds.
    assert set(AZURE_CLOUD_ENVIRONMENTS.values()) <= set(CLOUDS)
    assert all(name == name.lower() for name in AZURE_CLOUD_ENVIRONMENTS)


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


def test_settings_repr_hides_secrets():
    s = resolve_connection(params(tenant_id=TENANT, client_id=CLIENT_ID, client_secret=SECRET))
    assert SECRET not in repr(s) and "client_secret='********'" in repr(s)


def test_token_cache_option(monkeypatch, tmp_path):
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    assert _auth_settings.resolve_token_cache(None) == (str(tmp_path / 'xdg' / 'msgraph.grants'), True)
    monkeypatch.delenv('XDG_CACHE_HOME')
    monkeypatch.setenv('HOME', str(tmp_path))
    assert _auth_settings.resolve_token_cache('') == (str(tmp_path / '.cache' / 'msgraph.grants'), True)
    for off in ('false', 'False', 'off', 'no', '0'):
        assert _auth_settings.resolve_token_cache(off) == (None, False)
    assert _auth_settings.resolve_token_cache(False) == (None, False)
    assert _auth_settings.resolve_token_cache(str(tmp_path / 'mine')) == (str(tmp_path / 'mine'), False)
    (tmp_path / 'afile').write_text(u'x')
    with pytest.raises(ConfigError, match='must be a directory'):
        _auth_settings.resolve_token_cache(str(tmp_path / 'afile'))
