# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""The options of one app role assignment: ``app_role_assignment`` and each item of ``app_role_assignments`` (and so
of the role's ``delegated_permissions_app_role_assignments``), with the choices ``_app_roles`` defines."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.msgraph.grants.plugins.module_utils._app_roles import MODES, STATES


def app_role_options():
    return dict(
        client=dict(type='str', required=True),
        resource=dict(type='str', required=True),
        app_roles=dict(type='list', elements='str'),
        mode=dict(type='str', choices=list(MODES), default='exact'),
        state=dict(type='str', choices=list(STATES), default='present'),
    )
