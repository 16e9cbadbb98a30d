#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: oauth2_grant
short_description: Manage a Microsoft Entra ID delegated permission grant (oAuth2PermissionGrant)
version_added: 0.1.0
description:
  - Creates, updates or deletes one delegated permission grant in Microsoft Graph, that is which delegated
    permissions (scopes) a client application may use on an API, for every user (admin consent, C(AllPrincipals))
    or for one user (C(Principal)).
  - A grant is identified by its key (O(client), O(resource), O(principal) or none). A grant that already exists
    with that key is adopted and converged, never duplicated. AllPrincipals and Principal grants of the same
    client and resource are different grants; managing one never touches the other.
  - Scopes compare as a set (order, duplicates and whitespace are ignored; case is kept). The module reads first
    and writes only what differs (one POST, one PATCH of C(scope) only, or one DELETE).
  - A grant whose scope set would become empty is deleted rather than left empty.
author:
  - msgraph.grants maintainers (@msgraph-grants)
extends_documentation_fragment:
  - msgraph.grants.graph
  - msgraph.grants.attributes
  - msgraph.grants.attributes.actions
options:
  client:
    description:
      - The client service principal (the application that receives the permissions).
      - An object id, an appId (application/client id) or a display name. A display name must match exactly one
        service principal; if several match, the module fails and lists them with their ids.
      - Required unless O(id) is given.
    type: str
  resource:
    description:
      - The resource service principal (the API exposing the permissions), for example C(Microsoft Graph) or
        C(00000003-0000-0000-c000-000000000000).
      - An object id, an appId or a display name, like O(client).
      - Required unless O(id) is given.
    type: str
  principal:
    description:
      - The user the grant is for, as an object id or userPrincipalName (guest UPNs with C(#EXT#), UPNs starting with
        C($) and UPNs with apostrophes are handled).
      - When given, O(consent_type) defaults to C(Principal).
    type: str
  consent_type:
    description:
      - C(AllPrincipals) grants the scopes on behalf of every user (admin consent); C(Principal) for one user.
      - Defaults to C(Principal) when O(principal) is given, otherwise C(AllPrincipals).
      - Exact case, as Graph wants it. C(AllPrincipals) together with O(principal) is an error.
    type: str
    choices: [AllPrincipals, Principal]
  id:
    description:
      - The id of an existing grant, as returned by M(msgraph.grants.oauth2_grant_info).
      - Mutually exclusive with O(client), O(resource), O(principal) and O(consent_type).
      - With O(state=present) a grant id that does not exist is an error (a grant cannot be created from an id);
        with O(state=absent) it is reported as unchanged.
    type: str
  scopes:
    description:
      - Delegated permission claim values, for example V(User.Read) or V(Mail.Read).
      - Items may themselves hold several space-separated scopes.
      - Required with O(state=present). Refused with O(state=absent), which deletes the whole grant; to take some
        scopes away, use O(state=present) with O(scope_mode=remove).
    type: list
    elements: str
  scope_mode:
    description:
      - V(exact) makes the grant hold exactly O(scopes).
      - V(append) adds the missing O(scopes) and keeps the others.
      - V(remove) removes O(scopes) and keeps the others.
      - Graph has no version check (ETag) on grants, so V(append) and V(remove) are a read, a change and a write. To
        keep a scope that another run writes at the same moment, the module reads the grant again shortly after its
        write and re-applies its change if it was overwritten (at most three times), and a write answered HTTP 429 is
        planned again from a fresh read instead of being re-sent. The window that remains (reads that lag writes) is
        described in the collection's docs/reliability.md.
    type: str
    choices: [exact, append, remove]
    default: exact
  state:
    description:
      - V(present) creates or updates the grant.
      - V(absent) deletes the whole grant (and succeeds if it is already gone). It takes no O(scopes); together they
        are refused before any request.
    type: str
    choices: [present, absent]
    default: present
  validate_scopes:
    description:
      - Check that every requested scope is an enabled delegated permission published by the resource
        (C(oauth2PermissionScopes), or C(publishedPermissionScopes) with O(api_version=beta)), and fail naming
        each bad scope with close matches. Nothing is written on a failed check.
      - Turn off only for scopes the resource does not publish on purpose.
    type: bool
    default: true
notes:
  - Only C(scope) is ever changed on an existing grant. Graph allows nothing else to be updated; a grant for another
    client, resource or user is another grant.
  - Graph replicates writes with a delay. A create that collides with a grant not yet visible is resolved by
    reading the grant back and converging it; a create that references service principals or users created
    moments ago is retried with a bounded backoff.
  - Scopes are written sorted and single-space joined. The whole scope string may not exceed 3850 characters.
seealso:
  - module: msgraph.grants.oauth2_grant_info
  - name: oAuth2PermissionGrant resource type
    description: Microsoft Graph documentation of the grant object.
    link: https://learn.microsoft.com/graph/api/resources/oauth2permissiongrant
'''

EXAMPLES = r'''
- name: Grant Microsoft Graph scopes to an app for all users (admin consent), by appIds
  msgraph.grants.oauth2_grant:
    client: 9a3c54c7-0c1b-4c5e-9a0e-8f1e2f1a0b11
    resource: 00000003-0000-0000-c000-000000000000
    scopes:
      - User.Read
      - Mail.Read

- name: The same by display names (each must match exactly one service principal)
  msgraph.grants.oauth2_grant:
    client: Contoso HR Portal
    resource: Microsoft Graph
    scopes: [openid, profile, User.Read]

- name: A grant for one user only
  msgraph.grants.oauth2_grant:
    client: Contoso HR Portal
    resource: Microsoft Graph
    principal: adele.vance@contoso.com
    scopes: [Calendars.Read]

- name: Add a scope, keeping whatever else the grant holds
  msgraph.grants.oauth2_grant:
    client: Contoso HR Portal
    resource: Microsoft Graph
    scopes: [Files.Read]
    scope_mode: append

- name: Remove one scope (the grant is deleted if nothing is left)
  msgraph.grants.oauth2_grant:
    client: Contoso HR Portal
    resource: Microsoft Graph
    scopes: [Mail.Read]
    scope_mode: remove

- name: Delete the admin-consent grant (per-user grants of the pair are left alone)
  msgraph.grants.oauth2_grant:
    client: Contoso HR Portal
    resource: Microsoft Graph
    state: absent

- name: Delete a grant by id
  msgraph.grants.oauth2_grant:
    id: AVs6JuUDjkCFV7q2gd8QTPimBBgj5iBFj0C6GwwRxC0
    state: absent

# Preview: run the play with --check --diff. Nothing is written; the result (action, scopes_added, scopes_removed,
# diff) is what the same run without --check then does.
- name: Exactly these scopes for the HR portal (preview with --check --diff)
  msgraph.grants.oauth2_grant:
    client: Contoso HR Portal
    resource: Microsoft Graph
    scopes: [User.Read]
  register: hr_portal_grant

- name: Set the connection once for every module of the collection
  module_defaults:
    group/msgraph.grants.graph:
      tenant_id: "{{ entra_tenant_id }}"
      client_id: "{{ automation_app_id }}"
      client_secret: "{{ automation_app_secret }}"
  block:
    - name: Grant Orders.Read to the payroll app
      msgraph.grants.oauth2_grant:
        client: Contoso Payroll
        resource: Contoso Orders API
        scopes: [Orders.Read]

# No connection options: they come from the process environment (AZURE_TENANT_ID, AZURE_CLIENT_ID,
# AZURE_CLIENT_SECRET exported by the CI job, or AAP's Azure Resource Manager credential). Do not pass secrets
# through the task's environment keyword: ansible-core prints it at -vvv.
- name: Authenticate from the environment
  msgraph.grants.oauth2_grant:
    client: Contoso Payroll
    resource: Microsoft Graph
    scopes: [User.Read]
'''

RETURN = r'''
action:
  description: What the module did (or would do in check mode).
  returned: always
  type: str
  choices: [created, updated, deleted, unchanged]
  sample: updated
grant:
  description: The grant after the run (predicted in check mode). Absent when the grant was deleted or never existed.
  returned: when a grant exists after the run
  type: dict
  contains:
    id:
      description: The grant id (opaque). V(null) for a grant that check mode predicts would be created.
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
deleted_grant:
  description: The grant as it was before the run deleted it (predicted in check mode), shaped like RV(grant).
  returned: when the grant was deleted
  type: dict
  sample: {id: AVs6JuUDjkCFV7q2gd8QTPimBBgj5iBFj0C6GwwRxC0, client_id: 263a5b01-03e5-408e-8557-bab681df104c,
           consent_type: AllPrincipals, principal_id: null, resource_id: 1804a6f8-e623-4520-8f40-ba1b0c11c42d,
           scopes: [User.Read], scope: User.Read}
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
scopes_added:
  description: Scopes the run added (all scopes on create), sorted.
  returned: always
  type: list
  elements: str
  sample: [Mail.Read]
scopes_removed:
  description: Scopes the run removed (all scopes on delete), sorted.
  returned: always
  type: list
  elements: str
  sample: []
diff:
  description:
    - Key fields and sorted scopes before and after; V({}) for no grant.
    - C(before_header) and C(after_header) name the grant as written, with display names and UPN beside ids.
  returned: when run with C(--diff)
  type: dict
  sample:
    before:
      client_id: 263a5b01-03e5-408e-8557-bab681df104c
      resource_id: 1804a6f8-e623-4520-8f40-ba1b0c11c42d
      consent_type: AllPrincipals
      principal_id: null
      scopes: [User.Read]
    after:
      client_id: 263a5b01-03e5-408e-8557-bab681df104c
      resource_id: 1804a6f8-e623-4520-8f40-ba1b0c11c42d
      consent_type: AllPrincipals
      principal_id: null
      scopes: [Mail.Read, User.Read]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.msgraph.grants.plugins.module_utils._graph_module import (
    GraphModule,
    graph_argument_spec,
)
from ansible_collections.msgraph.grants.plugins.module_utils._grant_options import ID_EXCLUSIVE, grant_id_option, grant_options
from ansible_collections.msgraph.grants.plugins.module_utils._grant_service import GrantService
from ansible_collections.msgraph.grants.plugins.module_utils._grants import absent_scopes_error


def main():
    argument_spec = graph_argument_spec(grant_options())
    argument_spec.update(grant_id_option())
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=ID_EXCLUSIVE,
        required_one_of=[('id', 'client')],
        required_together=[('client', 'resource')],
        required_if=[('state', 'present', ('scopes',))],
    )
    problem = absent_scopes_error(module.params['state'], module.params['scopes'])
    if problem:
        module.fail_json(msg=problem)
    graph = GraphModule(module)
    with graph.failing_cleanly():
        service = GrantService(graph.client(), api_version=graph.api_version, check_mode=module.check_mode, warn=module.warn)
        result = service.ensure(module.params)
    if not module._diff:
        result.pop('diff', None)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
