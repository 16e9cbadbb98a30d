#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: oauth2_grants
short_description: Converge a list of Microsoft Entra ID delegated permission grants in one run
version_added: 0.1.0
description:
  - Applies a declarative list of delegated permission grants with the same rules as
    M(msgraph.grants.oauth2_grant), in one module run with batched reads and writes (20 requests per
    Graph C($batch)). This is what the role C(msgraph.grants.delegated_permissions) uses; prefer it over a loop of
    M(msgraph.grants.oauth2_grant) for more than a few grants.
  - V(append) and V(remove) items get the same protection against concurrent writers as
    M(msgraph.grants.oauth2_grant) (a re-read shortly after the write, throttled writes planned again), done once
    for the whole list.
  - Every item is resolved and checked before anything is written; one bad item fails the run with no write.
  - With O(exclusive=true), grants of the listed clients that the list does not declare are deleted
    (admin-consent grants only, unless O(exclusive_include_user_consents=true)). A grant with no scopes grants
    nothing and no item can declare it, so exclusive mode keeps it.
author:
  - msgraph.grants maintainers (@msgraph-grants)
extends_documentation_fragment:
  - msgraph.grants.graph
  - msgraph.grants.attributes
  - msgraph.grants.attributes.actions
options:
  grants:
    description: The grants to apply. Each item takes the options of M(msgraph.grants.oauth2_grant) of the same name.
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
      principal:
        description: User (object id or userPrincipalName) for a per-user grant.
        type: str
      consent_type:
        description: C(AllPrincipals) or C(Principal); follows from O(grants[].principal) when omitted.
        type: str
        choices: [AllPrincipals, Principal]
      scopes:
        description:
          - Delegated permission claim values. Required with O(grants[].state=present).
          - Refused with O(grants[].state=absent), which deletes the whole grant; to take some scopes away use
            O(grants[].scope_mode=remove).
        type: list
        elements: str
      scope_mode:
        description: V(exact), V(append) or V(remove), as in M(msgraph.grants.oauth2_grant).
        type: str
        choices: [exact, append, remove]
        default: exact
      state:
        description: V(present), or V(absent) to delete the whole grant (without O(grants[].scopes)).
        type: str
        choices: [present, absent]
        default: present
      validate_scopes:
        description: Check the scopes against the resource's published delegated permissions.
        type: bool
        default: true
  exclusive:
    description:
      - Delete the admin-consent (C(AllPrincipals)) grants of the listed clients that O(grants) does not declare.
    type: bool
    default: false
  exclusive_include_user_consents:
    description:
      - With O(exclusive=true), also delete undeclared per-user (C(Principal)) grants of the listed clients.
    type: bool
    default: false
  result_detail:
    description:
      - V(full) returns every item of O(grants) in RV(results) as M(msgraph.grants.oauth2_grant) returns it.
      - V(brief) makes each entry of RV(results) only C(changed), C(action) and C(label), and leaves the unchanged
        grants out of RV(summary) (RV(counts) still counts them). RV(removed), RV(changes), RV(counts), and the
        diff shown with C(--diff), are the same as with V(full).
      - For lists of hundreds or thousands of grants, where building, scrubbing and registering the full result
        of every unchanged grant is most of the run's time (C(docs/performance.md) in the collection).
    type: str
    choices: [full, brief]
    default: full
    version_added: 0.2.0
seealso:
  - module: msgraph.grants.oauth2_grant
  - module: msgraph.grants.oauth2_grant_info
'''

EXAMPLES = r'''
- name: Apply the tenant's declared grants
  msgraph.grants.oauth2_grants:
    grants:
      - client: Contoso HR Portal
        resource: Microsoft Graph
        scopes: [openid, profile, User.Read]
      - client: Contoso Payroll
        resource: Contoso Orders API
        scopes: [Orders.Read]
      - client: Contoso HR Portal
        resource: Microsoft Graph
        principal: adele.vance@contoso.com
        scopes: [Calendars.Read]
  register: applied

- name: Only the declared admin-consent grants may remain for these clients
  msgraph.grants.oauth2_grants:
    exclusive: true
    grants:
      - client: Contoso Payroll
        resource: Microsoft Graph
        scopes: [User.Read]
