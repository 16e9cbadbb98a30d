"""Service principal and user resolution (docs/dev/graph-behaviour.md#service-principals, #users): keys, filters, escaping, $select, beta naming."""

import uuid

import pytest

from emu_helpers import (APP_HR, GRAPH_APP_ID, SP_GRAPH, SP_HR, SP_OBRIEN, SP_REPORTING_1, SP_REPORTING_2, UPN_ADELE_GUEST, USER_ADELE_GUEST,
                         USER_MEGAN, USER_ONEIL, USER_SVC_BACKUP, error_of)


def test_service_principal_by_id_and_app_id(api):
    by_id = api.get(f"/servicePrincipals/{SP_GRAPH}").json()
    by_app_id = api.get(f"/servicePrincipals(appId='{GRAPH_APP_ID}')").json()
    assert by_id["@odata.context"].endswith("/v1.0/$metadata#servicePrincipals/$entity")
    assert by_id["appId"] == GRAPH_APP_ID and by_id["displayName"] == "Microsoft Graph"
    assert by_id == by_app_id
    values = {s["value"]: s for s in by_id["oauth2PermissionScopes"]}
    assert {"User.Read", "openid", "offline_access", "Directory.Read.All"} <= set(values)
    assert values["User.Read"]["id"] == "e1fe6dd8-ba31-4d61-89e7-88639da4683d"
    assert any(not s["isEnabled"] for s in values.values())  # one disabled permission for validation tests


@pytest.mark.parametrize("path,expected", [
    (f"/servicePrincipals/{uuid.uuid4()}", (404, "Request_ResourceNotFound")),
    ("/servicePrincipals/not-a-guid", (400, "Request_BadRequest")),
    (f"/servicePrincipals(appId='{uuid.uuid4()}')", (404, "Request_ResourceNotFound")),
    (f"/servicePrincipals(displayName='{GRAPH_APP_ID}')", (400, "BadRequest")),
])
def test_service_principal_lookup_errors(api, path, expected):
    assert error_of(api.get(path))[:2] == expected


@pytest.mark.parametrize("filter_text,expected", [
    (f"appId eq '{GRAPH_APP_ID}'", [SP_GRAPH]),
    (f"appId eq '{APP_HR.upper()}'", [SP_HR]),
    ("displayName eq 'O''Brien Tools'", [SP_OBRIEN]),
    ("displayName eq 'contoso reporting'", sorted([SP_REPORTING_1, SP_REPORTING_2])),  # two SPs, one name (§12.10)
    (f"displayName eq 'Contoso Reporting' and appId eq '{GRAPH_APP_ID}'", []),
    ("displayName eq 'Nobody'", []),
])
def test_service_principal_filters(api, filter_text, expected):
    body = api.get("/servicePrincipals", params={"$filter": filter_text, "$select": "id,appId,displayName"}).json()
    assert sorted(sp["id"] for sp in body["value"]) == expected
    assert body["@odata.context"].endswith("#servicePrincipals(id,appId,displayName)")


def test_service_principal_unsupported_filter(api):
    status, code, message = error_of(api.get("/servicePrincipals", params={"$filter": "homepage eq 'x'"}))
    assert (status, code) == (400, "Request_UnsupportedQuery")
    assert message == "Unsupported or invalid query filter clause specified for property 'homepage' of resource 'ServicePrincipal'."


def test_permission_scope_property_name_depends_on_version(api):
    v1 = api.get(f"/servicePrincipals/{SP_GRAPH}", params={"$select": "id,oauth2PermissionScopes"}).json()
    beta = api.get(f"/servicePrincipals/{SP_GRAPH}", params={"$select": "id,publishedPermissionScopes"}, version="beta").json()
    assert v1["oauth2PermissionScopes"] == beta["publishedPermissionScopes"] and len(v1["oauth2PermissionScopes"]) > 10
    assert set(v1) == {"@odata.context", "id", "oauth2PermissionScopes"}
    assert api.get(f"/servicePrincipals/{SP_GRAPH}", params={"$select": "publishedPermissionScopes"}).status_code == 400
    assert api.get(f"/servicePrincipals/{SP_GRAPH}", params={"$select": "oauth2PermissionScopes"}, version="beta").status_code == 400
    listed = api.get("/servicePrincipals", params={"$filter": f"appId eq '{GRAPH_APP_ID}'"}, version="beta").json()["value"][0]
    assert "publishedPermissionScopes" in listed and "oauth2PermissionScopes" not in listed


