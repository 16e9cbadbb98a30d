# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""auth_method access_token (_auth_method_access_token.py): the token as given, no MSAL needed."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.msgraph.grants.plugins.module_utils import _token_provider
from ansible_collections.msgraph.grants.plugins.module_utils._auth_methods import make_token_provider, missing_libraries, resolve_connection
from ansible_collections.msgraph.grants.tests.unit.utils.auth_testing import CLIENT_ID, SECRET, TENANT, params


def test_access_token_provider_needs_no_msal(monkeypatch):
    monkeypatch.setattr(_token_provider, 'HAS_MSAL', False)
    settings = resolve_connection(params(access_token='eyJhbGciOiJub25lIn0.cHJlLWFjcXVpcmVk.value'))
    provider = make_token_provider(settings)
    assert provider.get_token() == 'eyJhbGciOiJub25lIn0.cHJlLWFjcXVpcmVk.value' and not provider.refreshable
    assert missing_libraries(settings) == []
    other = resolve_connection(params(tenant_id=TENANT, client_id=CLIENT_ID, client_secret=SECRET))
    assert [name for name, _tb in missing_libraries(other)] == ['msal']
