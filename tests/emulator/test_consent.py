"""Applications, POST /servicePrincipals and app role assignments (docs/dev/emulator.md, "Applications and app role
assignments"): endpoints, errors, knobs and the default seed's consent objects."""

import pytest

from emu_helpers import SP_GRAPH, SP_ORDERS, SP_PAYROLL, SP_FABRIKAM, USER_MEGAN, READER_APP, READER_SECRET, error_of

APP_EXPENSES = "e1c2d3f4-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
APPID_EXPENSES = "f2d3e4a5-6b7c-4d8e-9fa0-1b2c3d4e5f60"
SP_EXPENSES = "c3e4f5a6-7b8c-4d9e-8fa1-2b3c4d5e6f71"
SP_INVENTORY = "6a7b8c9d-0e1f-4a2b-8d3e-4f5a6b7c8d9e"
APPID_LEGACY = "8c9d0e1f-2a3b-4c4d-8f5a-6b7c8d9e0f1a"
APPID_CATALOG = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
ASSIGNER_APP, ASSIGNER_SECRET = "7e1b6a5c-3f2d-4c8e-9b0a-5d6e7f8091a2", "emu~assigner~secret~not-a-real-credential"
ROLE_USER_READ_ALL = "df021288-bdef-4463-88db-98f22de89214"
ROLE_GROUP_READ_ALL = "5b567255-7703-4780-807c-7be8301ae99b"
ROLE_APPLICATION_READ_ALL = "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30"
ROLE_DEVICE_DISABLED = "1138cb37-bd11-4084-a2b7-9f71582aeddb"
ROLE_USERS_ONLY = "e0a1b2c3-d4e5-4f60-8a7b-1c2d3e4f5a6b"
ROLE_ORDERS_READ_ALL = "2c7e4a19-5b3d-4f8e-9a61-0d2c4e6f8a13"
ROLE_ORDERS_APPROVER = "3d8f5b2a-6c4e-4a9f-8b72-1e3d5f7a9b24"
ASSIGN_EXPENSES_USER_READ_ALL = "pvXkw4x7nk2PoSs8TV5vcYU0Ejiymx9Nt86Gn3L6G1A"
ASSIGN_EXPENSES_APP_READ_ALL = "pvXkw4x7nk2PoSs8TV5vcZ5nNQ1OxeZMmg8NWW08ePs"
ASSIGN_MEGAN_APPROVER = "PCsaDl5NYE-Ke5wNHi86S0ReGCZwTjdHqQfzpJ7OfTI"


def body(principal=SP_EXPENSES, resource=SP_GRAPH, role=ROLE_GROUP_READ_ALL):
    return {"principalId": principal, "resourceId": resource, "appRoleId": role}


def values(response):
    assert response.status_code == 200, response.text
    return response.json()["value"]


# ------------------------------------------------------------------ applications
@pytest.mark.parametrize("path", [f"/applications/{APP_EXPENSES}", f"/applications('{APP_EXPENSES}')",
                                  f"/applications(appId='{APPID_EXPENSES}')", f"/APPLICATIONS(appId='{APPID_EXPENSES.upper()}')"])
def test_application_by_key(api, path):
    response = api.get(path)
    assert response.status_code == 200, response.text
    app = response.json()
    assert app["@odata.context"].endswith("/v1.0/$metadata#applications/$entity")
    assert app["displayName"] == "Contoso Expense Reports" and app["appId"] == APPID_EXPENSES
    graph, orders = app["requiredResourceAccess"]
    assert graph["resourceAppId"] == "00000003-0000-0000-c000-000000000000"
    assert {"id": ROLE_USER_READ_ALL, "type": "Role"} in graph["resourceAccess"]
    assert {"id": "a154be20-db9c-4678-8ab7-66f6cc099a59", "type": "Scope"} in graph["resourceAccess"]  # same value, as a scope
    assert orders["resourceAccess"] == [{"id": "f329a577-028f-5430-a759-e385006f8321", "type": "Scope"},
                                        {"id": ROLE_ORDERS_READ_ALL, "type": "Role"}]