def test_service_principal_list_pages(api, emulator):
    first = api.get("/servicePrincipals", params={"$top": "5"}).json()
    assert len(first["value"]) == 5 and "@odata.nextLink" in first
    listed = [sp["id"] for page in api.get_all("/servicePrincipals", params={"$top": "5"}) for sp in page["value"]]
    assert sorted(listed) == sorted(sp["id"] for sp in emulator.control.state()["servicePrincipals"])


@pytest.mark.parametrize("path,user_id", [
    (f"/users/{USER_MEGAN}", USER_MEGAN),
    (f"/users/{USER_MEGAN.upper()}", USER_MEGAN),
    ("/users/MEGAN.BOWEN@contoso.onmicrosoft.com", USER_MEGAN),  # UPNs compare case-insensitively
    ("/users/adele.vance_fabrikam.com%23EXT%23@contoso.onmicrosoft.com", USER_ADELE_GUEST),  # '#' encoded as %23 (§5.2)
    ("/users('adele.vance_fabrikam.com%23EXT%23@contoso.onmicrosoft.com')", USER_ADELE_GUEST),
    ("/users('$svc-backup@contoso.onmicrosoft.com')", USER_SVC_BACKUP),  # a UPN starting with '$' needs the ('...') form
    ("/users('%24svc-backup@contoso.onmicrosoft.com')", USER_SVC_BACKUP),
    ("/users('o''neil@contoso.onmicrosoft.com')", USER_ONEIL),  # quote doubled inside the key literal
    ("/users/o'neil@contoso.onmicrosoft.com", USER_ONEIL),  # a plain segment needs no doubling
    ("/users/o%27neil@contoso.onmicrosoft.com", USER_ONEIL),
])
def test_user_keys(api, path, user_id):
    response = api.get(path)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == user_id and body["@odata.context"].endswith("/v1.0/$metadata#users/$entity")
    assert set(body) == {"@odata.context", "businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
                         "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"}


@pytest.mark.parametrize("path,expected", [
    ("/users/$svc-backup@contoso.onmicrosoft.com", (400, "BadRequest")),  # §5.2: the bare form fails
    ("/users/nobody@contoso.onmicrosoft.com", (404, "Request_ResourceNotFound")),
    (f"/users/{uuid.uuid4()}", (404, "Request_ResourceNotFound")),
    ("/users('o'neil@contoso.onmicrosoft.com')", (400, "BadRequest")),  # the quote must be doubled inside ('...')
])
def test_user_lookup_errors(api, path, expected):
    assert error_of(api.get(path))[:2] == expected


def test_user_select_and_filter(api):
    body = api.get(f"/users/{USER_ADELE_GUEST}", params={"$select": "id,userPrincipalName,userType"}).json()
    assert body["userPrincipalName"] == UPN_ADELE_GUEST and body["userType"] == "Guest"
    assert body["@odata.context"].endswith("#users(id,userPrincipalName,userType)/$entity")
    listed = api.get("/users", params={"$filter": "userPrincipalName eq 'o''neil@contoso.onmicrosoft.com'"}).json()
    assert [u["id"] for u in listed["value"]] == [USER_ONEIL]


def test_reads_need_the_matching_permission(api, emulator):
    reader = emulator.token("5b8e3d2f-0c4a-4f7b-9e6d-2a3b4c5d6e7f", "emu~reader~secret~not-a-real-credential")  # Directory.Read.All
    noperm = emulator.token("6c9f4e3a-1d5b-4a8c-8f7e-3b4c5d6e7f80", "emu~noperm~secret~not-a-real-credential")
    for path in (f"/servicePrincipals/{SP_GRAPH}", f"/users/{USER_MEGAN}", "/oauth2PermissionGrants"):
        assert api.get(path, token=reader).status_code == 200
        assert error_of(api.get(path, token=noperm)) == (403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
