# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""One argument spec per concept: the grant options are built once (``_grant_options``, choices from ``_grants``),
and every literal copy of them agrees with it: each module's DOCUMENTATION (ansible-doc needs literal YAML) and the
role's ``meta/argument_specs.yml`` (the role validates its variables with it before calling ``oauth2_grants``).
The connection options' doc fragment is held to ``graph_argument_spec`` in test_graph_module.py."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
import yaml

from ansible_collections.msgraph.grants.plugins.module_utils._graph_module import graph_argument_spec
from ansible_collections.msgraph.grants.plugins.module_utils._grant_options import grant_options
from ansible_collections.msgraph.grants.plugins.modules import (
    app_role_assignment, app_role_assignments, drive_item_permission, drive_item_permission_info, oauth2_grant,
    oauth2_grant_info, oauth2_grants, permission_export)
from ansible_collections.msgraph.grants.plugins.module_utils._drive_item_options import drive_item_options
from ansible_collections.msgraph.grants.plugins.doc_fragments.drive_item import ModuleDocFragment as DriveItemDocFragment

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
ROLE = os.path.join(ROOT, 'roles', 'delegated_permissions')
ROLE_PREFIX = 'delegated_permissions_'


class _Built(Exception):
    def __init__(self, kwargs):
        super(_Built, self).__init__('argument spec captured')
        self.kwargs = kwargs


def module_spec(module, monkeypatch):
    """The argument_spec a module's ``main()`` hands to AnsibleModule, without the connection options."""
    def capture(**kwargs):
        raise _Built(kwargs)
    monkeypatch.setattr(module, 'AnsibleModule', capture)
    with pytest.raises(_Built) as info:
        module.main()
    spec = dict(info.value.kwargs['argument_spec'])
    for name in graph_argument_spec():
        spec.pop(name)
    return spec


def shape(options, doc=False):
    """What must agree between a spec and its documentation: type, required, default, choices, elements and the
    sub-options (``options`` in a spec, ``suboptions`` in module docs, ``options`` in a role's spec)."""
    result = {}
    for name, option in options.items():
        sub = option.get('suboptions' if doc else 'options') or option.get('options')
        result[name] = dict(type=option.get('type', 'str'), required=bool(option.get('required', False)),
                            default=option.get('default'), choices=option.get('choices'),
                            elements=option.get('elements'), options=shape(sub, doc) if sub else None)
    return result


def documented(module):
    """A module's documented options, with those of the collection's doc fragments it extends (not the connection
    fragment: test_graph_module.py holds that one to its spec)."""
    docs = yaml.safe_load(module.DOCUMENTATION)
    options = dict(docs['options'])
    if 'msgraph.grants.drive_item' in docs.get('extends_documentation_fragment', []):
        options.update(yaml.safe_load(DriveItemDocFragment.DOCUMENTATION)['options'])
    return options


def role_options(entry_point='main'):
    with open(os.path.join(ROLE, 'meta', 'argument_specs.yml'), encoding='utf-8') as handle:
        return yaml.safe_load(handle)['argument_specs'][entry_point]['options']


@pytest.mark.parametrize('module', [oauth2_grant, oauth2_grant_info, oauth2_grants, app_role_assignment,
                                    app_role_assignments, drive_item_permission, drive_item_permission_info,
                                    permission_export],
                         ids=lambda m: m.__name__.split('.')[-1])
def test_module_documentation_agrees_with_the_spec_it_builds(module, monkeypatch):
    assert shape(documented(module), doc=True) == shape(module_spec(module, monkeypatch))


def test_the_grant_options_are_the_same_for_one_grant_and_for_each_item_of_a_list(monkeypatch):
    single = module_spec(oauth2_grant, monkeypatch)
    items = module_spec(oauth2_grants, monkeypatch)['grants']['options']
    assert shape(items) == shape(grant_options(required=True))
    assert dict((name, shape(single)[name]) for name in items) == shape(grant_options())


def test_the_role_declares_the_grant_options_of_oauth2_grants(monkeypatch):
    spec = module_spec(oauth2_grants, monkeypatch)
    role = role_options()
    assert shape(role)[ROLE_PREFIX + 'grants'] == shape(spec)['grants']
    for name in ('exclusive', 'exclusive_include_user_consents'):
        assert shape(role)[ROLE_PREFIX + name] == shape(spec)[name], name


def test_the_app_role_options_are_the_same_for_one_pair_each_item_of_a_list_and_the_role(monkeypatch):
    single = shape(module_spec(app_role_assignment, monkeypatch))
    items = shape(module_spec(app_role_assignments, monkeypatch)['assignments']['options'])
    assert items == single
    role = shape(role_options())[ROLE_PREFIX + 'app_role_assignments']
    assert role['options'] == items and role['type'] == 'list' and role['elements'] == 'dict'


def test_both_drive_modules_name_the_item_with_the_same_options_and_one_doc_fragment(monkeypatch):
    item = shape(drive_item_options())
    assert shape(yaml.safe_load(DriveItemDocFragment.DOCUMENTATION)['options'], doc=True) == item
    for module in (drive_item_permission, drive_item_permission_info):
        spec = shape(module_spec(module, monkeypatch))
        assert dict((name, spec[name]) for name in item) == item
        assert not set(item) & set(yaml.safe_load(module.DOCUMENTATION)['options'])  # documented once, in the fragment


@pytest.mark.parametrize('entry_point', ['main', 'export'])
def test_the_role_passes_on_every_connection_option(entry_point):
    role = role_options(entry_point)
    with open(os.path.join(ROLE, 'vars', 'main.yml'), encoding='utf-8') as handle:
        passed = yaml.safe_load(handle)[ROLE_PREFIX + 'connection_names']
    spec = graph_argument_spec()
    assert sorted(passed) == sorted(spec)
    for name, option in spec.items():
        variable = role[ROLE_PREFIX + name]
        # Paths arrive as strings; an empty string or null means "not set" (the module's default or environment).
        assert variable['type'] == {'path': 'str'}.get(option['type'], option['type']), name
        assert variable.get('default') in ('', None), name
        assert not variable.get('required', False), name
        # A secret stays out of the role's argument validation output as it does out of the modules'.
        assert bool(variable.get('no_log')) == bool(option.get('no_log')), name


def test_the_export_entry_point_declares_the_options_of_permission_export(monkeypatch):
    spec = shape(module_spec(permission_export, monkeypatch))
    role = shape(role_options('export'))
    for name in ('clients', 'resources', 'include_user_consents', 'key'):
        assert role[ROLE_PREFIX + 'export_' + name] == spec[name], name
    assert role[ROLE_PREFIX + 'export_path']['required'] is True


def test_a_disagreement_is_seen():
    """The comparison above can fail: a choice dropped from a copy is a difference."""
    changed = grant_options(required=True)
    changed['scope_mode']['choices'] = ['exact', 'append']
    assert shape(changed) != shape(grant_options(required=True))
