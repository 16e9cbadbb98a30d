"""Tenant scale in the emulator: POST /directoryObjects/getByIds, the throttling model, indexed grant listings."""

import uuid

from emu_helpers import (GRANT_HR_GRAPH_ALL, READER_APP, SP_GRAPH, SP_HR, SP_ORDERS, SP_PAYROLL, USER_MEGAN, error_of,
                         new_grant_body)

GET_BY_IDS = "/directoryObjects/getByIds"


def reader(emulator):
    return emulator.control.mint_token(client_id=READER_APP, roles=["Directory.Read.All"])


# ------------------------------------------------------------------------------------------------------ getByIds
def test_get_by_ids_returns_the_objects_found_and_leaves_out_the_others(api, clean_emulator):
    missing = str(uuid.uuid4())
    response = api.post(GET_BY_IDS, {"ids": [SP_HR, missing, USER_MEGAN.upper()], "types": ["servicePrincipal", "user"]},
                        token=reader(clean_emulator))
    assert response.status_code == 200
    found = response.json()["value"]
    assert [(o["@odata.type"], o["id"]) for o in found] == [
        ("#microsoft.graph.servicePrincipal", SP_HR), ("#microsoft.graph.user", USER_MEGAN)]
    assert found[0]["displayName"] == "Contoso HR Portal" and found[1]["userPrincipalName"]


def test_get_by_ids_searches_only_the_types_asked_for(api, clean_emulator):
    response = api.post(GET_BY_IDS, {"ids": [SP_HR, USER_MEGAN], "types": ["user"]}, token=reader(clean_emulator))
    assert [o["id"] for o in response.json()["value"]] == [USER_MEGAN]


def test_get_by_ids_needs_directory_read_all(api):
    response = api.post(GET_BY_IDS, {"ids": [SP_HR]})  # the automation app: no Directory.Read.All
    assert error_of(response)[:2] == (403, "Authorization_RequestDenied")


def test_get_by_ids_takes_at_most_1000_ids_and_known_types(api, clean_emulator):
    token = reader(clean_emulator)
    too_many = api.post(GET_BY_IDS, {"ids": [str(uuid.uuid4()) for _n in range(1001)]}, token=token)
    assert too_many.status_code == 400
    bad_type = api.post(GET_BY_IDS, {"ids": [SP_HR], "types": ["spaceship"]}, token=token)
    assert bad_type.status_code == 400
    assert api.post(GET_BY_IDS, {"ids": [str(uuid.uuid4()) for _n in range(1000)]}, token=token).json()["value"] == []


def test_get_by_ids_is_a_read_in_the_request_log_and_works_in_a_batch(api, clean_emulator):
    token = reader(clean_emulator)
    api.post(GET_BY_IDS, {"ids": [SP_HR]}, token=token)
    batch = api.post("/$batch", {"requests": [{"id": "1", "method": "POST", "url": GET_BY_IDS, "body": {"ids": [SP_ORDERS]},
                                               "headers": {"Content-Type": "application/json"}}]}, token=token)
    assert batch.json()["responses"][0]["body"]["value"][0]["id"] == SP_ORDERS
    assert clean_emulator.control.requests_with_summary()["summary"]["writes"] == 0


# ------------------------------------------------------------------------------------------------ throttling model
def test_the_throttling_model_answers_429_beyond_the_budget_and_counts_batch_items(api, clean_emulator):
    clean_emulator.control.set_faults(throttle_budget=5, throttle_window_seconds=60)
    items = [{"id": str(i), "method": "GET", "url": f"/servicePrincipals/{SP_HR}"} for i in range(4)]
    batch = api.post("/$batch", {"requests": items})
    assert [r["status"] for r in batch.json()["responses"]] == [200] * 4  # 4 of the 5 operations
    assert api.get(f"/servicePrincipals/{SP_HR}").status_code == 200   # the 5th
    throttled = api.get(f"/servicePrincipals/{SP_HR}")
    assert throttled.status_code == 429 and 1 <= int(throttled.headers["Retry-After"]) <= 60
    again = api.post("/$batch", {"requests": items[:2]})
    assert [r["status"] for r in again.json()["responses"]] == [429, 429]
    clean_emulator.control.set_faults(throttle_budget=0)
    assert api.get(f"/servicePrincipals/{SP_HR}").status_code == 200


def test_the_throttling_model_starts_fresh_windows_when_set_again(api, clean_emulator):
    clean_emulator.control.set_faults(throttle_budget=1, throttle_window_seconds=60)
    assert api.get(f"/servicePrincipals/{SP_HR}").status_code == 200
    assert api.get(f"/servicePrincipals/{SP_HR}").status_code == 429
    clean_emulator.control.set_faults(throttle_budget=0)
    api.get(f"/servicePrincipals/{SP_HR}")
    clean_emulator.control.set_faults(throttle_budget=1)
    assert api.get(f"/servicePrincipals/{SP_HR}").status_code == 200


# ------------------------------------------------------------------------------------------------ indexed listings
def test_indexed_listings_follow_creates_and_deletes(api):
    def listed(filter_text):
        pages = api.get_all(f"/oauth2PermissionGrants?$filter={filter_text}&$top=2")
        return sorted(g["id"] for page in pages for g in page["value"])

    by_resource = f"resourceId eq '{SP_GRAPH}' and consentType eq 'AllPrincipals'"
    before = listed(by_resource)
    assert GRANT_HR_GRAPH_ALL in before
    created = api.post("/oauth2PermissionGrants", new_grant_body(client=SP_PAYROLL, resource=SP_GRAPH, scope="User.Read"))
    assert created.status_code == 201
    assert listed(by_resource) == sorted(before + [created.json()["id"]])
    assert created.json()["id"] in listed(f"clientId eq '{SP_PAYROLL}'")
    assert api.delete(f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}").status_code == 204
    assert GRANT_HR_GRAPH_ALL not in listed(by_resource)
    assert GRANT_HR_GRAPH_ALL not in listed(f"clientId eq '{SP_HR}'")
