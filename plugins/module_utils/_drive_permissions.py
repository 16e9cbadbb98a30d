# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Pure logic for sharing permissions of a driveItem (OneDrive / SharePoint): kinds, grantee matching, roles,
planning, results and diffs.

PRIVATE to this collection: no stability guarantee for other collections. Nothing here performs I/O.

What a permission is and what may be changed (docs/dev/graph-behaviour.md#drive-permissions): only the ``roles`` of a
user or group permission set on the item itself (or of a pending invitation) are patchable; sharing links, inherited
permissions and the owner cannot be changed here. Whether an entry is inherited is known only when Graph says so
(``inheritedFrom`` present, even ``{}``); an absent ``inheritedFrom`` counts as direct.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from collections import namedtuple

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover - Python 2 is not supported, this only keeps the import sanity test quiet
    from urllib import quote  # type: ignore

from ansible_collections.msgraph.grants.plugins.module_utils._drive_invite import external_note
from ansible_collections.msgraph.grants.plugins.module_utils._grants import GrantInputError, is_guid

ROLES = ('read', 'write')
STATES = ('present', 'absent')
OWNER_ROLES = ('owner', 'sp.owner')
MANAGEABLE = ('user', 'group', 'invitation')
NO_EXPIRATION = '0001-01-01T00:00:00Z'  # DateTime.MinValue: Graph's "never expires"
IDENTITY_FACETS = ('user', 'group', 'siteUser', 'siteGroup', 'application', 'device')
ACTIONS = {'create': 'created', 'update': 'updated', 'delete': 'deleted', 'unchanged': 'unchanged'}

# ``action``: create | update | delete | unchanged; ``permission``: the raw Graph entry acted on (None for a create
# or when nothing matches); ``roles``: the roles to send (sorted); ``before``/``after``: the diff sides; ``note``:
# what the user should know although nothing is written (access the grantee keeps through what is not managed here).
DrivePlan = namedtuple('DrivePlan', ['action', 'permission', 'roles', 'before', 'after', 'note'])
DrivePlan.__new__.__defaults__ = (None,)


class DrivePermissionError(GrantInputError):
    """A sharing permission that cannot be managed as asked; raised before any write."""


# ------------------------------------------------------------------------------------------------- roles and paths
def check_roles(roles):
    """The roles as a sorted set; only ``read`` and ``write`` (Graph's invite accepts nothing else)."""
    wanted = sorted(set((r or '').strip().lower() for r in roles or []))
    bad = [r for r in wanted if r not in ROLES]
    if 'owner' in bad:
        raise DrivePermissionError(
            "roles: 'owner' cannot be given through a sharing permission (Graph's invite accepts only read and "
            "write, and the owner of an item is not a sharing permission). Use roles [read] or [write].")
    if bad:
        raise DrivePermissionError('roles: {0} {1} not a sharing role; use read and/or write.'.format(
            ', '.join("'{0}'".format(r) for r in bad), 'is' if len(bad) == 1 else 'are'))
    if not wanted:
        raise DrivePermissionError('roles must name read and/or write; to remove the permission use state: absent.')
    return wanted


def check_named(params, groups):
    """Refuse an option of ``groups`` (each a tuple of options of which exactly one is given) given as an empty
    string: AnsibleModule counts it as given, so it passes the exactly-one rules and then names nothing (an empty
    ``path`` would fall back to an ``item_id`` nobody gave)."""
    for group in groups:
        for name in group:
            others = ', '.join(n for n in group if n != name)
            if params.get(name) is not None and not str(params[name]).strip():
                raise DrivePermissionError('{0} is empty: give it a value, or leave it out{1}.'.format(
                    name, ' and give one of {0} instead'.format(others) if others else ''))


def encode_path(path):
    """A drive-relative path percent-encoded per segment (RFC 3986: spaces, ``#``, ``%``, ``?``, non-ASCII as UTF-8
    bytes), never the whole URL at once (docs/dev/graph-behaviour.md#drive-addressing)."""
    segments = (path or '').replace('\\', '/').strip('/').split('/')
    if not segments or any(s in ('', '.', '..') for s in segments):
        raise DrivePermissionError(
            "path {0!r} does not name a file or folder below the drive root: give it like 'Finance/Q3 report.xlsx' "
            "(no empty, '.' or '..' segments).".format(path))
    return '/'.join(quote(s.encode('utf-8'), safe='') for s in segments)


def bare_tag(tag):
    """An eTag/cTag without a weak prefix or surrounding quotes, for comparing a caller's tag with Graph's."""
    text = (tag or '').strip()
    if text[:2] in ('W/', 'w/'):
        text = text[2:]
    return text.strip('"')


def tag_matches(expected, *tags):
    return bool(expected) and any(t and bare_tag(t) == bare_tag(expected) for t in tags)


# ------------------------------------------------------------------------------------------------- kinds and views
def _facet_identity(identity_set):
    """``(facet, identity)`` of the first identity a Graph identitySet holds, or ``(None, None)``."""
    for facet in IDENTITY_FACETS:
        found = (identity_set or {}).get(facet)
        if isinstance(found, dict) and found:
            return facet, found
    return None, None


def _granted(raw):
    """The identitySet of a user/group permission (``grantedToV2``, else the deprecated ``grantedTo``)."""
    return raw.get('grantedToV2') or raw.get('grantedTo') or {}


def is_inherited(raw):
    return raw.get('inheritedFrom') is not None


def classify(raw):
    """``inherited``, ``link``, ``owner``, ``group``, ``user``, ``invitation`` or ``other``, in this order."""
    roles = [(r or '').lower() for r in raw.get('roles') or []]
    facet, _identity = _facet_identity(_granted(raw))
    if is_inherited(raw):
        return 'inherited'
    if raw.get('link'):
        return 'link'
    if any(r in OWNER_ROLES for r in roles):
        return 'owner'
    if facet in ('group', 'siteGroup'):
        return 'group'
    if facet in ('user', 'siteUser'):
        return 'user'
    if raw.get('invitation'):
        return 'invitation'
    return 'other'


def _login_address(identity):
    """The address inside a SharePoint claim ``i:0#.f|membership|someone@contoso.com``."""
    login = identity.get('loginName') or ''
    return login.rsplit('|', 1)[-1] if '|' in login else None


def identity_view(identity, email=None):
    identity = identity or {}
    return {'id': identity.get('id'), 'display_name': identity.get('displayName'),
            'email': identity.get('email') or _login_address(identity) or email}


def grantee_view(raw):
    """Who a user/group permission or invitation is for: ``{id, display_name, email}``, or None (a link)."""
    if raw.get('link'):
        return None
    facet, identity = _facet_identity(_granted(raw))
    email = (raw.get('invitation') or {}).get('email')
    if identity is None:
        return {'id': None, 'display_name': None, 'email': email} if email else None
    if facet in ('siteUser', 'siteGroup'):
        # Prefer the directory object when Graph gives both: its id is the one users know.
        for directory in ('user', 'group'):
            if _granted(raw).get(directory):
                identity = _granted(raw)[directory]
    return identity_view(identity, email)


def link_members(raw):
    return [identity_view(_facet_identity(i)[1]) for i in raw.get('grantedToIdentitiesV2')
            or raw.get('grantedToIdentities') or [] if _facet_identity(i)[1]]


def permission_view(raw, with_expiration=False):
    """A Graph permission in the modules' shape (``roles`` sorted; ``kind`` and ``grantees`` beside the contract's
    fields: for a link, ``grantees`` lists who may use it)."""
    if raw is None:
        return None
    link = raw.get('link')
    inherited = raw.get('inheritedFrom')
    grantee = grantee_view(raw)
    view = {
        'id': raw.get('id'),
        'kind': classify(raw),
        'roles': sorted(set(raw.get('roles') or [])),
        'grantee': grantee,
        'grantees': link_members(raw) if link else ([grantee] if grantee else []),
        'link': {'type': link.get('type'), 'scope': link.get('scope')} if link else None,
        'inherited_from': None if inherited is None else {
            'id': inherited.get('id'), 'drive_id': inherited.get('driveId'), 'path': inherited.get('path')},
    }
    if with_expiration:
        expiration = raw.get('expirationDateTime')
        view['expiration'] = None if not expiration or expiration.startswith('0001-01-01') else expiration
    return view


# ------------------------------------------------------------------------------------------------- grantee matching
class Grantee(object):
    """The identity the ``grantee`` option names: the value itself plus, when Graph knows the user, its object id,
    UPN and mail. Ids compare case-insensitively (GUIDs), addresses case-insensitively (UPNs and e-mail)."""

    def __init__(self, value, user=None):
        self.value = value
        self.user = user or None
        ids = set([value.lower()]) if is_guid(value) else set()
        addresses = set() if is_guid(value) else set([value.lower()])
        if self.user:
            ids.add((self.user.get('id') or '').lower())
            for key in ('userPrincipalName', 'mail'):
                if self.user.get(key):
                    addresses.add(self.user[key].lower())
        self.ids = set(i for i in ids if i)
        self.addresses = addresses

    @property
    def email(self):
        """Who ``invite`` addresses: the user's mail, else its UPN, else the value when it is an address."""
        if self.user:
            return self.user.get('mail') or self.user.get('userPrincipalName')
        return self.value if '@' in self.value else None

    def view(self):
        user = self.user or {}
        return {'id': user.get('id'), 'display_name': user.get('displayName'), 'email': self.email}

    def is_identity(self, identity):
        if not identity:
            return False
        if (identity.get('id') or '').lower() in self.ids:
            return True
        found = [identity.get('email'), identity.get('userPrincipalName'), _login_address(identity)]
        return any(a and a.lower() in self.addresses for a in found)

    def in_set(self, identity_set):
        return any(self.is_identity((identity_set or {}).get(f)) for f in IDENTITY_FACETS)


def match(raw, grantee):
    """``'direct'`` when the permission is granted to ``grantee`` itself (``grantedToV2``, the deprecated
    ``grantedTo``, or a pending ``invitation``), ``'link'`` when the grantee is only among a link's users, else None."""
    invitation = raw.get('invitation') or {}
    if not raw.get('link') and (grantee.in_set(_granted(raw)) or grantee.is_identity(invitation)
                                or grantee.in_set(invitation.get('redeemedBy'))):
        return 'direct'
    if any(grantee.in_set(i) for i in (raw.get('grantedToIdentitiesV2') or raw.get('grantedToIdentities') or [])):
        return 'link'
    return None


def filter_permissions(permissions, grantee):
    return [p for p in permissions if match(p, grantee)]


def _listing(raws):
    return '; '.join('id {0} ({1}, roles {2})'.format(p.get('id'), classify(p), ', '.join(p.get('roles') or []))
                     for p in raws)


def _refuse(raw, label):
    kind = classify(raw)
    where = "permission {0} of {1}".format(raw.get('id'), label)
    if kind == 'inherited':
        source = (raw.get('inheritedFrom') or {}).get('path') or (raw.get('inheritedFrom') or {}).get('id')
        raise DrivePermissionError(
            '{0} is inherited{1}; an inherited permission cannot be changed or deleted on this item. Change it on '
            'the folder it comes from.'.format(where, ' from {0}'.format(source) if source else ''))
    if kind == 'owner':
        raise DrivePermissionError(
            '{0} is the owner permission (roles {1}); the owner of an item cannot be changed or removed through '
            'its sharing permissions.'.format(where, ', '.join(raw.get('roles') or [])))
    if kind == 'link':
        raise DrivePermissionError(
            '{0} is a sharing link ({1} {2}); this module does not change sharing links (Graph refuses to change '
            'organization and people links). Remove the link, or give the user a permission of their own.'.format(
                where, (raw.get('link') or {}).get('scope'), (raw.get('link') or {}).get('type')))
    raise DrivePermissionError('{0} is not a user or group permission (roles {1}); it cannot be managed here.'.format(
        where, ', '.join(raw.get('roles') or [])))


def find_target(permissions, permission_id=None, grantee=None, label='the item', state='present'):
    """``(permission, note)``: the one user/group/invitation permission to manage (None when there is none), and for
    ``state=absent`` a note when the grantee keeps access it has not of its own (inherited, or through a link), which
    this module leaves alone. Raises :class:`DrivePermissionError` for a permission that cannot be managed and for an
    ambiguous grantee."""
    if permission_id is not None:
        found = [p for p in permissions if p.get('id') == permission_id]
        if found and classify(found[0]) not in MANAGEABLE:
            _refuse(found[0], label)
        return (found[0] if found else None), None
    direct = [p for p in permissions if match(p, grantee) == 'direct']
    manageable = [p for p in direct if classify(p) in MANAGEABLE]
    if len(manageable) > 1:
        raise DrivePermissionError(
            "grantee '{0}' is ambiguous on {1}: {2} permissions are granted to it ({3}). Use permission_id to name "
            "one.".format(grantee.value, label, len(manageable), _listing(manageable)))
    links = [p for p in permissions if match(p, grantee) == 'link']
    others = [p for p in direct if p not in manageable] + links
    if manageable:
        note = None
        if state == 'absent' and others:
            note = "grantee '{0}' keeps access to {1} after its own permission {2} is deleted, through {3}, which " \
                   "this module does not change.".format(grantee.value, label, manageable[0].get('id'),
                                                         _listing(others))
        return manageable[0], note
    owner = [p for p in direct if classify(p) == 'owner']
    if state == 'absent' and not owner and (direct or links):
        # Nothing of its own to delete; refusing would make a converged state fail on every later run.
        return None, "grantee '{0}' has no permission of its own on {1}, but keeps access through {2}, which this " \
                     "module does not change.".format(grantee.value, label, _listing(direct + links))
    if direct:
        _refuse((owner or direct)[0], label)
    if links:
        raise DrivePermissionError(
            "grantee '{0}' has access to {1} only through a sharing link ({2}); this module does not change sharing "
            "links. Remove the link, or give the user a permission of their own with a grantee that is not in the "
            "link.".format(grantee.value, label, _listing(links)))
    return None, None


# ------------------------------------------------------------------------------------------------- planning
def diff_side(roles):
    return {} if roles is None else {'roles': sorted(roles)}


def plan_permission(permissions, roles=None, state='present', permission_id=None, grantee=None, create=True,
                    label='the item', send_invitation=False):
    """What to write so that the permission is as asked: the single source of truth for check mode and the real run.

    ``permissions``: the item's permissions as listed (every page); ``roles``: checked roles (``check_roles``);
    exactly one of ``permission_id`` and ``grantee`` (a :class:`Grantee`)."""
    if state not in STATES:
        raise DrivePermissionError("state must be 'present' or 'absent', got {0!r}.".format(state))
    target, note = find_target(permissions, permission_id, grantee, label, state)
    before = None if target is None else sorted(set(target.get('roles') or []))
    if state == 'absent':
        if target is None:
            return DrivePlan('unchanged', None, None, {}, {}, note)
        return DrivePlan('delete', target, None, diff_side(before), {}, note)
    wanted = sorted(set(roles or []))
    if target is None:
        if permission_id is not None:
            raise DrivePermissionError(
                'no permission with id {0} on {1}: with permission_id the permission must exist (use grantee to '
                'create one).'.format(permission_id, label))
        if not create:
            return DrivePlan('unchanged', None, None, {}, {})
        if not grantee.email:
            raise DrivePermissionError(
                "grantee '{0}' has no permission on {1}, and Graph knows no e-mail address to invite: give the "
                "user's UPN or e-mail address, or set create: false.".format(grantee.value, label))
        note = None if grantee.user else external_note(grantee, label, send_invitation)
        return DrivePlan('create', None, wanted, {}, diff_side(wanted), note)
    if set(before) == set(wanted):
        return DrivePlan('unchanged', target, None, diff_side(before), diff_side(before))
    return DrivePlan('update', target, wanted, diff_side(before), diff_side(wanted))


def predicted_permission(plan, grantee=None, written=None):
    """The permission after ``plan``: what check mode predicts, completed by what Graph answered (``written``) in a
    real run. A predicted create has ``id`` null and its grantee as the directory knows the user; an update is the
    permission as listed with the roles Graph answered (the PATCH answer may carry fewer identity details)."""
    if plan.action == 'delete':
        return None
    if plan.action == 'create':
        view = {'id': None, 'kind': 'user' if grantee.user else 'invitation', 'roles': list(plan.roles),
                'grantee': grantee.view(), 'grantees': [grantee.view()], 'link': None, 'inherited_from': None}
        if written:
            answered = permission_view(written)
            known = view['grantee']
            answered['grantee'] = dict((k, v if v is not None else known.get(k))
                                       for k, v in (answered['grantee'] or known).items())
            answered['grantees'] = [answered['grantee']]
            view = answered
        return view
    view = permission_view(plan.permission)
    if view is not None and plan.action == 'update':
        view['roles'] = sorted(set((written or {}).get('roles') or plan.roles))
    return view


def result_of(plan, permission, etag):
    return {'changed': plan.action != 'unchanged', 'action': ACTIONS[plan.action], 'permission': permission,
            'etag': etag, 'diff': {'before': plan.before, 'after': plan.after}}