'''

RETURN = r'''
results:
  description:
    - One entry per item of O(grants), in order, shaped like the result of M(msgraph.grants.oauth2_grant).
    - With O(result_detail=brief) each entry holds only C(changed), C(action) and C(label).
  returned: always
  type: list
  elements: dict
  contains:
    changed:
      description: Whether the run changed (in check mode, would change) this grant.
      type: bool
      sample: true
    label:
      description:
        - The item as written (client -> resource [for principal]), with the display name or UPN the run resolved
          beside a value written as an id or appId. Also the header of the item's diff.
      type: str
      sample: 263a5b01-03e5-408e-8557-bab681df104c (Contoso HR Portal) -> Microsoft Graph
    client_display_name:
      description: Display name of the client service principal.
      type: str
      sample: Contoso HR Portal
    resource_display_name:
      description: Display name of the resource service principal.
      type: str
      sample: Microsoft Graph
    principal_user_principal_name:
      description: UPN of the user of a C(Principal) grant, otherwise V(null).
      type: str
      sample: null
    deleted_grant:
      description: The grant as it was before the run deleted it, as M(msgraph.grants.oauth2_grant) returns it.
      type: dict
      returned: when the grant was deleted
      sample: {}
    action:
      description: C(created), C(updated), C(deleted) or C(unchanged).
      type: str
      sample: created
    grant:
      description: The grant after the run, as M(msgraph.grants.oauth2_grant) returns it.
      type: dict
      returned: when a grant exists after the run
      sample: {}
    scopes_added:
      description: Scopes added, sorted.
      type: list
      elements: str
      sample: [User.Read]
    scopes_removed:
      description: Scopes removed, sorted.
      type: list
      elements: str
      sample: []
    diff:
      description: Before and after, as in M(msgraph.grants.oauth2_grant).
      type: dict
      sample: {}
removed:
  description:
    - Undeclared grants deleted by O(exclusive=true) (or that would be, in check mode), shaped like RV(results).
    - Their C(label) names client, resource and user (read in one request) and ends with the grant id.
  returned: always
  type: list
  elements: dict
  sample: []
summary:
  description:
    - Labels of the grants per action.
    - With O(result_detail=brief) the C(unchanged) list is empty (RV(counts) still counts them).
  returned: always
  type: dict
  sample: {created: [Contoso HR Portal -> Microsoft Graph], updated: [], deleted: [], unchanged: []}
changes:
  description: One line per grant the run changed (or would change in check mode), formatted as the action, a colon and the label.
  returned: always
  type: list
  elements: str
  sample: ['created: Contoso Payroll -> Contoso Orders API']
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
counts:
  description: Number of grants per action.
  returned: always
  type: dict
  sample: {created: 1, updated: 0, deleted: 0, unchanged: 2}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.msgraph.grants.plugins.module_utils._graph_module import (
    GraphModule,
    graph_argument_spec,
)
from ansible_collections.msgraph.grants.plugins.module_utils._bulk import BulkGrantService, item_label
from ansible_collections.msgraph.grants.plugins.module_utils._grant_options import grant_options
from ansible_collections.msgraph.grants.plugins.module_utils._grants import absent_scopes_error


def main():
    argument_spec = graph_argument_spec()
    argument_spec.update(
        grants=dict(type='list', elements='dict', required=True, options=grant_options(required=True)),
        exclusive=dict(type='bool', default=False),
        exclusive_include_user_consents=dict(type='bool', default=False),
        result_detail=dict(type='str', default='full', choices=['full', 'brief']),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    # Refused before any request (and before credentials are even looked at): an ambiguous delete.
    problems = []
    for index, item in enumerate(module.params['grants']):
        problem = absent_scopes_error(item['state'], item['scopes'])
        if problem:
            problems.append('grants[{0}] ({1}): {2}'.format(index, item_label(item), problem))
    if problems:
        module.fail_json(msg='Invalid grants: ' + ' '.join(problems))
    graph = GraphModule(module)
    with graph.failing_cleanly():
        service = BulkGrantService(graph.client(), api_version=graph.api_version, check_mode=module.check_mode, warn=module.warn)
        result = service.ensure_all(module.params['grants'], exclusive=module.params['exclusive'],
                                    include_user_consents=module.params['exclusive_include_user_consents'],
                                    brief=module.params['result_detail'] == 'brief', diff=module._diff)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
