# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The connection argument_spec (a public contract: the options documented in plugins/doc_fragments/graph.py), its doc fragment, env fallback order,
GraphModule construction and the single error path (fail_from_error / failing_cleanly)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest
import yaml
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.msgraph.grants.plugins.doc_fragments.graph import ModuleDocFragment
from ansible_collections.msgraph.grants.plugins.module_utils import _graph_module as gm
from ansible_collections.msgraph.grants.plugins.module_utils import _token_provider
from ansible_collections.msgraph.grants.plugins.module_utils._auth_methods import resolve_connection
from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import GraphClient
from ansible_collections.msgraph.grants.plugins.module_utils._graph_module import (
    GraphModule,
    fail_from_error,
    graph_argument_spec,
)
from ansible_collections.msgraph.grants.plugins.module_utils._grants import GrantInputError

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # pragma: no cover - ansible-core < 2.19
    patch_module_args = None

CONTRACT_ENV = {
    'tenant_id': ['AZURE_TENANT_ID', 'AZURE_TENANT'],
    'client_id': ['AZURE_CLIENT_ID'],
    'client_secret': ['AZURE_CLIENT_SECRET', 'AZURE_SECRET'],
    'client_certificate_path': ['AZURE_CLIENT_CERTIFICATE_PATH'],
    'client_certificate_password': ['AZURE_CLIENT_CERTIFICATE_PASSWORD'],
    'federated_token_file': ['AZURE_FEDERATED_TOKEN_FILE'],
    'access_token': ['MSGRAPH_ACCESS_TOKEN'],
    'auth_method': ['MSGRAPH_AUTH_METHOD'],
    # The contract names MSGRAPH_CLOUD; AAP's Azure RM credential's AZURE_CLOUD_ENVIRONMENT is our extension.
    'cloud': ['MSGRAPH_CLOUD', 'AZURE_CLOUD_ENVIRONMENT'],
    'graph_url': ['MSGRAPH_GRAPH_URL'],
    'authority_url': ['AZURE_AUTHORITY_HOST'],
    'api_version': ['MSGRAPH_API_VERSION'],
    'validate_certs': ['MSGRAPH_VALIDATE_CERTS'],
    'ca_path': ['MSGRAPH_CA_PATH'],
    'timeout': [],
}
CONTRACT_TYPES = {
    'tenant_id': 'str', 'client_id': 'str', 'client_secret': 'str', 'client_certificate_path': 'path',
    'client_certificate_password': 'str', 'federated_token_file': 'path', 'access_token': 'str', 'auth_method': 'str',
    'cloud': 'str', 'graph_url': 'str', 'authority_url': 'str', 'api_version': 'str', 'validate_certs': 'bool',
    'ca_path': 'path', 'timeout': 'int',
}
ALL_ENV = sorted(set(sum(CONTRACT_ENV.values(), [])) | {'MSGRAPH_TOKEN_CACHE', 'MSGRAPH_RETRY_BUDGET'})
SECRET = 'module-level-Secret-987654321'


@pytest.fixture
def clean_env(monkeypatch):
    for name in ALL_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def validate(parameters):
    result = ArgumentSpecValidator(graph_argument_spec()).validate(parameters)
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


# ------------------------------------------------------------------------------------------------- the contract

def test_argument_spec_matches_the_contract():
    spec = graph_argument_spec()
    assert set(CONTRACT_TYPES) <= set(spec)
    assert set(spec) - set(CONTRACT_TYPES) == {'token_cache', 'retry_budget'}
    for name, kind in CONTRACT_TYPES.items():
        assert spec[name]['type'] == kind, name
        fallback = spec[name].get('fallback')
        assert (list(fallback[1]) if fallback else []) == CONTRACT_ENV[name], name
    assert spec['token_cache']['fallback'][1] == ['MSGRAPH_TOKEN_CACHE']
    secret_options = {'client_secret', 'client_certificate_password', 'access_token'}
    assert {k for k, v in spec.items() if v.get('no_log')} == secret_options
    for name in ('client_certificate_path', 'federated_token_file', 'token_cache'):
        assert spec[name]['no_log'] is False  # explicit, so validate-modules' no-log-needed stays quiet
    assert spec['auth_method']['choices'] == ['auto', 'client_secret', 'certificate', 'federated', 'managed_identity',
                                              'access_token']
    assert sorted(spec['cloud']['choices']) == ['china', 'global', 'usgov', 'usgov_dod']
    assert spec['api_version']['choices'] == ['v1.0', 'beta']
    defaults = dict((k, v.get('default')) for k, v in spec.items())
    assert defaults['auth_method'] == 'auto' and defaults['cloud'] == 'global' and defaults['api_version'] == 'v1.0'
    assert defaults['validate_certs'] is True and defaults['timeout'] == 30 and defaults['retry_budget'] == 120
    assert graph_argument_spec({'client': dict(type='str')})['client'] == dict(type='str')


