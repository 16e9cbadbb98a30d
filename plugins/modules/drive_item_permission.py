#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: drive_item_permission
short_description: Manage who may read or write a file or folder in OneDrive or SharePoint
version_added: 0.2.0
description:
  - Converges one sharing permission of a drive item (a file or folder in a user's OneDrive or a SharePoint document
    library), that is its O(roles), or its removal. A missing permission is created through Graph's C(invite) action.
  - The item is named by O(item_id) or by O(path) on a drive given by O(drive_id), O(user), O(group) or O(site_id).
    The permission is named by O(permission_id) or by O(grantee).
  - The module reads the item and every page of its permissions, and writes at most once, by id, with an
    C(If-Match) header carrying the item's eTag as just read. If somebody changes the item between that read and the
    write, Graph answers 412 and the module reads and plans again (at most three times), so a concurrent change is
    never overwritten; if the item is then already as asked, nothing more is written.
  - Sharing links, inherited permissions and the owner's permission cannot be changed through this module; naming
    one (directly, or through a grantee that only appears inside a sharing link) fails before anything is written.
author:
  - msgraph.grants maintainers (@msgraph-grants)
extends_documentation_fragment:
  - msgraph.grants.graph
  - msgraph.grants.drive_item
  - msgraph.grants.attributes
  - msgraph.grants.attributes.actions
