# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""The argument spec of a grant, in one place: ``oauth2_grant``'s options, each item of ``oauth2_grants``' list and
``oauth2_grant_info``'s filters are built here, with the choices ``_grants`` defines. The modules' DOCUMENTATION
and the role's ``meta/argument_specs.yml`` stay literal YAML; tests/unit/plugins/modules/test_option_specs.py holds
them to this spec."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.msgraph.grants.plugins.module_utils._grants import CONSENT_TYPES, SCOPE_MODES, STATES

# A grant given by id cannot also be given by its key.
ID_EXCLUSIVE = [('id', 'client'), ('id', 'resource'), ('id', 'principal'), ('id', 'consent_type')]


def grant_key_options(required=False):
    """Which grant: client, resource, principal, consent_type (``required``: client and resource must be given)."""
    key = dict(type='str', required=True) if required else dict(type='str')
    return dict(
        client=dict(key),
        resource=dict(key),
        principal=dict(type='str'),
        consent_type=dict(type='str', choices=list(CONSENT_TYPES)),
    )


def grant_options(required=False):
    """One grant to converge: its key, then scopes, scope_mode, state and validate_scopes."""
    options = grant_key_options(required)
    options.update(
        scopes=dict(type='list', elements='str'),
        scope_mode=dict(type='str', default=SCOPE_MODES[0], choices=list(SCOPE_MODES)),
        state=dict(type='str', default=STATES[0], choices=list(STATES)),
        validate_scopes=dict(type='bool', default=True),
    )
    return options


def grant_id_option():
    return dict(id=dict(type='str'))