def test_application_filters_and_select(api):
    wanted = values(api.get("/applications", params={"$filter": f"appId eq '{APPID_EXPENSES}'",
                                                        "$select": "id,appId,requiredResourceAccess"}))
    assert wanted == [{"id": APP_EXPENSES, "appId": APPID_EXPENSES, "requiredResourceAccess": wanted[0]["requiredResourceAccess"]}]
    assert values(api.get("/applications", params={"$filter": "displayName eq 'contoso legacy tool'"}))[0]["appId"] == APPID_LEGACY
    # A multi-tenant app registered elsewhere (Fabrikam Sync) and the catalog API have no application here.
    assert values(api.get("/applications", params={"$filter": "appId eq 'c041adc9-5e1f-4c3b-8d8e-9fa0b1c2d3e4'"})) == []
    assert values(api.get("/applications", params={"$filter": f"appId eq '{APPID_CATALOG}'"})) == []
    assert len(values(api.get("/applications"))) == 3
    pages = api.get_all("/applications?$top=2")
    assert [len(p["value"]) for p in pages] == [2, 1]


@pytest.mark.parametrize("path,status,code", [
    ("/applications(appId='c041adc9-5e1f-4c3b-8d8e-9fa0b1c2d3e4')", 404, "Request_ResourceNotFound"),
    ("/applications/00000000-0000-4000-8000-000000000001", 404, "Request_ResourceNotFound"),
    ("/applications/not-a-guid", 400, "Request_BadRequest"),
    ("/applications(displayName='x')", 400, "BadRequest"),
    (f"/applications/{APP_EXPENSES}/owners", 400, "BadRequest"),
    ("/applications?$select=nope", 400, "BadRequest"),
    ("/applications?$filter=signInAudience eq 'AzureADMyOrg'", 400, "Request_UnsupportedQuery"),
])
def test_application_errors(api, path, status, code):
    assert error_of(api.get(path))[:2] == (status, code)


def test_application_writes_and_permissions(api, clean_emulator):
    assert api.post("/applications", {"displayName": "x"}).status_code == 405
    assert api.patch(f"/applications/{APP_EXPENSES}", {"displayName": "x"}).status_code == 405
    noperm = clean_emulator.control.mint_token(roles=["User.Read.All"])
    assert error_of(api.get("/applications", token=noperm))[:2] == (403, "Authorization_RequestDenied")


# ------------------------------------------------------------------ service principals
def test_service_principals_carry_app_roles_on_both_versions(api):
    for version in ("v1.0", "beta"):
        graph = api.get(f"/servicePrincipals/{SP_GRAPH}?$select=id,appRoles", version=version).json()
        roles = {r["value"]: r for r in graph["appRoles"]}
        assert roles["User.Read.All"]["id"] == ROLE_USER_READ_ALL and roles["Group.Read.All"]["id"] == ROLE_GROUP_READ_ALL
        assert roles["Device.ReadWrite.All"]["isEnabled"] is False
        assert roles["Reports.Viewer"]["allowedMemberTypes"] == ["User"]
        assert set(roles["User.Read.All"]) >= {"id", "value", "displayName", "isEnabled", "allowedMemberTypes", "description"}
    assert api.get(f"/servicePrincipals/{SP_PAYROLL}").json()["appRoles"] == []


