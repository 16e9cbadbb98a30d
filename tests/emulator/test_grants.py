"""oAuth2PermissionGrant CRUD: status codes, bodies, headers, validation order, navigation paths, beta."""

import re
import uuid

import pytest

from graph_emulator.state import grant_id
from emu_helpers import (GRANT_FABRIKAM_ORDERS_ALL, GRANT_HR_GRAPH_ALL, GRANT_HR_GRAPH_MEGAN, NAV_WRITE_MESSAGE, SEEDED_GRANTS, SP_GRAPH,
                         SP_HR, SP_ORDERS, SP_PAYROLL, TENANT_ID, USER_ALEX, USER_MEGAN, APP_HR, error_of, new_grant_body)

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_list_returns_seeded_grants_with_graph_headers(api):
    response = api.get("/oauth2PermissionGrants", headers={"client-request-id": "11111111-2222-3333-4444-555555555555"})
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"] == f"{api.emulator.url}/v1.0/$metadata#oauth2PermissionGrants"
    assert {g["id"] for g in body["value"]} == SEEDED_GRANTS
    assert "@odata.nextLink" not in body
    assert response.headers["client-request-id"] == "11111111-2222-3333-4444-555555555555"
    assert GUID.match(response.headers["request-id"])
    assert response.headers["OData-Version"] == "4.0"
    assert response.headers["Content-Type"].startswith("application/json;odata.metadata=minimal")
    seeded = next(g for g in body["value"] if g["id"] == GRANT_HR_GRAPH_ALL)
    assert seeded == {"clientId": SP_HR, "consentType": "AllPrincipals", "id": GRANT_HR_GRAPH_ALL, "principalId": None,
                      "resourceId": SP_GRAPH, "scope": " openid  profile User.Read"}  # stray whitespace kept as stored


def test_get_by_id(api):
    response = api.get(f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_MEGAN}")
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"].endswith("/v1.0/$metadata#oauth2PermissionGrants/$entity")
    assert body["@odata.id"].endswith(f"/v2/{TENANT_ID}/oauth2PermissionGrants/{GRANT_HR_GRAPH_MEGAN}")
    assert body["principalId"] == USER_MEGAN and body["consentType"] == "Principal"


def test_get_with_a_guid_as_id_is_unsupported_query(api):
    response = api.get(f"/oauth2PermissionGrants/{SP_GRAPH}")
    assert error_of(response) == (400, "Request_UnsupportedQuery", "Filter is invalid. id")


def test_get_missing_wellformed_id_is_404(api):
    missing = grant_id(str(uuid.uuid4()), str(uuid.uuid4()))
    status, code, message = error_of(api.get(f"/oauth2PermissionGrants/{missing}"))
    assert (status, code) == (404, "Request_ResourceNotFound")
    assert message == f"Resource '{missing}' does not exist or one of its queried reference-property objects are not present."


def test_error_envelope_shape(api):
    response = api.get(f"/oauth2PermissionGrants/{SP_GRAPH}", headers={"client-request-id": "abc-123"})
    error = response.json()["error"]
    assert set(error) == {"code", "message", "innerError"}
    inner = error["innerError"]
    assert inner["client-request-id"] == "abc-123" == response.headers["client-request-id"]
    assert inner["request-id"] == response.headers["request-id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", inner["date"])  # no 'Z', as the service sends it (§3.7)


def test_create_all_principals(api):
    response = api.post("/oauth2PermissionGrants", new_grant_body())
    assert response.status_code == 201
    body = response.json()
    assert body["@odata.context"].endswith("/v1.0/$metadata#oauth2PermissionGrants/$entity")
    assert "@odata.id" not in body
    assert body["id"] == grant_id(SP_PAYROLL, SP_ORDERS) and len(body["id"]) == 43
    assert body["principalId"] is None and body["scope"] == "Orders.Read"
    assert api.get(f"/oauth2PermissionGrants/{body['id']}").json()["scope"] == "Orders.Read"


def test_create_principal_grants_coexist_with_all_principals(api):
    ids = set()
    for principal in (None, USER_MEGAN, USER_ALEX):
        body = new_grant_body(consent="Principal" if principal else "AllPrincipals", principal=principal)
        response = api.post("/oauth2PermissionGrants", body)
        assert response.status_code == 201, response.text
        ids.add(response.json()["id"])
    assert len(ids) == 3 and sorted(len(i) for i in ids) == [43, 64, 64]
    listed = api.get("/oauth2PermissionGrants", params={"$filter": f"clientId eq '{SP_PAYROLL}' and resourceId eq '{SP_ORDERS}'"}).json()
    assert {g["id"] for g in listed["value"]} == ids


