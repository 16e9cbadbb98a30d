# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""Glue between AnsibleModule and the Graph layer: the connection argument_spec, building the client, and the one
place where errors become ``fail_json``.

Typical module::

    module = AnsibleModule(argument_spec=graph_argument_spec(my_options), supports_check_mode=True)
    graph = GraphModule(module)          # fails the module itself on bad connection options / missing libraries
    with graph.failing_cleanly():        # GraphError, GrantInputError or anything unexpected -> fail_json
        ... graph.client().get_all('/oauth2PermissionGrants', params={...}) ...
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import os
import traceback

from ansible.module_utils.basic import AnsibleFallbackNotFound, missing_required_lib

from ansible_collections.msgraph.grants.plugins.module_utils._auth_methods import (
    AUTH_METHODS,
    make_token_provider,
    missing_libraries,
    resolve_connection,
)
from ansible_collections.msgraph.grants.plugins.module_utils._auth_settings import (
    API_VERSIONS,
    AZURE_CLOUD_ENVIRONMENTS,
    CLOUDS,
    OPTION_ENV,
)
from ansible_collections.msgraph.grants.plugins.module_utils._grants import GrantInputError
from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import (
    DEFAULT_RETRY_BUDGET,
    DEFAULT_TIMEOUT,
    GraphClient,
    requests,
)
from ansible_collections.msgraph.grants.plugins.module_utils._redaction import redact, register_secret

ISSUES_URL = 'https://github.com/msgraph-grants/msgraph.grants/issues'


def nonempty_env_fallback(*names):
    """The first of ``names`` that is set to a non-empty value.

    Unlike ansible's ``env_fallback``, an empty variable does not count: AWX custom credential types inject every
    variable of their injectors, with '' for inputs left empty, and that must not hide the next name (for example an
    empty AZURE_TENANT_ID hiding AAP's AZURE_TENANT).
    """
    for name in names:
        value = os.environ.get(name)
        if value:
            if name == 'AZURE_CLOUD_ENVIRONMENT':
                return AZURE_CLOUD_ENVIRONMENTS.get(value.lower(), value)
            return value
    raise AnsibleFallbackNotFound


def _env(option):
    names = OPTION_ENV.get(option) or []
    return dict(fallback=(nonempty_env_fallback, list(names))) if names else {}


def graph_argument_spec(extra=None):
    """The connection options of every module (docs: plugins/doc_fragments/graph.py), plus ``extra``."""
    spec = dict(
        tenant_id=dict(type='str', **_env('tenant_id')),
        client_id=dict(type='str', **_env('client_id')),
        client_secret=dict(type='str', no_log=True, **_env('client_secret')),
        client_certificate_path=dict(type='path', no_log=False, **_env('client_certificate_path')),
        client_certificate_password=dict(type='str', no_log=True, **_env('client_certificate_password')),
        federated_token_file=dict(type='path', no_log=False, **_env('federated_token_file')),
        access_token=dict(type='str', no_log=True, **_env('access_token')),
        auth_method=dict(type='str', default='auto', choices=list(AUTH_METHODS), **_env('auth_method')),
        cloud=dict(type='str', default='global', choices=sorted(CLOUDS), **_env('cloud')),
        graph_url=dict(type='str', **_env('graph_url')),
        authority_url=dict(type='str', **_env('authority_url')),
        api_version=dict(type='str', default='v1.0', choices=list(API_VERSIONS), **_env('api_version')),
        validate_certs=dict(type='bool', default=True, **_env('validate_certs')),
        ca_path=dict(type='path', **_env('ca_path')),
        timeout=dict(type='int', default=DEFAULT_TIMEOUT),
        token_cache=dict(type='str', no_log=False, **_env('token_cache')),
        retry_budget=dict(type='int', default=DEFAULT_RETRY_BUDGET, **_env('retry_budget')),
    )
    if extra:
        spec.update(extra)
    return spec