def test_doc_fragment_documents_every_option_like_the_spec():
    doc = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)
    spec = graph_argument_spec()
    assert set(doc['options']) == set(spec)
    for name, option in doc['options'].items():
        assert option['type'] == spec[name]['type'], name
        assert option.get('default') == spec[name].get('default'), name
        assert option.get('choices') == spec[name].get('choices', None) or \
            sorted(option.get('choices')) == sorted(spec[name]['choices']), name
        text = ' '.join(option['description'])
        envs = list((spec[name].get('fallback') or (None, []))[1])
        positions = [text.find('E(%s)' % env) for env in envs]
        assert all(p >= 0 for p in positions), (name, envs)
        assert positions == sorted(positions), name  # named in the order they are tried
    assert any('ca_path' in note or 'REQUESTS_CA_BUNDLE' in note for note in doc['notes'])
    assert any(req.startswith('msal') for req in doc['requirements'])


@pytest.mark.parametrize('option, envs', [(k, v) for k, v in CONTRACT_ENV.items() if len(v) == 2 and k != 'cloud'])
def test_env_fallback_order(clean_env, option, envs):
    first, second = envs
    clean_env.setenv(second, 'from-second')
    assert validate({})[option] == 'from-second'
    clean_env.setenv(first, 'from-first')
    assert validate({})[option] == 'from-first'
    assert validate({option: 'explicit'})[option] == 'explicit'


def test_empty_env_values_do_not_hide_the_next_name(clean_env):
    # AWX custom credential types inject '' for inputs left empty.
    clean_env.setenv('AZURE_TENANT_ID', '')
    clean_env.setenv('AZURE_TENANT', 'from-aap')
    clean_env.setenv('MSGRAPH_CLOUD', '')
    params = validate({})
    assert params['tenant_id'] == 'from-aap'
    assert params['cloud'] == 'global'  # the default, not '' (which would fail the choices check)


@pytest.mark.parametrize('value, cloud', [('AzureCloud', 'global'), ('AzureUSGovernment', 'usgov'),
                                          ('AzureChinaCloud', 'china')])
def test_aap_cloud_environment_maps_to_cloud(clean_env, value, cloud):
    clean_env.setenv('AZURE_CLOUD_ENVIRONMENT', value)
    assert validate({})['cloud'] == cloud
    clean_env.setenv('MSGRAPH_CLOUD', 'usgov_dod')
    assert validate({})['cloud'] == 'usgov_dod'


def test_env_fallbacks_feed_every_option(clean_env, tmp_path):
    ca = tmp_path / 'ca.pem'
    ca.write_text(u'x')
    clean_env.setenv('MSGRAPH_GRAPH_URL', 'https://127.0.0.1:8443')
    clean_env.setenv('AZURE_AUTHORITY_HOST', '127.0.0.1:8443')
    clean_env.setenv('MSGRAPH_CA_PATH', str(ca))
    clean_env.setenv('MSGRAPH_VALIDATE_CERTS', 'false')
    clean_env.setenv('MSGRAPH_API_VERSION', 'beta')
    clean_env.setenv('MSGRAPH_CLOUD', 'usgov')
    clean_env.setenv('MSGRAPH_AUTH_METHOD', 'access_token')
    clean_env.setenv('MSGRAPH_ACCESS_TOKEN', 'eyJhbGciOiJub25lIn0.ZnJvbS1lbnY.123456')
    clean_env.setenv('MSGRAPH_TOKEN_CACHE', 'off')
    clean_env.setenv('MSGRAPH_RETRY_BUDGET', '7')
    values = validate({})
    assert values['validate_certs'] is False and values['retry_budget'] == 7 and values['api_version'] == 'beta'
    s = resolve_connection(values)
    assert (s.graph_root, s.authority_host, s.verify, s.api_version, s.cloud, s.auth_method) == (
        'https://127.0.0.1:8443', 'https://127.0.0.1:8443', False, 'beta', 'usgov', 'access_token')
    assert s.token_cache_dir is None and s.retry_budget == 7


