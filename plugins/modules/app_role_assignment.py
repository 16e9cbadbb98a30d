#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: app_role_assignment
short_description: Manage the application permissions (app role assignments) of a client on one API
version_added: 0.2.0
description:
  - Gives a client service principal the app roles (application permissions, such as C(Reports.Read.All) of Microsoft
    Graph) that a resource (API) publishes, or takes them away. This is what granting admin consent does for the
    application permissions of an app, one resource at a time.
  - Roles are named by their value and compared as a set. The module reads the client's assignments first and
    writes only what differs, one POST per missing role and one DELETE per extra assignment, all in one C($batch).
    An assignment that somebody else created meanwhile is adopted.
  - Only assignments of O(client) on O(resource) are ever touched; roles the client holds on other resources and
    roles of other clients are left alone.
  - An assignment whose role the resource no longer publishes is shown by its role id (and removed with
    O(mode=exact)).
author:
  - msgraph.grants maintainers (@msgraph-grants)
extends_documentation_fragment:
  - msgraph.grants.graph
  - msgraph.grants.attributes
  - msgraph.grants.attributes.actions
options:
  client:
    description:
      - The client service principal that receives the roles.
      - An object id, an appId (application/client id) or a display name. A display name must match exactly one
        service principal; if several match, the module fails and lists them with their ids.
    type: str
    required: true
  resource:
    description:
      - The resource service principal (the API publishing the roles), for example C(Microsoft Graph) or
        C(00000003-0000-0000-c000-000000000000).
      - An object id, an appId or a display name, like O(client).
    type: str
    required: true
  app_roles:
    description:
      - App role values, for example V(Reports.Read.All).
      - Roles to add must be enabled roles of the resource that applications may hold (C(allowedMemberTypes) holds
        C(Application)); roles to remove need only be published by the resource, so a disabled role can still be
        removed. A bad value fails before anything is written, with the close matches the resource publishes.
      - Required with O(state=present) (an empty list with O(mode=exact) removes every role but the default
        access role). Refused with
        O(state=absent), which removes every role of the client on the resource; to take some roles away, use
        O(mode=remove).
    type: list
    elements: str
  mode:
    description:
      - V(exact) makes the client hold exactly O(app_roles) on the resource. An assignment of the resource's
        default access role (id C(00000000-0000-0000-0000-000000000000), which has no value and grants no permission) cannot be named
        in O(app_roles), so V(exact) keeps it; O(state=absent) removes it.
      - V(append) adds the missing O(app_roles) and keeps the others.
      - V(remove) removes O(app_roles) and keeps the others.
    type: str
    choices: [exact, append, remove]
    default: exact
  state:
    description:
      - V(present) converges the roles per O(mode).
      - V(absent) removes every app role assignment of the client on the resource (succeeds when there is none).
    type: str
    choices: [present, absent]
    default: present
notes:
  - The automation identity needs the permissions listed in the collection's C(docs/permissions.md). Assigning app
    roles of Microsoft Graph itself with a signed-in user's token also needs the Privileged Role Administrator role.
  - Graph replicates new assignments with a delay; a create answered "does not exist" or "Not a valid reference
    update." (a service principal created moments ago) is retried within O(retry_budget).
seealso:
  - module: msgraph.grants.oauth2_grant
    description: Delegated permissions (scopes) of a client on an API.
  - name: appRoleAssignment resource type
    description: Microsoft Graph documentation.
    link: https://learn.microsoft.com/en-us/graph/api/resources/approleassignment
'''

EXAMPLES = r'''
- name: Application permissions of the payroll app on Microsoft Graph
  msgraph.grants.app_role_assignment:
    client: Contoso Payroll                           # object id, appId or display name
    resource: 00000003-0000-0000-c000-000000000000    # Microsoft Graph
    app_roles: [Reports.Read.All, Mail.Send]