def fail_from_error(module, err, **extra):
    """THE place where an error becomes ``module.fail_json``. A GraphError gives its readable message plus
    ``status``, ``error_code``, ``request_id`` (and ``ambiguous``, ``retry_time``); anything else becomes a short
    message with a hint (the traceback goes to ``exception``, shown with -vvv), never a raw traceback."""
    if isinstance(err, GraphError):
        result = dict(msg=str(err), status=err.status, error_code=err.code, request_id=err.request_id)
        if err.ambiguous:
            result['ambiguous'] = True
        if err.retry_time:
            result['retry_time'] = round(err.retry_time, 3)
    elif isinstance(err, GrantInputError):
        result = dict(msg=redact(str(err)))  # the user's input cannot be right: the message says why
    else:
        result = dict(
            msg=redact('Unexpected error in msgraph.grants: %s: %s. This is probably a bug; re-run with -vvv for the '
                       'traceback and report it at %s' % (type(err).__name__, err, ISSUES_URL)),
            exception=redact(''.join(traceback.format_exception(type(err), err, err.__traceback__))),
        )
    applied = getattr(err, 'applied_changes', None)
    if applied:
        # Writes that landed before the failure: the task failed, but it did change the directory.
        result['msg'] += ' Applied before the failure: %s.' % '; '.join(applied)
        result.update(changed=True, changes=list(applied))
    result.update(extra)
    try:
        module.fail_json(**result)
    except Exception as exc:  # only when fail_json is made to raise (unit tests): mark it as reported
        try:
            exc._msgraph_reported = True
        except Exception:  # pragma: no cover - exceptions without __dict__
            pass
        raise


class GraphModule(object):
    """Builds settings, token provider and GraphClient from an AnsibleModule's parameters.

    Construction fails the module (``fail_json``) on bad connection options or a missing library, so a module's
    ``main()`` needs no error handling for it. Then::

        with graph.failing_cleanly():
            service = GrantService(graph.client(), api_version=graph.api_version)

    Attributes: ``module``, ``settings`` (ConnectionSettings), ``token_provider``, ``session`` (the one
    requests.Session shared by Graph calls and MSAL); ``client()`` returns the GraphClient.
    """

    def __init__(self, module, client_factory=None, sleep=None):
        self.module = module
        self._client = None
        for option in ('client_secret', 'client_certificate_password', 'access_token'):
            register_secret(module.params.get(option))
        try:
            self.settings = resolve_connection(module.params)
        except GraphError as err:
            fail_from_error(module, err)
            return
        missing = missing_libraries(self.settings)
        if missing:
            name, error = missing[0]
            module.fail_json(msg=missing_required_lib(name), exception=error)
            return
        if self.settings.verify is False:
            module.warn('validate_certs is false: TLS certificate verification is off, so any server can pose as '
                        'Microsoft Graph and receive the access token. Trust a private CA with ca_path '
                        '(MSGRAPH_CA_PATH) instead.')
        self._report_retries()
        with self.failing_cleanly():
            self.session = requests.Session()
            self.token_provider = make_token_provider(self.settings, session=self.session, warn=module.warn)
            factory = client_factory or GraphClient
            self._client = factory(self.settings.graph_root, self.settings.api_version, self.token_provider,
                                   verify=self.settings.verify, timeout=self.settings.timeout,
                                   retry_budget=self.settings.retry_budget, session=self.session, sleep=sleep,
                                   log=self._log)

    @property
    def api_version(self):
        return self.settings.api_version

    def client(self):
        """The GraphClient (one per module run)."""
        return self._client

    @contextlib.contextmanager
    def failing_cleanly(self, **extra):
        """Every exception raised inside becomes ``fail_json`` through ``fail_from_error`` (never a traceback)."""
        try:
            yield self
        except Exception as err:  # pylint: disable=broad-except
            if getattr(err, '_msgraph_reported', False):
                raise  # raised by fail_json itself (unit tests make it raise): do not report it twice
            fail_from_error(self.module, err, **extra)

    def _report_retries(self):
        """Every result of this module (success or failure) says what the run retried: ``retries`` (what, why,
        seconds waited) and a warning, because a run that spent its time waiting must not look merely slow. The
        module's own ``exit_json``/``fail_json`` are wrapped, so no module has to remember it."""
        module = self.module

        def with_retries(finish):
            def finish_with_retries(**result):
                log = getattr(self._client, 'retry_log', None)
                if log is not None and log.entries and 'retries' not in result:
                    client = self._client
                    result['retries'] = list(log.entries)
                    module.warn(log.summary(client.retry_spent))
                return finish(**result)
            return finish_with_retries

        for name in ('exit_json', 'fail_json'):
            if hasattr(module, name):
                setattr(module, name, with_retries(getattr(module, name)))

    def _log(self, text):
        # module.debug only reaches the log with ANSIBLE_DEBUG; users see retries in ``retries`` and the warning.
        try:
            self.module.debug(text)
        except Exception:  # pragma: no cover
            pass
