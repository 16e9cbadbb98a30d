# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""Pure logic of what ``invite`` answers and what a user must be told about it (no I/O).

Readings of Graph this code has to survive (docs/dev/graph-behaviour.md#readings):
- pending invitations of external (e-mail) invitees may not be listed until they accept: a later run cannot see
  them and invites again (the same permission id; with ``sendInvitation`` another e-mail);
- invite of a grantee that already has a permission may replace its roles or merge them with the new ones: the
  roles in the answer are compared with the ones asked for;
- the permission list may be cut short without a nextLink: the permission invite answers may be missing from it;
- 207 Multi-Status: the permission is granted, but the invitation mail to a recipient failed (``error`` per entry);
- an app-only token cannot invite a new guest: 403 ``accessDenied``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def invite_body(grantee, roles, send_invitation):
    """The invite request: one recipient, sign-in required, ``sendInvitation`` always sent (v1.0 and beta word its
    default differently)."""
    return {'recipients': [{'email': grantee.email}], 'requireSignIn': True,
            'sendInvitation': bool(send_invitation), 'roles': list(roles)}


def external_note(grantee, label, send_invitation):
    """What a user gets when the grantee is not in the directory: a pending invitation, which Graph may not list."""
    return ("grantee '{0}' is not a user of the directory: unless it is a group's address, invite creates a pending "
            "invitation on {1}. Graph has "
            "been reported to list pending invitations only once they are accepted; if so, every later run cannot "
            "see it and invites '{0}' again (the same permission, reported as created{2}) until the invitation is "
            "accepted.".format(grantee.value, label,
                               ', and another invitation e-mail each time because send_invitation is true'
                               if send_invitation else ''))


def notify_warnings(entries, email, label):
    """One warning per invite entry that carries an ``error`` (207 Multi-Status): granted, but the mail failed."""
    out = []
    for entry in entries:
        error = entry.get('error')
        if not error:
            continue
        error = error if isinstance(error, dict) else {'message': str(error)}
        inner = error.get('innererror') or error.get('innerError') or {}
        code = error.get('code') or 'unknown'
        if isinstance(inner, dict) and inner.get('code'):
            code = '{0}/{1}'.format(code, inner['code'])
        out.append('Graph granted the permission on {0}, but could not send the invitation e-mail to {1} ({2}: {3}). '
                   'The permission stands; tell the grantee yourself, or fix the cause and share again.'.format(
                       label, email, code, error.get('message') or error.get('localizedMessage') or 'no message'))
    return out


def roles_of(raw):
    return sorted(set((raw or {}).get('roles') or []))


def merged_roles_warning(grantee, label, answered, wanted):
    return ("invite answered roles {0} for '{1}' on {2}, not {3}: the grantee already had a permission the list "
            "did not show, and Graph merged the roles. They are set to exactly {3} with a PATCH.".format(
                ', '.join(answered), grantee.value, label, ', '.join(wanted)))


def unlisted_warning(permission, grantee, label, send_invitation):
    """The permission invite answered is not in the list Graph gives afterwards (pending invitation not listed, or
    a list cut short): later runs cannot see it and will invite again."""
    pending = bool(permission.get('invitation')) and not permission.get('grantedToV2') and grantee.user is None
    why = ('Graph does not list a pending invitation until it is accepted' if pending else
           'Graph lists the permissions of the item incompletely (its list has been seen cut short without saying so)')
    return ("permission {0} that invite answered for '{1}' is not in the permission list of {2}: {3}. A later run "
            "cannot see it and will invite '{1}' again (the same permission, reported as created{4}).".format(
                permission.get('id'), grantee.value, label, why,
                ', with another invitation e-mail each time' if send_invitation else ''))


def new_guest_hint(grantee, label):
    """The 403 of an app-only invite of an address the directory does not know."""
    return ("Graph refused to invite '{0}' to {1}. '{0}' is not a user of the directory, and an application "
            "(app-only token) cannot invite new guests to a file or folder. Add '{0}' to the tenant as a guest first "
            "(an Entra B2B invitation: POST /invitations, or New-MgInvitation), then run again: existing guests can be "
            "invited app-only. Nothing was written.".format(grantee.value, label))
