# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""Clouds, connection settings, MSAL token providers and the persistent token cache.

- ``resolve_connection(params)`` turns module parameters (env fallbacks already applied by AnsibleModule) into a
  ``ConnectionSettings``: Graph root, authority, scope, TLS verification, the concrete auth method.
- ``make_token_provider(settings, session)`` returns an object with ``get_token(force_refresh=False)``.
- MSAL talks HTTP through ``ForcedRequestsClient``, which puts ``verify`` and ``timeout`` on every request: a
  machine-wide REQUESTS_CA_BUNDLE otherwise silently wins over ``Session.verify`` (psf/requests#3829).
- With an overridden authority MSAL is built with ``instance_discovery=False`` and ``azure_region=False`` so that it
  contacts nothing but that authority.
- Tokens and MSAL's ``http_cache`` (the OpenID discovery document) persist in one owner-only JSON file per
  (authority, tenant, client id, credential) under ``~/.cache/msgraph.grants/``: a second process with a warm cache
  makes no token-side request at all.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import contextlib
import errno
import hashlib
import heapq
import json
import os
import re
import time
import uuid

from ansible_collections.msgraph.grants.plugins.module_utils._errors import (  # noqa: F401 pylint: disable=unused-import
    AuthError,
    ConfigError,
    GraphError,
)
from ansible_collections.msgraph.grants.plugins.module_utils._redaction import register_secret, redact

REQUESTS_IMPORT_ERROR = None
try:
    import requests
    import requests.exceptions
    HAS_REQUESTS = True
except ImportError:  # pragma: no cover - exercised by the import sanity test only
    import traceback
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

MSAL_IMPORT_ERROR = None
try:
    import msal
    HAS_MSAL = True
except ImportError:  # pragma: no cover
    import traceback
    HAS_MSAL = False
    MSAL_IMPORT_ERROR = traceback.format_exc()

try:
    from msal.throttled_http_client import NormalizedResponse as _MsalNormalizedResponse
except ImportError:  # pragma: no cover - older MSAL caches raw responses; see _cached_response()
    _MsalNormalizedResponse = None

# cryptography is needed for certificates only: it is imported on first use, which keeps ~80 ms off the start of
# every other module run (docs/performance.md).
_CRYPTOGRAPHY = {}


def _cryptography():
    """The cryptography modules the certificate loaders use; raises ImportError when the library is missing."""
    if not _CRYPTOGRAPHY:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.hazmat.primitives.serialization import pkcs12
        _CRYPTOGRAPHY.update(x509=x509, hashes=hashes, serialization=serialization, pkcs12=pkcs12, rsa=rsa)
    return _CRYPTOGRAPHY


def cryptography_import_error():
    """None when cryptography imports, else the traceback (for missing_required_lib)."""
    try:
        _cryptography()
    except ImportError:
        import traceback
        return traceback.format_exc()
    return None


try:
    import fcntl
    HAS_FCNTL = True
except ImportError:  # pragma: no cover - not POSIX: no inter-process lock, the cache still works
    HAS_FCNTL = False


# ---------------------------------------------------------------------------------------------------------- tables

#: National clouds: Graph root and login host (shared/graph/graph-semantics.md section 1).
CLOUDS = {
    'global': dict(graph_url='https://graph.microsoft.com', authority_url='https://login.microsoftonline.com'),
    'usgov': dict(graph_url='https://graph.microsoft.us', authority_url='https://login.microsoftonline.us'),
    'usgov_dod': dict(graph_url='https://dod-graph.microsoft.us', authority_url='https://login.microsoftonline.us'),
    'china': dict(graph_url='https://microsoftgraph.chinacloudapi.cn', authority_url='https://login.chinacloudapi.cn'),
}

AUTH_METHODS = ('auto', 'client_secret', 'certificate', 'federated', 'managed_identity', 'access_token')
API_VERSIONS = ('v1.0', 'beta')

#: Environment fallbacks of the connection options, first match wins (the public contract, docs/interface).
OPTION_ENV = {
    'tenant_id': ['AZURE_TENANT_ID', 'AZURE_TENANT'],
    'client_id': ['AZURE_CLIENT_ID'],
    'client_secret': ['AZURE_CLIENT_SECRET', 'AZURE_SECRET'],
    'client_certificate_path': ['AZURE_CLIENT_CERTIFICATE_PATH'],
    'client_certificate_password': ['AZURE_CLIENT_CERTIFICATE_PASSWORD'],
    'federated_token_file': ['AZURE_FEDERATED_TOKEN_FILE'],
    'access_token': ['MSGRAPH_ACCESS_TOKEN'],
    'auth_method': ['MSGRAPH_AUTH_METHOD'],
    'cloud': ['MSGRAPH_CLOUD', 'AZURE_CLOUD_ENVIRONMENT'],
    'graph_url': ['MSGRAPH_GRAPH_URL'],
    'authority_url': ['AZURE_AUTHORITY_HOST'],
    'api_version': ['MSGRAPH_API_VERSION'],
    'validate_certs': ['MSGRAPH_VALIDATE_CERTS'],
    'ca_path': ['MSGRAPH_CA_PATH'],
    'timeout': [],
    'token_cache': ['MSGRAPH_TOKEN_CACHE'],
    'retry_budget': ['MSGRAPH_RETRY_BUDGET'],
}

#: What each method needs besides its own credential (checked in this order, so the message names the first gap).
_METHOD_NEEDS = {
    'access_token': ['access_token'],
    'certificate': ['client_certificate_path', 'tenant_id', 'client_id'],
    'client_secret': ['client_secret', 'tenant_id', 'client_id'],
    'federated': ['federated_token_file', 'tenant_id', 'client_id'],
    'managed_identity': [],
}

#: ``auth_method: auto`` picks the first method whose credential is set, in this order.
AUTO_ORDER = (
    ('access_token', 'access_token'),
    ('certificate', 'client_certificate_path'),
    ('client_secret', 'client_secret'),
    ('federated', 'federated_token_file'),
)

_METHOD_LABEL = {
    'access_token': 'a pre-acquired access token',
    'certificate': 'a client certificate',
    'client_secret': 'a client secret',
    'federated': 'a federated token file (workload identity federation)',
    'managed_identity': 'a managed identity',
}

DEFAULT_TIMEOUT = 30
DEFAULT_RETRY_BUDGET = 120
CACHE_DISABLED_WORDS = frozenset(['false', 'off', 'no', 'n', '0', 'none', 'disable', 'disabled'])
CACHE_DEFAULT_WORDS = frozenset(['', 'true', 'on', 'yes', 'y', '1', 'default'])
CACHE_FILE_VERSION = 1
#: Tokens expiring within this many seconds are not reused (MSAL uses the same margin).
EXPIRY_MARGIN = 300


def option_sources(option):
    """'tenant_id (or environment variable AZURE_TENANT_ID or AZURE_TENANT)'."""
    envs = OPTION_ENV.get(option) or []
    if not envs:
        return 'the %s option' % option
    return 'the %s option (or environment variable %s)' % (option, ' or '.join(envs))


# ------------------------------------------------------------------------------------------------------- settings

class ConnectionSettings(object):
    """Resolved connection parameters. ``repr()`` never shows a secret."""

    _SECRET_FIELDS = ('client_secret', 'client_certificate_password', 'access_token')

    def __init__(self, **kwargs):
        self.cloud = 'global'
        self.graph_root = None
        self.authority_host = None
        self.authority = None
        self.authority_overridden = False
        self.graph_overridden = False
        self.scope = None
        self.resource = None
        self.api_version = 'v1.0'
        self.auth_method = None
        self.auth_method_requested = 'auto'
        self.auth_reason = None
        self.tenant_id = None
        self.client_id = None
        self.client_secret = None
        self.client_certificate_path = None
        self.client_certificate_password = None
        self.federated_token_file = None
        self.access_token = None
        self.verify = True
        self.timeout = DEFAULT_TIMEOUT
        self.retry_budget = DEFAULT_RETRY_BUDGET
        self.token_cache_dir = None
        self.token_cache_is_default = False
        for key, value in kwargs.items():
            setattr(self, key, value)

    def __repr__(self):
        shown = []
        for key in sorted(vars(self)):
            value = getattr(self, key)
            if key in self._SECRET_FIELDS and value is not None:
                value = '********'
            shown.append('%s=%r' % (key, value))
        return 'ConnectionSettings(%s)' % ', '.join(shown)

    def describe(self):
        """A short, secret-free description for error messages."""
        parts = ['auth_method %s' % self.auth_method]
        if self.tenant_id and self.auth_method not in ('managed_identity', 'access_token'):
            parts.append('tenant %s' % self.tenant_id)
        if self.client_id and self.auth_method != 'access_token':
            parts.append('client_id %s' % self.client_id)
        if self.auth_method not in ('managed_identity', 'access_token'):
            parts.append('authority %s' % self.authority_host)
        return ', '.join(parts)


def _clean(value):
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode('utf-8', 'replace')
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _to_bool(value, default):
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ('1', 'true', 'yes', 'on', 'y', 't'):
        return True
    if text in ('0', 'false', 'no', 'off', 'n', 'f'):
        return False
    raise ConfigError('validate_certs must be a boolean, got %r' % (value,))


def normalize_base_url(value, option):
    """Scheme optional (https assumed), no trailing slash, no query/fragment."""
    value = _clean(value)
    if value is None:
        return None
    if not re.match(r'(?i)^[a-z][a-z0-9+.-]*://', value):
        value = 'https://' + value
    try:
        from urllib.parse import urlsplit, urlunsplit
    except ImportError:  # pragma: no cover
        from urlparse import urlsplit, urlunsplit  # type: ignore
    parts = urlsplit(value)
    if parts.scheme.lower() not in ('https', 'http') or not parts.netloc:
        raise ConfigError('%s must be an https URL such as https://127.0.0.1:8443, got %r' % (option, value))
    return urlunsplit((parts.scheme.lower(), parts.netloc, parts.path.rstrip('/'), '', ''))


def default_cache_dir():
    base = os.environ.get('XDG_CACHE_HOME')
    if not base or not os.path.isabs(base):
        base = os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'msgraph.grants')