def test_create_service_principal_from_the_catalog(api, clean_emulator):
    created = api.post("/servicePrincipals", {"appId": APPID_CATALOG})
    assert created.status_code == 201, created.text
    sp = created.json()
    assert sp["@odata.context"].endswith("/v1.0/$metadata#servicePrincipals/$entity")
    assert sp["displayName"] == "Fabrikam Catalog API" and sp["appOwnerOrganizationId"] == "2d1f6c84-7a3e-4b59-8c0d-9e1f3a5b7c2d"
    assert [r["value"] for r in sp["appRoles"]] == ["Catalog.Read.All"]
    assert [s["value"] for s in sp["oauth2PermissionScopes"]] == ["Catalog.Read"]
    assert api.get(f"/servicePrincipals(appId='{APPID_CATALOG}')").json()["id"] == sp["id"]
    entry = [e for e in clean_emulator.requests() if e["kind"] == "graph" and e["method"] == "POST"][-1]
    assert entry["write"] is True and entry["status"] == 201
    again = api.post("/servicePrincipals", {"appId": APPID_CATALOG})
    assert error_of(again) == (409, "Request_MultipleObjectsWithSameKeyValue",
                               "The service principal cannot be created, updated, or restored because the service principal name "
                               f"{APPID_CATALOG} is already in use.")


def test_create_service_principal_errors(api, clean_emulator):
    unknown = "00000000-0000-4000-8000-0000000000aa"
    assert error_of(api.post("/servicePrincipals", {"appId": unknown})) == (
        400, "Request_BadRequest", f"The appId '{unknown}' of the service principal does not reference a valid application object.")
    assert error_of(api.post("/servicePrincipals", {}))[:2] == (400, "Request_BadRequest")
    assert error_of(api.post("/servicePrincipals", {"appId": "00000003-0000-0000-c000-000000000000"}))[0] == 409
    reader = clean_emulator.control.mint_token(roles=["Application.Read.All"])
    assert error_of(api.post("/servicePrincipals", {"appId": APPID_CATALOG}, token=reader))[:2] == (403, "Authorization_RequestDenied")
    owned_by = clean_emulator.control.mint_token(roles=["Application.ReadWrite.OwnedBy"])
    status, code, message = error_of(api.post("/servicePrincipals", {"appId": APPID_CATALOG}, token=owned_by))
    assert (status, code) == (403, "Authorization_RequestDenied") and "must in the local tenant" in message
    assert clean_emulator.summary()["writes"] == 5
    assert all(sp["appId"] != APPID_CATALOG for sp in clean_emulator.control.state()["servicePrincipals"])


def test_app_lag_seconds(api, clean_emulator):
    seed = clean_emulator.control.state()
    seed["appCatalog"][0]["_created_seconds_ago"] = 0
    clean_emulator.control.load_seed(seed)
    clean_emulator.set_faults(app_lag_seconds=30)
    assert error_of(api.post("/servicePrincipals", {"appId": APPID_CATALOG}))[:2] == (400, "Request_BadRequest")
    clean_emulator.set_faults(app_lag_seconds=0)
    assert api.post("/servicePrincipals", {"appId": APPID_CATALOG}).status_code == 201


