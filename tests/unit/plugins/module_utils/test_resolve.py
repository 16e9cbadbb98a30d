# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""Resolution of clients, resources and users (``_resolve.Resolver``) against the strict fake Graph: the lookup
rules (object id vs appId vs display name), the messages for ambiguous and missing objects, URL encoding of UPNs
and OData literals, and the batching of every lookup of a run into one round trip."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.msgraph.grants.plugins.module_utils._grants import GrantInputError
from ansible_collections.msgraph.grants.plugins.module_utils._errors import GraphError
from ansible_collections.msgraph.grants.plugins.module_utils._resolve import (
    Resolver,
    odata_string,
    relative_url,
    user_path,
)

from ansible_collections.msgraph.grants.tests.unit.utils.fake_graph import (
    ADELE_ID,
    ADELE_UPN,
    CLIENT_APP,
    CLIENT_ID,
    DOLLAR_ID,
    DOLLAR_QUOTE_ID,
    DOLLAR_QUOTE_UPN,
    DOLLAR_UPN,
    GRAPH_SCOPES,
    GUEST_ID,
    GUEST_UPN,
    ODD_SP_ID,
    ODD_SP_NAME,
    ONEIL_ID,
    ONEIL_UPN,
    QUOTE_SP_ID,
    QUOTE_SP_NAME,
    RESOURCE_APP,
    RESOURCE_ID,
    TWIN_A_APP,
    TWIN_A_ID,
    TWIN_B_APP,
    TWIN_B_ID,
)

MISSING_GUID = 'deadbeef-0000-4000-8000-00000000dead'


def resolve_sp(graph, value, role='client', with_scopes=False, api_version='v1.0'):
    resolver = Resolver(graph, api_version)
    lookup = resolver.service_principal_lookup(role, value, with_scopes=with_scopes)
    resolver.run([lookup])
    return resolver.service_principal(lookup)


def resolve_user(graph, value):
    resolver = Resolver(graph)
    lookup = resolver.user_lookup(value)
    resolver.run([lookup])
    return resolver.user(lookup)


# ------------------------------------------------------------------------------------------- URL building

@pytest.mark.parametrize('value, expected', [
    (ADELE_ID, '/users/' + ADELE_ID),
    ('adele.vance@contoso.com', '/users/adele.vance@contoso.com'),
    # guests: '#' must be percent-encoded, or everything after it would be a URL fragment
    ('adele_fabrikam.com#EXT#@contoso.onmicrosoft.com', '/users/adele_fabrikam.com%23EXT%23@contoso.onmicrosoft.com'),
    # a UPN starting with '$' must use the key-literal form (Graph answers 400 to /users/$...)
    ('$svc@contoso.com', "/users('$svc@contoso.com')"),
    # an apostrophe stays plain in the path form ...
    ("o'neil@contoso.com", "/users/o'neil@contoso.com"),
    # ... and is doubled inside the literal form
    ("$o'hara@contoso.com", "/users('$o''hara@contoso.com')"),
    ('$guest_x.com#EXT#@contoso.com', "/users('$guest_x.com%23EXT%23@contoso.com')"),
    ('first last@contoso.com', '/users/first%20last@contoso.com'),
    ('a/b@contoso.com', '/users/a%2Fb@contoso.com'),
])
def test_user_path(value, expected):
    assert user_path(value) == expected


def test_odata_string_doubles_quotes():
    assert odata_string('plain') == "'plain'"
    assert odata_string("O'Brien's") == "'O''Brien''s'"
    assert odata_string("''") == "''''''"


def test_relative_urls_encode_what_must_be_encoded():
    # The one query encoder (_graph_client.encode_query): '/' may stay as it is in a query (RFC 3986, section 3.4).
    text = relative_url('/x', [('$filter', "displayName eq 'R&D #1 / a+b'"), ('$top', 999)])
    assert text == "/x?$filter=displayName%20eq%20'R%26D%20%231%20/%20a%2Bb'&$top=999"
    assert relative_url('/x') == '/x'
    assert relative_url('/x', [('$select', 'id,appId')]) == '/x?$select=id,appId'