def resolve_token_cache(value):
    """(directory or None, is_default) for the ``token_cache`` option."""
    if isinstance(value, bool):
        return (default_cache_dir(), True) if value else (None, False)
    text = '' if value is None else str(value).strip()
    if text.lower() in CACHE_DISABLED_WORDS:
        return None, False
    if text.lower() in CACHE_DEFAULT_WORDS:
        return default_cache_dir(), True
    path = os.path.abspath(os.path.expanduser(text))
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError('token_cache must be a directory (or false to disable the persistent cache); %s is a file'
                          % path)
    return path, False


def resolve_connection(params):
    """Turn module parameters into ConnectionSettings; raise ConfigError naming the option and env var to set."""
    def p(name):
        return _clean(params.get(name))

    cloud = (p('cloud') or 'global').lower()
    if cloud not in CLOUDS:
        raise ConfigError('cloud must be one of %s, got %r' % (', '.join(sorted(CLOUDS)), cloud))
    api_version = p('api_version') or 'v1.0'
    if api_version not in API_VERSIONS:
        raise ConfigError('api_version must be one of %s, got %r' % (', '.join(API_VERSIONS), api_version))

    graph_root = normalize_base_url(p('graph_url'), 'graph_url')
    graph_overridden = graph_root is not None
    if graph_root:
        graph_root = re.sub(r'/(v1\.0|beta)$', '', graph_root)
    else:
        graph_root = CLOUDS[cloud]['graph_url']
    authority_host = normalize_base_url(p('authority_url'), 'authority_url')
    authority_overridden = authority_host is not None
    if not authority_host:
        authority_host = CLOUDS[cloud]['authority_url']

    validate_certs = _to_bool(params.get('validate_certs'), True)
    ca_path = p('ca_path')
    if not validate_certs:
        verify = False
    elif ca_path:
        ca_path = os.path.abspath(os.path.expanduser(ca_path))
        if not os.path.exists(ca_path):
            raise ConfigError('ca_path %s does not exist (set by %s)' % (ca_path, option_sources('ca_path')))
        verify = ca_path
    else:
        verify = True

    timeout = params.get('timeout')
    try:
        timeout = DEFAULT_TIMEOUT if timeout in (None, '') else int(timeout)
    except (TypeError, ValueError):
        raise ConfigError('timeout must be a whole number of seconds, got %r' % (timeout,))
    if timeout <= 0:
        raise ConfigError('timeout must be greater than 0, got %s' % timeout)
    retry_budget = params.get('retry_budget')
    try:
        retry_budget = DEFAULT_RETRY_BUDGET if retry_budget in (None, '') else float(retry_budget)
    except (TypeError, ValueError):
        raise ConfigError('retry_budget must be a number of seconds, got %r' % (retry_budget,))
    if retry_budget < 0:
        raise ConfigError('retry_budget must not be negative, got %s' % retry_budget)

    cache_dir, cache_default = resolve_token_cache(params.get('token_cache'))

    values = dict((name, p(name)) for name in (
        'tenant_id', 'client_id', 'client_secret', 'client_certificate_path', 'client_certificate_password',
        'federated_token_file', 'access_token'))
    for name in ('client_secret', 'client_certificate_password', 'access_token'):
        register_secret(values[name])

    requested = (p('auth_method') or 'auto').lower()
    if requested not in AUTH_METHODS:
        raise ConfigError('auth_method must be one of %s, got %r' % (', '.join(AUTH_METHODS), requested))
    if requested == 'auto':
        method = 'managed_identity'
        reason = 'no access_token, client certificate, client secret or federated token file is set'
        for candidate, option in AUTO_ORDER:
            if values[option]:
                method = candidate
                reason = '%s is set' % option
                break
    else:
        method = requested
        reason = 'auth_method is %s' % method

    missing = [name for name in _METHOD_NEEDS[method] if not values[name]]
    if missing:
        if requested == 'auto':
            lead = ('auth_method auto chose %s (%s) because %s, but ' % (method, _METHOD_LABEL[method], reason))
        else:
            lead = 'auth_method %s (%s) needs more: ' % (method, _METHOD_LABEL[method])
        raise ConfigError(lead + '; '.join('%s is missing: set %s' % (name, option_sources(name)) for name in missing)
                          + '.')
    file_option = {'certificate': 'client_certificate_path', 'federated': 'federated_token_file'}.get(method)
    if file_option:
        path = os.path.abspath(os.path.expanduser(values[file_option]))
        if not os.path.isfile(path):
            raise ConfigError('%s %s does not exist or is not a file (set by %s).' % (
                file_option, path, option_sources(file_option)))
        values[file_option] = path

    tenant = values['tenant_id']
    settings = ConnectionSettings(
        cloud=cloud, graph_root=graph_root, graph_overridden=graph_overridden, authority_host=authority_host,
        authority=('%s/%s' % (authority_host, tenant)) if tenant else None, authority_overridden=authority_overridden,
        scope='%s/.default' % graph_root, resource=graph_root, api_version=api_version,
        auth_method=method, auth_method_requested=requested, auth_reason=reason,
        verify=verify, timeout=timeout, retry_budget=retry_budget,
        token_cache_dir=cache_dir, token_cache_is_default=cache_default, **values)
    return settings


