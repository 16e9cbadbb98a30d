# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""Connection settings: national clouds, the options and their environment fallbacks, ``ConnectionSettings`` and
``resolve_settings(params)`` (Graph root, authority, scope, TLS verification, timeouts, token cache directory and the
credential values). Which auth method uses which credential is not known here: ``_auth_methods.resolve_connection``
adds the method on top of these settings.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.msgraph.grants.plugins.module_utils._errors import ConfigError
from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import DEFAULT_RETRY_BUDGET, DEFAULT_TIMEOUT
from ansible_collections.msgraph.grants.plugins.module_utils._redaction import register_secret

#: National clouds: Graph root and login host (https://learn.microsoft.com/graph/deployments).
CLOUDS = {
    'global': dict(graph_url='https://graph.microsoft.com', authority_url='https://login.microsoftonline.com'),
    'usgov': dict(graph_url='https://graph.microsoft.us', authority_url='https://login.microsoftonline.us'),
    'usgov_dod': dict(graph_url='https://dod-graph.microsoft.us', authority_url='https://login.microsoftonline.us'),
    'china': dict(graph_url='https://microsoftgraph.chinacloudapi.cn', authority_url='https://login.chinacloudapi.cn'),
}

# AAP's Azure Resource Manager credential names the cloud the way the Azure SDKs do (AZURE_CLOUD_ENVIRONMENT).
AZURE_CLOUD_ENVIRONMENTS = {
    'azurecloud': 'global',
    'azurepubliccloud': 'global',
    'azureusgovernment': 'usgov',
    'azureusgovernmentcloud': 'usgov',
    'azurechinacloud': 'china',
}

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

#: The credential options, copied into ConnectionSettings as given (after trimming); the secret ones are registered
#: for redaction as soon as they are read.
CREDENTIAL_OPTIONS = ('tenant_id', 'client_id', 'client_secret', 'client_certificate_path', 'client_certificate_password',
                      'federated_token_file', 'access_token')
SECRET_OPTIONS = ('client_secret', 'client_certificate_password', 'access_token')

CACHE_DISABLED_WORDS = frozenset(['false', 'off', 'no', 'n', '0', 'none', 'disable', 'disabled'])
CACHE_DEFAULT_WORDS = frozenset(['', 'true', 'on', 'yes', 'y', '1', 'default'])


def option_sources(option):
    """'tenant_id (or environment variable AZURE_TENANT_ID or AZURE_TENANT)'."""
    envs = OPTION_ENV.get(option) or []
    if not envs:
        return 'the %s option' % option
    return 'the %s option (or environment variable %s)' % (option, ' or '.join(envs))


# ------------------------------------------------------------------------------------------------------- settings

class ConnectionSettings(object):
    """Resolved connection parameters. ``repr()`` never shows a secret."""

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
            if key in SECRET_OPTIONS and value is not None:
                value = '********'
            shown.append('%s=%r' % (key, value))
        return 'ConnectionSettings(%s)' % ', '.join(shown)


def clean(value):
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
    value = clean(value)
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


def resolve_settings(params):
    """Every connection setting but the auth method, from module parameters (env fallbacks already applied by
    AnsibleModule); raise ConfigError naming the option and env var to set."""
    def p(name):
        return clean(params.get(name))

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

    values = dict((name, p(name)) for name in CREDENTIAL_OPTIONS)
    for name in SECRET_OPTIONS:
        register_secret(values[name])
    tenant = values['tenant_id']
    return ConnectionSettings(
        cloud=cloud, graph_root=graph_root, graph_overridden=graph_overridden, authority_host=authority_host,
        authority=('%s/%s' % (authority_host, tenant)) if tenant else None, authority_overridden=authority_overridden,
        scope='%s/.default' % graph_root, resource=graph_root, api_version=api_version,
        verify=verify, timeout=timeout, retry_budget=retry_budget,
        token_cache_dir=cache_dir, token_cache_is_default=cache_default, **values)