# ------------------------------------------------------------------ assignments: reads
def test_lists_from_both_sides(api):
    held = values(api.get(f"/servicePrincipals/{SP_EXPENSES}/appRoleAssignments"))
    assert {a["id"] for a in held} == {ASSIGN_EXPENSES_USER_READ_ALL, ASSIGN_EXPENSES_APP_READ_ALL}
    first = next(a for a in held if a["id"] == ASSIGN_EXPENSES_USER_READ_ALL)
    assert first == {"id": ASSIGN_EXPENSES_USER_READ_ALL, "deletedDateTime": None, "appRoleId": ROLE_USER_READ_ALL,
                     "createdDateTime": first["createdDateTime"], "principalDisplayName": "Contoso Expense Reports",
                     "principalId": SP_EXPENSES, "principalType": "ServicePrincipal", "resourceDisplayName": "Microsoft Graph",
                     "resourceId": SP_GRAPH}
    assert first["createdDateTime"].endswith("Z") and len(first["createdDateTime"].split(".")[1]) == 8
    on_orders = values(api.get(f"/servicePrincipals(appId='9d1e7a96-2b8c-4f0e-9a5b-6c7d8e9fa0b1')/appRoleAssignedTo"))
    assert {(a["principalId"], a["principalType"]) for a in on_orders} == {(SP_FABRIKAM, "ServicePrincipal"), (USER_MEGAN, "User")}
    response = api.get(f"/servicePrincipals/{SP_ORDERS}/appRoleAssignedTo")
    assert response.json()["@odata.context"].endswith(f"$metadata#servicePrincipals('{SP_ORDERS}')/appRoleAssignedTo")
    assert response.headers["x-ms-resource-unit"] == "1"
    assert api.get(f"/servicePrincipals/{SP_EXPENSES}/appRoleAssignments").headers["x-ms-resource-unit"] == "2"
    item = api.get(f"/servicePrincipals/{SP_ORDERS}/appRoleAssignedTo/{ASSIGN_MEGAN_APPROVER}")
    assert item.status_code == 200 and item.json()["appRoleId"] == ROLE_ORDERS_APPROVER
    assert item.json()["@odata.context"].endswith(f"servicePrincipals('{SP_ORDERS}')/appRoleAssignedTo/$entity")
    # An assignment is reachable only through its own principal or resource.
    assert error_of(api.get(f"/servicePrincipals/{SP_GRAPH}/appRoleAssignedTo/{ASSIGN_MEGAN_APPROVER}"))[0] == 404
    assert error_of(api.get(f"/servicePrincipals/{SP_GRAPH}/appRoleAssignedTo/nope"))[:2] == (400, "Request_BadRequest")
    assert error_of(api.get("/servicePrincipals/00000000-0000-4000-8000-000000000001/appRoleAssignments"))[0] == 404
    selected = values(api.get(f"/servicePrincipals/{SP_EXPENSES}/appRoleAssignments?$select=appRoleId,resourceId"))
    assert sorted(a["appRoleId"] for a in selected) == sorted([ROLE_USER_READ_ALL, ROLE_APPLICATION_READ_ALL])
    assert set(selected[0]) == {"appRoleId", "resourceId"}


def test_filters(api):
    nav = f"/servicePrincipals/{SP_EXPENSES}/appRoleAssignments"
    assert len(values(api.get(nav, params={"$filter": f"resourceId eq {SP_GRAPH.upper()}"}))) == 2
    assert values(api.get(nav, params={"$filter": f"resourceId eq {SP_ORDERS}"})) == []
    assert error_of(api.get(nav, params={"$filter": f"resourceId eq '{SP_GRAPH}'"})) == (400, "Request_BadRequest", "Invalid filter clause")
    assert error_of(api.get(nav, params={"$filter": f"appRoleId eq {ROLE_USER_READ_ALL}"})) == (
        400, "Request_BadRequest", "Invalid filter clause appRoleId: System.Guid")
    assert error_of(api.get(nav, params={"$filter": f"principalId eq {SP_EXPENSES}"}))[:2] == (400, "Request_UnsupportedQuery")
    to = f"/servicePrincipals/{SP_ORDERS}/appRoleAssignedTo"
    assert [a["principalId"] for a in values(api.get(to, params={"$filter": "startswith(principalDisplayName,'meg')"}))] == [USER_MEGAN]
    assert [a["principalId"] for a in values(api.get(to, params={"$filter": "principalDisplayName eq 'Fabrikam Sync'"}))] == [SP_FABRIKAM]


@pytest.mark.parametrize("mode,expected", [("honoured", 0), ("ignored", 2), ("rejected", None)])
def test_assignment_filter_knob(api, clean_emulator, mode, expected):
    clean_emulator.set_faults(assignment_filter=mode)
    response = api.get(f"/servicePrincipals/{SP_EXPENSES}/appRoleAssignments", params={"$filter": f"resourceId eq {SP_ORDERS}"})
    if expected is None:
        assert error_of(response) == (400, "Request_UnsupportedQuery", "Unsupported Query.")
    else:
        assert len(values(response)) == expected
    assert len(values(api.get(f"/servicePrincipals/{SP_EXPENSES}/appRoleAssignments"))) == 2  # no filter: unaffected