def test_create_normalises_guid_case(api):
    body = new_grant_body(client=SP_PAYROLL.upper(), resource=SP_ORDERS.upper())
    created = api.post("/oauth2PermissionGrants", body).json()
    assert created["clientId"] == SP_PAYROLL and created["resourceId"] == SP_ORDERS


@pytest.mark.parametrize("scope", ["Orders.Read", "Orders.ReadWrite Orders.Read"])
def test_duplicate_create_is_409_whatever_the_scope(api, scope):
    body = {"clientId": SP_HR, "consentType": "AllPrincipals", "resourceId": SP_GRAPH, "scope": scope}
    assert error_of(api.post("/oauth2PermissionGrants", body)) == (409, "Request_MultipleObjectsWithSameKeyValue", "Permission entry already exists.")


def test_scope_null_and_absent_are_accepted(api):
    created = api.post("/oauth2PermissionGrants", new_grant_body(scope=None)).json()
    assert created["scope"] is None
    body = new_grant_body(client=SP_HR, resource=SP_ORDERS)
    del body["scope"]
    assert api.post("/oauth2PermissionGrants", body).json()["scope"] is None


@pytest.mark.parametrize("mutate,expected", [
    (lambda b: b.pop("clientId"), (400, "Request_BadRequest", "Missing property: clientId.")),
    (lambda b: b.pop("resourceId"), (400, "Request_BadRequest", "Missing property: resourceId.")),
    (lambda b: b.update(id="x"), (400, "Request_BadRequest", "Property 'id' is read-only and cannot be set.")),
    (lambda b: b.update(clientId="not-a-guid"), (400, "Request_BadRequest", "Invalid object identifier 'not-a-guid'.")),
    (lambda b: b.update(consentType="allprincipals"),
     (400, "Request_BadRequest", "Invalid value specified for property 'consentType' of resource 'OAuth2PermissionGrant'.")),
    (lambda b: b.pop("consentType"),
     (400, "Request_BadRequest", "Invalid value specified for property 'consentType' of resource 'OAuth2PermissionGrant'.")),
    (lambda b: b.update(consentType="Principal"),
     (400, "Request_BadRequest", "Invalid value specified for property 'principalId' of resource 'OAuth2PermissionGrant'.")),
    (lambda b: b.update(principalId=USER_MEGAN),
     (400, "Request_BadRequest", "Invalid value specified for property 'principalId' of resource 'OAuth2PermissionGrant'.")),
    (lambda b: b.update(scope="x" * 3851),
     (400, "Request_BadRequest", "Invalid value specified for property 'scope' of resource 'OAuth2PermissionGrant'.")),
    (lambda b: b.update(color="blue"), (400, "BadRequest", "Property 'color' does not exist on type 'microsoft.graph.oAuth2PermissionGrant'. "
                                                           "Make sure to only use property names that are defined by the type or mark the type as open type.")),
    (lambda b: b.update(scope=5), (400, "BadRequest", "Cannot convert the literal '5' to the expected type 'Edm.String'.")),
    (lambda b: b.update(clientId=str(uuid.uuid4()).upper()), (404, "Request_ResourceNotFound", None)),
    (lambda b: b.update(clientId=APP_HR), (404, "Request_ResourceNotFound", None)),  # an appId is not the SP object id (§12.8)
    (lambda b: b.update(consentType="Principal", principalId=SP_GRAPH), (404, "Request_ResourceNotFound", None)),  # not a user
])
def test_create_validation(api, mutate, expected):
    body = new_grant_body()
    mutate(body)
    status, code, message = error_of(api.post("/oauth2PermissionGrants", body))
    assert (status, code) == expected[:2]
    if expected[2] is not None:
        assert message == expected[2]
    else:
        assert message.endswith("does not exist or one of its queried reference-property objects are not present.")
    assert len(api.get("/oauth2PermissionGrants").json()["value"]) == len(SEEDED_GRANTS)


def test_scope_of_exactly_3850_characters_is_accepted(api):
    assert api.post("/oauth2PermissionGrants", new_grant_body(scope="x" * 3850)).status_code == 201


@pytest.mark.parametrize("raw,message", [(b"", "Empty Payload. JSON content expected."),
                                         (b"{not json", "Unable to read JSON request payload. Please ensure Content-Type header is set "
                                                        "and payload is of valid JSON format."),
                                         (b"[1]", "Unable to read JSON request payload. Please ensure Content-Type header is set "
                                                  "and payload is of valid JSON format.")])
def test_create_with_unreadable_body(api, raw, message):
    response = api.request("POST", "/oauth2PermissionGrants", data=raw, headers={"Content-Type": "application/json"})
    assert error_of(response) == (400, "BadRequest", message)