- name: Add one role, keeping whatever else the client holds on the API
  msgraph.grants.app_role_assignment:
    client: Contoso Payroll
    resource: Contoso Orders API
    app_roles: [Orders.Read.All]
    mode: append

- name: Take one role away
  msgraph.grants.app_role_assignment:
    client: Contoso Payroll
    resource: Microsoft Graph
    app_roles: [Group.Read.All]
    mode: remove

- name: Remove every application permission of the client on the API
  msgraph.grants.app_role_assignment:
    client: Contoso Payroll
    resource: Microsoft Graph
    state: absent

# Preview: run the play with --check --diff. Nothing is written; roles_added, roles_removed and the diff are what
# the same run without --check then does.
- name: Exactly these roles (preview with --check --diff)
  msgraph.grants.app_role_assignment:
    client: Contoso Payroll
    resource: Microsoft Graph
    app_roles: [Reports.Read.All]
  register: payroll_roles
'''

RETURN = r'''
assignments:
  description:
    - The client's app role assignments on the resource after the run (predicted in check mode), sorted by role
      value.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The assignment id (opaque). V(null) for an assignment that check mode predicts would be created.
      type: str
      sample: 47nZsM8O_UuNq5Jz3QValCxBBiqJea9Drc9CMK4Ru_M
    app_role_id:
      description: The id of the app role.
      type: str
      sample: 230c1aed-a721-4c5d-9cb4-a90514e508ef
    app_role_value:
      description: The value of the app role; its id when the resource no longer publishes it.
      type: str
      sample: Reports.Read.All
    resource_id:
      description: Object id of the resource service principal.
      type: str
      sample: 1804a6f8-e623-4520-8f40-ba1b0c11c42d
    client_id:
      description: Object id of the client service principal.
      type: str
      sample: b7dc5c41-6867-4416-ad5d-14a887f1c665
roles_added:
  description: Role values the run assigned, sorted.
  returned: always
  type: list
  elements: str
  sample: [Reports.Read.All]
roles_removed:
  description: Role values the run removed, sorted (a role id for a role the resource no longer publishes).
  returned: always
  type: list
  elements: str
  sample: []
retries:
  description:
    - What the run retried (throttling, transient errors, waits for replication), one entry per retry; the run also
      warns. No token or secret, no query string.
  returned: when the run retried anything
  type: list
  elements: dict
  contains:
    what:
      description: The request retried (method and path), or the requests sent together in one round trip.
      type: str
      sample: POST /v1.0/$batch
    why:
      description: Why it was retried.
      type: str
      sample: HTTP 429 with Retry-After
    waited:
      description: Seconds waited before the retry.
      type: float
      sample: 2.0
diff:
  description:
    - The client's role values on the resource before and after the run.
    - C(before_header) and C(after_header) name the client and resource as written, with display names beside ids.
  returned: when run with C(--diff)
  type: dict
  sample:
    before:
      client_id: b7dc5c41-6867-4416-ad5d-14a887f1c665
      resource_id: 1804a6f8-e623-4520-8f40-ba1b0c11c42d
      app_roles: []
    after:
      client_id: b7dc5c41-6867-4416-ad5d-14a887f1c665
      resource_id: 1804a6f8-e623-4520-8f40-ba1b0c11c42d
      app_roles: [Reports.Read.All]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.msgraph.grants.plugins.module_utils._app_role_options import app_role_options
from ansible_collections.msgraph.grants.plugins.module_utils._app_role_service import AppRoleAssignmentService
from ansible_collections.msgraph.grants.plugins.module_utils._graph_module import (
    GraphModule,
    graph_argument_spec,
)


def main():
    argument_spec = graph_argument_spec(app_role_options())
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[('state', 'present', ('app_roles',))],
    )
    graph = GraphModule(module)
    with graph.failing_cleanly():
        service = AppRoleAssignmentService(graph.client(), check_mode=module.check_mode, warn=module.warn)
        result = service.ensure(module.params)
    if not module._diff:
        result.pop('diff', None)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
