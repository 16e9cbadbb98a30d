# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""What Graph's errors mean for a grant: the duplicate key, a referenced object not replicated yet, and what a 403
asks of the automation identity. The transport (``_graph_client``) knows HTTP; this module knows grants."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib

from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError

DUPLICATE_GRANT_TEXT = 'permission entry already exists'
DUPLICATE_GRANT_CODE = 'Request_MultipleObjectsWithSameKeyValue'
NOT_REPLICATED_TEXT = 'does not exist or one of its queried reference-property objects are not present'

# docs/permissions.md is the one list of these permissions (tests/unit/test_docs_agree.py holds the two together).
PERMISSIONS_HINT = ('The application needs the Graph application permissions DelegatedPermissionGrant.ReadWrite.All,'
                    ' Application.Read.All and User.ReadBasic.All (for reads alone, Directory.Read.All is enough), with'
                    ' admin consent; see docs/permissions.md.')


def is_duplicate_grant_error(err):
    """True for the duplicate-key error: code Request_MultipleObjectsWithSameKeyValue whatever the status or message
    (docs/dev/graph-behaviour.md), or 'Permission entry already exists.' with 400/409."""
    if not isinstance(err, GraphError):
        return False
    if (err.code or '').lower() == DUPLICATE_GRANT_CODE.lower():
        return True
    return err.status in (400, 409) and DUPLICATE_GRANT_TEXT in (err.message or '').lower()


def is_not_replicated_error(err):
    """True when a referenced object is (not yet) visible: 404, or 400 '... does not exist or one of its queried
    reference-property objects are not present'."""
    if not isinstance(err, GraphError):
        return False
    if err.status == 404:
        return True
    return err.status == 400 and NOT_REPLICATED_TEXT in (err.message or '').lower()


def with_hint(err, hint):
    """The same error, with what the user can do about it appended to its message."""
    err.hint = ' '.join(part for part in (err.hint, hint) if part)
    return err


def with_permissions_hint(err, hint=PERMISSIONS_HINT):
    """A 403 from Graph names the permissions the automation identity lacks (once, whoever raised it). ``hint``:
    the grants' permissions by default; each resource's service passes its own."""
    if isinstance(err, GraphError) and err.status == 403 and hint not in (err.hint or ''):
        with_hint(err, hint)
    return err


@contextlib.contextmanager
def permission_hints(hint=PERMISSIONS_HINT):
    """Around a service's public entry point: every 403 that leaves it carries the permissions hint."""
    try:
        yield
    except GraphError as err:
        raise with_permissions_hint(err, hint)
