# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # How the drive modules name an item (plugins/module_utils/_drive_item_options.drive_item_options).
    DOCUMENTATION = r'''
options:
  drive_id:
    description:
      - The drive holding the item. Exactly one of O(drive_id), O(user), O(group) and O(site_id) is required.
    type: str
  user:
    description:
      - A user's object id or userPrincipalName; the item is on that user's OneDrive.
    type: str
  group:
    description:
      - A Microsoft 365 group's object id; the item is in that group's document library.
    type: str
  site_id:
    description:
      - A SharePoint site id (C(hostname,siteCollectionId,webId)); the item is in the site's default document library.
    type: str
  item_id:
    description:
      - The item's id. Exactly one of O(item_id) and O(path) is required.
    type: str
  path:
    description:
      - The item's path relative to the drive root, for example C(Finance/Q3 report.xlsx).
      - Each segment is percent-encoded by the module (spaces, C(#), C(%), non-ASCII letters); write the path as the
        drive shows it.
    type: str
'''
