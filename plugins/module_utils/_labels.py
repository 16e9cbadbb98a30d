# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""How a grant is named where people review a run (summaries, ``changes``, diff headers, error messages): as the user
wrote it, with the display names and UPN the run resolved beside ids and appIds."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

NAME_KEYS = ('client_display_name', 'resource_display_name', 'principal_user_principal_name')


def names_of(client_sp, resource_sp, user):
    """The names a run resolved for one grant (``None`` where unknown)."""
    return dict(zip(NAME_KEYS, (getattr(client_sp, 'display_name', None), getattr(resource_sp, 'display_name', None),
                                getattr(user, 'user_principal_name', None))))


def _named(written, name):
    if name and written and written.lower() != name.lower():
        return '{0} ({1})'.format(written, name)
    return written


def grant_label(client, resource, principal=None, names=None):
    """``client -> resource [for principal]``; a value written as an id gets its name beside it."""
    names = names or {}
    text = '{0} -> {1}'.format(_named(client, names.get('client_display_name')),
                               _named(resource, names.get('resource_display_name')))
    if principal:
        text += ' for {0}'.format(_named(principal, names.get('principal_user_principal_name')))
    return text


def view_label(view):
    """A grant known only from Graph (its view, names attached when resolved): names first, grant id last."""
    text = grant_label(view.get('client_display_name') or view['client_id'],
                       view.get('resource_display_name') or view['resource_id'],
                       view.get('principal_user_principal_name') or view.get('principal_id'))
    return '{0} (grant id {1})'.format(text, view['id'])
