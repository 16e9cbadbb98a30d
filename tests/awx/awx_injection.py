# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What AWX / AAP does with a credential before it starts ansible-playbook, re-implemented for the tests.

Written after ansible/awx (``awx/main/models/credential/__init__.py``: ``CredentialType.inject_credential`` and
``build_safe_env``; ``awx/main/models/credential/injectors.py``: ``azure_rm``, unchanged in ansible/awx-plugins
``src/awx_plugins/credentials/injectors.py``; ``awx/main/fields.py``: ``CredentialTypeInputField``,
``CredentialTypeInjectorField``; ``awx/main/constants.py``: ``ENV_BLOCKLIST``). The behaviour that matters here:

* the built-in "Microsoft Azure Resource Manager" credential sets ``AZURE_SUBSCRIPTION_ID`` and, when client and
  tenant are given, ``AZURE_CLIENT_ID``, ``AZURE_TENANT`` and ``AZURE_SECRET`` (else ``AZURE_AD_USER`` and
  ``AZURE_PASSWORD``), plus ``AZURE_CLOUD_ENVIRONMENT`` when set;
* a custom credential type renders its ``file`` templates into private files under ``<private_data_dir>/env``
  (``tower.filename`` for a single ``template``, ``tower.filename.<name>`` for ``template.<name>``), then every
  ``env`` template, with jinja2's *sandboxed* environment and the default (lenient) ``Undefined``: an input left
  empty is absent from the namespace and renders as an empty string, the variable is still set;
