#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: drive_item_permission_info
short_description: List the sharing permissions of a file or folder in OneDrive or SharePoint
version_added: 0.2.0
description:
  - Lists every sharing permission Graph shows for a drive item (following every page), direct and inherited, user,
    group, sharing link, owner and pending invitation alike, in the shape M(msgraph.grants.drive_item_permission)
    returns, plus the expiration.
  - The item is named as in M(msgraph.grants.drive_item_permission). Never changes anything.
author:
  - msgraph.grants maintainers (@msgraph-grants)
extends_documentation_fragment:
  - msgraph.grants.graph
  - msgraph.grants.drive_item
  - msgraph.grants.attributes
  - msgraph.grants.attributes.info_module
options:
  grantee:
    description:
      - Only the permissions of this user, given by object id, userPrincipalName or e-mail address (without regard to case),
        granted to the user directly, as a pending invitation, or through a sharing link that names the user.
    type: str
notes:
  - The automation identity needs the permissions listed in the collection's C(docs/permissions.md).
  - Graph has been reported to return an incomplete list, without a next page, for items shared with very many
    people (lists of about 40 or 96 entries). Nothing in the answer says so, so the module cannot detect it and
    returns what Graph lists; a permission missing from RV(permissions) may still exist.
  - Pending invitations of external (e-mail) invitees have been reported to be listed only once the invitee accepts;
    an invitation just made may then be missing from RV(permissions).
seealso:
  - module: msgraph.grants.drive_item_permission
'''

EXAMPLES = r'''
- name: Who has access to the Q3 report
  msgraph.grants.drive_item_permission_info:
    site_id: contoso.sharepoint.com,2c7e6a40-1d3b-4e8a-9f17-5b6c7d8e9fa0,7a3e2c1d-4b5a-4c6d-8e9f-0a1b2c3d4e5f
    path: Finance/Q3 report.xlsx
  register: report_access

- name: Adele's permissions on a folder of Megan's OneDrive
  msgraph.grants.drive_item_permission_info:
    user: megan@contoso.com
    path: Projects
    grantee: adele@contoso.com
  register: adele_access

- name: Change Adele's roles only if nobody changed the folder since it was listed
  msgraph.grants.drive_item_permission:
    user: megan@contoso.com
    path: Projects
    grantee: adele@contoso.com
    roles: [read]
    if_match: "{{ adele_access.etag }}"
'''

RETURN = r'''
permissions:
  description: The item's permissions as Graph lists them (filtered by O(grantee) when given).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The permission id (opaque).
      type: str
      sample: aTowIy5mfG1lbWJlcnNoaXB8YWRlbGVAY29udG9zby5jb20
    kind:
      description: V(user), V(group), V(invitation) (pending), V(link), V(inherited), V(owner) or V(other).
      type: str
      sample: user
    roles:
      description: The roles, sorted.
      type: list
      elements: str
      sample: [read]
    grantee:
      description: Whom the permission is granted to, C({id, display_name, email}); V(null) for a sharing link.
      type: dict
    grantees:
      description: Everyone the permission names (for a sharing link, who may use it), each C({id, display_name, email}).
      type: list
      elements: dict
    link:
      description: C({type, scope}) of a sharing link, else V(null).
      type: dict
      sample: {type: view, scope: organization}
    inherited_from:
      description: V(null) unless the permission is inherited; then C({id, drive_id, path}) (fields may be V(null)).
      type: dict
    expiration:
      description: When the permission expires (ISO 8601), V(null) when it does not.
      type: str
      sample: '2026-12-31T23:59:59Z'
etag:
  description: The item's eTag, for O(msgraph.grants.drive_item_permission#module:if_match). V(null) when Graph gives none.
  returned: always
  type: str
  sample: '"{86EB4C8E-D20D-46B9-AD41-23B8868DDA8A},4"'
item_id:
  description: The item's id (useful after naming it by path).
  returned: always
  type: str
drive_id:
  description: The drive's id.
  returned: always
  type: str
retries:
  description: What the run retried (throttling, transient errors), one entry per retry; the run also warns.
  returned: when the run retried anything
  type: list
  elements: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.msgraph.grants.plugins.module_utils._drive_item_options import (
    drive_item_rules,
    drive_permission_info_options,
)
from ansible_collections.msgraph.grants.plugins.module_utils._drive_item_service import DriveItemService
from ansible_collections.msgraph.grants.plugins.module_utils._graph_module import (
    GraphModule,
    graph_argument_spec,
)


def main():
    module = AnsibleModule(
        argument_spec=graph_argument_spec(drive_permission_info_options()),
        supports_check_mode=True,
        **drive_item_rules()
    )
    graph = GraphModule(module)
    with graph.failing_cleanly():
        result = DriveItemService(graph.client(), warn=module.warn).info(module.params)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
