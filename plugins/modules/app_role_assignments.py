#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: app_role_assignments
short_description: Converge a list of app role assignments (application permissions) in one run
version_added: 0.2.0
description:
  - Applies a list of application permissions with the same rules as M(msgraph.grants.app_role_assignment), in one
    module run. Every client and resource is resolved in one Graph C($batch), the assignments of each client are read
    once, and all writes go in one C($batch). This is what the role C(msgraph.grants.delegated_permissions) uses for
    C(delegated_permissions_app_role_assignments).
  - Every item is resolved and checked before anything is written; one bad item fails the run with no write.
  - With O(exclusive=true), the app role assignments of the listed clients on resources that the list does not
    name for that client are removed. Clients that are not listed are never touched.
author:
  - msgraph.grants maintainers (@msgraph-grants)
extends_documentation_fragment:
  - msgraph.grants.graph
  - msgraph.grants.attributes
  - msgraph.grants.attributes.actions
options:
  assignments:
    description:
      - The client/resource pairs to converge. Each item takes the options of M(msgraph.grants.app_role_assignment)
        of the same name; a pair may be listed once.
    type: list
    elements: dict
    required: true
    suboptions:
      client:
        description: Client service principal (object id, appId or unique display name).
        type: str
        required: true
      resource:
        description: Resource service principal (object id, appId or unique display name).
        type: str
        required: true
      app_roles:
        description:
          - App role values. Required with O(assignments[].state=present); refused with
            O(assignments[].state=absent).
        type: list
        elements: str
      mode:
        description: V(exact), V(append) or V(remove), as in M(msgraph.grants.app_role_assignment).
        type: str
        choices: [exact, append, remove]
        default: exact
      state:
        description: V(absent) removes every role of the client on the resource.
        type: str
        choices: [present, absent]
        default: present
  exclusive:
    description: Remove the app role assignments of the listed clients on resources the list does not name for them.
    type: bool
    default: false
seealso:
  - module: msgraph.grants.app_role_assignment
'''

EXAMPLES = r'''
- name: Application permissions of two apps, nothing else on the listed clients
  msgraph.grants.app_role_assignments:
    exclusive: true
    assignments:
      - client: Contoso Payroll
        resource: Microsoft Graph
        app_roles: [Reports.Read.All]
      - client: Contoso HR Portal
        resource: Contoso Orders API
        app_roles: [Orders.Read.All]
'''

RETURN = r'''
results:
  description: One entry per listed item, then one per undeclared pair that exclusive mode removed.
  returned: always
  type: list
  elements: dict
  contains:
    client_id:
      description: Object id of the client service principal.
      type: str
    resource_id:
      description: Object id of the resource service principal.
      type: str
    label:
      description: The pair as written, with display names beside ids.
      type: str
    changed:
      description: Whether the pair changed (would change in check mode).
      type: bool
    roles_added:
      description: Role values assigned, sorted.
      type: list
      elements: str
    roles_removed:
      description: Role values removed, sorted (a role id for a role the resource no longer publishes).
      type: list
      elements: str
    assignments:
      description: The pair's assignments after the run, shaped like RV(msgraph.grants.app_role_assignment#module:assignments).
      type: list
      elements: dict
  sample:
    - client_id: b7dc5c41-6867-4416-ad5d-14a887f1c665
      resource_id: 1804a6f8-e623-4520-8f40-ba1b0c11c42d
      label: Contoso Payroll -> Microsoft Graph
      changed: true
      roles_added: [Reports.Read.All]
      roles_removed: []
      assignments: []
changes:
  description: What the run did (or would do), one line per role added or removed.
  returned: always
  type: list
  elements: str
  sample: ["added Reports.Read.All: Contoso Payroll -> Microsoft Graph"]
counts:
  description: Roles added and removed, and listed pairs left unchanged.
  returned: always
  type: dict
  sample: {added: 1, removed: 0, unchanged: 1}
retries:
  description: What the run retried, one entry per retry (see M(msgraph.grants.app_role_assignment)).
  returned: when the run retried anything
  type: list
  elements: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.msgraph.grants.plugins.module_utils._app_role_bulk import BulkAppRoleService
from ansible_collections.msgraph.grants.plugins.module_utils._app_role_options import app_role_options
from ansible_collections.msgraph.grants.plugins.module_utils._graph_module import (
    GraphModule,
    graph_argument_spec,
)


def main():
    argument_spec = graph_argument_spec(dict(
        assignments=dict(type='list', elements='dict', required=True, options=app_role_options()),
        exclusive=dict(type='bool', default=False),
    ))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    graph = GraphModule(module)
    with graph.failing_cleanly():
        service = BulkAppRoleService(graph.client(), check_mode=module.check_mode, warn=module.warn)
        result = service.ensure(module.params['assignments'], exclusive=module.params['exclusive'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
