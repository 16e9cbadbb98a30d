# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""auth_method access_token (_auth_method_access_token.py): the token as given, no MSAL needed."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.msgraph.grants.plugins.module_utils import _token_provider
from ansible_collections.msgraph.grants.plugins.module_utils._auth_method_access_token import jwt_shape_problem
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


@pytest.mark.parametrize('token, why', [
    ('pre-acquired-token-abcdef', 'it has 1 dot-separated part of base64url text, a JWT has 3'),
    ('abcd1.efgh2.ijkl3.mnop4', 'it has 4 dot-separated parts of base64url text, a JWT has 3'),
    # the right number of parts, but a character base64url does not have: not reported as a wrong count
    ('"eyJhbGciOiJub25lIn0.cHJlLWFjcXVpcmVk.value"', 'not base64url'),
    ('eyJhbGciOiJub25lIn0.cHJl+WFjcXVpcmVk.val/ue', 'not base64url'),
    ('.cHJlLWFjcXVpcmVk.value', 'its first part is not a JWT header'),
])
def test_why_a_token_is_not_a_jwt(token, why):
    problem = jwt_shape_problem(token)
    assert why in problem
    for part in token.strip('"').split('.'):
        assert not part or part not in problem  # nothing of the value is echoed


def test_a_jwt_and_a_jwe_have_the_shape_of_a_token():
    header = 'eyJhbGciOiJub25lIn0'
    assert jwt_shape_problem(header + '.cHJlLWFjcXVpcmVk.value') is None
    assert jwt_shape_problem(header + '.a.b.c.d') is None
