# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# PRIVATE to the msgraph.grants collection: no compatibility promise for anything outside it.

"""Many directory objects by object id in few requests: ``POST /directoryObjects/getByIds``, up to 1,000 ids a call
(https://learn.microsoft.com/graph/api/directoryobject-getbyids). Ids that name no object are left out of the answer.

Its least privileged application permission is ``Directory.Read.All``, which many automation identities do not
have: when the token says it lacks the permission, or Graph refuses the call, callers fall back to reading each
object (``$batch`` GETs) and this run does not try again.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json

from ansible_collections.msgraph.grants.plugins.module_utils._graph_concurrency import parallel, values

GET_BY_IDS_PATH = '/directoryObjects/getByIds'
GET_BY_IDS_LIMIT = 1000
READ_PERMISSIONS = frozenset(['Directory.Read.All', 'Directory.ReadWrite.All'])
# Answers meaning "not for this caller or this service": fall back to per-object reads (a 5xx is Graph's error).
UNAVAILABLE_STATUSES = (400, 401, 403, 404, 405, 501)


def token_permissions(token):
    """The permissions a JWT access token carries (application ``roles`` and delegated ``scp``), or None when the
    token cannot be read (opaque tokens exist; then the call is simply tried)."""
    try:
        payload = token.split('.')[1]
        payload += '=' * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload.encode('ascii')).decode('utf-8'))
    except Exception:  # not a JWT: unknown
        return None
    if not isinstance(claims, dict):
        return None
    found = set(claims.get('roles') or [])
    found.update((claims.get('scp') or '').split())
    return found


class DirectoryObjects(object):
    """``getByIds`` through ``client`` (a GraphClient), remembering for the run whether it may be used."""

    def __init__(self, client):
        self.client = client
        self.available = None  # None: not known yet

    def usable(self):
        if self.available is None and not hasattr(self.client, 'post_read'):
            self.available = False  # a client without read-only POSTs (a test double): per-object reads
        if self.available is None:
            token = getattr(self.client, 'current_token', None)
            permissions = token_permissions(token()) if token is not None else None
            self.available = permissions is None or bool(permissions & READ_PERMISSIONS)
        return self.available

    def get_by_ids(self, ids, types):
        """The objects of ``ids`` (object ids) among ``types`` (e.g. ``['servicePrincipal', 'user']``) as a dict
        lower-case id -> object (absent: no such object), or None when getByIds cannot be used (then read them one by
        one). The calls of 1,000 ids each are sent concurrently."""
        unique = []
        seen = set()
        for object_id in ids:
            if object_id and object_id.lower() not in seen:
                seen.add(object_id.lower())
                unique.append(object_id)
        if not unique:
            return {}
        if not self.usable():
            return None
        chunks = [unique[i:i + GET_BY_IDS_LIMIT] for i in range(0, len(unique), GET_BY_IDS_LIMIT)]

        def call(chunk):
            return lambda: self.client.post_read(GET_BY_IDS_PATH, {'ids': chunk, 'types': list(types)})

        responses = values(parallel(self.client, [call(chunk) for chunk in chunks]))
        found = {}
        for response in responses:
            if response.status in UNAVAILABLE_STATUSES:
                self.available = False
                return None
            response.raise_for_status()
            for obj in (response.json or {}).get('value') or []:
                if isinstance(obj, dict) and obj.get('id'):
                    found[obj['id'].lower()] = obj
        return found
