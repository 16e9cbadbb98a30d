# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fake Graph's app role endpoints answer as Graph does (tests/unit/utils/fake_graph_app_roles.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph import (
    CLIENT_APP, CLIENT_ID, CLIENT2_ID, RESOURCE_ID, RESOURCE2_ID, GRAPH_DISABLED_ROLE, GRAPH_USER_ROLE)


def _post(graph, client, resource, role_id):
    return graph.post('/servicePrincipals/%s/appRoleAssignments' % client,
                      {'principalId': client, 'resourceId': resource, 'appRoleId': role_id})


def test_create_list_delete_and_duplicate(graph):
    role = graph.role_id(RESOURCE_ID, 'User.Read.All')
    created = _post(graph, CLIENT_ID, RESOURCE_ID, role)
    assert created['appRoleId'] == role and created['principalType'] == 'ServicePrincipal'
    with pytest.raises(GraphError) as info:
        _post(graph, CLIENT_ID, RESOURCE_ID, role)
    assert info.value.status == 400 and 'already exists' in info.value.message
    listed = graph.get_all('/servicePrincipals/%s/appRoleAssignments' % CLIENT_ID)
    assert [a['id'] for a in listed] == [created['id']]
    assert graph.get_all('/servicePrincipals/%s/appRoleAssignments' % CLIENT2_ID) == []
    graph.delete('/servicePrincipals/%s/appRoleAssignments/%s' % (CLIENT_ID, created['id']))
    assert graph.assignments == {}


@pytest.mark.parametrize('value', [GRAPH_USER_ROLE, GRAPH_DISABLED_ROLE])
def test_roles_applications_cannot_hold(graph, value):
    with pytest.raises(GraphError) as info:
        _post(graph, CLIENT_ID, RESOURCE_ID, graph.role_id(RESOURCE_ID, value))
    assert info.value.status == 400 and 'not found' in info.value.message


def test_paging_and_filter(graph):
    graph.page_size = 2
    for value in ('Application.Read.All', 'Directory.Read.All', 'Group.Read.All'):
        graph.add_assignment(CLIENT_ID, RESOURCE_ID, graph.role_id(RESOURCE_ID, value))
    graph.add_assignment(CLIENT_ID, RESOURCE2_ID, graph.role_id(RESOURCE2_ID, 'Orders.Read.All'))
    assert len(graph.get_all('/servicePrincipals/%s/appRoleAssignments' % CLIENT_ID)) == 4
    only = graph.get_all('/servicePrincipals/%s/appRoleAssignments' % CLIENT_ID, [('$filter', 'resourceId eq ' + RESOURCE2_ID)])
    assert len(only) == 1
    with pytest.raises(GraphError) as info:
        graph.get('/servicePrincipals/%s/appRoleAssignments' % CLIENT_ID, [('$filter', "resourceId eq '%s'" % RESOURCE2_ID)])
    assert info.value.status == 400


def test_applications(graph):
    app = graph.get("/applications(appId='%s')" % CLIENT_APP)
    assert len(app['requiredResourceAccess']) == 2
    assert graph.get('/applications', [('$filter', "appId eq '%s'" % CLIENT_ID)])['value'] == []
    with pytest.raises(GraphError) as info:
        graph.get("/applications(appId='%s')" % CLIENT_ID)
    assert info.value.status == 404