def test_aap_azure_credential_env_works(clean_env):
    # AWX/AAP "Microsoft Azure Resource Manager" credential: AZURE_CLIENT_ID + AZURE_TENANT + AZURE_SECRET.
    clean_env.setenv('AZURE_CLIENT_ID', 'cid')
    clean_env.setenv('AZURE_TENANT', 'contoso.onmicrosoft.com')
    clean_env.setenv('AZURE_SECRET', SECRET)
    values = validate({'token_cache': 'off'})
    s = resolve_connection(values)
    assert (s.auth_method, s.tenant_id, s.client_id, s.client_secret) == ('client_secret', 'contoso.onmicrosoft.com',
                                                                          'cid', SECRET)


# ------------------------------------------------------------------------------------------------ GraphModule

class Failed(Exception):
    def __init__(self, kwargs):
        super(Failed, self).__init__(kwargs.get('msg'))
        self.kwargs = kwargs


class FakeModule(object):
    def __init__(self, **params):
        base = dict((name, None) for name in graph_argument_spec())
        base.update(auth_method='auto', cloud='global', api_version='v1.0', validate_certs=True, timeout=30,
                    retry_budget=120, token_cache='off')
        base.update(params)
        self.params = base
        self.warnings = []
        self.debugs = []

    def fail_json(self, **kwargs):
        raise Failed(kwargs)

    def warn(self, text):
        self.warnings.append(text)

    def debug(self, text):
        self.debugs.append(text)


def test_graph_module_builds_the_client(http_server):
    http_server.add(200, {'value': [{'id': 'g'}]})
    module = FakeModule(access_token='eyJhbGciOiJub25lIn0.cHJlLWFjcXVpcmVk.abcdef', graph_url=http_server.url, api_version='beta')
    graph = GraphModule(module)
    client = graph.client()
    assert isinstance(client, GraphClient) and graph.api_version == 'beta'
    assert client.base_url == http_server.url + '/beta' and client.retry_budget == 120
    assert client.session is graph.session and graph.settings.auth_method == 'access_token'
    assert client.get_all('/oauth2PermissionGrants') == [{'id': 'g'}]
    assert http_server.requests[0].headers['Authorization'] == 'Bearer eyJhbGciOiJub25lIn0.cHJlLWFjcXVpcmVk.abcdef'
    assert (graph.settings.graph_root, graph.settings.cloud) == (http_server.url, 'global')


def test_graph_module_fails_cleanly_on_incomplete_options():
    module = FakeModule(client_secret=SECRET, client_id='cid')
    with pytest.raises(Failed) as info:
        GraphModule(module)
    msg = info.value.kwargs['msg']
    assert 'tenant_id' in msg and 'AZURE_TENANT_ID' in msg and 'AZURE_TENANT' in msg and SECRET not in msg


def test_graph_module_reports_a_missing_library(monkeypatch):
    monkeypatch.setattr(_token_provider, 'HAS_MSAL', False)
    monkeypatch.setattr(_token_provider, 'MSAL_IMPORT_ERROR', 'Traceback: No module named msal')
    module = FakeModule(client_secret=SECRET, client_id='cid', tenant_id='tid')
    with pytest.raises(Failed) as info:
        GraphModule(module)
    assert 'msal' in info.value.kwargs['msg'] and 'Failed to import the required Python library' in info.value.kwargs['msg']
    assert info.value.kwargs['exception'] == 'Traceback: No module named msal'


def test_fail_from_error_graph_error():
    module = FakeModule()
    err = GraphError('Permission entry already exists.', status=409, code='Request_MultipleObjectsWithSameKeyValue',
                     request_id='rid', method='POST', url='https://h/v1.0/oauth2PermissionGrants', retry_time=2.5)
    with pytest.raises(Failed) as info:
        fail_from_error(module, err, changed=False)
    kwargs = info.value.kwargs
    assert kwargs == dict(msg=str(err), status=409, error_code='Request_MultipleObjectsWithSameKeyValue',
                          request_id='rid', retry_time=2.5, changed=False)
    assert kwargs['msg'].startswith('POST /v1.0/oauth2PermissionGrants failed: HTTP 409')


