# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""auth_method client_secret (_auth_method_client_secret.py) against a local HTTPS token server."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
import requests

from ansible_collections.msgraph.grants.plugins.module_utils._auth_methods import make_token_provider, resolve_connection
from ansible_collections.msgraph.grants.plugins.module_utils._errors import AuthError
from ansible_collections.msgraph.grants.tests.unit.utils.auth_testing import SECRET, emulator_params, idp  # noqa: F401 pylint: disable=unused-import


def test_a_cached_token_is_not_reused_with_another_secret(idp, pki, tmp_path):
    settings = resolve_connection(emulator_params(idp.server, pki, tmp_path / 'c', client_secret=SECRET))
    assert make_token_provider(settings, requests.Session()).get_token() == idp.issued[0]
    wrong = resolve_connection(emulator_params(idp.server, pki, tmp_path / 'c', client_secret='revoked-' + SECRET))
    with pytest.raises(AuthError, match='AADSTS7000215'):
        make_token_provider(wrong, requests.Session()).get_token()
    assert SECRET not in ''.join(os.listdir(str(tmp_path / 'c')))
