#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: admin_consent
short_description: Grant tenant-wide admin consent to what an application requests (the portal's button, as code)
version_added: 0.2.0
description:
  - Does what the Entra portal's C(Grant admin consent) button does, idempotently and with a preview. For every
    resource (API) the application requests, the client's tenant-wide (C(AllPrincipals)) delegated permission grant
    gets the requested delegated permissions (C(Scope) entries), and the client's service principal gets the
    requested application permissions (C(Role) entries) as app role assignments.
  - The requested permissions come from the app registration in this tenant (C(requiredResourceAccess), read with
    C(GET /applications(appId='...'))), or from O(permissions) for a multi-tenant application whose registration
    lives in another tenant.
  - Requested permission ids are mapped to values through each resource's published C(oauth2PermissionScopes) and
    C(appRoles). An id the resource no longer publishes, a requested app role that is disabled or not allowed for
    applications, a resource without a service principal (unless O(create_missing_service_principals=true)) and,
    with O(validate_scopes=true), an unknown or disabled scope all fail before anything is written.
  - O(mode=append) (the default) adds what is requested and keeps the rest. O(mode=exact) also removes what is not
    requested, on every resource, including resources no longer requested at all.
  - Per-user (C(Principal)) grants are never touched.
  - A converged run costs at most five Graph round trips whatever the number of permissions (the client, its app
    registration, its grants, its app role assignments, and one C($batch) for every resource).
author:
  - msgraph.grants maintainers (@msgraph-grants)
extends_documentation_fragment:
  - msgraph.grants.graph
  - msgraph.grants.attributes
  - msgraph.grants.attributes.actions
options:
  client:
    description:
      - The client service principal (the application that receives the consent), as an object id, appId or display name
        (which must match exactly one service principal).
    type: str
    required: true
  permissions:
    description:
      - What to consent to, by value. Omitted, the permissions requested by the app registration in this tenant are
        used; give them for an application registered in another tenant.
    type: list
    elements: dict
    suboptions:
      resource:
        description: The resource (API) service principal, for example C(Microsoft Graph), as an object id, appId or display name.
        type: str
        required: true
      scopes:
        description: Delegated permission claim values, for example V(User.Read).
        type: list
        elements: str
        default: []
      app_roles:
        description: Application permissions (app role values), for example V(Group.Read.All).
        type: list
        elements: str
        default: []
  delegated:
    description: Converge the client's tenant-wide (C(AllPrincipals)) delegated permission grants.
    type: bool
    default: true
  application:
    description: Converge the client's app role assignments (application permissions).
    type: bool
    default: true
  mode:
    description:
      - V(append) adds what is requested and keeps whatever else the client holds.
      - V(exact) also removes the delegated scopes and app role assignments that are not requested, also on resources
        that are no longer requested at all (their grant is deleted, their assignments removed). This is the portal's
        net effect when the admin removes the C(Other permissions granted).
      - The default stays V(append) so that an automated run never revokes consent unless told to.
    type: str
    choices: [append, exact]
    default: append
  state:
    description:
      - V(present) grants what is requested.
      - V(absent) revokes all admin consent of the client, for the halves O(delegated) and O(application) select,
        every C(AllPrincipals) grant and every app role assignment of the client, whatever is requested.
    type: str
    choices: [present, absent]
    default: present
  create_missing_service_principals:
    description:
      - Create the service principal of a requested resource that has none in this tenant
        (C(POST /servicePrincipals) with its appId). Otherwise such a resource fails the run before any write.
      - In check mode the service principal is reported as to be created (RV(resources[].service_principal_created))
        and the rest is predicted as if it existed; requested permission ids of such a resource cannot be mapped to
        values before it exists and are shown as ids.
    type: bool
    default: false
  validate_scopes:
    description:
      - Check that every requested delegated permission is enabled and published by its resource, as in
        M(msgraph.grants.oauth2_grant). Requested app roles are always checked.
    type: bool
    default: true
notes:
  - The Graph permissions and directory role the automation identity needs are listed in the collection's
    docs/permissions.md (granting app roles of Microsoft Graph itself needs more than the other writes).
  - Check mode reads exactly what the real run reads and writes nothing; with C(--diff) the diff shows, per resource
    appId, the delegated scopes and app roles before and after.
seealso:
  - module: msgraph.grants.oauth2_grant
  - module: msgraph.grants.app_role_assignment
  - name: Grant tenant-wide admin consent to an application
    description: Microsoft's documentation of the portal's button and its Graph equivalent.
    link: https://learn.microsoft.com/entra/identity/enterprise-apps/grant-admin-consent
'''

EXAMPLES = r'''
- name: Reproduce the portal's "Grant admin consent" button for an app registered in this tenant
  msgraph.grants.admin_consent:
    client: Contoso HR Portal

- name: Exactly what the app registration requests (also revokes consent it no longer requests); preview with --check --diff
  msgraph.grants.admin_consent:
    client: 9a3c54c7-0c1b-4c5e-9a0e-8f1e2f1a0b11
    mode: exact

- name: A multi-tenant app registered elsewhere, its permissions given here
  msgraph.grants.admin_consent:
    client: Fabrikam Analytics
    create_missing_service_principals: true
    permissions:
      - resource: Microsoft Graph
        scopes: [openid, profile, User.Read]
        app_roles: [Group.Read.All]
      - resource: 00000003-0000-0ff1-ce00-000000000000  # Office 365 SharePoint Online
        scopes: [AllSites.Read]

- name: Only the delegated half
  msgraph.grants.admin_consent:
    client: Contoso HR Portal
    application: false

- name: Revoke all admin consent of an app (per-user consents stay)
  msgraph.grants.admin_consent:
    client: Contoso HR Portal
    state: absent
'''

RETURN = r'''
resources:
  description:
    - One entry per resource that is requested or that the run changes (a converged run lists every requested
      resource), sorted by RV(resources[].resource_app_id).
  returned: always
  type: list
  elements: dict
  contains:
    resource_id:
      description: Object id of the resource service principal (V(null) for one check mode predicts would be created).
      type: str
    resource_app_id:
      description: appId of the resource.
      type: str
    resource_display_name:
      description: Display name of the resource service principal.
      type: str
    grant_action:
      description:
        - What happened to the client's C(AllPrincipals) grant on this resource, V(null) when the delegated half is not
          managed or no delegated scope is requested nor granted.
      type: str
      choices: [created, updated, deleted, unchanged]
    scopes_added:
      description: Delegated scopes added, sorted.
      type: list
      elements: str
    scopes_removed:
      description: Delegated scopes removed, sorted.
      type: list
      elements: str
    roles_added:
      description: App role values assigned, sorted.
      type: list
      elements: str
    roles_removed:
      description: App role values unassigned, sorted (the role id for a role the resource no longer publishes).
      type: list
      elements: str
    service_principal_created:
      description: V(true) when the run created (check mode; would create) the resource's service principal.
      type: bool
      returned: when a service principal was created
  sample:
    - resource_id: 1804a6f8-e623-4520-8f40-ba1b0c11c42d
      resource_app_id: 00000003-0000-0000-c000-000000000000
      resource_display_name: Microsoft Graph
      grant_action: updated
      scopes_added: [Mail.Read]
      scopes_removed: []
      roles_added: [Group.Read.All]
      roles_removed: []
diff:
  description:
    - Per resource appId, the delegated scopes (C(scopes)) and app role values (C(app_roles)) before and after; only
      the halves the run manages.
  returned: when run with C(--diff)
  type: dict
  sample:
    before: {00000003-0000-0000-c000-000000000000: {scopes: [User.Read], app_roles: []}}
    after: {00000003-0000-0000-c000-000000000000: {scopes: [Mail.Read, User.Read], app_roles: [Group.Read.All]}}
retries:
  description: What the run retried, as in M(msgraph.grants.oauth2_grant).
  returned: when the run retried anything
  type: list
  elements: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.msgraph.grants.plugins.module_utils._consent_service import ConsentService
from ansible_collections.msgraph.grants.plugins.module_utils._consent_options import consent_options
from ansible_collections.msgraph.grants.plugins.module_utils._graph_module import (
    GraphModule,
    graph_argument_spec,
)


def main():
    module = AnsibleModule(argument_spec=graph_argument_spec(consent_options()), supports_check_mode=True)
    graph = GraphModule(module)
    with graph.failing_cleanly():
        service = ConsentService(graph.client(), api_version=graph.api_version, check_mode=module.check_mode,
                                 warn=module.warn)
        result = service.ensure(module.params)
    if not module._diff:
        result.pop('diff', None)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
