"""$filter, $select, $top, $count, paging and the other query options on grant collections."""

from urllib.parse import parse_qs, urlsplit

import pytest

from emu_helpers import (GRANT_HR_GRAPH_ALL, GRANT_HR_GRAPH_MEGAN, GRANT_PAYROLL_GRAPH_ADELE, SEEDED_GRANTS, SP_GRAPH, SP_HR,
                         USER_MEGAN, bulk_seed, error_of)


def ids(response):
    assert response.status_code == 200, response.text
    return {g["id"] for g in response.json()["value"]}


def grants(api, filter_text, **kwargs):
    return api.get("/oauth2PermissionGrants", params={"$filter": filter_text}, **kwargs)


@pytest.mark.parametrize("filter_text,expected", [
    (f"clientId eq '{SP_HR}'", {GRANT_HR_GRAPH_ALL, GRANT_HR_GRAPH_MEGAN}),
    (f"resourceId eq '{SP_GRAPH}'", {GRANT_HR_GRAPH_ALL, GRANT_HR_GRAPH_MEGAN, GRANT_PAYROLL_GRAPH_ADELE}),
    (f"principalId eq '{USER_MEGAN}'", {GRANT_HR_GRAPH_MEGAN}),
    ("consentType eq 'Principal'", {GRANT_HR_GRAPH_MEGAN, GRANT_PAYROLL_GRAPH_ADELE}),
    # the docs' own three-way example (S10)
    (f"clientId eq '{SP_HR}' and principalId eq '{USER_MEGAN}' and consentType eq 'Principal'", {GRANT_HR_GRAPH_MEGAN}),
    (f"(clientId eq '{SP_HR}') and (consentType eq 'AllPrincipals')", {GRANT_HR_GRAPH_ALL}),
    (f"clientId eq '{SP_HR.upper()}'", {GRANT_HR_GRAPH_ALL, GRANT_HR_GRAPH_MEGAN}),  # GUIDs compare case-insensitively
    ("consentType eq 'principal'", set()),  # consentType is case-sensitive (I6): matches nothing
    ("clientId eq '00000000-0000-0000-0000-000000000000'", set()),  # nonexistent client: [] by default
    ("clientId eq 'o''brien'", set()),
])
def test_supported_filters(api, filter_text, expected):
    assert ids(grants(api, filter_text)) == expected


@pytest.mark.parametrize("filter_text,expected", [
    ("scope eq 'User.Read'", (400, "Request_UnsupportedQuery", "Filter is invalid. scope")),
    ("id eq 'x'", (400, "Request_UnsupportedQuery", "Filter is invalid. id")),
    (f"clientId ne '{SP_HR}'", (400, "Request_UnsupportedQuery", "Filter is invalid. clientId")),
    (f"clientId eq '{SP_HR}' or consentType eq 'Principal'", (400, "Request_UnsupportedQuery", "Filter is invalid. clientId")),
    ("startswith(consentType,'All')", (400, "Request_UnsupportedQuery", "Filter is invalid. consentType")),
    (f"clientId in ('{SP_HR}')", (400, "Request_UnsupportedQuery", "Filter is invalid. clientId")),
])
def test_unsupported_filters(api, filter_text, expected):
    assert error_of(grants(api, filter_text)) == expected


def test_filter_syntax_error(api):
    status, code, message = error_of(grants(api, "clientId eq 'unterminated"))
    assert (status, code) == (400, "BadRequest") and message.startswith("Invalid filter clause")


def test_filter_encodings(api):
    """requests encodes spaces as '+'; others send %20 or an encoded '$': all mean the same."""
    raw = f"%24filter=clientId%20eq%20%27{SP_HR}%27"
    assert ids(api.get(f"/oauth2PermissionGrants?{raw}")) == {GRANT_HR_GRAPH_ALL, GRANT_HR_GRAPH_MEGAN}
    plus = f"$filter=clientId+eq+'{SP_HR}'"
    assert ids(api.get(f"/oauth2PermissionGrants?{plus}")) == {GRANT_HR_GRAPH_ALL, GRANT_HR_GRAPH_MEGAN}


def test_options_without_dollar_work_on_beta_only(api):
    assert ids(api.get(f"/oauth2PermissionGrants?filter=clientId eq '{SP_HR}'", version="beta")) == {GRANT_HR_GRAPH_ALL, GRANT_HR_GRAPH_MEGAN}
    assert ids(api.get(f"/oauth2PermissionGrants?filter=clientId eq '{SP_HR}'")) == SEEDED_GRANTS  # ignored on v1.0


def test_select(api):
    body = api.get("/oauth2PermissionGrants", params={"$select": "id,scope"}).json()
    assert body["@odata.context"].endswith("/v1.0/$metadata#oauth2PermissionGrants(id,scope)")
    assert all(set(g) == {"id", "scope"} for g in body["value"])
    entity = api.get(f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}", params={"$select": "clientId"}).json()
    assert entity["@odata.context"].endswith("#oauth2PermissionGrants(clientId)/$entity") and entity["clientId"] == SP_HR
    assert "id" not in entity


@pytest.mark.parametrize("select,version,status", [("startTime", "v1.0", 400), ("startTime", "beta", 200), ("nope", "v1.0", 400)])
def test_select_known_properties_only(api, select, version, status):
    response = api.get("/oauth2PermissionGrants", params={"$select": select}, version=version)
    assert response.status_code == status
    if status == 400:
        assert response.json()["error"]["message"] == f"Could not find a property named '{select}' on type 'microsoft.graph.oAuth2PermissionGrant'."