def test_paging_and_count(api, clean_emulator):
    clean_emulator.set_faults(page_size=1, empty_page_with_nextlink=1)
    pages = api.get_all(f"/servicePrincipals/{SP_EXPENSES}/appRoleAssignments")
    assert [len(p["value"]) for p in pages] == [0, 1, 0, 1]
    counted = api.get(f"/servicePrincipals/{SP_GRAPH}/appRoleAssignedTo/$count", headers={"ConsistencyLevel": "eventual"})
    assert counted.status_code == 200 and counted.text == "3"
    assert api.get(f"/servicePrincipals/{SP_GRAPH}/appRoleAssignedTo/$count").status_code == 400


# ------------------------------------------------------------------ assignments: writes
@pytest.mark.parametrize("nav,url_sp", [("appRoleAssignedTo", SP_GRAPH), ("appRoleAssignments", SP_EXPENSES)])
def test_create_then_delete(api, clean_emulator, nav, url_sp):
    created = api.post(f"/servicePrincipals/{url_sp}/{nav}", body())
    assert created.status_code == 201, created.text
    record = created.json()
    assert record["@odata.context"].endswith(f"$metadata#servicePrincipals('{url_sp}')/{nav}/$entity")
    assert (record["principalId"], record["resourceId"], record["appRoleId"]) == (SP_EXPENSES, SP_GRAPH, ROLE_GROUP_READ_ALL)
    assert record["principalType"] == "ServicePrincipal" and record["resourceDisplayName"] == "Microsoft Graph"
    assert len(record["id"]) == 43 and record["id"].startswith(ASSIGN_EXPENSES_USER_READ_ALL[:21])  # principal bytes first
    assert len(values(api.get(f"/servicePrincipals/{SP_EXPENSES}/appRoleAssignments"))) == 3
    assert api.delete(f"/servicePrincipals/{url_sp}/{nav}/{record['id']}").status_code == 204
    assert error_of(api.delete(f"/servicePrincipals/{url_sp}/{nav}/{record['id']}"))[:2] == (404, "Request_ResourceNotFound")
    writes = [e for e in clean_emulator.requests() if e.get("write")]
    assert [(e["method"], e["status"]) for e in writes] == [("POST", 201), ("DELETE", 204), ("DELETE", 404)]


def test_create_through_the_app_id_key(api):
    created = api.post("/servicePrincipals(appId='00000003-0000-0000-c000-000000000000')/appRoleAssignedTo", body())
    assert created.status_code == 201, created.text


@pytest.mark.parametrize("payload,expected", [
    (body(role=ROLE_USER_READ_ALL), (400, "Request_BadRequest", "Permission being assigned already exists on the object")),
    (body(role="00000000-0000-4000-8000-00000000beef"),
     (400, "Request_BadRequest", "Permission being assigned was not found on application '00000003-0000-0000-c000-000000000000'.")),
    (body(role=ROLE_DEVICE_DISABLED),
     (400, "Request_BadRequest", "Permission being assigned was not found on application '00000003-0000-0000-c000-000000000000'.")),
    (body(role=ROLE_USERS_ONLY),
     (400, "Request_BadRequest", "Permission being assigned was not found on application '00000003-0000-0000-c000-000000000000'.")),
    (body(resource=SP_ORDERS), (400, "Request_BadRequest", "Not a valid reference update.")),  # URL SP is Graph
    (body(principal="00000000-0000-4000-8000-000000000009"), (400, "Request_BadRequest", "Not a valid reference update.")),
    ({"principalId": SP_EXPENSES, "resourceId": SP_GRAPH}, (400, "Request_BadRequest", "One or more properties are invalid.")),
    ({**body(), "principalType": "ServicePrincipal"}, (400, "Request_BadRequest", "Property 'principalType' is read-only and cannot be set.")),
    ({**body(), "appRoleId": "User.Read.All"}, (400, "BadRequest", "Cannot convert the literal 'User.Read.All' to the expected type 'Edm.Guid'.")),
    ({**body(), "scope": "x"}, (400, "BadRequest", None)),
])
def test_create_errors(api, clean_emulator, payload, expected):
    status, code, message = error_of(api.post(f"/servicePrincipals/{SP_GRAPH}/appRoleAssignedTo", payload))
    assert (status, code) == expected[:2] and (expected[2] is None or message == expected[2])
    assert len(clean_emulator.control.state()["appRoleAssignments"]) == 5


