#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: permission_export
short_description: Export a tenant's delegated grants and app role assignments as the role's variables
version_added: 0.2.0
description:
  - Reads the delegated permission grants (oAuth2PermissionGrant) and the app role assignments of service principals
    and returns them as the variables C(delegated_permissions_grants) and C(delegated_permissions_app_role_assignments)
    of the role C(msgraph.grants.delegated_permissions), both as data and as the text of a vars file (RV(content)).
  - Read only; it writes nothing, to Graph or to disk. The role's C(export) entry point writes RV(content) to a file.
  - The output is deterministic, sorted by the written client, resource and user, scopes and app roles sorted, with
    a comment naming each entry. An unchanged tenant gives the same bytes.
  - App role assignments are those held by the filtered clients, or by every service principal when
    O(clients) is not given, on the filtered resources when O(resources) is given (users' and groups' assignments
    are not application permissions, never exported). Without filters, only the resources that publish a role a
    service principal can hold are read. An assignment of the default
    access role, or of a role the resource no longer publishes, cannot be declared; it is left out with a warning,
    as is anything naming a deleted object, a grant with no scopes, and a second assignment of one role (written
    once) (RV(not_exported)).
  - Applying the output with the role's exclusive mode deletes what was left out (a grant with no scopes and the
    default access role excepted, which exclusive mode keeps); the module warns, listing those items.
author:
  - msgraph.grants maintainers (@msgraph-grants)
extends_documentation_fragment:
  - msgraph.grants.graph
  - msgraph.grants.attributes
  - msgraph.grants.attributes.info_module
options:
  clients:
    description:
      - Only these clients (object id, appId or display name). Each must exist; a display name must be unique.
    type: list
    elements: str
    default: []
  resources:
    description: Only grants and app role assignments on these resources (object id, appId or display name).
    type: list
    elements: str
    default: []
  include_user_consents:
    description: Also export per-user (C(Principal)) grants, with the user written by userPrincipalName.
    type: bool
    default: false
  key:
    description:
      - How clients and resources are written. V(app_id) is portable between tenants; V(object_id) holds in this
        tenant only; V(display_name) is readable and refused when a written name is not unique in the tenant.
    type: str
    choices: [app_id, object_id, display_name]
    default: app_id
seealso:
  - module: msgraph.grants.oauth2_grant_info
  - module: msgraph.grants.oauth2_grants
  - module: msgraph.grants.app_role_assignments
'''

EXAMPLES = r'''
- name: Export the admin consents of two apps
  msgraph.grants.permission_export:
    clients: [Contoso HR Portal, Contoso Payroll]
  register: exported

- name: Write them as a vars file (the role's export entry point does this, with checks)
  ansible.builtin.copy:
    content: "{{ exported.content }}"
    dest: grants.yml
    mode: "0644"
'''

RETURN = r'''
content:
  description: The vars file, YAML text, ending with a newline.
  returned: always
  type: str
  sample: "---\ndelegated_permissions_grants:\n  # Contoso HR Portal -> Microsoft Graph\n  - client: ...\n"
delegated_permissions_grants:
  description: The grants as the role's items (C(client), C(resource), C(scopes), C(principal) for per-user grants).
  returned: always
  type: list
  elements: dict
  sample: [{client: 3a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d, resource: 00000003-0000-0000-c000-000000000000, scopes: [User.Read]}]
delegated_permissions_app_role_assignments:
  description: The app role assignments as the role's items (C(client), C(resource), C(app_roles)).
  returned: always
  type: list
  elements: dict
  sample: [{client: f2d3e4a5-6b7c-4d8e-9fa0-1b2c3d4e5f60, resource: 00000003-0000-0000-c000-000000000000, app_roles: [Mail.Send]}]
delegated_permissions_exported_resources:
  description:
    - The resources of O(resources) as written (empty without that filter). The file records them, and the role
      refuses C(delegated_permissions_exclusive) with such a file, which would delete what the clients hold on
      every other resource.
  returned: always
  type: list
  elements: str
  sample: [00000003-0000-0000-c000-000000000000]
counts:
  description: Items exported, and left out.
  returned: always
  type: dict
  sample: {grants: 4, app_role_assignments: 2, not_exported: 0}
not_exported:
  description:
    - What could not be exported, in words (also warned). Not named C(skipped), which Ansible reads as a skipped
      task.
  returned: always
  type: list
  elements: str
  sample: []
retries:
  description:
    - What the run retried (throttling, transient errors, connections that could not be opened, waits for
      replication), one entry per retry; the run also warns. No token or secret, no query string.
  returned: when the run retried anything
  type: list
  elements: dict
  contains:
    what:
      description: The request retried (method and path), or the requests sent together in one round trip.
      type: str
      sample: GET /v1.0/servicePrincipals
    why:
      description: Why it was retried.
      type: str
      sample: HTTP 429 with Retry-After
    waited:
      description: Seconds waited before the retry.
      type: float
      sample: 2.0
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.msgraph.grants.plugins.module_utils._export import KEYS
from ansible_collections.msgraph.grants.plugins.module_utils._export_service import ExportService
from ansible_collections.msgraph.grants.plugins.module_utils._graph_module import GraphModule, graph_argument_spec


def main():
    argument_spec = graph_argument_spec()
    argument_spec.update(
        clients=dict(type='list', elements='str', default=[]),
        resources=dict(type='list', elements='str', default=[]),
        include_user_consents=dict(type='bool', default=False),
        key=dict(type='str', choices=list(KEYS), default='app_id', no_log=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    graph = GraphModule(module)
    with graph.failing_cleanly():
        service = ExportService(graph.client(), api_version=graph.api_version, warn=module.warn)
        result = service.export(module.params)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