def test_fail_from_error_reports_the_writes_that_landed_before_the_failure():
    err = GraphError('Too many requests', status=429, method='PATCH', url='/v1.0/oauth2PermissionGrants/g')
    err.applied_changes = ['created: A -> Microsoft Graph', 'updated: B -> Microsoft Graph']
    with pytest.raises(Failed) as info:
        fail_from_error(FakeModule(), err)
    kwargs = info.value.kwargs
    assert kwargs['changed'] is True and kwargs['changes'] == err.applied_changes
    assert kwargs['msg'].endswith(' Applied before the failure: created: A -> Microsoft Graph; updated: B -> Microsoft Graph.')


def test_fail_from_error_ambiguous_flag():
    with pytest.raises(Failed) as info:
        fail_from_error(FakeModule(), GraphError('x', status=504, method='POST', url='/a', ambiguous=True))
    assert info.value.kwargs['ambiguous'] is True


def test_unexpected_exceptions_become_a_message_not_a_traceback():
    module = FakeModule(access_token='eyJhbGciOiJub25lIn0.cHJlLWFjcXVpcmVk.abcdef')
    graph = GraphModule(module)
    with pytest.raises(Failed) as info:
        with graph.failing_cleanly():
            raise KeyError('oops ' + SECRET)
    kwargs = info.value.kwargs
    assert kwargs['msg'].startswith("Unexpected error in msgraph.grants: KeyError: 'oops ")
    assert 'report it at' in kwargs['msg'] and 'Traceback' not in kwargs['msg']
    assert 'Traceback' in kwargs['exception'] and 'KeyError' in kwargs['exception']


def test_secrets_are_scrubbed_from_failures():
    module = FakeModule(client_secret=SECRET, tenant_id='t', client_id='c')
    GraphModule(module)  # registers the secret
    with pytest.raises(Failed) as info:
        fail_from_error(module, RuntimeError('leaked %s here' % SECRET))
    assert SECRET not in json.dumps(info.value.kwargs)


def test_failing_cleanly_input_errors_and_nesting():
    module = FakeModule(access_token='eyJhbGciOiJub25lIn0.cHJlLWFjcXVpcmVk.abcdef')
    graph = GraphModule(module)
    with pytest.raises(Failed) as info:
        with graph.failing_cleanly():
            raise GrantInputError("consent_type AllPrincipals cannot be combined with principal")
    assert info.value.kwargs == {'msg': 'consent_type AllPrincipals cannot be combined with principal'}
    with pytest.raises(Failed) as info:
        with graph.failing_cleanly():
            with graph.failing_cleanly():
                raise GraphError('inner', status=400, code='BadRequest', method='GET', url='/x')
    assert info.value.kwargs['msg'] == 'GET /x failed: HTTP 400 BadRequest: inner'


@pytest.mark.skipif(patch_module_args is None, reason='needs ansible-core >= 2.19')
def test_with_a_real_ansible_module(http_server, clean_env, monkeypatch):
    http_server.add(200, {'id': 'x'})
    clean_env.setenv('MSGRAPH_ACCESS_TOKEN', 'eyJhbGciOiJub25lIn0.ZW52LXRva2Vu.123456')
    clean_env.setenv('MSGRAPH_GRAPH_URL', http_server.url)
    with patch_module_args({'token_cache': 'off'}):
        module = AnsibleModule(argument_spec=graph_argument_spec(), supports_check_mode=True)
    graph = GraphModule(module)
    assert graph.client().get('/me') == {'id': 'x'}
    assert http_server.requests[0].headers['Authorization'] == 'Bearer eyJhbGciOiJub25lIn0.ZW52LXRva2Vu.123456'
    assert 'eyJhbGciOiJub25lIn0.ZW52LXRva2Vu.123456' in module.no_log_values


def test_retry_notes_go_to_module_debug(http_server):
    http_server.add(429, {'error': {'code': 'TooManyRequests', 'message': 'slow down'}}, {'Retry-After': '0.01'})
    http_server.add(200, {'ok': 1})
    module = FakeModule(access_token='eyJhbGciOiJub25lIn0.cHJlLWFjcXVpcmVk.abcdef', graph_url=http_server.url)
    graph = GraphModule(module, sleep=lambda s: None)
    assert graph.client().get('/x') == {'ok': 1}
    assert any('HTTP 429 with Retry-After; retrying in' in line for line in module.debugs)
    assert not any('eyJhbGciOiJub25lIn0.cHJlLWFjcXVpcmVk.abcdef' in line for line in module.debugs)


