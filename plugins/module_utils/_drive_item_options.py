# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""The options of a driveItem's sharing permissions: how both ``drive_item_permission`` and
``drive_item_permission_info`` name the item (one drive source, one item form), and the permission options of the
former, with the choices ``_drive_permissions`` defines."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.msgraph.grants.plugins.module_utils._drive_permissions import STATES

DRIVE_SOURCES = ('drive_id', 'user', 'group', 'site_id')
ITEM_FORMS = ('item_id', 'path')
PERMISSION_FORMS = ('permission_id', 'grantee')


def drive_item_options():
    """The item address, shared by both modules: exactly one of ``DRIVE_SOURCES`` and one of ``ITEM_FORMS``."""
    return dict(
        drive_id=dict(type='str'),
        user=dict(type='str'),
        group=dict(type='str'),
        site_id=dict(type='str'),
        item_id=dict(type='str'),
        path=dict(type='str'),
    )


def drive_item_rules(*exactly_one):
    """``mutually_exclusive``/``required_one_of`` for AnsibleModule: exactly one option of each group."""
    groups = [list(DRIVE_SOURCES), list(ITEM_FORMS)] + [list(g) for g in exactly_one]
    return dict(mutually_exclusive=groups, required_one_of=groups)


def drive_permission_options():
    """``drive_item_permission``: the item, then the permission and what it should be."""
    options = drive_item_options()
    options.update(
        permission_id=dict(type='str'),
        grantee=dict(type='str'),
        roles=dict(type='list', elements='str'),  # checked by _drive_permissions.check_roles: a message that explains
        state=dict(type='str', choices=list(STATES), default='present'),
        create=dict(type='bool', default=True),
        send_invitation=dict(type='bool', default=False),
        if_match=dict(type='str'),
    )
    return options


def drive_permission_info_options():
    """``drive_item_permission_info``: the item and an optional grantee filter."""
    options = drive_item_options()
    options.update(grantee=dict(type='str'))
    return options
