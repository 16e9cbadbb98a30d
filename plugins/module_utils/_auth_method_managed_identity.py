# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""``auth_method: managed_identity``: the managed identity of the Azure host (msal.ManagedIdentityClient); the
``auto`` fallback when no credential is set."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.msgraph.grants.plugins.module_utils._auth_method_base import AuthMethod
from ansible_collections.msgraph.grants.plugins.module_utils._errors import AuthError
from ansible_collections.msgraph.grants.plugins.module_utils._redaction import redact
from ansible_collections.msgraph.grants.plugins.module_utils._token_provider import MsalTokenProvider

try:
    import msal
except ImportError:  # pragma: no cover - reported by missing_libraries(); MsalTokenProvider refuses to start
    msal = None


class ManagedIdentityMethod(AuthMethod):
    NAME = 'managed_identity'
    LABEL = 'a managed identity'
    NEEDS = ()
    AUTO_OPTION = None  # the auto fallback
    USES_AUTHORITY = False

    def cache_key(self, settings):
        endpoint = os.environ.get('IDENTITY_ENDPOINT') or os.environ.get('MSI_ENDPOINT') or 'imds'
        return ('managed_identity', endpoint, settings.client_id or 'system-assigned')

    def token_provider(self, settings, session=None, warn=None):
        return ManagedIdentityTokenProvider(self, settings, session, warn)


class ManagedIdentityTokenProvider(MsalTokenProvider):
    """managed_identity: msal.ManagedIdentityClient (system-assigned, or user-assigned when client_id is set). The
    endpoint comes from the environment as MSAL detects it (IDENTITY_ENDPOINT/IDENTITY_HEADER on App Service and
    Functions, MSI_ENDPOINT, Azure Arc, else the VM instance metadata service)."""

    def _http_timeout(self):
        if not any(os.environ.get(v) for v in ('IDENTITY_ENDPOINT', 'MSI_ENDPOINT')):
            # The VM metadata endpoint: fail fast when this host is not an Azure VM.
            return (min(5, self.settings.timeout), self.settings.timeout)
        return self.settings.timeout

    def _build(self):
        if self.settings.client_id:
            identity = msal.UserAssignedManagedIdentity(client_id=self.settings.client_id)
        else:
            identity = msal.SystemAssignedManagedIdentity()
        return msal.ManagedIdentityClient(identity, http_client=self.http_client, token_cache=self.token_cache,
                                          http_cache=self.http_cache)

    def _acquire(self, client):
        # Nothing published says whether managed identity endpoints want the Graph resource with or without its
        # trailing slash (docs/dev/graph-behaviour.md): on an invalid-resource answer, ask once with the other form.
        resource = self.settings.resource
        result = client.acquire_token_for_client(resource=resource)
        if _invalid_resource(result):
            other = resource[:-1] if resource.endswith('/') else resource + '/'
            retried = client.acquire_token_for_client(resource=other)
            if retried and 'access_token' in retried:
                return retried
        return result

    def _endpoint_hint(self):
        if self.settings.auth_method_requested == 'auto':
            return ('auth_method auto found no credential (%s) and fell back to managed identity, whose endpoint did '
                    'not give a token. Set client_id, tenant_id and client_secret (or a certificate, federated token '
                    'file or access_token), or their environment variables.' % self.settings.auth_reason)
        return ('No managed identity endpoint gave a token: run on an Azure host with a managed identity, or set '
                'IDENTITY_ENDPOINT/IDENTITY_HEADER to the identity endpoint of this host.')

    @staticmethod
    def _endpoint_source():
        """Which managed identity endpoint MSAL used, named by the environment variables that chose it (the order of
        msal.managed_identity._obtain_token)."""
        env = os.environ
        if env.get('IDENTITY_ENDPOINT') and env.get('IDENTITY_HEADER'):
            return 'IDENTITY_ENDPOINT=%s' % env['IDENTITY_ENDPOINT']
        if env.get('MSI_ENDPOINT') and env.get('MSI_SECRET'):
            return 'MSI_ENDPOINT=%s' % env['MSI_ENDPOINT']
        if env.get('IDENTITY_ENDPOINT') and env.get('IMDS_ENDPOINT'):
            return 'Azure Arc, IDENTITY_ENDPOINT=%s' % env['IDENTITY_ENDPOINT']
        ignored = [name for name in ('IDENTITY_ENDPOINT', 'MSI_ENDPOINT') if env.get(name)]
        text = 'the Azure instance metadata service at 169.254.169.254'
        if ignored:
            text += (' (%s is set but ignored without IDENTITY_HEADER or MSI_SECRET)' % ' and '.join(ignored))
        return text

    def _explain(self, exc):
        # JSONDecodeError: the answer is not JSON; AttributeError "... has no attribute 'get'": JSON but not an object.
        if not (isinstance(exc, json.JSONDecodeError)
                or (isinstance(exc, AttributeError) and "object has no attribute 'get'" in str(exc))):
            return None
        # MSAL parses the endpoint's answer as JSON: anything else (an HTML page of a proxy, a web server or another
        # cloud's metadata service) means this is not a managed identity endpoint.
        parser_error = redact(str(exc) or type(exc).__name__)
        text = ('the managed identity endpoint (%s) answered with something that is not a token (%s): it is not a '
                'managed identity endpoint, or a proxy answered in its place.' % (self._endpoint_source(), parser_error))
        return AuthError(text, context=self.describe(), hint=self._endpoint_hint())


def _invalid_resource(result):
    """True when a managed identity endpoint refused the resource (IMDS: invalid_resource; MSAL maps App Service's
    answer to invalid_scope)."""
    if not isinstance(result, dict) or 'access_token' in result:
        return False
    error = str(result.get('error') or '').lower()
    return error in ('invalid_resource', 'invalid_scope') or (
        error == 'invalid_request' and 'resource' in str(result.get('error_description') or '').lower())
