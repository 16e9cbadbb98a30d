# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # Standard attributes of every module of this collection.
    DOCUMENTATION = r'''
options: {}
attributes:
  action_group:
    description: Use C(group/msgraph.grants.graph) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - msgraph.grants.graph
'''

    # Modules that change grants.
    ACTIONS = r'''
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
    support: full
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
'''

    # Read-only modules.
    INFO_MODULE = r'''
options: {}
attributes:
  check_mode:
    description: This action does not modify state.
    support: full
  diff_mode:
    description: This action does not modify state.
    support: N/A
  idempotent:
    description: This action does not modify state.
    support: full
'''
