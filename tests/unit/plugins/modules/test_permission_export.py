# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""``msgraph.grants.permission_export`` end to end through AnsibleModule (patch_module_args) and the strict fake
Graph: filters, keys, per-user grants, app role assignments, the reads it makes, and clean refusals."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
import yaml

from ansible_collections.msgraph.grants.plugins.module_utils._graph_response import GraphResponse

from ansible_collections.msgraph.grants.plugins.modules import permission_export
from ansible_collections.msgraph.grants.tests.unit.utils.module_harness import needs_patch_module_args
from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph import (
    ORDERS_USER_ROLE, FakeGraph,
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
    # (without per-user consents, which the file records for the role's exclusive mode)
    assert yaml.safe_load(result['content']) == dict(
        ((k, result[k]) for k in ('delegated_permissions_grants', 'delegated_permissions_app_role_assignments')),
        delegated_permissions_exported_user_consents=False)
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


def test_what_exclusive_mode_would_delete_is_warned_and_listed(run_module, tenant):
    # A role the resource no longer publishes and a duplicate assignment: the file cannot hold them, and applying it
    # with exclusive mode deletes them, which the warning must say (the default access role is kept: not listed).
    tenant.add_assignment(CLIENT2_ID, RESOURCE_ID, '0f1e2d3c-4b5a-4968-8776-655443322110')
    tenant.add_assignment(CLIENT2_ID, RESOURCE_ID, '00000000-0000-0000-0000-000000000000')
    run = run_module(main, {})
    assert not run.failed, run.msg
    # (ansible-core 2.19 returns warnings as objects: compare their text)
    warnings = [str(w) for w in run.result.get('warnings', []) if 'delegated_permissions_exclusive: true will DELETE' in str(w)]
    assert len(warnings) == 1, run.result.get('warnings')
    assert '1 item(s)' in warnings[0] and '0f1e2d3c-4b5a-4968-8776-655443322110' in warnings[0]
    assert 'the default access role' not in warnings[0]


def _assignment_reads(graph):
    return sorted(c.path for c in graph.calls if '/appRoleAssign' in c.path)


def test_the_whole_tenant_reads_app_roles_per_resource_that_publishes_them_users_left_out(run_module, tenant):
    # appRoleAssignedTo lists users' assignments too: a user's role is not an application permission
    tenant.assignments['user-assignment'] = {
        'id': 'user-assignment', 'appRoleId': tenant.role_id(RESOURCE2_ID, ORDERS_USER_ROLE), 'principalId': ADELE_ID,
        'principalType': 'User', 'resourceId': RESOURCE2_ID, 'principalDisplayName': 'Adele Vance',
        'resourceDisplayName': 'Contoso Orders API', 'createdDateTime': '2026-01-01T00:00:00Z', 'deletedDateTime': None}
    run = run_module(main, {})
    assert not run.failed, run.msg
    assert run.result['delegated_permissions_app_role_assignments'] == [
        {'client': CLIENT2_APP, 'resource': RESOURCE_APP, 'app_roles': ['Group.Read.All', 'User.Read.All']}]
    assert run.result['not_exported'] == []
    # the two resources that publish app roles, not each of the tenant's service principals
    assert _assignment_reads(tenant) == sorted('/servicePrincipals/{0}/appRoleAssignedTo'.format(r)
                                               for r in (RESOURCE_ID, RESOURCE2_ID))


def test_a_resource_filter_reads_that_resource_only(run_module, tenant):
    run = run_module(main, {'resources': [RESOURCE_APP]})
    assert not run.failed, run.msg
    assert run.result['delegated_permissions_app_role_assignments'] == [
        {'client': CLIENT2_APP, 'resource': RESOURCE_APP, 'app_roles': ['Group.Read.All', 'User.Read.All']}]
    assert _assignment_reads(tenant) == ['/servicePrincipals/{0}/appRoleAssignedTo'.format(RESOURCE_ID)]
    assert not [c for c in tenant.calls if c.path == '/servicePrincipals' and '$filter' not in c.query]


class _WithGetByIds(FakeGraph):
    """The fake with ``POST /directoryObjects/getByIds`` (the identity may use it)."""

    def post_read(self, path, body):
        assert path == '/directoryObjects/getByIds' and len(body['ids']) <= 1000
        self.by_ids.append(body)
        found = []
        for object_id in body['ids']:
            if object_id in self.sps and 'servicePrincipal' in body['types']:
                found.append(self._sp_view(self.sps[object_id], {}, path))
            elif object_id in self.users and 'user' in body['types']:
                found.append(dict(self.users[object_id]))
        return GraphResponse(200, json={'value': found}, method='POST', url=path, read_only=True)


def test_names_come_from_get_by_ids_where_the_identity_may_use_it(run_module, tenant):
    graph = _WithGetByIds()
    graph.__dict__.update(tenant.clone().__dict__)
    graph.by_ids = []
    run = run_module(main, {'clients': [CLIENT_APP, CLIENT2_APP], 'include_user_consents': True}, fake=graph)
    assert not run.failed, run.msg
    assert [g.get('principal') for g in run.result['delegated_permissions_grants'] if g.get('principal')] == [ADELE_UPN]
    assert run.result['delegated_permissions_app_role_assignments'] == [
        {'client': CLIENT2_APP, 'resource': RESOURCE_APP, 'app_roles': ['Group.Read.All', 'User.Read.All']}]
    # one getByIds for the resources (with their app roles) and the user; no object read one by one
    assert len(graph.by_ids) == 1 and sorted(graph.by_ids[0]['ids']) == sorted([ADELE_ID, RESOURCE_ID, RESOURCE2_ID])
    assert not [c for c in graph.calls if c.path.startswith('/users/') or c.path in (
        '/servicePrincipals/' + RESOURCE_ID, '/servicePrincipals/' + RESOURCE2_ID)]
