# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The choice of the auth method (_auth_methods.py): the auto order, explicit methods, what each method needs."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.msgraph.grants.plugins.module_utils._auth_methods import (
    AUTH_METHODS,
    METHOD_BY_NAME,
    METHODS,
    make_token_provider,
    resolve_connection,
)
from ansible_collections.msgraph.grants.plugins.module_utils._auth_settings import OPTION_ENV
from ansible_collections.msgraph.grants.plugins.module_utils._errors import ConfigError
from ansible_collections.msgraph.grants.tests.unit.utils.auth_testing import CLIENT_ID, SECRET, TENANT, params


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


def test_the_selector_table_is_the_whole_truth():
    # Every method of the table is a choice of the option and the other way round; one fallback, last in auto order.
    assert sorted(AUTH_METHODS) == sorted(['auto'] + [method.NAME for method in METHODS])
    assert [method.NAME for method in METHODS if not method.AUTO_OPTION] == [METHODS[-1].NAME]
    for method in METHODS:
        assert METHOD_BY_NAME[method.NAME] is method and method.LABEL
        assert all(option in OPTION_ENV for option in method.NEEDS)
        assert method.AUTO_OPTION is None or (method.AUTO_OPTION in method.NEEDS and method.AUTO_NOUN)
        assert method.FILE_OPTION is None or method.FILE_OPTION in method.NEEDS


def test_auto_fallback_reason_names_every_credential():
    s = resolve_connection(params())
    assert (s.auth_method, s.auth_reason) == (
        'managed_identity', 'no access_token, client certificate, client secret or federated token file is set')


@pytest.mark.parametrize('given, expected', [
    (dict(auth_method='managed_identity', tenant_id=TENANT, client_id=CLIENT_ID),
     'auth_method managed_identity, client_id %s' % CLIENT_ID),
    (dict(auth_method='managed_identity', tenant_id=TENANT), 'auth_method managed_identity'),
    (dict(access_token='eyJhbGciOiJub25lIn0.eA.x', tenant_id=TENANT, client_id=CLIENT_ID), 'auth_method access_token'),
    (dict(client_secret=SECRET, tenant_id=TENANT, client_id=CLIENT_ID),
     'auth_method client_secret, tenant %s, client_id %s, authority https://login.microsoftonline.com'
     % (TENANT, CLIENT_ID)),
])
def test_error_context_shows_what_the_method_uses(given, expected):
    settings = resolve_connection(params(**given))
    assert make_token_provider(settings).describe() == expected