def missing_libraries(settings=None):
    """[(pip name, import traceback)] of the libraries the chosen auth method needs and that failed to import."""
    missing = []
    if not HAS_REQUESTS:
        missing.append(('requests', REQUESTS_IMPORT_ERROR))
    method = settings.auth_method if settings is not None else None
    if method != 'access_token' and not HAS_MSAL:
        missing.append(('msal', MSAL_IMPORT_ERROR))
    if method == 'certificate':
        error = cryptography_import_error()
        if error:
            missing.append(('cryptography', error))
    return missing


# ---------------------------------------------------------------------------------------------------- HTTP for MSAL

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


# ------------------------------------------------------------------------------------------------ persistent cache

class _PlainResponse(object):
    """What MSAL reads from a cached HTTP response (status_code, text, headers, raise_for_status)."""

    def __init__(self, status_code, text, headers):
        self.status_code = status_code
        self.text = text
        self.headers = headers

    def raise_for_status(self):
        if self.status_code >= 400:
            raise ValueError('HTTP Error: %d' % self.status_code)


def _cached_response(status, text, headers):
    plain = _PlainResponse(status, text, headers)
    if _MsalNormalizedResponse is not None:
        return _MsalNormalizedResponse(plain)
    return plain  # MSAL < 1.33 caches raw responses; anything with these attributes will do