def test_guid_lookup_asks_for_both_object_id_and_app_id():
    lookup = Resolver(None).service_principal_lookup('client', CLIENT_ID)
    assert [url.split('?')[0] for url in lookup.requests] == [
        '/servicePrincipals/' + CLIENT_ID, "/servicePrincipals(appId='%s')" % CLIENT_ID]


def test_display_name_lookup_is_one_exact_filter_with_doubled_quotes():
    lookup = Resolver(None).service_principal_lookup('resource', "O'Brien's App", with_scopes=True)
    assert len(lookup.requests) == 1
    assert lookup.requests[0].startswith("/servicePrincipals?$filter=displayName%20eq%20'O''Brien''s%20App'&$select=")
    assert 'oauth2PermissionScopes' in lookup.requests[0]
    assert '$top=999' in lookup.requests[0]


def test_scopes_property_follows_the_api_version():
    v1 = Resolver(None, 'v1.0').service_principal_lookup('resource', RESOURCE_APP, with_scopes=True)
    beta = Resolver(None, 'beta').service_principal_lookup('resource', RESOURCE_APP, with_scopes=True)
    assert all('oauth2PermissionScopes' in u and 'publishedPermissionScopes' not in u for u in v1.requests)
    assert all('publishedPermissionScopes' in u and 'oauth2PermissionScopes' not in u for u in beta.requests)
    plain = Resolver(None, 'v1.0').service_principal_lookup('client', RESOURCE_APP)
    assert not any('PermissionScopes' in u for u in plain.requests)


# ------------------------------------------------------------------------------------------- service principals

def test_resolves_an_object_id(graph):
    sp = resolve_sp(graph, CLIENT_ID)
    assert (sp.id, sp.app_id, sp.display_name) == (CLIENT_ID, CLIENT_APP, 'Contoso HR Portal')
    # both forms went out in one $batch: one round trip
    assert graph.batches == [2] and graph.round_trips == 1


def test_resolves_an_app_id(graph):
    sp = resolve_sp(graph, RESOURCE_APP, role='resource')
    assert sp.id == RESOURCE_ID
    assert graph.round_trips == 1


def test_resolves_an_upper_case_guid(graph):
    assert resolve_sp(graph, CLIENT_APP.upper()).id == CLIENT_ID


def test_resolves_a_display_name_with_one_request(graph):
    sp = resolve_sp(graph, 'Microsoft Graph', role='resource', with_scopes=True)
    assert sp.id == RESOURCE_ID
    assert sorted(s['value'] for s in sp.published_scopes if s['isEnabled']) == sorted(GRAPH_SCOPES)
    assert len(graph.calls) == 1 and graph.calls[0].via == 'request' and not graph.batches


def test_published_scopes_on_beta(fakes):
    graph = fakes('beta')
    sp = resolve_sp(graph, RESOURCE_APP, role='resource', with_scopes=True, api_version='beta')
    assert 'User.Read' in [s['value'] for s in sp.published_scopes]


@pytest.mark.parametrize('name, sp_id', [(QUOTE_SP_NAME, QUOTE_SP_ID), (ODD_SP_NAME, ODD_SP_ID)])
def test_display_names_with_quotes_and_reserved_characters(graph, name, sp_id):
    # The fake parses the $filter literal strictly: an undoubled quote or an unencoded '#'/'&' fails the test.
    assert resolve_sp(graph, name).id == sp_id


def test_display_name_match_is_exact(graph):
    with pytest.raises(GrantInputError):
        resolve_sp(graph, 'microsoft graph')


