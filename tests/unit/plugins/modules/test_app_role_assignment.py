# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""``msgraph.grants.app_role_assignment`` end to end through AnsibleModule (patch_module_args) and the strict fake
Graph."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.msgraph.grants.plugins.modules import app_role_assignment
from ansible_collections.msgraph.grants.plugins.module_utils._app_role_service import AppRoleAssignmentService
from ansible_collections.msgraph.grants.tests.unit.utils.module_harness import needs_patch_module_args
from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph import (
    CLIENT_ID, GRAPH_USER_ROLE, RESOURCE_ID)

pytestmark = needs_patch_module_args
main = app_role_assignment.main


@pytest.fixture(autouse=True)
def no_real_sleep(monkeypatch, sleeper):
    defaults = AppRoleAssignmentService.__init__.__defaults__
    assert len(defaults) == 4, 'AppRoleAssignmentService.__init__ changed: adapt this fixture'
    monkeypatch.setattr(AppRoleAssignmentService.__init__, '__defaults__', (defaults[0], defaults[1], sleeper, defaults[3]))


def role_args(**kwargs):
    args = dict(client='Contoso HR Portal', resource='Microsoft Graph', app_roles=['User.Read.All'])
    args.update(kwargs)
    return args


def test_check_mode_predicts_the_real_run_and_the_second_run_is_ok(run_module, graph):
    check = run_module(main, role_args(), check=True, diff=True)
    assert not check.failed, check.msg
    assert check.result['changed'] and check.result['roles_added'] == ['User.Read.All'] and graph.writes == []
    assert check.result['assignments'][0]['id'] is None
    real = run_module(main, role_args(), diff=True)
    assert real.result['diff'] == check.result['diff'] and real.result['roles_added'] == ['User.Read.All']
    assert real.result['diff']['after'] == {'client_id': CLIENT_ID, 'resource_id': RESOURCE_ID,
                                            'app_roles': ['User.Read.All']}
    assert real.result['assignments'][0]['id'] and len(graph.writes) == 1
    again = run_module(main, role_args())
    assert not again.result['changed'] and len(graph.writes) == 1 and 'diff' not in again.result


def test_absent_removes_every_role(run_module, graph):
    graph.add_assignment(CLIENT_ID, RESOURCE_ID, graph.role_id(RESOURCE_ID, 'Mail.Send'))
    run = run_module(main, dict(client=CLIENT_ID, resource=RESOURCE_ID, state='absent'))
    assert run.result['changed'] and run.result['roles_removed'] == ['Mail.Send'] and graph.assignments == {}


@pytest.mark.parametrize('args, words', [
    (role_args(app_roles=['User.Raed.All']), ["'User.Raed.All'", "did you mean 'User.Read.All'"]),
    (role_args(app_roles=[GRAPH_USER_ROLE]), [GRAPH_USER_ROLE, 'users and groups only']),
    (role_args(client='Nobody'), ["'Nobody'"]),
    (role_args(state='absent'), ['state=absent', 'mode=remove']),
    (dict(client='Contoso HR Portal', resource='Microsoft Graph'), ['app_roles']),
    (role_args(mode='replace'), ['mode', 'exact, append, remove']),
])
def test_bad_input_fails_cleanly_without_writes(run_module, graph, args, words):
    run = run_module(main, args)
    assert run.failed and all(w in run.msg for w in words), run.msg
    assert graph.writes == []
