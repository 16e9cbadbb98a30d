#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: oauth2_grant_info
short_description: List Microsoft Entra ID delegated permission grants (oAuth2PermissionGrant)
version_added: 0.1.0
description:
  - Lists delegated permission grants, optionally filtered by client, resource, user or consent type, following
    every page of results.
  - Filters accept the same forms as M(msgraph.grants.oauth2_grant) and are resolved by the same code. A filter
    naming an object that does not exist, or a display name matching several service principals, fails with a
    message saying what was searched, so that a typo never looks like "no grants".
  - With O(resolve_names=true), display names and user principal names are added; each object is read once, in
    batched requests.
author:
  - msgraph.grants maintainers (@msgraph-grants)
extends_documentation_fragment:
  - msgraph.grants.graph
  - msgraph.grants.attributes
  - msgraph.grants.attributes.info_module
options:
  id:
    description:
      - Return only the grant with this id (an empty list if it does not exist).
      - Mutually exclusive with the other filters.
    type: str
  client:
    description: Only grants of this client service principal (object id, appId or display name).
    type: str
  resource:
    description: Only grants on this resource service principal (object id, appId or display name).
    type: str
  principal:
    description: Only grants for this user (object id or userPrincipalName).
    type: str
  consent_type:
    description: Only grants of this consent type.
    type: str
    choices: [AllPrincipals, Principal]
  resolve_names:
    description: Add RV(grants[].client_display_name), RV(grants[].resource_display_name) and RV(grants[].principal_user_principal_name).
    type: bool
    default: false
seealso:
  - module: msgraph.grants.oauth2_grant
'''

EXAMPLES = r'''
- name: Every grant in the tenant
  msgraph.grants.oauth2_grant_info:
  register: all_grants

- name: Grants of one app, with readable names
  msgraph.grants.oauth2_grant_info:
    client: Contoso HR Portal
    resolve_names: true
  register: hr_grants

- name: Admin-consent grants on Microsoft Graph
  msgraph.grants.oauth2_grant_info:
    resource: 00000003-0000-0000-c000-000000000000
    consent_type: AllPrincipals

- name: What one user has consented to
  msgraph.grants.oauth2_grant_info:
    principal: adele.vance@contoso.com

- name: Fail if any app holds Mail.Send on behalf of all users
  ansible.builtin.assert:
    that: >-
      all_grants.grants | selectattr('consent_type', 'equalto', 'AllPrincipals')
      | selectattr('scopes', 'contains', 'Mail.Send') | list | length == 0
'''

RETURN = r'''
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
grants:
  description: The matching grants, sorted by client, resource and principal. An empty list when none match.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The grant id (opaque).
      type: str
      sample: AVs6JuUDjkCFV7q2gd8QTPimBBgj5iBFj0C6GwwRxC0
    client_id:
      description: Object id of the client service principal.
      type: str
      sample: 263a5b01-03e5-408e-8557-bab681df104c
    consent_type:
      description: C(AllPrincipals) or C(Principal).
      type: str
      sample: AllPrincipals
    principal_id:
      description: Object id of the user for a C(Principal) grant, otherwise V(null).
      type: str
      sample: null
    resource_id:
      description: Object id of the resource service principal.
      type: str
      sample: 1804a6f8-e623-4520-8f40-ba1b0c11c42d
    scopes:
      description: The granted scopes, sorted.
      type: list
      elements: str
      sample: [Mail.Read, User.Read]
    scope:
      description: The scope string as Graph holds it.
      type: str
      sample: Mail.Read User.Read
    client_display_name:
      description: Display name of the client service principal.
      type: str
      returned: when O(resolve_names=true)
      sample: Contoso HR Portal
    resource_display_name:
      description: Display name of the resource service principal.
      type: str
      returned: when O(resolve_names=true)
      sample: Microsoft Graph
    principal_user_principal_name:
      description: userPrincipalName of the user for a C(Principal) grant, otherwise V(null).
      type: str
      returned: when O(resolve_names=true)
      sample: adele.vance@contoso.com
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.msgraph.grants.plugins.module_utils._graph_module import (
    GraphModule,
    graph_argument_spec,
)
from ansible_collections.msgraph.grants.plugins.module_utils._grant_options import ID_EXCLUSIVE, grant_id_option, grant_key_options
from ansible_collections.msgraph.grants.plugins.module_utils._grant_service import GrantService


def main():
    argument_spec = graph_argument_spec(grant_id_option())
    argument_spec.update(grant_key_options())
    argument_spec.update(resolve_names=dict(type='bool', default=False))
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=ID_EXCLUSIVE,
    )
    graph = GraphModule(module)
    with graph.failing_cleanly():
        service = GrantService(graph.client(), api_version=graph.api_version, warn=module.warn)
        grants = service.query(module.params, resolve_names=module.params['resolve_names'])
    module.exit_json(changed=False, grants=grants)


if __name__ == '__main__':
    main()
