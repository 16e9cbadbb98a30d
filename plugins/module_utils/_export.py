# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""PURE: a tenant's grants and app role assignments as the variables of the role ``delegated_permissions``.

Input: the grants (Graph's entities), the app role assignments (Graph's entities) and the directory objects they
name (``DirectoryObject``). Output: the items of ``delegated_permissions_grants`` and
``delegated_permissions_app_role_assignments`` exactly as the role's ``main`` entry point takes them, sorted by the
written client, resource and principal, and the whole vars file as text. No I/O: the same input gives the same bytes,
so a second export of an unchanged tenant rewrites nothing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.msgraph.grants.plugins.module_utils._app_roles import DEFAULT_ACCESS_ROLE
from ansible_collections.msgraph.grants.plugins.module_utils._grants import (
    CONSENT_ALL_PRINCIPALS,
    CONSENT_PRINCIPAL,
    GrantInputError,
    is_guid,
    normalize_scopes,
)

KEYS = ('app_id', 'object_id', 'display_name')

# Written without quotes only when YAML reads it back as the same string (no bool/null/number forms).
_PLAIN_RE = re.compile(r'^[A-Za-z][A-Za-z0-9_.@/-]*$')
_YAML_WORDS = frozenset(['y', 'n', 'yes', 'no', 'true', 'false', 'on', 'off', 'null'])
_TEMPLATE_MARKS = ('{{', '{%', '{#')


class DirectoryObject(object):
    """A service principal (``kind`` 'sp') or a user (``kind`` 'user') as the export needs it."""

    def __init__(self, kind, object_id, display_name=None, app_id=None, user_principal_name=None, app_roles=None):
        self.kind = kind
        self.id = object_id
        self.display_name = display_name
        self.app_id = app_id
        self.user_principal_name = user_principal_name
        self.app_roles = app_roles  # None: not read; else the published roles

    @classmethod
    def service_principal(cls, raw):
        return cls('sp', raw.get('id'), raw.get('displayName'), app_id=raw.get('appId'),
                   app_roles=raw.get('appRoles') if 'appRoles' in raw else None)

    @classmethod
    def user(cls, raw):
        return cls('user', raw.get('id'), raw.get('displayName'), user_principal_name=raw.get('userPrincipalName'))


def publishes_application_roles(sp):
    """True when ``sp`` (a DirectoryObject with its app roles read) publishes a role a service principal can hold: the
    only resources whose assignments the role can declare (the default access role has no value, and a role for
    users only is refused for applications: docs/dev/graph-behaviour.md)."""
    for role in sp.app_roles or []:
        types = role.get('allowedMemberTypes')
        if types is None or 'Application' in types:
            return True
    return False


def assignment_reads(clients, resources, service_principals=None):
    """Which side to read the app role assignments from, and whose: ``('principal', ids)`` reads what each client
    holds (``/servicePrincipals/{id}/appRoleAssignments``), ``('resource', ids)`` what was granted on each resource
    (``/appRoleAssignedTo``); one ``$batch`` item each, so the shorter list wins. Without filters
    (``service_principals``: every one of the tenant, app roles read) only the resources publishing a role a service
    principal can hold are read: a tenant has far fewer of those than service principals."""
    if clients and resources:
        return ('resource', list(resources)) if len(resources) < len(clients) else ('principal', list(clients))
    if clients:
        return 'principal', list(clients)
    if resources:
        return 'resource', list(resources)
    return 'resource', sorted(sp.id for sp in service_principals or [] if sp.kind == 'sp' and publishes_application_roles(sp))


def check_key(key):
    if key not in KEYS:
        raise GrantInputError("key '{0}' is not one of {1}: app_id (portable between tenants), object_id (this "
                              "tenant only) or display_name (readable, unique names only).".format(key, ', '.join(KEYS)))


def written_name(sp, key):
    """How a service principal is written under ``key``."""
    if key == 'app_id':
        return sp.app_id
    if key == 'object_id':
        return sp.id
    return sp.display_name


def sp_comment(sp, key):
    """The comment beside a written service principal: its display name, or its appId when the name is written."""
    if key == 'display_name':
        return 'appId {0}'.format(sp.app_id)
    return sp.display_name or '(no display name)'


def ambiguous_names_error(candidates_by_name):
    """The refusal of ``display_name`` when some written names are not unique in the tenant, or None.

    ``candidates_by_name``: ``{display name: [raw service principals with that name]}``."""
    lines = []
    for name in sorted(candidates_by_name):
        found = candidates_by_name[name]
        if len(found) > 1:
            lines.append("'{0}' ({1})".format(name, '; '.join(
                'id {0}, appId {1}'.format(c.get('id'), c.get('appId'))
                for c in sorted(found, key=lambda c: c.get('id') or ''))))
    if not lines:
        return None
    return ('key display_name cannot be exported: these display names are not unique in the tenant, so the file '
            'could not be applied back: {0}. Use key app_id (the default) or object_id.'.format('; '.join(lines)))