def test_user_principal_needs_a_user_role(api):
    assert api.post(f"/servicePrincipals/{SP_ORDERS}/appRoleAssignedTo",
                    body(principal=USER_MEGAN, resource=SP_ORDERS, role=ROLE_ORDERS_READ_ALL)).status_code == 400
    alex = "1f2b3c4d-5e6f-4071-9b8c-0d1e2f3a4b5c"
    created = api.post(f"/servicePrincipals/{SP_ORDERS}/appRoleAssignedTo", body(principal=alex, resource=SP_ORDERS, role=ROLE_ORDERS_APPROVER))
    assert created.status_code == 201 and created.json()["principalType"] == "User"


def test_unknown_resource_is_404(api):
    missing = "00000000-0000-4000-8000-000000000007"
    assert error_of(api.post(f"/servicePrincipals/{SP_EXPENSES}/appRoleAssignments", body(resource=missing)))[:2] == (
        404, "Request_ResourceNotFound")


def test_duplicate_message_knob_and_default_role(api, clean_emulator):
    clean_emulator.set_faults(assignment_duplicate_message="entitlement_grant")
    assert error_of(api.post(f"/servicePrincipals/{SP_GRAPH}/appRoleAssignedTo", body(role=ROLE_USER_READ_ALL)))[2] == \
        "EntitlementGrant entry already exists"
    default = body(principal=SP_INVENTORY, role="00000000-0000-0000-0000-000000000000")
    clean_emulator.set_faults(strict_default_role=True)
    assert api.post(f"/servicePrincipals/{SP_GRAPH}/appRoleAssignedTo", default).status_code == 400
    clean_emulator.set_faults(strict_default_role=False)
    assert api.post(f"/servicePrincipals/{SP_GRAPH}/appRoleAssignedTo", default).status_code == 201


def test_permissions(api, clean_emulator):
    assigner = clean_emulator.control.mint_token(client_id=ASSIGNER_APP, roles=["AppRoleAssignment.ReadWrite.All"])
    # AppRoleAssignment.ReadWrite.All alone cannot create (it needs Application.Read.All too), but can list and delete.
    assert error_of(api.post(f"/servicePrincipals/{SP_GRAPH}/appRoleAssignedTo", body(), token=assigner))[:2] == (
        403, "Authorization_RequestDenied")
    assert api.get(f"/servicePrincipals/{SP_GRAPH}/appRoleAssignedTo", token=assigner).status_code == 200
    reader = clean_emulator.control.mint_token(client_id=READER_APP, roles=["Directory.Read.All"])
    assert api.get(f"/servicePrincipals/{SP_GRAPH}/appRoleAssignedTo", token=reader).status_code == 200
    assert error_of(api.delete(f"/servicePrincipals/{SP_EXPENSES}/appRoleAssignments/{ASSIGN_EXPENSES_APP_READ_ALL}", token=reader))[0] == 403
    assert api.patch(f"/servicePrincipals/{SP_EXPENSES}/appRoleAssignments/{ASSIGN_EXPENSES_APP_READ_ALL}", {}).status_code == 405


def test_assigner_only_app_authenticates(clean_emulator):
    token = clean_emulator.control  # the seeded app exists with its secret
    apps = {a["client_id"]: a for a in token._call("GET", "apps")["apps"]}  # pylint: disable=protected-access
    assert apps[ASSIGNER_APP]["permissions"] == ["AppRoleAssignment.ReadWrite.All"]
    assert apps[READER_APP]["client_secrets"] == [READER_SECRET] and ASSIGNER_SECRET in apps[ASSIGNER_APP]["client_secrets"]