def dump_http_cache(mapping, now=None):
    """The part of MSAL's ``http_cache`` worth persisting: successful GETs (the OpenID discovery document), as plain
    JSON data. Throttling/error entries stay process-local."""
    now = int(time.time() if now is None else now)
    index = mapping.get('_index_') if hasattr(mapping, 'get') else None
    if not index:
        return {}
    try:
        timestamps = index[1]
    except (IndexError, TypeError, KeyError):
        return {}
    out = {}
    for key, stamp in list(timestamps.items()):
        if not isinstance(key, str) or not key.startswith('GET '):
            continue
        value = mapping.get(key)
        status = getattr(value, 'status_code', None)
        if not isinstance(status, int) or not 200 <= status < 300:
            continue
        try:
            expires_at, created_at = int(stamp[0]), int(stamp[1])
        except (TypeError, ValueError, IndexError):
            continue
        if expires_at <= now:
            continue
        headers = dict((str(k), str(v)) for k, v in (getattr(value, 'headers', None) or {}).items())
        out[key] = dict(expires_at=expires_at, created_at=created_at, status_code=status,
                        text=getattr(value, 'text', ''), headers=headers)
    return out


def load_http_cache(mapping, entries, now=None):
    """Merge persisted entries into MSAL's ``http_cache`` dict (in place: MSAL holds a reference to it)."""
    if not entries or not isinstance(entries, dict):
        return
    now = int(time.time() if now is None else now)
    sequence, timestamps = mapping.get('_index_', ([], {}))
    sequence = list(sequence)
    timestamps = dict(timestamps)
    for key, entry in entries.items():
        try:
            expires_at, created_at = int(entry['expires_at']), int(entry['created_at'])
            status = int(entry['status_code'])
            text = entry.get('text') or ''
            headers = entry.get('headers') or {}
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        if not created_at <= now < expires_at or key in timestamps:
            continue
        mapping[key] = _cached_response(status, text, headers)
        timestamps[key] = [expires_at, created_at]
        sequence.append([expires_at, created_at, key])
    heapq.heapify(sequence)
    mapping['_index_'] = (sequence, timestamps)