@pytest.mark.parametrize("top", ["0", "1000", "-5", "ten"])
def test_top_out_of_range(api, top):
    status, code, message = error_of(api.get("/oauth2PermissionGrants", params={"$top": top}))
    assert (status, code) == (400, "BadRequest" if top == "ten" else "Request_BadRequest")
    if top in ("0", "1000"):
        assert message == f"Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive."


@pytest.mark.parametrize("params,expected", [
    ({"$search": "\"displayName:x\""}, (400, "Request_UnsupportedQuery")),
    ({"$orderby": "clientId"}, (400, "Request_UnsupportedQuery")),
    ({"$skip": "2"}, (400, "Request_BadRequest")),
    ({"$expand": "client"}, (400, "Request_UnsupportedQuery")),
    ({"$apply": "x"}, (400, "BadRequest")),
    ({"$count": "maybe"}, (400, "BadRequest")),
    ({"$skiptoken": "garbage"}, (400, "Request_BadRequest")),
])
def test_rejected_options(api, params, expected):
    assert error_of(api.get("/oauth2PermissionGrants", params=params))[:2] == expected


def test_duplicate_option(api):
    assert api.get("/oauth2PermissionGrants?$top=1&$top=2").status_code == 400


def test_count_with_consistency_level(api):
    eventual = {"ConsistencyLevel": "eventual"}
    first = api.get("/oauth2PermissionGrants", params={"$count": "true", "$top": "2"}, headers=eventual).json()
    assert first["@odata.count"] == 4 and len(first["value"]) == 2
    second = api.get(first["@odata.nextLink"], headers=eventual).json()
    assert "@odata.count" not in second  # only on the first page


@pytest.mark.parametrize("path", ["/oauth2PermissionGrants", f"/servicePrincipals/{SP_HR}/oauth2PermissionGrants", "/servicePrincipals",
                                  "/users"])
def test_count_without_consistency_level_is_silently_ignored(api, path):
    """aad-advanced-queries, "Error handling": without the header, ?$count=true is silently ignored (not refused)."""
    response = api.get(path, params={"$count": "true"})
    assert response.status_code == 200 and "@odata.count" not in response.json() and response.json()["value"]
    counted = api.get(path, params={"$count": "true"}, headers={"ConsistencyLevel": "eventual"}).json()
    assert counted["@odata.count"] == len(counted["value"])


def test_raw_count(api):
    response = api.get("/oauth2PermissionGrants/$count", headers={"ConsistencyLevel": "eventual"})
    assert response.status_code == 200 and response.text == "4" and response.headers["Content-Type"].startswith("text/plain")
    filtered = api.get("/oauth2PermissionGrants/$count", params={"$filter": "consentType eq 'Principal'"},
                       headers={"ConsistencyLevel": "eventual"})
    assert filtered.text == "2"
    status, code, message = error_of(api.get("/oauth2PermissionGrants/$count"))
    assert (status, code) == (400, "Request_BadRequest")
    assert message.startswith("Raw count (/$count) is not supported because the 'ConsistencyLevel:eventual' header is missing.")


def test_paging_keeps_options_and_ends(api, emulator):
    emulator.control.load_seed(bulk_seed(7))
    first = api.get("/oauth2PermissionGrants", params={"$top": "3", "$filter": "consentType eq 'Principal'", "$select": "id,principalId"})
    pages = [first.json()]
    while "@odata.nextLink" in pages[-1]:
        link = pages[-1]["@odata.nextLink"]
        parts = urlsplit(link)
        assert f"{parts.scheme}://{parts.netloc}" == emulator.url and parts.path == "/v1.0/oauth2PermissionGrants"
        query = parse_qs(parts.query)
        assert query["$top"] == ["3"] and query["$filter"] == ["consentType eq 'Principal'"] and query["$select"] == ["id,principalId"]
        assert len(query["$skiptoken"]) == 1
        pages.append(api.get(link).json())
    assert [len(p["value"]) for p in pages] == [3, 3, 1]
    seen = [g["id"] for p in pages for g in p["value"]]
    assert len(seen) == len(set(seen)) == 7
    assert all(set(g) == {"id", "principalId"} for p in pages for g in p["value"])


def test_default_page_size_is_100_and_999_is_allowed(api, emulator):
    emulator.control.load_seed(bulk_seed(250))
    pages = api.get_all("/oauth2PermissionGrants")
    assert [len(p["value"]) for p in pages] == [100, 100, 50]
    big = api.get("/oauth2PermissionGrants", params={"$top": "999"}).json()
    assert len(big["value"]) == 250 and "@odata.nextLink" not in big


def test_paging_survives_a_delete_between_pages(api, emulator):
    emulator.control.load_seed(bulk_seed(6))
    first = api.get("/oauth2PermissionGrants", params={"$top": "2"}).json()
    for grant in first["value"]:
        assert api.delete(f"/oauth2PermissionGrants/{grant['id']}").status_code == 204
    rest = api.get_all(first["@odata.nextLink"])
    assert sum(len(p["value"]) for p in rest) == 4  # keyset paging: nothing skipped, nothing repeated


def test_next_link_uses_the_host_the_client_used(api, emulator):
    localhost = emulator.url.replace("127.0.0.1", "localhost")
    body = api.get(f"{localhost}/v1.0/oauth2PermissionGrants?$top=1").json()
    assert body["@odata.nextLink"].startswith(f"{localhost}/v1.0/oauth2PermissionGrants?")
    assert body["@odata.context"].startswith(localhost)