# ------------------------------------------------------------------ consistency and faults
def test_reference_lag_on_a_new_service_principal(api, clean_emulator):
    new_sp = api.post("/servicePrincipals", {"appId": APPID_CATALOG}).json()
    clean_emulator.set_faults(reference_lag_seconds=30)
    assert error_of(api.post(f"/servicePrincipals/{SP_GRAPH}/appRoleAssignedTo", body(principal=new_sp["id"]))) == (
        400, "Request_BadRequest", "Not a valid reference update.")
    assert error_of(api.post(f"/servicePrincipals/{SP_EXPENSES}/appRoleAssignments",
                             body(resource=new_sp["id"], role="2d3e4f5a-6b7c-4d8e-9fa0-b1c2d3e4f506")))[0] == 404
    clean_emulator.set_faults(reference_lag_seconds=0)
    assert api.post(f"/servicePrincipals/{SP_GRAPH}/appRoleAssignedTo", body(principal=new_sp["id"], role=ROLE_USER_READ_ALL)).status_code == 201


def test_replication_delay_and_write_lag(api, clean_emulator):
    clean_emulator.set_faults(replication_delay_reads=2, write_lag_seconds=30)
    created = api.post(f"/servicePrincipals/{SP_GRAPH}/appRoleAssignedTo", body()).json()
    nav = f"/servicePrincipals/{SP_EXPENSES}/appRoleAssignments"
    assert len(values(api.get(nav))) == 2 and len(values(api.get(nav))) == 2  # not yet visible
    assert len(values(api.get(nav))) == 3
    assert error_of(api.delete(f"{nav}/{created['id']}"))[0] == 404  # too new to delete
    assert api.delete(f"{nav}/{ASSIGN_EXPENSES_APP_READ_ALL}").status_code == 204  # seeded: old enough


def test_throttle_and_faults_narrowed_to_assignments(api, clean_emulator):
    clean_emulator.set_faults(throttle_next=1, methods=["POST"], paths="/appRoleAssignedTo$", retry_after=3)
    assert api.get(f"/servicePrincipals/{SP_GRAPH}/appRoleAssignedTo").status_code == 200
    throttled = api.post(f"/servicePrincipals/{SP_GRAPH}/appRoleAssignedTo", body())
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "3"
    assert api.post(f"/servicePrincipals/{SP_GRAPH}/appRoleAssignedTo", body()).status_code == 201
    clean_emulator.set_faults(apply_then_fail_next=1, methods=["DELETE"], paths="appRoleAssignments/")
    nav = f"/servicePrincipals/{SP_EXPENSES}/appRoleAssignments/{ASSIGN_EXPENSES_APP_READ_ALL}"
    assert api.delete(nav).status_code == 503
    assert api.delete(nav).status_code == 404  # it was applied


def test_batch_items(api):
    response = api.post("/$batch", {"requests": [
        {"id": "1", "method": "POST", "url": f"/servicePrincipals/{SP_GRAPH}/appRoleAssignedTo", "body": body(),
         "headers": {"Content-Type": "application/json"}},
        {"id": "2", "method": "GET", "url": f"/servicePrincipals/{SP_EXPENSES}/appRoleAssignments?$filter=resourceId eq {SP_GRAPH}",
         "dependsOn": ["1"]},
        {"id": "3", "method": "GET", "url": f"/applications(appId='{APPID_EXPENSES}')?$select=requiredResourceAccess"}]}).json()
    by_id = {r["id"]: r for r in response["responses"]}
    assert by_id["1"]["status"] == 201 and len(by_id["2"]["body"]["value"]) == 3
    assert set(by_id["3"]["body"]) == {"@odata.context", "requiredResourceAccess"}


def test_state_round_trip(clean_emulator):
    state = clean_emulator.control.state()
    assert len(state["applications"]) == 3 and len(state["appCatalog"]) == 1 and len(state["appRoleAssignments"]) == 5
    clean_emulator.control.load_seed(state)
    def strip(items):
        return [{k: v for k, v in a.items() if k != "_created_seconds_ago"} for a in items]
    assert strip(clean_emulator.control.state()["appRoleAssignments"]) == strip(state["appRoleAssignments"])
