# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""Token providers: the ``TokenProvider`` base (``get_token(force_refresh=False)``), the MSAL flow every MSAL-based
method shares (in-memory token, else load the persistent cache, ask MSAL, save), the confidential client used by the
secret, certificate and federated methods, and the mapping of MSAL failures to ``AuthError``.

- MSAL talks HTTP through ``ForcedRequestsClient``, which puts ``verify`` and ``timeout`` on every request: a
  machine-wide REQUESTS_CA_BUNDLE otherwise silently wins over ``Session.verify`` (psf/requests#3829).
- With an overridden authority MSAL is built with ``instance_discovery=False`` and ``azure_region=False`` so that it
  contacts nothing but that authority.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time

from ansible_collections.msgraph.grants.plugins.module_utils._errors import AuthError, ConfigError, GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import HAS_REQUESTS, requests
from ansible_collections.msgraph.grants.plugins.module_utils._redaction import register_secret, redact
from ansible_collections.msgraph.grants.plugins.module_utils._token_cache import TokenCacheStore

MSAL_IMPORT_ERROR = None
try:
    import msal
    HAS_MSAL = True
except ImportError:  # pragma: no cover
    import traceback
    HAS_MSAL = False
    MSAL_IMPORT_ERROR = traceback.format_exc()

#: Tokens expiring within this many seconds are not reused (MSAL uses the same margin).
EXPIRY_MARGIN = 300


def missing_msal():
    """[('msal', import traceback)] when MSAL failed to import, else []."""
    return [] if HAS_MSAL else [('msal', MSAL_IMPORT_ERROR)]


class ForcedRequestsClient(object):
    """The ``http_client`` given to MSAL: a requests.Session whose every request carries our ``verify`` and
    ``timeout``. Passing them per request is what makes ``ca_path`` win over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE
    (requests merges those environment variables over ``Session.verify``, psf/requests#3829)."""

    def __init__(self, session, verify, timeout):
        self.session = session
        self.verify = verify
        self.timeout = timeout

    def _kwargs(self, kwargs):
        kwargs['verify'] = self.verify
        kwargs['timeout'] = self.timeout
        return kwargs

    def request(self, method, url, **kwargs):
        return self.session.request(method, url, **self._kwargs(kwargs))

    def get(self, url, **kwargs):
        return self.session.get(url, **self._kwargs(kwargs))

    def post(self, url, **kwargs):
        return self.session.post(url, **self._kwargs(kwargs))

    def close(self):
        """The session is shared with the Graph client and closed by its owner."""


_AADSTS_HINTS = {
    7000215: 'The client secret is wrong: use the secret\'s Value, not its Secret ID.',
    7000222: 'The client secret has expired: create a new one.',
    700016: 'No application with this client_id exists in the tenant (or consent is missing).',
    90002: 'The tenant was not found: check tenant_id (and cloud / authority_url).',
    900023: 'tenant_id is not a valid tenant id or domain.',
    700027: 'The certificate is not registered on the application (or its thumbprint does not match).',
    700024: 'The client assertion is expired or not yet valid.',
    70021: 'No federated identity credential of the application matches the token\'s issuer/subject/audience.',
    700211: 'No federated identity credential of the application matches the token\'s issuer.',
    700213: 'No federated identity credential of the application matches the token\'s subject.',
    7000218: 'The request needs a client credential (client_secret, certificate or client assertion).',
}


def _auth_error_from_result(result, context):
    error = result.get('error') or 'error'
    description = result.get('error_description') or ''
    description = re.split(r'\s*Trace ID:', description)[0]
    description = ' '.join(description.split())
    codes = result.get('error_codes') or []
    code = None
    hint = None
    if codes:
        try:
            code = 'AADSTS%d' % int(codes[0])
            hint = _AADSTS_HINTS.get(int(codes[0]))
        except (TypeError, ValueError):
            code = None
    if code is None:
        found = re.match(r'(AADSTS\d+)', description)
        code = found.group(1) if found else None
        if found:
            hint = _AADSTS_HINTS.get(int(found.group(1)[6:]))
    message = '%s: %s' % (error, description) if description else error
    request_id = result.get('correlation_id') or result.get('trace_id')
    return AuthError(message, context=context, code=code, request_id=request_id, hint=hint)


def _auth_error_from_exception(exc, context, endpoint_hint=None):
    if isinstance(exc, AuthError):
        if exc.context is None:
            exc.context = context
        return exc
    if isinstance(exc, GraphError):
        return AuthError(exc.message, context=context, hint=exc.hint)
    text = redact(str(exc) or type(exc).__name__)
    hint = None
    if HAS_REQUESTS and isinstance(exc, requests.exceptions.SSLError):
        hint = ('TLS verification of the token endpoint failed: set ca_path (MSGRAPH_CA_PATH) to the CA bundle that '
                'signs it.')
        text = 'TLS error: ' + text
    elif HAS_REQUESTS and isinstance(exc, requests.exceptions.RequestException):
        text = 'cannot reach the token endpoint: ' + text
        hint = endpoint_hint
    elif isinstance(exc, ValueError) and 'authority' in text.lower():
        hint = 'Check tenant_id and authority_url / cloud.'
    return AuthError(text, context=context, hint=hint)


class TokenProvider(object):
    """Base class: ``get_token(force_refresh=False) -> str``. ``last_source`` tells where the last token came from
    (``memory``, ``cache`` = MSAL/persistent cache, ``identity_provider`` = a token request, ``static``).
    ``method`` is the auth method object (``_auth_method_*.py``) that made this provider."""

    refreshable = True

    def __init__(self, method, settings, session=None, warn=None):
        self.method = method
        self.settings = settings
        self.session = session
        self.warn = warn
        self.last_source = None
        self._token = None
        self._expires_on = 0.0

    def get_token(self, force_refresh=False):
        raise NotImplementedError  # pragma: no cover

    def describe(self):
        """A short, secret-free description of the connection, for error messages."""
        return self.method.describe(self.settings)

    def _remember(self, result):
        token = result['access_token']
        register_secret(token)
        try:
            expires_in = float(result.get('expires_in') or 3600)
        except (TypeError, ValueError):
            expires_in = 3600.0
        self._token = token
        self._expires_on = time.time() + expires_in
        self.last_source = result.get('token_source') or 'identity_provider'
        return token


class MsalTokenProvider(TokenProvider):
    """Shared flow: in-memory token, else (under the cache lock) load the file, ask MSAL, save."""

    def __init__(self, method, settings, session=None, warn=None):
        super(MsalTokenProvider, self).__init__(method, settings, session, warn)
        if not HAS_MSAL:
            raise ConfigError('The Python library "msal" is required for auth_method %s.' % settings.auth_method)
        if session is None:
            session = requests.Session()
            self.session = session
        self.http_client = ForcedRequestsClient(session, settings.verify, self._http_timeout())
        self.token_cache = msal.SerializableTokenCache()
        self.http_cache = {}
        self.store = TokenCacheStore(settings.token_cache_dir, method.cache_key(settings), warn=warn,
                                     is_default_dir=settings.token_cache_is_default)
        self._client = None

    def _http_timeout(self):
        return self.settings.timeout

    def _build(self):
        raise NotImplementedError  # pragma: no cover

    def _acquire(self, client):
        raise NotImplementedError  # pragma: no cover

    def _endpoint_hint(self):
        return None

    def _explain(self, exc):
        """An AuthError for failures this method understands better than the generic mapping, or None."""
        return None

    def get_token(self, force_refresh=False):
        if not force_refresh and self._token and self._expires_on - time.time() > EXPIRY_MARGIN:
            self.last_source = 'memory'
            return self._token
        context = self.describe()
        try:
            with self.store.locked():
                self.store.load(self.token_cache, self.http_cache)
                if force_refresh and self._token:
                    self._forget(self._token)
                if self._client is None:
                    self._client = self._build()
                result = self._acquire(self._client)
                if result and 'access_token' in result:
                    token = self._remember(result)
                    self.store.save(self.token_cache, self.http_cache)
                    return token
        except Exception as exc:
            raise self._explain(exc) or _auth_error_from_exception(exc, context, self._endpoint_hint())
        if not result:
            raise AuthError('MSAL returned no result', context=context)
        raise _auth_error_from_result(result, context)

    def _forget(self, token):
        """Drop a token Graph rejected (401) from the cache, so MSAL asks for a new one."""
        cache = self.token_cache
        finder = getattr(cache, 'search', None) or getattr(cache, 'find')
        for entry in list(finder(cache.CredentialType.ACCESS_TOKEN)):
            if entry.get('secret') == token:
                cache.remove_at(entry)
        self._token = None
        self._expires_on = 0.0


class ConfidentialClientTokenProvider(MsalTokenProvider):
    """client_secret, certificate and federated: msal.ConfidentialClientApplication + acquire_token_for_client, with
    the credential the method gives (``method.credential(settings)``)."""

    def _build(self):
        s = self.settings
        kwargs = dict(client_credential=self.method.credential(s), authority=s.authority, token_cache=self.token_cache,
                      http_client=self.http_client, http_cache=self.http_cache)
        if s.authority_overridden:
            # Nothing but the configured authority may be contacted (no instance discovery against
            # login.microsoftonline.com, no regional endpoint detection).
            kwargs.update(instance_discovery=False, azure_region=False)
        return msal.ConfidentialClientApplication(s.client_id, **kwargs)

    def _acquire(self, client):
        return client.acquire_token_for_client(scopes=[self.settings.scope])

    def _endpoint_hint(self):
        return 'Check authority_url (%s) / cloud and the network path to it.' % self.settings.authority_host
