# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""The auth methods, chosen through one table (the way community.hashi_vault's ``_authenticator.py`` selects its
``_auth_method_*.py`` classes).

- ``resolve_connection(params)`` turns module parameters (env fallbacks already applied by AnsibleModule) into a
  ``ConnectionSettings`` (``_auth_settings.resolve_settings``) with the concrete auth method.
- ``make_token_provider(settings, session)`` returns an object with ``get_token(force_refresh=False)``
  (``_token_provider.py``).

Adding a method: one ``_auth_method_<name>.py`` (a subclass of ``_auth_method_base.AuthMethod``) and one entry in
``METHODS`` (and in ``AUTH_METHODS``, the option's documented choices).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.msgraph.grants.plugins.module_utils._auth_method_access_token import AccessTokenMethod
from ansible_collections.msgraph.grants.plugins.module_utils._auth_method_certificate import CertificateMethod
from ansible_collections.msgraph.grants.plugins.module_utils._auth_method_client_secret import ClientSecretMethod
from ansible_collections.msgraph.grants.plugins.module_utils._auth_method_federated import FederatedMethod
from ansible_collections.msgraph.grants.plugins.module_utils._auth_method_managed_identity import ManagedIdentityMethod
from ansible_collections.msgraph.grants.plugins.module_utils._auth_settings import clean, resolve_settings
from ansible_collections.msgraph.grants.plugins.module_utils._errors import ConfigError
from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import HAS_REQUESTS, REQUESTS_IMPORT_ERROR
from ansible_collections.msgraph.grants.plugins.module_utils._token_provider import missing_msal

#: The selector table, in ``auth_method: auto`` order: the first method whose AUTO_OPTION is set wins; the method
#: without one is the fallback when none is set.
METHODS = (
    AccessTokenMethod(),
    CertificateMethod(),
    ClientSecretMethod(),
    FederatedMethod(),
    ManagedIdentityMethod(),
)
METHOD_BY_NAME = dict((method.NAME, method) for method in METHODS)

#: The choices of the auth_method option, in the documented order (docs and messages list them this way).
AUTH_METHODS = ('auto', 'client_secret', 'certificate', 'federated', 'managed_identity', 'access_token')


def choose_method(requested, settings):
    """(method, reason) for ``auth_method`` ``requested`` ('auto' or a method name)."""
    if requested != 'auto':
        return METHOD_BY_NAME[requested], 'auth_method is %s' % requested
    for method in METHODS:
        if method.AUTO_OPTION and getattr(settings, method.AUTO_OPTION):
            return method, '%s is set' % method.AUTO_OPTION
    nouns = [method.AUTO_NOUN for method in METHODS if method.AUTO_OPTION]
    fallback = [method for method in METHODS if not method.AUTO_OPTION][0]
    return fallback, 'no %s or %s is set' % (', '.join(nouns[:-1]), nouns[-1])


def resolve_connection(params):
    """Turn module parameters into ConnectionSettings; raise ConfigError naming the option and env var to set."""
    settings = resolve_settings(params)
    requested = (clean(params.get('auth_method')) or 'auto').lower()
    if requested not in AUTH_METHODS:
        raise ConfigError('auth_method must be one of %s, got %r' % (', '.join(AUTH_METHODS), requested))
    method, reason = choose_method(requested, settings)
    method.check(settings, requested, reason)
    settings.auth_method = method.NAME
    settings.auth_method_requested = requested
    settings.auth_reason = reason
    return settings


def missing_libraries(settings=None):
    """[(pip name, import traceback)] of the libraries the chosen auth method needs and that failed to import."""
    missing = []
    if not HAS_REQUESTS:
        missing.append(('requests', REQUESTS_IMPORT_ERROR))
    if settings is None:
        return missing + missing_msal()  # no method yet: what every method but access_token needs
    return missing + METHOD_BY_NAME[settings.auth_method].missing_libraries()


def make_token_provider(settings, session=None, warn=None):
    """The token provider for the resolved auth method."""
    return METHOD_BY_NAME[settings.auth_method].token_provider(settings, session, warn)