def test_ambiguous_display_name_lists_every_candidate(graph):
    with pytest.raises(GrantInputError) as info:
        resolve_sp(graph, 'Twin App', role='client')
    msg = str(info.value)
    assert msg.startswith("Client 'Twin App' is ambiguous: 2 service principals have this display name")
    for value in (TWIN_A_ID, TWIN_A_APP, TWIN_B_ID, TWIN_B_APP):
        assert value in msg
    assert 'id %s, appId %s' % (TWIN_A_ID, TWIN_A_APP) in msg
    assert 'object id or appId' in msg


def test_ambiguity_counts_three_candidates(graph):
    graph.add_sp('99999999-aaaa-4aaa-8aaa-999999999999', '99999999-bbbb-4bbb-8bbb-999999999999', 'Twin App')
    with pytest.raises(GrantInputError) as info:
        resolve_sp(graph, 'Twin App', role='resource')
    assert "Resource 'Twin App' is ambiguous: 3 service principals" in str(info.value)
    assert '99999999-bbbb-4bbb-8bbb-999999999999' in str(info.value)


def test_missing_guid_says_both_forms_were_searched(graph):
    with pytest.raises(GrantInputError) as info:
        resolve_sp(graph, MISSING_GUID, role='resource')
    msg = str(info.value)
    assert "No service principal found for resource '%s'" % MISSING_GUID in msg
    assert 'GET /servicePrincipals/%s' % MISSING_GUID in msg
    assert "GET /servicePrincipals(appId='%s')" % MISSING_GUID in msg
    assert 'enterprise application' in msg


def test_missing_display_name_says_what_was_searched(graph):
    with pytest.raises(GrantInputError) as info:
        resolve_sp(graph, "Nobody's App", role='client')
    msg = str(info.value)
    assert "No service principal found for client 'Nobody's App'" in msg
    assert "displayName eq 'Nobody''s App'" in msg


def test_a_real_error_is_not_mistaken_for_not_found(graph):
    graph.add_fault('GET', r'^/servicePrincipals', 'status', times=2, status=403, code='Authorization_RequestDenied',
                    message='Insufficient privileges to complete the operation.')
    with pytest.raises(GraphError) as info:
        resolve_sp(graph, CLIENT_ID)
    assert info.value.status == 403
    assert 'Insufficient privileges' in str(info.value)


# ------------------------------------------------------------------------------------------------------ users

@pytest.mark.parametrize('value, user_id, raw_path', [
    (ADELE_ID, ADELE_ID, '/users/' + ADELE_ID),
    (ADELE_UPN, ADELE_ID, '/users/adele.vance@contoso.com'),
    (ADELE_UPN.upper(), ADELE_ID, '/users/ADELE.VANCE@CONTOSO.COM'),
    (GUEST_UPN, GUEST_ID, '/users/adele_fabrikam.com%23EXT%23@contoso.onmicrosoft.com'),
    (DOLLAR_UPN, DOLLAR_ID, "/users('$svc@contoso.com')"),
    (ONEIL_UPN, ONEIL_ID, "/users/o'neil@contoso.com"),
    (DOLLAR_QUOTE_UPN, DOLLAR_QUOTE_ID, "/users('$o''hara@contoso.com')"),
])
def test_resolves_users(graph, value, user_id, raw_path):
    user = resolve_user(graph, value)
    assert user.id == user_id
    assert [c.raw_path for c in graph.calls] == [raw_path]


def test_missing_user_names_the_request(graph):
    with pytest.raises(GrantInputError) as info:
        resolve_user(graph, 'nobody_x.com#EXT#@contoso.com')
    msg = str(info.value)
    assert "No user found for principal 'nobody_x.com#EXT#@contoso.com'" in msg
    assert 'GET /users/nobody_x.com%23EXT%23@contoso.com' in msg
    assert '#EXT#' in msg


# ------------------------------------------------------------------------------------------------- batching