options:
  permission_id:
    description:
      - The permission's id, as RV(msgraph.grants.drive_item_permission_info#module:permissions[].id) shows it.
        Exactly one of O(permission_id) and O(grantee) is required.
      - A permission named by id must exist for O(state=present).
    type: str
  grantee:
    description:
      - Whom the permission is granted to, a user's object id, userPrincipalName or e-mail address (compared without
        regard to case). It is matched against the user of each permission and against pending invitations.
      - If several permissions of the item match, the module fails and lists them with their ids; use
        O(permission_id).
    type: str
  roles:
    description:
      - The roles the permission should have, V(read) and/or V(write), compared as a set. V(owner) and any other
        value are refused.
      - Required with O(state=present); refused with O(state=absent).
    type: list
    elements: str
  state:
    description:
      - V(present) gives the permission exactly O(roles), creating it through C(invite) when the grantee has none.
      - V(absent) deletes the permission (succeeds when there is none). A grantee whose only access is inherited or
        through a sharing link has no permission of its own to delete; the run is then C(ok) and warns about that
        access, which the module does not change. A run that deletes the grantee's own permission warns the same way
        when such access remains.
    type: str
    choices: [present, absent]
    default: present
  create:
    description:
      - With O(state=present) and no permission for O(grantee), whether to create one. With V(false) the run is then
        C(ok) with RV(action=unchanged) and RV(permission=null), and nothing is written.
    type: bool
    default: true
  send_invitation:
    description:
      - Whether the C(invite) that creates a permission sends the grantee an e-mail. The permission is granted either
        way; the invitation requires the grantee to sign in.
      - If Graph grants the permission but cannot send the e-mail (207 Multi-Status), the run succeeds and warns with
        Graph's error code and message.
      - With V(true), each run that invites sends another e-mail; see the notes on pending invitations, which Graph
        may not list.
    type: bool
    default: false
  if_match:
    description:
      - The eTag or cTag the caller expects the item to have, for example RV(etag) of an earlier run or
        RV(msgraph.grants.drive_item_permission_info#module:etag).
      - When a write is needed and the item no longer has that tag, the module fails without writing and without
        planning again; a 412 from Graph fails the same way. A converged run does not compare the tag.
    type: str
notes:
  - The automation identity needs the permissions listed in the collection's C(docs/permissions.md).
  - Whether Graph changes an item's eTag when only its permissions change is not documented consistently; the module
    never relies on either behaviour and always guards a write with the tag it has just read.
  - Permission ids are opaque; the id of a permission created in check mode cannot be predicted (RV(permission.id) is
    V(null) then), and neither can details only Graph fills in (a display name the directory does not know).
  - A permission granted through a sharing link is left alone; remove the link, or give the user a permission of
    their own.
  - OneDrive for Business and SharePoint may list an inherited permission without saying that it is inherited. The
    module can then only send the write, which Graph refuses without changing anything; the module fails saying the
    permission may be inherited and should be changed on the folder it comes from.
  - "A grantee that is not a user of the directory (an external e-mail address) gets a pending invitation. Graph has
    been reported to list pending invitations only once the invitee accepts them. If so, a later run cannot see the
    invitation and invites again: the run reports RV(action=created) with one C(invite) request, Graph answers the
    same permission id, and with O(send_invitation=true) the invitee gets another e-mail. The module cannot be
    idempotent there; it warns on every such run, and when the permission invite answered is missing from the list
    afterwards. Use O(send_invitation=false), or stop running the task for that grantee until the invitation is
    accepted."
  - Graph has been reported to cut long permission lists short without saying so. A grantee whose permission is
    cut off looks like a grantee without one, so the module invites; Graph answers the same permission. Whether
    invite then replaces the roles or adds the new ones to the old is not documented; the module compares the roles
    in the answer and sets them to exactly O(roles) with a PATCH, so the end state is the same either way, and warns.
    Check mode predicts a creation then, and every run invites again while the list stays short.
  - An application (app-only token) cannot invite a new guest. Graph answers 403 C(accessDenied), and the module
    fails saying to add the address to the tenant as a guest first; existing guests can be invited.
seealso:
  - module: msgraph.grants.drive_item_permission_info
    description: List the sharing permissions of an item.
  - name: Update permission
    description: Microsoft Graph documentation.
    link: https://learn.microsoft.com/en-us/graph/api/permission-update
  - name: driveItem invite
    description: Microsoft Graph documentation.
    link: https://learn.microsoft.com/en-us/graph/api/driveitem-invite
'''

EXAMPLES = r'''
- name: Adele may edit the Q3 report on the finance site (created through invite when she has no permission yet)
  msgraph.grants.drive_item_permission:
    site_id: contoso.sharepoint.com,2c7e6a40-1d3b-4e8a-9f17-5b6c7d8e9fa0,7a3e2c1d-4b5a-4c6d-8e9f-0a1b2c3d4e5f
    path: Finance/Q3 report.xlsx
    grantee: adele@contoso.com
    roles: [write]

- name: Read only on a folder of a user's OneDrive, by ids
  msgraph.grants.drive_item_permission:
    user: megan@contoso.com
    item_id: 01NKDM7HMOJTVYMDOSXFDK2QJDXCDI3WUK
    grantee: 48d31887-5fad-4d73-a9f5-3c356e68a038
    roles: [read]

- name: Take a permission away
  msgraph.grants.drive_item_permission:
    drive_id: b!t18F8ybsHUq1z3LTz8xvZqP8zaSWjkFNhsME-Fepo75dTf9vQKfeRblBZjoSQrd7
    path: "Projects/Plan #2.docx"
    permission_id: aTowIy5mfG1lbWJlcnNoaXB8YWRlbGVAY29udG9zby5jb20
    state: absent

- name: Only if the item is still as we last saw it
  msgraph.grants.drive_item_permission:
    user: megan@contoso.com
    path: Contracts/2025.pdf
    grantee: adele@contoso.com
    roles: [read]
    if_match: "{{ contract_permissions.etag }}"

- name: Change the roles of an existing permission, never create one
  msgraph.grants.drive_item_permission:
    group: 02bd9fd6-8f93-4758-87c3-1fb73740a315
    path: Shared Documents/Budget.xlsx
    grantee: alex@contoso.com
    roles: [read]
    create: false
  register: budget_permission
'''

RETURN = r'''
action:
  description: What the run did (predicted in check mode).
  returned: always
  type: str
  choices: [created, updated, deleted, unchanged]
  sample: updated
permission:
  description:
    - The permission after the run (predicted in check mode), or V(null) when there is none (deleted, or not created
      because of O(create=false)).
  returned: always
  type: dict
  contains:
    id:
      description: The permission id (opaque). V(null) for a permission check mode predicts would be created.
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
      sample: [write]
    grantee:
      description: Whom the permission is granted to, C({id, display_name, email}); V(null) for a sharing link.
      type: dict
      sample: {id: 48d31887-5fad-4d73-a9f5-3c356e68a038, display_name: Adele Vance, email: adele@contoso.com}
    grantees:
      description: Everyone the permission names (for a sharing link, who may use it), each C({id, display_name, email}).
      type: list
      elements: dict
    link:
      description: C({type, scope}) of a sharing link, else V(null).
      type: dict
      sample: null
    inherited_from:
      description: V(null) unless the permission is inherited; then C({id, drive_id, path}) (fields may be V(null)).
      type: dict
      sample: null
etag:
  description: The item's eTag as last read (read again after a write). V(null) when Graph gives none.
  returned: always
  type: str
  sample: '"{86EB4C8E-D20D-46B9-AD41-23B8868DDA8A},4"'
retries:
  description: What the run retried (throttling, transient errors), one entry per retry; the run also warns.
  returned: when the run retried anything
  type: list
  elements: dict
diff:
  description: The permission's roles before and after the run, C({roles}) or C({}) where there is no permission.
  returned: when run with C(--diff)
  type: dict
  sample:
    before: {roles: [read]}
    after: {roles: [write]}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.msgraph.grants.plugins.module_utils._drive_item_options import (
    PERMISSION_FORMS,
    drive_item_rules,
    drive_permission_options,
)
from ansible_collections.msgraph.grants.plugins.module_utils._drive_item_service import DriveItemService
from ansible_collections.msgraph.grants.plugins.module_utils._graph_module import (
    GraphModule,
    graph_argument_spec,
)


def main():
    module = AnsibleModule(
        argument_spec=graph_argument_spec(drive_permission_options()),
        supports_check_mode=True,
        required_if=[('state', 'present', ('roles',))],
        **drive_item_rules(PERMISSION_FORMS)
    )
    graph = GraphModule(module)
    with graph.failing_cleanly():
        service = DriveItemService(graph.client(), check_mode=module.check_mode, warn=module.warn)
        result = service.ensure(module.params)
    if not module._diff:
        result.pop('diff', None)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
