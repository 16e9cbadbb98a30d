# -*- coding: utf-8 -*-
# Copyright (c) msgraph.grants contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Resolution of the objects a grant names: client and resource service principals, and the user.

PRIVATE to this collection. Shared by ``oauth2_grant`` and ``oauth2_grant_info`` so both accept the same inputs
(object id, appId or display name; object id or UPN) and fail with the same messages.

Every lookup of one module run goes into a single ``$batch`` (one round trip). A GUID may be an object id or an
appId, so both forms are asked for in the same batch and whichever answers wins.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.module_utils.six.moves.urllib.parse import quote

from ansible_collections.msgraph.grants.plugins.module_utils._grants import (
    GrantInputError,
    is_guid,
)
from ansible_collections.msgraph.grants.plugins.module_utils._directory_objects import DirectoryObjects
from ansible_collections.msgraph.grants.plugins.module_utils._graph_client import (
    encode_query,
    error_from_response,
)

SP_FIELDS = 'id,appId,displayName,servicePrincipalType,accountEnabled'
USER_FIELDS = 'id,userPrincipalName,displayName'
# Delegated permissions moved name between versions; the data is the same.
SCOPES_PROPERTY = {'v1.0': 'oauth2PermissionScopes', 'beta': 'publishedPermissionScopes'}
PAGE_SIZE = 999
# An unfiltered grant listing is sent as an advanced query: users report plain listings silently missing grants
# (docs/dev/graph-behaviour.md). $count=true is ignored without the header, so both go together.
ADVANCED_HEADERS = {'ConsistencyLevel': 'eventual'}
COUNT_PARAM = ('$count', 'true')
# A 400 to a single-entity form (/{id}, (appId='...')) that does not exist is read like a 404: not this form.
MISS_STATUSES = (400, 404)


def odata_string(value):
    """An OData string literal: single-quoted, embedded quotes doubled."""
    return "'{0}'".format(value.replace("'", "''"))


def relative_url(path, params=None):
    """A URL relative to the version root (as used inside ``$batch``), its query encoded like the client's own."""
    return path + ('?' + encode_query(params) if params else '')


def user_path(value):
    """The path addressing one user by object id or userPrincipalName.

    UPNs starting with ``$`` must use the key-literal form ``/users('$...')`` (Graph answers 400 otherwise), and
    inside a literal a quote is doubled. ``#`` (guest ``#EXT#`` UPNs) must be percent-encoded either way.
    """
    if is_guid(value):
        return '/users/{0}'.format(value)
    if value.startswith('$'):
        return '/users({0})'.format(quote(odata_string(value), safe="$'@()"))
    return '/users/{0}'.format(quote(value, safe="@'"))


class ServicePrincipal(object):
    def __init__(self, raw, scopes_property):
        self.id = raw.get('id')
        self.app_id = raw.get('appId')
        self.display_name = raw.get('displayName')
        self.published_scopes = raw.get(scopes_property) or []
        self.app_roles = raw.get('appRoles') or []  # loaded with ``with_app_roles``
        self.raw = raw

    def label(self):
        return "'{0}' (id {1}, appId {2})".format(self.display_name, self.id, self.app_id)


class User(object):
    def __init__(self, raw):
        self.id = raw.get('id')
        self.user_principal_name = raw.get('userPrincipalName')
        self.display_name = raw.get('displayName')


def plain_get_may_differ(value):
    """A UPN whose forms are documented for plain requests only (guest '#EXT#', '$' key literal): inside a ``$batch``
    a 404 (or 400) for it is confirmed with a plain GET (docs/dev/graph-behaviour.md)."""
    return not is_guid(value) and ('#' in value or value.startswith('$'))


def count_mismatch(count, received, what):
    """The warning text when a listing's ``@odata.count`` differs from the items received, else None."""
    if count is None or count == received:
        return None
    return ('Graph counted {0} {1} but returned {2} (@odata.count differs from the items received): the listing may '
            'be incomplete (replication delay); run again later to be sure.'.format(count, what, received))