def test_every_lookup_of_a_run_goes_into_one_batch(graph):
    resolver = Resolver(graph)
    lookups = [resolver.service_principal_lookup('client', CLIENT_APP),
               resolver.service_principal_lookup('resource', 'Microsoft Graph', with_scopes=True),
               resolver.user_lookup(GUEST_UPN), None,
               resolver.client_grants_lookup(CLIENT_APP, "consentType eq 'AllPrincipals'")]
    resolver.run(lookups)
    assert graph.batches == [6]
    assert graph.round_trips == 1
    assert resolver.service_principal(lookups[0]).id == CLIENT_ID
    assert resolver.service_principal(lookups[1]).id == RESOURCE_ID
    assert resolver.user(lookups[2]).id == GUEST_ID
    assert resolver.grants(lookups[4]) == []


def test_nothing_to_look_up_sends_nothing(graph):
    Resolver(graph).run([None, None])
    assert graph.calls == []


def test_more_than_twenty_lookups_are_one_client_batch_call(graph):
    # The client splits above 20; the resolver hands over everything at once.
    resolver = Resolver(graph)
    lookups = [resolver.service_principal_lookup('client', CLIENT_ID) for dummy in range(11)]
    resolver.run(lookups)
    assert graph.batches == [22]
    assert graph.round_trips == 2
    assert all(resolver.service_principal(lookup).id == CLIENT_ID for lookup in lookups)


# --------------------------------------------------------------------------------------------- client grants

def test_client_grants_by_app_id_through_the_navigation_path(graph):
    gid = graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read')
    graph.add_grant(CLIENT_ID, RESOURCE_ID, 'Mail.Read', principal_id=ADELE_ID)
    resolver = Resolver(graph)
    lookup = resolver.client_grants_lookup(CLIENT_APP, "consentType eq 'AllPrincipals'")
    query = "?$filter=consentType%20eq%20'AllPrincipals'&$top=999"
    assert lookup.requests == ['/servicePrincipals/%s/oauth2PermissionGrants' % CLIENT_APP + query,
                               "/servicePrincipals(appId='%s')/oauth2PermissionGrants" % CLIENT_APP + query]
    resolver.run([lookup])
    assert [g['id'] for g in resolver.grants(lookup)] == [gid]


def test_client_grants_follow_next_links_and_empty_pages(graph):
    ids = set()
    for n in range(5):
        user = graph.add_user('0000000%d-1111-4111-8111-111111111111' % n, 'u%d@contoso.com' % n)
        ids.add(graph.add_grant(CLIENT_ID, RESOURCE_ID, 'User.Read', principal_id=user))
    graph.page_size = 2
    graph.empty_pages = True
    resolver = Resolver(graph)
    lookup = resolver.client_grants_lookup(CLIENT_ID)
    resolver.run([lookup])
    assert set(g['id'] for g in resolver.grants(lookup)) == ids
    assert len(graph.calls_of('GET', r'oauth2PermissionGrants')) > 4


def test_client_grants_of_a_missing_client_are_none(graph):
    resolver = Resolver(graph)
    lookup = resolver.client_grants_lookup(MISSING_GUID)
    resolver.run([lookup])
    assert resolver.grants(lookup) is None


def test_client_grants_error_is_raised(graph):
    graph.add_fault('GET', r'oauth2PermissionGrants$', 'status', times=2, status=403, code='Authorization_RequestDenied',
                    message='Insufficient privileges to complete the operation.')
    resolver = Resolver(graph)
    lookup = resolver.client_grants_lookup(CLIENT_ID)
    resolver.run([lookup])
    with pytest.raises(GraphError) as info:
        resolver.grants(lookup)
    assert info.value.status == 403


def test_client_grants_refused_with_400_answers_none_so_the_caller_falls_back(graph):
    graph.add_fault('GET', r'oauth2PermissionGrants$', 'status', times=2, status=400, code='Request_UnsupportedQuery',
                    message='Filter is invalid.')
    resolver = Resolver(graph)
    lookup = resolver.client_grants_lookup(CLIENT_ID, "consentType eq 'AllPrincipals'")
    resolver.run([lookup])
    assert resolver.grants(lookup) is None