class CacheUnavailable(Exception):
    pass


class TokenCacheStore(object):
    """One JSON file per (authority, tenant, client id, credential) holding MSAL's serialized token cache and the
    persisted part of its http_cache.

    Safety rules: the directory is 0700 and the file 0600, both owned by the current user; a file that is not (or a
    symlink) is ignored, not trusted. Writes go to a temporary file created with O_CREAT|O_EXCL and mode 0600 (never
    readable by others, not even briefly) and then os.replace() it: readers see the old or the new file, never half
    of one. Read-modify-write runs under an fcntl lock on a sibling ``.lock`` file, so concurrent Ansible forks do
    not lose each other's tokens (and mostly share one token request).

    The content is JSON, never pickle: a cache file is data and must not be able to run code.
    """

    def __init__(self, directory, key_parts, warn=None, is_default_dir=False, lock_timeout=60.0):
        self.directory = directory
        self.enabled = directory is not None
        self.is_default_dir = is_default_dir
        self.lock_timeout = lock_timeout
        self._warn = warn
        self._warned = False
        self._loaded_text = None
        digest = hashlib.sha256('\x00'.join(str(p) for p in key_parts).encode('utf-8')).hexdigest()[:40]
        self.name = 'token-%s.json' % digest
        self.path = os.path.join(directory, self.name) if directory else None
        self.lock_path = (self.path + '.lock') if directory else None

    def _disable(self, why):
        self.enabled = False
        if self._warn is not None and not self._warned:
            self._warned = True
            self._warn('Persistent token cache disabled for this run: %s' % why)

    def _ensure_dir(self):
        directory = self.directory
        created = False
        if not os.path.isdir(directory):
            try:
                os.makedirs(directory, 0o700)
                created = True
            except OSError as exc:
                if exc.errno != errno.EEXIST or not os.path.isdir(directory):
                    raise CacheUnavailable('cannot create %s: %s' % (directory, exc.strerror or exc))
        st = os.stat(directory)
        if st.st_uid != os.geteuid():
            raise CacheUnavailable('%s is owned by another user' % directory)
        mode = st.st_mode & 0o777
        if (created or self.is_default_dir) and mode != 0o700:
            os.chmod(directory, 0o700)
        elif mode & 0o022:
            raise CacheUnavailable('%s is writable by other users (mode %o); use a private directory' % (directory, mode))

    def _acquire_lock(self):
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_CLOEXEC', 0),
                     0o600)
        if not HAS_FCNTL:  # pragma: no cover
            return fd
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except (IOError, OSError) as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    os.close(fd)
                    raise
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise CacheUnavailable('timed out after %.0f s waiting for the lock %s' % (
                        self.lock_timeout, self.lock_path))
                time.sleep(0.05)

    @contextlib.contextmanager
    def locked(self):
        fd = None
        if self.enabled:
            try:
                self._ensure_dir()
                fd = self._acquire_lock()
            except CacheUnavailable as exc:
                self._disable(str(exc))
            except (IOError, OSError) as exc:
                self._disable('cannot use %s: %s' % (self.directory, exc))
        try:
            yield self
        finally:
            if fd is not None:
                try:
                    if HAS_FCNTL:
                        fcntl.flock(fd, fcntl.LOCK_UN)
                finally:
                    os.close(fd)

    def load(self, token_cache, http_cache):
        """Load the file (if any, and if safe) into the MSAL token cache and http_cache."""
        if not self.enabled:
            return
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_CLOEXEC', 0))
        except (IOError, OSError) as exc:
            if exc.errno == errno.ENOENT:
                self._loaded_text = None
                return
            self._disable('cannot read %s: %s' % (self.path, exc))
            return
        try:
            st = os.fstat(fd)
            if st.st_uid != os.geteuid() or st.st_mode & 0o077:
                # Refuse a cache another user could have written or can read: its tokens are not to be trusted.
                self._disable('%s is not private to the current user (owner uid %d, mode %o); it was ignored'
                              % (self.path, st.st_uid, st.st_mode & 0o777))
                return
            chunks = []
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(fd)
        text = b''.join(chunks).decode('utf-8', 'replace')
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or doc.get('version') != CACHE_FILE_VERSION:
            self._loaded_text = None  # unreadable or another format: start afresh (it will be overwritten)
            return
        state = doc.get('token_cache')
        if isinstance(state, dict):
            token_cache.deserialize(json.dumps(state))
        load_http_cache(http_cache, doc.get('http_cache'))
        self._loaded_text = self._render(token_cache, http_cache)

    @staticmethod
    def _render(token_cache, http_cache):
        try:
            state = json.loads(token_cache.serialize())
        except ValueError:
            state = {}
        doc = dict(version=CACHE_FILE_VERSION, token_cache=state, http_cache=dump_http_cache(http_cache))
        return json.dumps(doc, sort_keys=True, separators=(',', ':'))

    def save(self, token_cache, http_cache):
        """Write the cache if it changed: temp file (O_EXCL, 0600) then atomic os.replace()."""
        if not self.enabled:
            return False
        text = self._render(token_cache, http_cache)
        if text == self._loaded_text:
            return False
        tmp = os.path.join(self.directory, '.%s.%d.%s.tmp' % (self.name, os.getpid(), uuid.uuid4().hex[:12]))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0)
                         | getattr(os, 'O_CLOEXEC', 0), 0o600)
            try:
                if hasattr(os, 'fchmod'):
                    os.fchmod(fd, 0o600)
                data = text.encode('utf-8')
                while data:
                    written = os.write(fd, data)
                    data = data[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except (IOError, OSError) as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            self._disable('cannot write %s: %s' % (self.path, exc))
            return False
        self._loaded_text = text
        return True


# --------------------------------------------------------------------------------------------------- credentials

def load_certificate_credential(path, password=None):
    """MSAL ``client_credential`` for a certificate file.

    PEM (certificate + private key, any order, key optionally encrypted): the SHA-1 thumbprint is computed and the
    certificate is passed as ``public_certificate`` (sent as x5c). PFX/PKCS#12: handed to MSAL as
    ``private_key_pfx_path`` (+ ``passphrase``), after checking here that it opens, for a clear error message.
    """
    if cryptography_import_error():
        raise ConfigError('The Python library "cryptography" is required for certificate authentication.')
    pkcs12, rsa = _cryptography()['pkcs12'], _cryptography()['rsa']
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        raise ConfigError('client_certificate_path %s cannot be read: %s' % (path, exc.strerror or exc))
    pw = password.encode('utf-8') if password else None
    if b'-----BEGIN' in data:
        return _pem_credential(path, data, pw)
    try:
        key, cert, _extra = pkcs12.load_key_and_certificates(data, pw)
    except (ValueError, TypeError) as exc:
        if password:
            raise ConfigError('client_certificate_path %s is neither PEM nor a PFX that opens with the given '
                              'client_certificate_password (%s).' % (path, _crypto_text(exc)))
        raise ConfigError('client_certificate_path %s is neither PEM nor an unencrypted PFX; if it is a protected PFX '
                          'set %s.' % (path, option_sources('client_certificate_password')))
    if key is None or cert is None:
        raise ConfigError('the PFX %s must contain both the private key and its certificate.' % path)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError('the key in %s is not an RSA key; Microsoft Entra client certificates must be RSA.' % path)
    credential = {'private_key_pfx_path': path, 'public_certificate': True}
    if password:
        credential['passphrase'] = password
    return credential


_PEM_KEY_RE = re.compile(br'-----BEGIN ((?:ENCRYPTED |RSA |EC |DSA )?PRIVATE KEY)-----.*?-----END \1-----', re.S)
_PEM_CERT_RE = re.compile(br'-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----', re.S)


def _crypto_text(exc):
    text = str(exc) or type(exc).__name__
    return text.split('\n')[0][:200]


def _pem_credential(path, data, pw):
    crypto = _cryptography()
    x509, hashes, serialization, rsa = crypto['x509'], crypto['hashes'], crypto['serialization'], crypto['rsa']
    key_match = _PEM_KEY_RE.search(data)
    if not key_match:
        raise ConfigError('client_certificate_path %s contains no private key: it must hold the certificate AND its '
                          'private key (PEM), or be a PFX.' % path)
    block = key_match.group(0)
    try:
        key = serialization.load_pem_private_key(block, password=pw)
    except TypeError as exc:
        if pw is None:
            raise ConfigError('the private key in %s is encrypted: set %s.' % (
                path, option_sources('client_certificate_password')))
        if 'not encrypted' in str(exc):
            key = serialization.load_pem_private_key(block, password=None)
        else:
            raise ConfigError('cannot load the private key in %s: %s' % (path, _crypto_text(exc)))
    except ValueError as exc:
        if pw is not None:
            raise ConfigError('cannot decrypt the private key in %s: wrong client_certificate_password?' % path)
        raise ConfigError('cannot load the private key in %s: %s' % (path, _crypto_text(exc)))
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError('the key in %s is not an RSA key; Microsoft Entra client certificates must be RSA.' % path)
    certs = []
    for cert_block in _PEM_CERT_RE.findall(data):
        try:
            certs.append(x509.load_pem_x509_certificate(cert_block))
        except ValueError:
            continue
    if not certs:
        raise ConfigError('client_certificate_path %s contains no certificate: it must hold the certificate AND its '
                          'private key (PEM), or be a PFX.' % path)
    wanted = key.public_key().public_numbers()
    cert = None
    for candidate in certs:
        pub = candidate.public_key()
        if isinstance(pub, rsa.RSAPublicKey) and pub.public_numbers() == wanted:
            cert = candidate
            break
    if cert is None:
        raise ConfigError('none of the certificates in %s matches its private key.' % path)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode('ascii')
    register_secret(key_pem)
    thumbprint = cert.fingerprint(hashes.SHA1()).hex().upper()  # nosec - the x5t header is defined as SHA-1
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode('ascii')
    return {'private_key': key_pem, 'thumbprint': thumbprint, 'public_certificate': cert_pem}


def certificate_thumbprints(path, password=None):
    """(sha1 hex, sha256 hex) of the certificate in a PEM or PFX file (diagnostics and tests)."""
    crypto = _cryptography()
    x509, hashes, pkcs12 = crypto['x509'], crypto['hashes'], crypto['pkcs12']
    with open(path, 'rb') as handle:
        data = handle.read()
    pw = password.encode('utf-8') if password else None
    if b'-----BEGIN' in data:
        cert = x509.load_pem_x509_certificate(_PEM_CERT_RE.search(data).group(0))
    else:
        cert = pkcs12.load_key_and_certificates(data, pw)[1]
    return cert.fingerprint(hashes.SHA1()).hex().upper(), cert.fingerprint(hashes.SHA256()).hex().upper()  # nosec


def make_assertion_reader(path):
    """The callable MSAL calls for a fresh federated assertion: re-reads the file each time (it is rotated)."""
    def read_assertion():
        try:
            with open(path, 'r') as handle:
                assertion = handle.read().strip()
        except (IOError, OSError) as exc:
            raise AuthError('federated_token_file %s cannot be read: %s' % (path, exc.strerror or exc))
        if not assertion:
            raise AuthError('federated_token_file %s is empty' % path)
        register_secret(assertion)
        return assertion
    return read_assertion


# ------------------------------------------------------------------------------------------------ token providers

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
    (``memory``, ``cache`` = MSAL/persistent cache, ``identity_provider`` = a token request, ``static``)."""

    refreshable = True

    def __init__(self, settings, session=None, warn=None):
        self.settings = settings
        self.session = session
        self.warn = warn
        self.last_source = None
        self._token = None
        self._expires_on = 0.0

    def get_token(self, force_refresh=False):
        raise NotImplementedError  # pragma: no cover

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


def jwt_shape_problem(token):
    """Why ``token`` cannot be a Microsoft Entra access token (a JWS, or a JWE: 3 or 5 base64url parts whose first is a
    JSON header), or None. Says what is wrong without echoing any of the value."""
    token = (token or '').strip()
    if token.lower().startswith('bearer '):
        return 'it starts with "Bearer "'
    if re.search(r'\s', token):
        return 'it contains whitespace'
    parts = token.split('.')
    if len(parts) not in (3, 5) or not all(re.match(r'^[A-Za-z0-9_-]*$', part) for part in parts) or not parts[0]:
        return 'it has %d dot-separated part%s of base64url text, a JWT has 3' % (len(parts), '' if len(parts) == 1 else 's')
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

    def __init__(self, settings, session=None, warn=None):
        super(StaticTokenProvider, self).__init__(settings, session, warn)
        register_secret(settings.access_token)
        problem = jwt_shape_problem(settings.access_token)
        if problem:
            raise ConfigError('access_token (set by %s) is not a JWT: %s. Pass the access token itself (three '
                              'base64url parts separated by dots, starting with "eyJ"), without "Bearer " and without '
                              'quotes.' % (option_sources('access_token'), problem))

    def get_token(self, force_refresh=False):
        self.last_source = 'static'
        return self.settings.access_token


class _MsalProvider(TokenProvider):
    """Shared flow: in-memory token, else (under the cache lock) load the file, ask MSAL, save."""

    def __init__(self, settings, session=None, warn=None):
        super(_MsalProvider, self).__init__(settings, session, warn)
        if not HAS_MSAL:
            raise ConfigError('The Python library "msal" is required for auth_method %s.' % settings.auth_method)
        if session is None:
            session = requests.Session()
            self.session = session
        self.http_client = ForcedRequestsClient(session, settings.verify, self._http_timeout())
        self.token_cache = msal.SerializableTokenCache()
        self.http_cache = {}
        self.store = TokenCacheStore(settings.token_cache_dir, self._cache_key(), warn=warn,
                                     is_default_dir=settings.token_cache_is_default)
        self._client = None

    def _http_timeout(self):
        return self.settings.timeout

    def _cache_key(self):
        raise NotImplementedError  # pragma: no cover

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
        context = self.settings.describe()
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


class ConfidentialClientTokenProvider(_MsalProvider):
    """client_secret, certificate and federated: msal.ConfidentialClientApplication + acquire_token_for_client."""

    def _cache_key(self):
        s = self.settings
        # Besides (authority, tenant, client id): which credential, so that a token obtained with one secret or
        # certificate is not silently reused when the playbook now gives another (a wrong or revoked one must fail).
        # Only a hash of the secret goes into the (hashed) file name; the file path stands for a certificate or a
        # federated token file (whose content rotates).
        if s.auth_method == 'client_secret':
            credential = 'secret:' + hashlib.sha256(s.client_secret.encode('utf-8')).hexdigest()
        elif s.auth_method == 'certificate':
            credential = 'certificate:' + s.client_certificate_path
        else:
            credential = 'federated:' + s.federated_token_file
        return ('confidential', s.authority_host, s.tenant_id, s.client_id, credential)

    def _credential(self):
        s = self.settings
        if s.auth_method == 'client_secret':
            register_secret(s.client_secret)
            return s.client_secret
        if s.auth_method == 'certificate':
            return load_certificate_credential(s.client_certificate_path, s.client_certificate_password)
        if s.auth_method == 'federated':
            return {'client_assertion': make_assertion_reader(s.federated_token_file)}
        raise ConfigError('unsupported auth_method %s for a confidential client' % s.auth_method)  # pragma: no cover

    def _build(self):
        s = self.settings
        kwargs = dict(client_credential=self._credential(), authority=s.authority, token_cache=self.token_cache,
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


class ManagedIdentityTokenProvider(_MsalProvider):
    """managed_identity: msal.ManagedIdentityClient (system-assigned, or user-assigned when client_id is set). The
    endpoint comes from the environment as MSAL detects it (IDENTITY_ENDPOINT/IDENTITY_HEADER on App Service and
    Functions, MSI_ENDPOINT, Azure Arc, else the VM instance metadata service)."""

    def _http_timeout(self):
        if not any(os.environ.get(v) for v in ('IDENTITY_ENDPOINT', 'MSI_ENDPOINT')):
            # The VM metadata endpoint: fail fast when this host is not an Azure VM.
            return (min(5, self.settings.timeout), self.settings.timeout)
        return self.settings.timeout

    def _cache_key(self):
        endpoint = os.environ.get('IDENTITY_ENDPOINT') or os.environ.get('MSI_ENDPOINT') or 'imds'
        return ('managed_identity', endpoint, self.settings.client_id or 'system-assigned')

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
        return AuthError(text, context=self.settings.describe(), hint=self._endpoint_hint())


def _invalid_resource(result):
    """True when a managed identity endpoint refused the resource (IMDS: invalid_resource; MSAL maps App Service's
    answer to invalid_scope)."""
    if not isinstance(result, dict) or 'access_token' in result:
        return False
    error = str(result.get('error') or '').lower()
    return error in ('invalid_resource', 'invalid_scope') or (
        error == 'invalid_request' and 'resource' in str(result.get('error_description') or '').lower())


def make_token_provider(settings, session=None, warn=None):
    """The token provider for the resolved auth method."""
    if settings.auth_method == 'access_token':
        return StaticTokenProvider(settings, session, warn)
    if settings.auth_method == 'managed_identity':
        return ManagedIdentityTokenProvider(settings, session, warn)
    return ConfidentialClientTokenProvider(settings, session, warn)