def test_module_params_for_gm_exports():
    # the names the modules import from _graph_module exist
    for name in ('GraphModule', 'graph_argument_spec', 'fail_from_error'):
        assert hasattr(gm, name)


# ------------------------------------------------------------------ what a user sees: retries, TLS, token shape

JWT = 'eyJhbGciOiJub25lIn0.cHJlLWFjcXVpcmVk.abcdef'


class Exited(Exception):
    def __init__(self, kwargs):
        super(Exited, self).__init__('exit')
        self.kwargs = kwargs


class ExitingModule(FakeModule):
    def exit_json(self, **kwargs):
        raise Exited(kwargs)


def test_a_run_that_retried_returns_retries_and_warns(http_server):
    http_server.add(429, {'error': {'code': 'TooManyRequests', 'message': 'slow down'}}, {'Retry-After': '0.01'})
    http_server.add(200, {'ok': 1})
    module = ExitingModule(access_token=JWT, graph_url=http_server.url)
    graph = GraphModule(module)  # a real sleep of 0.01 s: the client's hold after a 429 must see the time pass
    graph.client().get('/servicePrincipals', params={'$filter': "displayName eq 'Secret Project'"})
    with pytest.raises(Exited) as info:
        module.exit_json(changed=False)
    assert info.value.kwargs['retries'] == [
        dict(what='GET /v1.0/servicePrincipals', why='HTTP 429 with Retry-After', waited=0.01)]
    assert len(module.warnings) == 1 and 'retried 1 time' in module.warnings[0] and '"retries"' in module.warnings[0]
    assert JWT not in json.dumps(info.value.kwargs) and 'Secret Project' not in json.dumps(info.value.kwargs)


def test_a_failed_run_returns_its_retries_too(http_server):
    for dummy in range(5):
        http_server.add(503, {'error': {'code': 'ServiceUnavailable', 'message': 'busy'}}, {'Retry-After': '1'})
    module = FakeModule(access_token=JWT, graph_url=http_server.url, retry_budget=2)
    graph = GraphModule(module, sleep=lambda s: None)
    with pytest.raises(Failed) as info:
        with graph.failing_cleanly():
            graph.client().get('/users')
    assert [r['why'] for r in info.value.kwargs['retries']] == ['HTTP 503 with Retry-After']
    assert 'Gave up after 2 attempts' in info.value.kwargs['msg']
    assert module.warnings and 'retry_budget' in module.warnings[0]


def test_a_run_without_retries_adds_nothing(http_server):
    http_server.add(200, {'ok': 1})
    module = ExitingModule(access_token=JWT, graph_url=http_server.url)
    graph = GraphModule(module)
    graph.client().get('/users')
    with pytest.raises(Exited) as info:
        module.exit_json(changed=False)
    assert 'retries' not in info.value.kwargs and module.warnings == []


def test_validate_certs_false_warns(http_server):
    module = FakeModule(access_token=JWT, graph_url=http_server.url, validate_certs=False)
    GraphModule(module)
    assert len(module.warnings) == 1 and 'TLS certificate verification is off' in module.warnings[0]
    assert 'ca_path' in module.warnings[0]
    quiet = FakeModule(access_token=JWT, graph_url=http_server.url)
    GraphModule(quiet)
    assert quiet.warnings == []


@pytest.mark.parametrize('token, why', [
    ('pre-acquired-token-abcdef', '1 dot-separated part'),
    ('Bearer ' + JWT, 'starts with "Bearer "'),
    ('"%s"' % JWT, 'not base64url'),
    ('bm90LWpzb24.eyJ4IjoxfQ.sig', 'first part is not a JWT header'),
])
def test_an_access_token_that_is_not_a_jwt_is_refused_before_any_request(http_server, token, why):
    module = FakeModule(access_token=token, graph_url=http_server.url)
    with pytest.raises(Failed) as info:
        GraphModule(module)
    msg = info.value.kwargs['msg']
    assert 'access_token' in msg and 'is not a JWT' in msg and why in msg and 'MSGRAPH_ACCESS_TOKEN' in msg
    assert token not in msg and JWT not in msg and http_server.requests == []