def _without_comment(item):
    return dict((k, v) for k, v in item.items() if k != 'comment')


class Export(object):
    """The export of one run: ``grants`` and ``app_role_assignments`` (items as the role takes them, each with its
    ``comment``), ``not_exported`` (what could not be written, in words) and ``removed_by_exclusive``: those of
    them that the main entry point's exclusive mode (or app roles' exact mode) deletes, as the file cannot declare them
    (a grant without scopes and the default access role are kept by both modes)."""

    def __init__(self, grants, app_role_assignments, not_exported, removed_by_exclusive=()):
        self.grants = grants
        self.app_role_assignments = app_role_assignments
        self.not_exported = not_exported
        self.removed_by_exclusive = list(removed_by_exclusive)

    def items(self):
        """The role variables, without the comments."""
        return {'delegated_permissions_grants': [_without_comment(i) for i in self.grants],
                'delegated_permissions_app_role_assignments': [_without_comment(i) for i in self.app_role_assignments]}


def build_export(grants, assignments, objects, key='app_id', include_user_consents=False):
    """Turn Graph's ``grants`` and ``assignments`` into an ``Export``; ``objects`` maps lower-case object ids to
    ``DirectoryObject``. What names a missing object is left out (and said in ``not_exported``), never guessed."""
    check_key(key)
    not_exported, removed = [], []

    def leave_out(text, kept=False):
        not_exported.append(text)
        if not kept:
            removed.append(text)

    def sp_of(object_id, what):
        sp = objects.get((object_id or '').lower())
        if sp is None or sp.kind != 'sp':
            leave_out('{0}: service principal {1} not found'.format(what, object_id))
            return None
        if not written_name(sp, key):
            leave_out('{0}: service principal {1} has no {2}'.format(what, object_id, key.replace('_', ' ')))
            return None
        return sp

    out_grants = []
    for raw in grants:
        consent = raw.get('consentType')
        if consent == CONSENT_PRINCIPAL and not include_user_consents:
            continue
        what = 'grant {0}'.format(raw.get('id'))
        client, resource = sp_of(raw.get('clientId'), what), sp_of(raw.get('resourceId'), what)
        if client is None or resource is None:
            continue
        item = {'client': written_name(client, key), 'resource': written_name(resource, key),
                'scopes': normalize_scopes(raw.get('scope'))}
        comment = [sp_comment(client, key), sp_comment(resource, key)]
        if consent == CONSENT_PRINCIPAL:
            user = objects.get((raw.get('principalId') or '').lower())
            if user is None or user.kind != 'user' or not user.user_principal_name:
                leave_out('{0}: user {1} not found'.format(what, raw.get('principalId')))
                continue
            item['principal'] = user.user_principal_name
            comment.append(user.display_name or user.user_principal_name)
        elif consent != CONSENT_ALL_PRINCIPALS:
            leave_out('{0}: unknown consentType {1!r}'.format(what, consent))
            continue
        if not item['scopes']:
            leave_out('{0}: no scopes (a grant without scopes cannot be declared)'.format(what), kept=True)
            continue
        item['comment'] = comment
        out_grants.append(item)
    out_grants.sort(key=lambda i: (i['client'], i['resource'], i.get('principal') or ''))

    pairs = {}
    for raw in assignments:
        what = 'app role assignment {0}'.format(raw.get('id'))
        client, resource = sp_of(raw.get('principalId'), what), sp_of(raw.get('resourceId'), what)
        if client is None or resource is None:
            continue
        role_id = (raw.get('appRoleId') or '').lower()
        by_id = dict(((r.get('id') or '').lower(), r.get('value')) for r in resource.app_roles or [])
        value = by_id.get(role_id)
        if not value:
            reason = 'the default access role' if role_id == DEFAULT_ACCESS_ROLE else 'an app role id the resource does not publish'
            leave_out('{0}: {1} ({2} on {3}) has no value to declare'.format(what, reason, role_id, resource.display_name or resource.id),
                      kept=role_id == DEFAULT_ACCESS_ROLE)
            continue
        entry = pairs.setdefault((client.id.lower(), resource.id.lower()), {
            'client': written_name(client, key), 'resource': written_name(resource, key), 'app_roles': set(),
            'comment': [sp_comment(client, key), sp_comment(resource, key)]})
        if value in entry['app_roles']:
            # A second assignment of one role (a replication artefact): written once, and the role's exact mode
            # keeps only one of them.
            leave_out('{0}: a second assignment of {1} to the same client on {2} (written once)'.format(
                what, value, resource.display_name or resource.id))
        entry['app_roles'].add(value)
    out_roles = []
    for entry in pairs.values():
        entry['app_roles'] = sorted(entry['app_roles'])
        out_roles.append(entry)
    out_roles.sort(key=lambda i: (i['client'], i['resource']))
    return Export(out_grants, out_roles, sorted(not_exported), sorted(removed))


