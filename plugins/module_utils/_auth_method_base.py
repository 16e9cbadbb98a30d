# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""What an auth method is: the base classes of the ``_auth_method_<name>.py`` files.

An auth method says its name, its label for messages, the options it needs, the option whose presence makes
``auth_method: auto`` choose it, the file option that must name an existing file, which settings describe it in
error messages, the key of its persistent token cache file, the libraries it needs, and builds its token provider.
``_auth_methods.py`` holds the table of methods (in ``auto`` order).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.msgraph.grants.plugins.module_utils._auth_settings import option_sources
from ansible_collections.msgraph.grants.plugins.module_utils._errors import ConfigError
from ansible_collections.msgraph.grants.plugins.module_utils._token_provider import (
    ConfidentialClientTokenProvider,
    missing_msal,
)


class AuthMethod(object):
    """One auth method. Subclasses set the class attributes and implement ``token_provider``."""

    #: The ``auth_method`` value.
    NAME = None
    #: How messages name the method ("auth_method certificate (a client certificate) needs more: ...").
    LABEL = None
    #: The options the method needs, checked in this order, so that the message names the first gap first.
    NEEDS = ()
    #: ``auth_method: auto`` chooses the method when this option is set (None: the fallback when none is set).
    AUTO_OPTION = None
    #: What the ``auto`` fallback message calls that option ("no access_token, client certificate, ... is set").
    AUTO_NOUN = None
    #: An option naming a file that must exist (made absolute in the settings).
    FILE_OPTION = None
    #: Whether error messages show the tenant and authority / the client id.
    USES_AUTHORITY = True
    USES_CLIENT_ID = True

    def check(self, settings, requested, reason):
        """Raise ConfigError naming every missing option (and its env vars); make the file option absolute."""
        missing = [name for name in self.NEEDS if not getattr(settings, name)]
        if missing:
            if requested == 'auto':
                lead = 'auth_method auto chose %s (%s) because %s, but ' % (self.NAME, self.LABEL, reason)
            else:
                lead = 'auth_method %s (%s) needs more: ' % (self.NAME, self.LABEL)
            raise ConfigError(lead + '; '.join('%s is missing: set %s' % (name, option_sources(name))
                                               for name in missing) + '.')
        if self.FILE_OPTION:
            path = os.path.abspath(os.path.expanduser(getattr(settings, self.FILE_OPTION)))
            if not os.path.isfile(path):
                raise ConfigError('%s %s does not exist or is not a file (set by %s).' % (
                    self.FILE_OPTION, path, option_sources(self.FILE_OPTION)))
            setattr(settings, self.FILE_OPTION, path)

    def describe(self, settings):
        """A short, secret-free description of the connection, for error messages."""
        parts = ['auth_method %s' % settings.auth_method]
        if settings.tenant_id and self.USES_AUTHORITY:
            parts.append('tenant %s' % settings.tenant_id)
        if settings.client_id and self.USES_CLIENT_ID:
            parts.append('client_id %s' % settings.client_id)
        if self.USES_AUTHORITY:
            parts.append('authority %s' % settings.authority_host)
        return ', '.join(parts)

    def missing_libraries(self):
        """[(pip name, import traceback)] of the libraries this method needs besides requests that failed to import."""
        return missing_msal()

    def cache_key(self, settings):
        """The parts of the persistent token cache key (hashed into the file name)."""
        raise NotImplementedError  # pragma: no cover

    def token_provider(self, settings, session=None, warn=None):
        raise NotImplementedError  # pragma: no cover


class ConfidentialClientMethod(AuthMethod):
    """A credential of an application registration (secret, certificate, federated assertion): MSAL's confidential
    client against the tenant's authority. Subclasses implement ``credential`` and ``cache_credential``."""

    def credential(self, settings):
        """MSAL's ``client_credential``."""
        raise NotImplementedError  # pragma: no cover

    def cache_credential(self, settings):
        """Which credential, in the cache key: never a secret in clear."""
        raise NotImplementedError  # pragma: no cover

    def cache_key(self, settings):
        # Besides (authority, tenant, client id): which credential, so that a token obtained with one secret or
        # certificate is not silently reused when the playbook now gives another (a wrong or revoked one must fail).
        return ('confidential', settings.authority_host, settings.tenant_id, settings.client_id,
                self.cache_credential(settings))

    def token_provider(self, settings, session=None, warn=None):
        return ConfidentialClientTokenProvider(self, settings, session, warn)
