# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""``msgraph.grants.permission_export`` end to end through AnsibleModule (patch_module_args) and the strict fake
Graph: filters, keys, per-user grants, app role assignments, the reads it makes, and clean refusals."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
import yaml

from ansible_collections.msgraph.grants.plugins.modules import permission_export
from ansible_collections.msgraph.grants.tests.unit.utils.module_harness import needs_patch_module_args
from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph import (
    ADELE_ID, ADELE_UPN, CLIENT2_APP, CLIENT2_ID, CLIENT_APP, CLIENT_ID, RESOURCE2_APP, RESOURCE2_ID, RESOURCE_APP,
    RESOURCE_ID, TWIN_A_ID, TWIN_B_ID)

pytestmark = needs_patch_module_args
main = permission_export.main


@pytest.fixture
def tenant(graph):
    graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read openid')
    graph.add_grant(CLIENT_ID, RESOURCE_ID, 'Mail.Read', principal_id=ADELE_ID)
    graph.add_grant(CLIENT2_ID, RESOURCE2_ID, 'Orders.Read')
    graph.add_grant(TWIN_A_ID, RESOURCE_ID, 'User.Read')
    graph.add_assignment(CLIENT2_ID, RESOURCE_ID, graph.role_id(RESOURCE_ID, 'User.Read.All'))
    graph.add_assignment(CLIENT2_ID, RESOURCE_ID, graph.role_id(RESOURCE_ID, 'Group.Read.All'))
    graph.calls[:] = []
    return graph


def test_the_whole_tenant_by_app_id_without_per_user_grants_and_nothing_written(run_module, tenant):
    run = run_module(main, {}, check=True)
    assert not run.failed, run.msg
    result = run.result
    assert result['changed'] is False and tenant.writes == []
    clients = [(g['client'], g['resource']) for g in result['delegated_permissions_grants']]
    assert clients == sorted(clients) and (CLIENT_APP, RESOURCE_APP) in clients and (CLIENT2_APP, RESOURCE2_APP) in clients
    assert all('principal' not in g for g in result['delegated_permissions_grants'])
    assert result['delegated_permissions_app_role_assignments'] == [
        {'client': CLIENT2_APP, 'resource': RESOURCE_APP, 'app_roles': ['Group.Read.All', 'User.Read.All']}]
    assert yaml.safe_load(result['content']) == dict(
        (k, result[k]) for k in ('delegated_permissions_grants', 'delegated_permissions_app_role_assignments'))
    # the filter on consent type went to Graph, and the same export twice is the same text
    assert any("consentType eq 'AllPrincipals'" in c.query.get('$filter', '') for c in tenant.calls_of('GET', '^/oauth2PermissionGrants'))
    assert run_module(main, {}).result['content'] == result['content']


def test_a_client_filter_with_per_user_grants_by_object_id(run_module, tenant):
    run = run_module(main, {'clients': ['Contoso HR Portal'], 'include_user_consents': True, 'key': 'object_id'})
    assert not run.failed, run.msg
    assert run.result['delegated_permissions_grants'] == [
        {'client': CLIENT_ID, 'resource': RESOURCE_ID, 'scopes': ['User.Read', 'openid']},
        {'client': CLIENT_ID, 'resource': RESOURCE_ID, 'principal': ADELE_UPN, 'scopes': ['Mail.Read']}]
    assert run.result['delegated_permissions_app_role_assignments'] == []
    # only that client's grants and assignments were read
    assert all(CLIENT2_ID not in c.path for c in tenant.calls)


def test_a_resource_filter(run_module, tenant):
    run = run_module(main, {'resources': [RESOURCE2_APP], 'key': 'display_name'})
    assert not run.failed, run.msg
    assert run.result['delegated_permissions_grants'] == [
        {'client': 'Contoso Payroll', 'resource': 'Contoso Orders API', 'scopes': ['Orders.Read']}]
    assert run.result['delegated_permissions_app_role_assignments'] == []


@pytest.mark.parametrize('args, words', [
    ({'clients': ['No Such App']}, ["client 'No Such App'", 'displayName eq']),
    ({'resources': ['0f0f0f0f-0000-4000-8000-000000000000']}, ['No service principal found for resource']),
    ({'key': 'display_name'}, ["'Twin App' (id {0}".format(TWIN_A_ID), TWIN_B_ID, 'Use key app_id']),
    ({'key': 'name'}, ['key must be one of']),
])
def test_bad_input_fails_cleanly_without_writes(run_module, tenant, args, words):
    run = run_module(main, args)
    assert run.failed
    assert [w for w in words if w not in run.msg] == [], run.msg
    assert tenant.writes == []


def test_what_cannot_be_declared_is_in_not_exported_never_in_skipped(run_module, tenant):
    # Ansible reads a true 'skipped' result key as "this task was skipped" (and warns that it is not a bool).
    tenant.add_assignment(CLIENT_ID, RESOURCE_ID, '00000000-0000-0000-0000-000000000000')
    run = run_module(main, {})
    assert not run.failed, run.msg
    assert 'skipped' not in run.result
    assert len(run.result['not_exported']) == 1 and 'the default access role' in run.result['not_exported'][0]
    assert run.result['counts']['not_exported'] == 1