def test_validation_order(api, emulator):
    """auth -> authorization -> body -> required/read-only -> formats -> references -> uniqueness (§4.4)."""
    bad = {"id": "x", "clientId": "nope", "consentType": "weird", "resourceId": str(uuid.uuid4())}
    assert api.post("/oauth2PermissionGrants", bad, token="garbage").status_code == 401
    reader = emulator.token("5b8e3d2f-0c4a-4f7b-9e6d-2a3b4c5d6e7f", "emu~reader~secret~not-a-real-credential")
    assert api.post("/oauth2PermissionGrants", bad, token=reader).status_code == 403
    assert error_of(api.post("/oauth2PermissionGrants", bad))[2] == "Property 'id' is read-only and cannot be set."
    del bad["id"]
    assert error_of(api.post("/oauth2PermissionGrants", bad))[2] == "Invalid object identifier 'nope'."
    bad["clientId"] = SP_HR
    assert "consentType" in error_of(api.post("/oauth2PermissionGrants", bad))[2]
    bad["consentType"] = "AllPrincipals"
    assert error_of(api.post("/oauth2PermissionGrants", bad))[0] == 404
    bad["resourceId"] = SP_GRAPH
    assert error_of(api.post("/oauth2PermissionGrants", bad))[0] == 409


def test_patch_scope_then_read(api):
    response = api.patch(f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}", {"scope": "User.Read Mail.Read"})
    assert response.status_code == 204 and response.content == b""
    assert api.get(f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}").json()["scope"] == "User.Read Mail.Read"


@pytest.mark.parametrize("prop,value", [("principalId", USER_MEGAN), ("consentType", "Principal"), ("clientId", SP_HR),
                                        ("resourceId", SP_GRAPH), ("id", GRANT_HR_GRAPH_ALL)])
def test_patch_other_properties_is_rejected(api, prop, value):
    response = api.patch(f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}", {"scope": "User.Read", prop: value})
    assert error_of(response) == (400, "Request_BadRequest", f"Property cannot be updated: {prop}")
    assert api.get(f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}").json()["scope"] == " openid  profile User.Read"


def test_patch_and_delete_missing_or_malformed(api):
    missing = grant_id(str(uuid.uuid4()), str(uuid.uuid4()))
    assert error_of(api.patch(f"/oauth2PermissionGrants/{missing}", {"scope": "x"}))[:2] == (404, "Request_ResourceNotFound")
    assert error_of(api.delete(f"/oauth2PermissionGrants/{missing}"))[:2] == (404, "Request_ResourceNotFound")
    assert error_of(api.patch(f"/oauth2PermissionGrants/{SP_GRAPH}", {"scope": "x"}))[:2] == (400, "Request_UnsupportedQuery")


def test_delete_then_delete_again(api):
    response = api.delete(f"/oauth2PermissionGrants/{GRANT_FABRIKAM_ORDERS_ALL}")
    assert response.status_code == 204 and response.content == b""
    assert api.get(f"/oauth2PermissionGrants/{GRANT_FABRIKAM_ORDERS_ALL}").status_code == 404
    assert api.delete(f"/oauth2PermissionGrants/{GRANT_FABRIKAM_ORDERS_ALL}").status_code == 404


def test_entity_set_segment_is_case_insensitive(api):
    assert api.get("/OAUTH2PERMISSIONGRANTS").status_code == 200
    assert api.delete(f"/oAuth2PermissionGrants/{GRANT_FABRIKAM_ORDERS_ALL}").status_code == 204
    assert api.get(f"/ServicePrincipals/{SP_HR}/OAuth2PermissionGrants").status_code == 200


@pytest.mark.parametrize("method,path", [
    ("PATCH", f"/servicePrincipals/{SP_HR}/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}"),
    ("DELETE", f"/servicePrincipals/{SP_HR}/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}"),
    ("DELETE", f"/users/{USER_MEGAN}/oauth2PermissionGrants/{GRANT_HR_GRAPH_MEGAN}"),
    ("POST", f"/servicePrincipals/{SP_HR}/oauth2PermissionGrants"),
    ("POST", f"/users/{USER_MEGAN}/oauth2PermissionGrants"),
    ("DELETE", f"/servicePrincipals(appId='{APP_HR}')/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}"),
])
def test_writes_through_navigation_paths_fail(api, method, path):
    response = api.request(method, path, json={"scope": "User.Read"})
    assert error_of(response) == (400, "BadRequest", NAV_WRITE_MESSAGE)
    assert api.get(f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}").json()["scope"] == " openid  profile User.Read"


def test_me_needs_a_delegated_token(api):
    assert error_of(api.get("/me/oauth2PermissionGrants")) == (400, "BadRequest", "/me request is only valid with delegated authentication flow.")


