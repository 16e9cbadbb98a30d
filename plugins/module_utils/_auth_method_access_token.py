# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""``auth_method: access_token``: a token acquired elsewhere, used as given (no MSAL, nothing to refresh)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import re

from ansible_collections.msgraph.grants.plugins.module_utils._auth_method_base import AuthMethod
from ansible_collections.msgraph.grants.plugins.module_utils._auth_settings import option_sources
from ansible_collections.msgraph.grants.plugins.module_utils._errors import ConfigError
from ansible_collections.msgraph.grants.plugins.module_utils._redaction import register_secret
from ansible_collections.msgraph.grants.plugins.module_utils._token_provider import TokenProvider


class AccessTokenMethod(AuthMethod):
    NAME = 'access_token'
    LABEL = 'a pre-acquired access token'
    NEEDS = ('access_token',)
    AUTO_OPTION = 'access_token'
    AUTO_NOUN = 'access_token'
    USES_AUTHORITY = False
    USES_CLIENT_ID = False

    def missing_libraries(self):
        return []  # no MSAL

    def token_provider(self, settings, session=None, warn=None):
        return StaticTokenProvider(self, settings, session, warn)


def jwt_shape_problem(token):
    """Why ``token`` cannot be a Microsoft Entra access token (a JWS, or a JWE: 3 or 5 base64url parts whose first is a
    JSON header), or None. Says what is wrong without echoing any of the value."""
    token = (token or '').strip()
    if token.lower().startswith('bearer '):
        return 'it starts with "Bearer "'
    if re.search(r'\s', token):
        return 'it contains whitespace'
    parts = token.split('.')
    if len(parts) not in (3, 5):
        return 'it has %d dot-separated part%s of base64url text, a JWT has 3' % (len(parts), '' if len(parts) == 1 else 's')
    if not all(re.match(r'^[A-Za-z0-9_-]*$', part) for part in parts):
        return ('it contains a character that is not base64url text (a JWT has only letters, digits, "-" and "_" '
                'between its dots)')
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + '=' * (-len(parts[0]) % 4)).decode('utf-8'))
    except (ValueError, TypeError, UnicodeDecodeError):
        header = None
    if not isinstance(header, dict) or not header.get('alg'):
        return 'its first part is not a JWT header'
    return None


class StaticTokenProvider(TokenProvider):
    """``access_token``: the token as given; no MSAL, nothing to refresh."""

    refreshable = False

    def __init__(self, method, settings, session=None, warn=None):
        super(StaticTokenProvider, self).__init__(method, settings, session, warn)
        register_secret(settings.access_token)
        problem = jwt_shape_problem(settings.access_token)
        if problem:
            raise ConfigError('access_token (set by %s) is not a JWT: %s. Pass the access token itself (three '
                              'base64url parts separated by dots, starting with "eyJ"), without "Bearer " and without '
                              'quotes.' % (option_sources('access_token'), problem))

    def get_token(self, force_refresh=False):
        self.last_source = 'static'
        return self.settings.access_token
