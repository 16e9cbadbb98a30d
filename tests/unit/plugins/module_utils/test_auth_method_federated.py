# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""auth_method federated (_auth_method_federated.py): the token file is read again for every assertion."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
import requests

from ansible_collections.msgraph.grants.plugins.module_utils._auth_methods import make_token_provider, resolve_connection
from ansible_collections.msgraph.grants.plugins.module_utils._errors import AuthError
from ansible_collections.msgraph.grants.tests.unit.utils.auth_testing import emulator_params, guard_hosts, idp  # noqa: F401 pylint: disable=unused-import


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