def yaml_scalar(value):
    """A string as a YAML scalar that reads back as exactly that string, and that Ansible never templates."""
    text = '' if value is None else str(value)
    if any(mark in text for mark in _TEMPLATE_MARKS):
        return '!unsafe ' + json.dumps(text, ensure_ascii=False)
    if (_PLAIN_RE.match(text) and text.lower() not in _YAML_WORDS) or is_guid(text):
        return text
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def _comment(parts):
    # One line: a newline in a display name would end the comment.
    return ' '.join(' -> '.join(p for p in parts[:2]).split()) + (
        ' (for {0})'.format(' '.join(parts[2].split())) if len(parts) > 2 else '')


def _item_lines(item, list_key):
    lines = ['  # ' + _comment(item['comment']),
             '  - client: ' + yaml_scalar(item['client']),
             '    resource: ' + yaml_scalar(item['resource'])]
    if item.get('principal'):
        lines.append('    principal: ' + yaml_scalar(item['principal']))
    lines.append('    {0}:'.format(list_key))
    lines.extend('      - ' + yaml_scalar(v) for v in item[list_key])
    return lines


def render(export, header, exported_resources=None, user_consents=True):
    """The vars file: ``header`` (lines, written as comments), then both variables. Byte-stable.

    ``exported_resources`` (the resource filter, as written, each with its comment): recorded as
    ``delegated_permissions_exported_resources``, so that the role refuses exclusive mode over a file that does not
    hold what the clients have on other resources. ``user_consents`` false (per-user grants not exported): recorded
    as ``delegated_permissions_exported_user_consents: false``, so that the role refuses to delete per-user consents
    the file never held."""
    lines = ['---'] + ['# ' + line if line else '#' for line in header]
    if not user_consents:
        lines.append('delegated_permissions_exported_user_consents: false')
    if exported_resources:
        lines.append('delegated_permissions_exported_resources:')
        for written, comment in exported_resources:
            lines.append('  - {0}  # {1}'.format(yaml_scalar(written), ' '.join((comment or '').split())))
    lines.append('delegated_permissions_grants:' + ('' if export.grants else ' []'))
    for item in export.grants:
        lines.extend(_item_lines(item, 'scopes'))
    lines.append('delegated_permissions_app_role_assignments:' + ('' if export.app_role_assignments else ' []'))
    for item in export.app_role_assignments:
        lines.extend(_item_lines(item, 'app_roles'))
    return '\n'.join(lines) + '\n'


def header_lines(key, clients, resources, include_user_consents, counts):
    """What the file says about itself: how it was made (never when: the bytes must not change) and how to use it."""
    how = {'app_id': 'clients and resources by appId (portable between tenants)',
           'object_id': 'clients and resources by object id (this tenant only)',
           'display_name': 'clients and resources by display name'}[key]
    lines = ['Exported by msgraph.grants (role delegated_permissions, entry point export):',
             how + '.',
             'Clients: {0}. Resources: {1}.'.format(', '.join(clients) if clients else 'all',
                                                    ', '.join(resources) if resources else 'all'),
             'Per-user consents: {0}.'.format('included' if include_user_consents else 'not exported'),
             '{0} grant(s), {1} app role assignment pair(s).'.format(counts['grants'], counts['app_role_assignments']),
             'Apply with the role\'s main entry point. With delegated_permissions_exclusive: true, what the',
             'listed clients hold beyond this file is deleted.']
    if not include_user_consents:
        lines.extend(['Per-user consents were not exported (delegated_permissions_exported_user_consents): the role',
                      'refuses delegated_permissions_exclusive_include_user_consents with this file.'])
    if resources:
        lines.extend(['Only some resources were exported (delegated_permissions_exported_resources): the role',
                      'refuses exclusive mode with this file, which would delete what the clients hold on the others.'])
    return lines


def exclusive_warning(removed):
    """What applying the file in exclusive mode does to what it could not hold: the round trip is a no-op but for
    these."""
    return ('Applying this export with delegated_permissions_exclusive: true will DELETE these {0} item(s) from the '
            'tenant (the file cannot declare them; a grant or assignment is deleted when its client is in the file): {1}. '
            'Apply without exclusive mode to keep them, or clean them up knowingly.'.format(len(removed), '; '.join(removed)))