* AWX stores a "safe" copy of the environment (the job's ``job_env``) where secret inputs read ``**********``.

Inside an execution environment AWX rewrites file paths to ``/runner/...`` (``to_container_path``); these tests run
ansible-runner without a container, so the host path is the path.
"""

import os
import re
import stat
import tempfile

import jsonschema
from jinja2 import StrictUndefined
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

HIDDEN_PASSWORD = '**********'

ENV_BLOCKLIST = frozenset((
    'VIRTUAL_ENV', 'PATH', 'PYTHONPATH', 'PROOT_TMP_DIR', 'JOB_ID',
    'INVENTORY_ID', 'INVENTORY_SOURCE_ID', 'INVENTORY_UPDATE_ID',
    'AD_HOC_COMMAND_ID', 'REST_API_URL', 'REST_API_TOKEN', 'MAX_EVENT_RES',
    'CALLBACK_QUEUE', 'CALLBACK_CONNECTION', 'CACHE',
    'JOB_CALLBACK_DEBUG', 'INVENTORY_HOSTVARS',
    'AWX_HOST', 'PROJECT_REVISION', 'SUPERVISOR_WEB_CONFIG_PATH',
))

# awx/main/fields.py CredentialTypeInputField.schema
INPUTS_SCHEMA = {
    'type': 'object',
    'additionalProperties': False,
    'properties': {
        'required': {'type': 'array', 'items': {'type': 'string'}},
        'fields': {
            'type': 'array',
            'items': {
                'type': 'object',
                'properties': {
                    'type': {'enum': ['string', 'boolean']},
                    'format': {'enum': ['ssh_private_key', 'url']},
                    'choices': {'type': 'array', 'minItems': 1, 'items': {'type': 'string'}, 'uniqueItems': True},
                    'id': {'type': 'string', 'pattern': '^[a-zA-Z_]+[a-zA-Z0-9_]*$'},
                    'label': {'type': 'string'},
                    'help_text': {'type': 'string'},
                    'multiline': {'type': 'boolean'},
                    'secret': {'type': 'boolean'},
                    'ask_at_runtime': {'type': 'boolean'},
                    'default': {},
                },
                'additionalProperties': False,
                'required': ['id', 'label'],
            },
        },
    },
}

# awx/main/fields.py CredentialTypeInjectorField.schema
INJECTORS_SCHEMA = {
    'type': 'object',
    'additionalProperties': False,
    'properties': {
        'file': {
            'type': 'object',
            'patternProperties': {r'^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$': {'type': 'string'}},
            'additionalProperties': False,
        },
        'env': {
            'type': 'object',
            'patternProperties': {'^[a-zA-Z_]+[a-zA-Z0-9_]*$': {'type': 'string', 'pattern': '^[\x00-\x7F]*$'}},
            'additionalProperties': False,
        },
        'extra_vars': {
            'type': 'object',
            'patternProperties': {'^[a-zA-Z_]+[a-zA-Z0-9_]*$': {'type': 'string'}},
            'additionalProperties': False,
        },
    },
}


class CredentialTypeError(ValueError):
    """AWX would refuse to save this credential type (or credential)."""


def _secret_fields(credential_type):
    return [f['id'] for f in credential_type['inputs'].get('fields', []) if f.get('secret', False) is True]


def validate_credential_type(credential_type):
    """Raise CredentialTypeError for anything AWX's API rejects when the credential type is created."""
    unknown = set(credential_type) - {'name', 'description', 'kind', 'inputs', 'injectors'}
    if unknown:
        raise CredentialTypeError('unknown keys %s' % sorted(unknown))
    # CredentialTypeSerializer.validate: custom credential types must be of kind cloud or net.
    if credential_type.get('kind') not in ('cloud', 'net'):
        raise CredentialTypeError("kind must be 'cloud' or 'net', not %r" % credential_type.get('kind'))
    inputs = credential_type.get('inputs', {})
    injectors = credential_type.get('injectors', {})
    try:
        jsonschema.validate(inputs, INPUTS_SCHEMA)
        jsonschema.validate(injectors, INJECTORS_SCHEMA)
    except jsonschema.ValidationError as exc:
        raise CredentialTypeError(str(exc))
    if 'dependencies' in inputs:
        raise CredentialTypeError("'dependencies' is not supported for custom credentials.")

    ids = set()
    for field in inputs.get('fields', []):
        field_id = field['id']
        if field_id == 'tower':
            raise CredentialTypeError('"tower" is a reserved field name')
        if field_id in ids:
            raise CredentialTypeError('field IDs must be unique (%s)' % field_id)
        ids.add(field_id)
        field_type = field.get('type', 'string')
        if 'default' in field and not isinstance(field['default'], {'string': str, 'boolean': bool}[field_type]):
            raise CredentialTypeError('{0} is not a {1}'.format(field['default'], field_type))
        for key in ('choices', 'multiline', 'format', 'secret'):
            if key in field and field_type != 'string':
                raise CredentialTypeError('%s not allowed for %s type (%s)' % (key, field_type, field_id))
        if 'choices' in field and 'default' in field and field['default'] not in field['choices']:
            raise CredentialTypeError('default %r of %s is not one of its choices' % (field['default'], field_id))
    for required in inputs.get('required', []):
        if required not in ids:
            raise CredentialTypeError('required field %s is not defined' % required)

    # Every template must render against the defined fields (StrictUndefined), with the tower.filename namespace
    # matching the file injectors (single or multi-file syntax, not both).
    namespace = dict((field_id, 'EXAMPLE') for field_id in ids)

    class _Filename(object):
        def __str__(self):
            raise UndefinedError('Must define unnamed file injector in order to reference `tower.filename`.')

    class _Tower(object):
        def __init__(self):
            self.filename = _Filename()

        def __str__(self):
            raise UndefinedError('Cannot directly reference reserved `tower` namespace container.')

    namespace['tower'] = _Tower()
    template_names = [name for name in injectors.get('file', {}) if name.startswith('template')]
    if 'template' in template_names:
        namespace['tower'].filename = 'EXAMPLE_FILENAME'
        if len(template_names) > 1:
            raise CredentialTypeError('Must use multi-file syntax when injecting multiple files')
    else:
        for name in template_names:
            setattr(namespace['tower'].filename, name.split('.')[1], 'EXAMPLE_FILENAME')

    for kind, injector in injectors.items():
        if kind == 'env':
            for env_var in injector:
                if env_var.startswith('ANSIBLE_') or env_var in ENV_BLOCKLIST:
                    raise CredentialTypeError('Environment variable %s is not allowed to be used in credentials.'
                                              % env_var)
        for key, template in injector.items():
            try:
                ImmutableSandboxedEnvironment(undefined=StrictUndefined).from_string(template).render(namespace)
            except UndefinedError as exc:
                raise CredentialTypeError('%s uses an undefined field (%s)' % (key, exc))
            except SecurityError as exc:
                raise CredentialTypeError('Encountered unsafe code execution: %s' % exc)
            except TemplateSyntaxError as exc:
                raise CredentialTypeError('Syntax error rendering template for %s inside of %s (%s)' % (key, kind, exc))


def validate_credential_inputs(credential_type, inputs):
    """What AWX checks when a credential of this type is saved: known fields, required ones set, choices."""
    fields = dict((f['id'], f) for f in credential_type['inputs'].get('fields', []))
    unknown = set(inputs) - set(fields)
    if unknown:
        raise CredentialTypeError('unknown inputs %s' % sorted(unknown))
    for required in credential_type['inputs'].get('required', []):
        if inputs.get(required) in (None, ''):
            raise CredentialTypeError('required input %s is missing' % required)
    for field_id, value in inputs.items():
        choices = fields[field_id].get('choices')
        if choices and value not in choices:
            raise CredentialTypeError('%s: %r is not one of %s' % (field_id, value, choices))


def build_safe_env(env):
    """awx build_safe_env: what AWX stores for a built-in credential's environment."""
    hidden_re = re.compile(r'API|TOKEN|KEY|SECRET|PASS', re.I)
    urlpass_re = re.compile(r'^.*?://[^:]+:(.*?)@.*?$')
    safe_env = dict(env)
    for key, value in safe_env.items():
        if key == 'AWS_ACCESS_KEY_ID':
            continue
        if key.startswith('ANSIBLE_') and not key.startswith('ANSIBLE_NET') and not key.startswith('ANSIBLE_GALAXY_SERVER'):
            continue
        if hidden_re.search(key):
            safe_env[key] = HIDDEN_PASSWORD
        elif isinstance(value, str) and urlpass_re.match(value):
            safe_env[key] = urlpass_re.sub(HIDDEN_PASSWORD, value)
    return safe_env


def inject_azure_rm(inputs):
    """The built-in Microsoft Azure Resource Manager credential: (env, safe_env)."""
    def has_input(name):
        return inputs.get(name) not in ('', None)

    env = {}
    client = inputs.get('client', '')
    tenant = inputs.get('tenant', '')
    env['AZURE_SUBSCRIPTION_ID'] = inputs.get('subscription', '')
    if len(client) and len(tenant):
        env['AZURE_CLIENT_ID'] = client
        env['AZURE_TENANT'] = tenant
        env['AZURE_SECRET'] = inputs.get('secret', '')
    else:
        env['AZURE_AD_USER'] = inputs.get('username', '')
        env['AZURE_PASSWORD'] = inputs.get('password', '')
    if has_input('cloud_environment'):
        env['AZURE_CLOUD_ENVIRONMENT'] = inputs['cloud_environment']
    return env, build_safe_env(env)


def inject_custom(credential_type, inputs, private_data_dir):
    """A custom credential type's injectors: (env, safe_env, extra_vars); files go to <private_data_dir>/env."""
    injectors = credential_type.get('injectors') or {}
    secret_fields = _secret_fields(credential_type)

    class TowerNamespace(object):
        pass

    tower_namespace = TowerNamespace()
    namespace = {'tower': tower_namespace}
    safe_namespace = {'tower': tower_namespace}
    for field_name, value in inputs.items():
        if isinstance(value, bool):
            safe_namespace[field_name] = namespace[field_name] = value
            continue
        if field_name in secret_fields:
            safe_namespace[field_name] = HIDDEN_PASSWORD
        elif len(value):
            safe_namespace[field_name] = value
        if len(value):
            namespace[field_name] = value
    for field in credential_type['inputs'].get('fields', []):
        if field.get('type', 'string') == 'boolean' and field['id'] not in inputs:
            namespace[field['id']] = safe_namespace[field['id']] = False
        if field.get('format') == 'ssh_private_key':
            if field['id'] in namespace and not namespace[field['id']].endswith('\n'):
                namespace[field['id']] += '\n'

    sandbox_env = ImmutableSandboxedEnvironment()
    env_dir = os.path.join(private_data_dir, 'env')
    if not os.path.isdir(env_dir):
        os.makedirs(env_dir)
    for file_label, file_tmpl in injectors.get('file', {}).items():
        data = sandbox_env.from_string(file_tmpl).render(**namespace)
        handle, path = tempfile.mkstemp(dir=env_dir)
        with os.fdopen(handle, 'w') as f:
            f.write(data)
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        if file_label.find('.') == -1:
            tower_namespace.filename = path
        else:
            if not hasattr(tower_namespace, 'filename'):
                tower_namespace.filename = TowerNamespace()
            setattr(tower_namespace.filename, file_label.split('.')[1], path)

    env = {}
    safe_env = {}
    for env_var, tmpl in injectors.get('env', {}).items():
        if env_var.startswith('ANSIBLE_') or env_var in ENV_BLOCKLIST:
            continue  # AWX logs and ignores a prohibited variable
        env[env_var] = sandbox_env.from_string(tmpl).render(**namespace)
        safe_env[env_var] = sandbox_env.from_string(tmpl).render(**safe_namespace)

    extra_vars = {}
    for var_name, tmpl in injectors.get('extra_vars', {}).items():
        extra_vars[var_name] = sandbox_env.from_string(tmpl).render(**namespace)
    return env, safe_env, extra_vars