class _Lookup(object):
    """Batch requests for one input value and the rule that turns their answers into one object."""

    def __init__(self, role, value, requests, headers=None, miss=(404,)):
        self.role = role
        self.value = value
        self.requests = requests  # list of relative URLs (GET)
        self.headers = headers    # request headers of every request (advanced queries)
        self.miss = miss          # statuses meaning "not this form"
        self.responses = []
        self.batched = False


class Resolver(object):
    """Resolves module inputs with as few round trips as Graph allows."""

    def __init__(self, client, api_version='v1.0', warn=None):
        self.client = client
        self.scopes_property = SCOPES_PROPERTY.get(api_version, SCOPES_PROPERTY['v1.0'])
        self.warn = warn
        # Many objects by id in one request (getByIds), when the identity may use it: shared by the readers.
        self.objects = DirectoryObjects(client)

    def note_count(self, count, received, what):
        text = count_mismatch(count, received, what)
        if text and self.warn is not None:
            self.warn(text)

    def rest_of(self, body, headers=None):
        """The items of a first page ``body`` plus those of every page after it (a request only per nextLink)."""
        items = list(body.get('value') or [])
        next_link = body.get('@odata.nextLink')
        if next_link:
            items.extend(self.client.get_all(next_link, headers=headers))
        return items

    # -- request builders -------------------------------------------------------------------------------------
    def service_principal_lookup(self, role, value, with_scopes=False, with_app_roles=False):
        fields = SP_FIELDS + (',' + self.scopes_property if with_scopes else '') + (',appRoles' if with_app_roles else '')
        if is_guid(value):
            requests = [
                relative_url('/servicePrincipals/{0}'.format(value), [('$select', fields)]),
                relative_url("/servicePrincipals(appId='{0}')".format(value), [('$select', fields)]),
            ]
            return _Lookup(role, value, requests, miss=MISS_STATUSES)
        else:
            requests = [relative_url('/servicePrincipals', [
                ('$filter', 'displayName eq {0}'.format(odata_string(value))),
                ('$select', fields),
                ('$top', PAGE_SIZE),
            ])]
        return _Lookup(role, value, requests)

    def user_lookup(self, value):
        # Inside a $batch, Graph may refuse these forms with 400 as well as 404: both send us to the plain GET.
        miss = MISS_STATUSES if plain_get_may_differ(value) else (404,)
        return _Lookup('principal', value, [relative_url(user_path(value), [('$select', USER_FIELDS)])], miss=miss)

    @staticmethod
    def client_grants_lookup(client_value, odata_filter=None):
        """Grants whose client is ``client_value`` (object id or appId), through the client's navigation path.

        This lets the first round trip read the grants before the client's object id is known. Nothing published
        says Graph honours ``$filter`` there: the caller checks every grant's key locally, and a 400 (filter
        rejected) makes ``grants`` answer None so that the caller falls back to the documented root query. An
        unfiltered read is an advanced query (complete, counted).
        """
        params = [('$top', PAGE_SIZE)]
        headers = None
        if odata_filter:
            params.insert(0, ('$filter', odata_filter))
        else:
            params.append(COUNT_PARAM)
            headers = dict(ADVANCED_HEADERS)
        requests = [
            relative_url('/servicePrincipals/{0}/oauth2PermissionGrants'.format(client_value), params),
            relative_url("/servicePrincipals(appId='{0}')/oauth2PermissionGrants".format(client_value), params),
        ]
        return _Lookup('grants', client_value, requests, headers=headers, miss=MISS_STATUSES)

    # -- execution ---------------------------------------------------------------------------------------------
    def run(self, lookups):
        """Send every lookup's requests in one ``$batch`` (the client splits above 20) and attach the answers."""
        lookups = [lookup for lookup in lookups if lookup is not None]
        flat = []
        for lookup in lookups:
            for url in lookup.requests:
                flat.append(dict({'method': 'GET', 'url': url}, **({'headers': lookup.headers} if lookup.headers else {})))
        if not flat:
            return
        if len(flat) == 1:
            responses = [self.client.request('GET', flat[0]['url'], headers=flat[0].get('headers'), raise_for_status=False)]
        else:
            responses = self.client.batch(flat)
        index = 0
        for lookup in lookups:
            lookup.responses = responses[index:index + len(lookup.requests)]
            lookup.batched = len(flat) > 1
            index += len(lookup.requests)

    # -- interpretation ----------------------------------------------------------------------------------------
    def _found(self, lookup):
        """Bodies of the 2xx answers; 404 (or a 400 to a key form) means 'not this form'; else a real error."""
        found = []
        for url, response in zip(lookup.requests, lookup.responses):
            if response.status in lookup.miss:
                continue
            if response.status >= 300:
                raise error_from_response(response, 'GET', url)
            found.append(response.json or {})
        return found

    def service_principal(self, lookup):
        role = lookup.role
        value = lookup.value
        found = self._found(lookup)
        if is_guid(value):
            if not found:
                raise GrantInputError(
                    "No service principal found for {0} '{1}': it is neither an object id "
                    "(GET /servicePrincipals/{1}) nor an appId (GET /servicePrincipals(appId='{1}')) in this tenant. "
                    "If it is an application (client) id of an app registered elsewhere, its enterprise application "
                    "(service principal) must first exist in this tenant.".format(role, value))
            return ServicePrincipal(found[0], self.scopes_property)
        candidates = []
        for body in found:
            candidates.extend(self.rest_of(body))  # a filtered query may answer an empty page and a nextLink
        if not candidates:
            raise GrantInputError(
                "No service principal found for {0} '{1}' (searched servicePrincipals with displayName eq {2}). "
                "Graph compares the whole display name (whether it ignores case is not documented); give the object "
                "id or appId instead if unsure.".format(role, value, odata_string(value)))
        if len(candidates) > 1:
            listing = '; '.join('id {0}, appId {1}'.format(c.get('id'), c.get('appId')) for c in candidates)
            raise GrantInputError(
                "{0} '{1}' is ambiguous: {2} service principals have this display name ({3}). "
                "Use the object id or appId instead.".format(role.capitalize(), value, len(candidates), listing))
        return ServicePrincipal(candidates[0], self.scopes_property)

    def user(self, lookup):
        if not lookup.batched:
            lookup.miss = (404,)  # a 400 to a plain GET is Graph's error, reported as such
        found = self._found(lookup)
        if not found and lookup.batched and plain_get_may_differ(lookup.value):
            # Documented for plain requests only: ask again outside the $batch before concluding.
            lookup.responses = [self.client.request('GET', lookup.requests[0], raise_for_status=False)]
            lookup.miss = (404,)
            found = self._found(lookup)
        if not found:
            raise GrantInputError(
                "No user found for principal '{0}' (GET {1}). Give the user's object id or exact "
                "userPrincipalName (guests have '#EXT#' in theirs).".format(lookup.value, lookup.requests[0].split('?')[0]))
        return User(found[0])

    def grants(self, lookup):
        """All grants listed for the client (following every nextLink), or None when no form answered (the client
        form missed, or Graph refused the navigation's filter): the caller then reads ``/oauth2PermissionGrants``."""
        for url, response in zip(lookup.requests, lookup.responses):
            if response.status in lookup.miss:
                continue
            if response.status >= 300:
                raise error_from_response(response, 'GET', url)
            body = response.json or {}
            items = self.rest_of(body, lookup.headers)
            if lookup.headers:
                self.note_count(body.get('@odata.count'), len(items), 'grants of client {0}'.format(lookup.value))
            return items
        return None
