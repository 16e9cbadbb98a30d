# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""The argument spec of ``admin_consent`` (the module and each item of the role's
``delegated_permissions_admin_consent``), with the choices ``_consent`` defines."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.msgraph.grants.plugins.module_utils._consent import MODES
from ansible_collections.msgraph.grants.plugins.module_utils._grants import STATES


def consent_options():
    return dict(
        client=dict(type='str', required=True),
        permissions=dict(type='list', elements='dict', options=dict(
            resource=dict(type='str', required=True),
            scopes=dict(type='list', elements='str', default=[]),
            app_roles=dict(type='list', elements='str', default=[]),
        )),
        delegated=dict(type='bool', default=True),
        application=dict(type='bool', default=True),
        mode=dict(type='str', default=MODES[0], choices=list(MODES)),
        state=dict(type='str', default=STATES[0], choices=list(STATES)),
        create_missing_service_principals=dict(type='bool', default=False),
        validate_scopes=dict(type='bool', default=True),
    )
