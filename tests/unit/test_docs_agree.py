# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One truth in the docs: the Graph permissions the automation identity needs are stated in docs/permissions.md and
in the 403 hint (what a user sees when one is missing), the two name the same permissions, and every other user
facing text links to docs/permissions.md instead of stating its own list."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib
import os
import re

import pytest
import yaml

from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import _error_from_parts
from ansible_collections.msgraph.grants.plugins.module_utils._grant_errors import with_permissions_hint

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
# The Graph application permissions this collection's identity may need (not the delegated scopes it grants).
PERMISSION = re.compile(r'\b(?:DelegatedPermissionGrant|Application|Directory|User)\.(?:Read|ReadWrite|ReadBasic)\.All\b')

# The permissions of the drive modules (files and sites), named in the same column.
DRIVE_PERMISSION = re.compile(r'\b(?:Files|Sites)\.(?:Read|ReadWrite|Selected|FullControl)(?:\.All)?\b')


def _read(*parts):
    with open(os.path.join(ROOT, *parts), encoding='utf-8') as handle:
        return handle.read()


def _least_privilege_table(pattern=PERMISSION):
    """The permissions named in docs/permissions.md's "Least privilege" column."""
    names = set()
    for line in _read('docs', 'permissions.md').splitlines():
        cells = line.split('|')
        if len(cells) > 3 and not set(cells[2].strip()) <= set('-'):
            names.update(pattern.findall(cells[2]))
    return names


def test_the_403_hint_names_the_permissions_of_docs_permissions_md():
    # The grant services add the hint to every 403 that reaches the user (_grant_errors.permission_hints).
    hint = str(with_permissions_hint(_error_from_parts(
        'GET', '/v1.0/oauth2PermissionGrants', 403, {},
        {'error': {'code': 'Authorization_RequestDenied', 'message': 'Insufficient privileges'}}, None)))
    documented = _least_privilege_table()
    assert documented >= {'DelegatedPermissionGrant.ReadWrite.All', 'Application.Read.All', 'User.ReadBasic.All'}
    assert set(PERMISSION.findall(hint)) == documented
    assert 'docs/permissions.md' in hint


def test_the_drive_403_hint_names_the_drive_permissions_of_docs_permissions_md():
    # DriveItemService adds its own hint to every 403 (_drive_item_service.drive_permission_hints).
    from ansible_collections.msgraph.grants.plugins.module_utils._drive_item_service import PERMISSIONS_HINT
    documented = _least_privilege_table(DRIVE_PERMISSION)
    assert documented >= {'Files.ReadWrite.All', 'Sites.ReadWrite.All', 'Sites.Selected', 'Files.Read.All'}
    assert set(DRIVE_PERMISSION.findall(PERMISSIONS_HINT)) == documented
    assert set(PERMISSION.findall(PERMISSIONS_HINT)) == {'User.ReadBasic.All'} <= _least_privilege_table()
    assert 'docs/permissions.md' in PERMISSIONS_HINT


def _user_facing_texts():
    texts = ['README.md', os.path.join('roles', 'delegated_permissions', 'README.md'),
             os.path.join('docs', 'awx', 'credential_type.yml'), os.path.join('docs', 'awx', 'credential_type.json'),
             os.path.join('meta', 'execution-environment.yml')]
    texts += [os.path.join('docs', name) for name in sorted(os.listdir(os.path.join(ROOT, 'docs')))
              if name.endswith('.md') and name != 'permissions.md']
    for folder in (os.path.join('plugins', 'modules'), os.path.join('plugins', 'doc_fragments')):
        texts += [os.path.join(folder, name) for name in sorted(os.listdir(os.path.join(ROOT, folder)))
                  if name.endswith('.py')]
    return texts


@pytest.mark.parametrize('path', _user_facing_texts())
def test_other_texts_link_to_docs_permissions_md_instead_of_listing_permissions(path):
    # An emulator seed's `permissions:` line is test data (what the emulator's app holds), not advice to users.
    text = '\n'.join(line for line in _read(path).splitlines() if not line.lstrip().startswith('permissions:'))
    assert PERMISSION.findall(text) == [], (
        '%s states Graph permissions itself: link to docs/permissions.md (the one place that lists them)' % path)


def test_docs_quickstart_lists_the_grants_of_the_default_seed():
    """docs/quickstart.md tells users which grants the emulator already holds (a task declaring one is 'ok')."""
    import json
    seed = json.loads(_read('emulator', 'graph_emulator', 'seed_default.json'))
    names = dict((sp['id'], sp['displayName']) for sp in seed['servicePrincipals'])
    upns = dict((user['id'], user['userPrincipalName']) for user in seed['users'])
    expected = sorted((names[g['clientId']], names[g['resourceId']],
                       'every user (`AllPrincipals`)' if g['consentType'] == 'AllPrincipals'
                       else '`%s`' % upns[g['principalId']],
                       ', '.join('`%s`' % s for s in g['scope'].split())) for g in seed['grants'])
    text = _read('docs', 'quickstart.md')
    table = text[text.index('<!-- seed-grants'):].split('\n\n')[0].splitlines()[3:]
    assert sorted(tuple(cell.strip() for cell in row.strip('|').split('|')) for row in table) == expected


def test_sample_execution_environment_has_a_python_the_tested_ansible_core_supports():
    """ansible-core 2.20+ needs Python 3.12 on the controller; the sample EE and its copy in docs/awx.md agree."""
    import yaml
    sample = yaml.safe_load(_read('docs', 'awx', 'execution-environment.yml'))
    interpreter = sample['dependencies']['python_interpreter']
    version = tuple(int(x) for x in re.search(r'python(\d+)\.(\d+)$', interpreter['python_path']).groups())
    assert version >= (3, 12) and interpreter['package_system'] == 'python%d.%d' % version
    assert re.search(r'^ansible-core>=2\.16,<2\.(\d+)$', sample['dependencies']['ansible_core']['package_pip'])
    awx = _read('docs', 'awx.md')
    assert 'python_path: %s' % interpreter['python_path'] in awx
    assert 'package_pip: %s' % sample['dependencies']['ansible_core']['package_pip'] in awx


@pytest.mark.parametrize('module', ['drive_item_permission', 'drive_item_permission_info'])
def test_drive_example_paths_survive_yaml(module):
    """A path with ' #' must be quoted in EXAMPLES: unquoted, YAML reads the rest of the line as a comment."""
    examples = importlib.import_module('ansible_collections.msgraph.grants.plugins.modules.' + module).EXAMPLES
    loaded = set(task[name].get('path') for task in yaml.safe_load(examples) for name in task
                 if name.startswith('msgraph.grants.'))
    written = [m.group(1).strip().strip('"\'') for m in re.finditer(r'^\s+path: (.+)$', examples, re.M)]
    assert written and [p for p in written if p not in loaded] == []