def test_service_principal_navigation(api):
    by_id = api.get(f"/servicePrincipals/{SP_HR}/oauth2PermissionGrants").json()
    by_app_id = api.get(f"/servicePrincipals(appId='{APP_HR}')/oauth2PermissionGrants").json()
    assert {g["id"] for g in by_id["value"]} == {GRANT_HR_GRAPH_ALL, GRANT_HR_GRAPH_MEGAN} == {g["id"] for g in by_app_id["value"]}
    # the SP as *resource* is not included: Microsoft Graph is a resource here, never a client
    assert api.get(f"/servicePrincipals/{SP_GRAPH}/oauth2PermissionGrants").json()["value"] == []
    filtered = api.get(f"/servicePrincipals/{SP_HR}/oauth2PermissionGrants", params={"$filter": "consentType eq 'Principal'"}).json()
    assert [g["id"] for g in filtered["value"]] == [GRANT_HR_GRAPH_MEGAN]
    assert api.get(f"/servicePrincipals/{SP_HR}/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}").status_code == 200
    assert api.get(f"/servicePrincipals/{SP_PAYROLL}/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}").status_code == 404
    assert error_of(api.get(f"/servicePrincipals/{uuid.uuid4()}/oauth2PermissionGrants"))[:2] == (404, "Request_ResourceNotFound")


def test_user_navigation_excludes_all_principals_grants(api):
    grants = api.get(f"/users/{USER_MEGAN}/oauth2PermissionGrants").json()["value"]
    assert [g["id"] for g in grants] == [GRANT_HR_GRAPH_MEGAN]
    by_upn = api.get("/users/Megan.Bowen@contoso.onmicrosoft.com/oauth2PermissionGrants").json()["value"]
    assert [g["id"] for g in by_upn] == [GRANT_HR_GRAPH_MEGAN]
    assert api.get(f"/users/{USER_MEGAN}/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}").status_code == 404


def test_beta_requires_start_and_expiry_on_create(api):
    body = new_grant_body()
    assert error_of(api.post("/oauth2PermissionGrants", body, version="beta")) == (400, "Request_BadRequest", "Missing property: startTime.")
    body.update(startTime="2022-03-17T00:00:00Z")
    assert error_of(api.post("/oauth2PermissionGrants", body, version="beta"))[2] == "Missing property: expiryTime."
    body.update(expiryTime="2023-03-17T00:00:00Z")
    created = api.post("/oauth2PermissionGrants", body, version="beta")
    assert created.status_code == 201
    assert created.json()["@odata.context"].endswith("/beta/$metadata#oauth2PermissionGrants/$entity")
    assert created.json()["startTime"] == "2022-03-17T00:00:00Z" and created.json()["expiryTime"] == "2023-03-17T00:00:00Z"
    assert "startTime" not in api.get(f"/oauth2PermissionGrants/{created.json()['id']}").json()


def test_beta_rejects_bad_dates(api):
    body = new_grant_body()
    body.update(startTime="yesterday", expiryTime="2023-03-17T00:00:00Z")
    assert error_of(api.post("/oauth2PermissionGrants", body, version="beta"))[2] == \
        "Invalid value specified for property 'startTime' of resource 'OAuth2PermissionGrant'."


def test_v1_accepts_and_ignores_beta_dates(api):
    body = new_grant_body()
    body.update(startTime="2022-03-17T00:00:00Z", expiryTime="2023-03-17T00:00:00Z")
    created = api.post("/oauth2PermissionGrants", body)
    assert created.status_code == 201 and "startTime" not in created.json()
    beta_view = api.get(f"/oauth2PermissionGrants/{created.json()['id']}", version="beta").json()
    assert beta_view["startTime"] is None and beta_view["expiryTime"] is None


@pytest.mark.parametrize("method,path,status,code", [
    ("GET", "/widgets", 400, "BadRequest"),
    ("PUT", f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}", 405, "Request_BadRequest"),
    ("GET", f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}/extra", 400, "BadRequest"),
    ("GET", "/oauth2PermissionGrants/delta()", 501, "NotImplemented"),
])
def test_routing_errors(api, method, path, status, code):
    assert error_of(api.request(method, path))[:2] == (status, code)


def test_unknown_version(api):
    response = api.get("/oauth2PermissionGrants", version="v2.0")
    assert response.status_code == 400 and "Invalid version" in response.json()["error"]["message"]


def test_head_has_headers_but_no_body(api):
    response = api.request("HEAD", "/oauth2PermissionGrants")
    assert response.status_code == 200 and response.content == b""
    assert int(response.headers["Content-Length"]) > 0
