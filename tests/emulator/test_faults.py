"""Every fault knob of the control plane (docs/dev/graph-behaviour.md#replication-lag, #throttling; docs/dev/emulator.md)."""

import concurrent.futures
import email.utils
import time
import uuid

import pytest
import requests

from emu_helpers import GRANT_HR_GRAPH_ALL, SEEDED_GRANTS, SP_GRAPH, SP_HR, error_of, new_grant_body

CREATED_ID = "p4Evbp08H0qLbH2On6CxwoVvDUx7Gp1Oj0pbbH2On6A"  # grant_id(SP_PAYROLL, SP_ORDERS): new_grant_body()'s key


def grant_exists(api, grant_id=CREATED_ID):
    return grant_id in {g["id"] for g in api.get("/oauth2PermissionGrants", params={"$top": "999"}).json()["value"]}


@pytest.mark.parametrize("retry_after,header", [(10, "10"), (2.128, "2.128"), (None, None), ("http-date", "date")])
def test_throttle_next_with_retry_after_shapes(api, emulator, retry_after, header):
    faults = emulator.control.set_faults(throttle_next=2, retry_after=retry_after)
    assert faults["throttle_next"] == 2
    first = api.get("/oauth2PermissionGrants")
    status, code, message = error_of(first)
    assert (status, code, message) == (429, "TooManyRequests", "Please retry again later.")
    inner = first.json()["error"]["innerError"]
    assert inner["code"] == "429" and inner["status"] == "429"
    assert first.headers["x-ms-throttle-information"] == "ResourceUnitLimitExceeded"
    if header is None:
        assert "Retry-After" not in first.headers
    elif header == "date":
        assert email.utils.parsedate_to_datetime(first.headers["Retry-After"]).timestamp() > time.time()
    else:
        assert first.headers["Retry-After"] == header
    assert emulator.control.faults()["throttle_next"] == 1  # counted knobs decrement as they fire
    assert api.get("/oauth2PermissionGrants").status_code == 429
    assert api.get("/oauth2PermissionGrants").status_code == 200


def test_throttled_writes_are_not_applied(api, emulator):
    emulator.control.set_faults(throttle_next=1)
    assert api.post("/oauth2PermissionGrants", new_grant_body()).status_code == 429
    assert not grant_exists(api)


def test_throttle_every(api, emulator):
    emulator.control.set_faults(throttle_every=3)
    statuses = [api.get("/users").status_code for attempt in range(7)]
    assert statuses == [200, 200, 429, 200, 200, 429, 200]


def test_methods_and_paths_narrow_a_fault(api, emulator):
    emulator.control.set_faults(throttle_next=1, methods=["POST"], paths="oauth2PermissionGrants")
    assert api.get("/oauth2PermissionGrants").status_code == 200
    assert api.post("/$batch", {"requests": [{"id": "1", "method": "GET", "url": "/users"}]}).json()["responses"][0]["status"] == 200
    assert api.post("/oauth2PermissionGrants", new_grant_body()).status_code == 429
    assert api.post("/oauth2PermissionGrants", new_grant_body()).status_code == 201


@pytest.mark.parametrize("status,code", [(503, "serviceNotAvailable"), (504, "gatewayTimeout"), (500, "Service_InternalServerError")])
def test_fail_next_fails_before_applying(api, emulator, status, code):
    emulator.control.set_faults(fail_next=1, fail_status=status)
    assert error_of(api.post("/oauth2PermissionGrants", new_grant_body()))[:2] == (status, code)
    assert not grant_exists(api)
    assert api.post("/oauth2PermissionGrants", new_grant_body()).status_code == 201


def test_fail_next_retry_after(api, emulator):
    emulator.control.set_faults(fail_next=2, fail_status=503, fail_retry_after=3)
    assert api.get("/users").headers["Retry-After"] == "3"
    emulator.control.set_faults(fail_retry_after=None)
    response = api.get("/users")
    assert response.status_code == 503 and "Retry-After" not in response.headers


@pytest.mark.parametrize("mode,status", [("503", 503), ("504", 504)])
def test_apply_then_fail_applies_the_write(api, emulator, mode, status):
    emulator.control.set_faults(apply_then_fail_next=1, apply_then_fail_mode=mode)
    assert api.get("/oauth2PermissionGrants").status_code == 200  # reads are not affected
    assert api.post("/oauth2PermissionGrants", new_grant_body()).status_code == status
    assert grant_exists(api)
    assert api.post("/oauth2PermissionGrants", new_grant_body()).status_code == 409  # the blind retry collides (§12.17)


def test_apply_then_drop(api, emulator):
    emulator.control.set_faults(apply_then_fail_next=1, apply_then_fail_mode="drop")
    with pytest.raises(requests.ConnectionError):
        api.delete(f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}")
    assert api.get(f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}").status_code == 404
    entry = [e for e in emulator.control.requests(kind="graph") if e["method"] == "DELETE"][0]
    assert entry["status"] is None and entry["fault"] == "apply_then_fail:drop" and entry["write"] is True


def test_apply_then_fail_does_not_count_rejected_writes(api, emulator):
    emulator.control.set_faults(apply_then_fail_next=1)
    assert api.post("/oauth2PermissionGrants", {"clientId": "x"}).status_code == 400
    assert emulator.control.faults()["apply_then_fail_next"] == 1


def test_drop_next_drops_before_applying(api, emulator):
    emulator.control.set_faults(drop_next=1)
    with pytest.raises(requests.ConnectionError):
        api.post("/oauth2PermissionGrants", new_grant_body())
    assert not grant_exists(api)


def test_latency_overlaps_between_concurrent_requests(api, emulator):
    emulator.control.set_faults(latency_ms=400)

    def one_call(index):
        response = requests.get(f"{emulator.url}/v1.0/users", headers={"Authorization": f"Bearer {api.token}", "client-request-id": str(index)},
                                verify=emulator.ca_path, timeout=30)
        return response.status_code

    started = time.time()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(one_call, range(4)))
    elapsed = time.time() - started
    assert statuses == [200] * 4
    assert 0.4 <= elapsed < 1.2  # sequential would be >= 1.6 s


def test_empty_pages_with_next_links(api, emulator):
    emulator.control.set_faults(empty_page_with_nextlink=1)
    pages = api.get_all("/oauth2PermissionGrants", params={"$top": "2"})
    assert [len(p["value"]) for p in pages] == [0, 2, 0, 2]
    assert all("@odata.nextLink" in p for p in pages[:-1])
    assert {g["id"] for p in pages for g in p["value"]} == SEEDED_GRANTS
    emulator.control.set_faults(empty_page_with_nextlink=2)
    empty = api.get_all("/oauth2PermissionGrants", params={"$filter": "clientId eq '00000000-0000-0000-0000-000000000000'"})
    assert [len(p["value"]) for p in empty] == [0, 0, 0] and "@odata.nextLink" not in empty[-1]


def test_replication_delay_hides_new_grants_for_n_reads(api, emulator):
    emulator.control.set_faults(replication_delay_reads=2)
    created = api.post("/oauth2PermissionGrants", new_grant_body())
    assert created.status_code == 201
    assert api.get(f"/oauth2PermissionGrants/{CREATED_ID}").status_code == 404
    assert not grant_exists(api)
    assert api.get(f"/oauth2PermissionGrants/{CREATED_ID}").status_code == 200
    assert api.post("/oauth2PermissionGrants", new_grant_body()).status_code == 409  # writes see the truth


def test_replication_delay_on_update_and_delete(api, emulator):
    emulator.control.set_faults(replication_delay_reads=1)
    assert api.patch(f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}", {"scope": "User.Read"}).status_code == 204
    assert api.get(f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}").json()["scope"] == " openid  profile User.Read"  # stale
    assert api.get(f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}").json()["scope"] == "User.Read"
    assert api.delete(f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}").status_code == 204
    assert grant_exists(api, GRANT_HR_GRAPH_ALL)  # still listed once
    assert not grant_exists(api, GRANT_HR_GRAPH_ALL)
    assert api.delete(f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}").status_code == 404


def test_replication_delay_in_seconds(api, emulator):
    emulator.control.set_faults(replication_delay_seconds=0.3)
    api.post("/oauth2PermissionGrants", new_grant_body())
    assert not grant_exists(api) and not grant_exists(api)
    time.sleep(0.35)
    assert grant_exists(api)


@pytest.mark.parametrize("lag_status,expected", [(404, (404, "Request_ResourceNotFound")), (400, (400, "Request_BadRequest"))])
def test_reference_lag(api, emulator, lag_status, expected):
    fresh = str(uuid.uuid4())
    emulator.control.add_service_principal({"id": fresh, "appId": str(uuid.uuid4()), "displayName": "Just created"})
    emulator.control.set_faults(reference_lag_seconds=0.3, reference_lag_status=lag_status)
    assert api.post("/oauth2PermissionGrants", new_grant_body()).status_code == 201  # seeded objects are old
    status, code, message = error_of(api.post("/oauth2PermissionGrants", new_grant_body(client=fresh)))
    assert (status, code) == expected
    assert message == f"Resource '{fresh}' does not exist or one of its queried reference-property objects are not present."
    time.sleep(0.35)
    assert api.post("/oauth2PermissionGrants", new_grant_body(client=fresh)).status_code == 201


def test_nonexistent_client_filter(api, emulator):
    missing_client = f"clientId eq '{uuid.uuid4()}'"
    assert api.get("/oauth2PermissionGrants", params={"$filter": missing_client}).json()["value"] == []
    emulator.control.set_faults(nonexistent_client_filter="404")
    status, code, message = error_of(api.get("/oauth2PermissionGrants", params={"$filter": missing_client}))
    assert (status, code) == (404, "Request_ResourceNotFound")
    assert message == "Resource '' does not exist or one of its queried reference-property objects are not present."
    # an existing client with no grants still gives []
    assert api.get("/oauth2PermissionGrants", params={"$filter": f"clientId eq '{SP_GRAPH}'"}).json()["value"] == []


def test_duplicate_status_400(api, emulator):
    emulator.control.set_faults(duplicate_status=400)
    body = {"clientId": SP_HR, "consentType": "AllPrincipals", "resourceId": SP_GRAPH, "scope": "User.Read"}
    assert error_of(api.post("/oauth2PermissionGrants", body)) == (400, "Request_BadRequest", "Permission entry already exists.")


def test_strict_scopes(api, emulator):
    assert api.post("/oauth2PermissionGrants", new_grant_body(scope="Orders.Read Not.A.Scope")).status_code == 201  # default: accepted
    api.delete(f"/oauth2PermissionGrants/{CREATED_ID}")
    emulator.control.set_faults(strict_scopes=True)
    invalid = "Invalid value specified for property 'scope' of resource 'OAuth2PermissionGrant'."
    assert error_of(api.post("/oauth2PermissionGrants", new_grant_body(scope="Orders.Read Not.A.Scope")))[2] == invalid
    disabled = new_grant_body(resource=SP_GRAPH, scope="User.Read Device.Command")
    assert error_of(api.post("/oauth2PermissionGrants", disabled))[2] == invalid
    assert api.post("/oauth2PermissionGrants", new_grant_body(scope="  Orders.Read   Orders.ReadWrite ")).status_code == 201
    assert error_of(api.patch(f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}", {"scope": "User.Read Orders.Read"}))[2] == invalid


def test_search_status_knob(api, emulator):
    assert api.get("/oauth2PermissionGrants", params={"$search": "x"}).status_code == 400
    emulator.control.set_faults(search_status=500)
    assert error_of(api.get("/oauth2PermissionGrants", params={"$search": "x"}))[:2] == (500, "Service_InternalServerError")


@pytest.mark.parametrize("knobs", [{"throttle_nxt": 1}, {"fail_status": 418}, {"throttle_next": -1}, {"cloud": "mars"},
                                   {"retry_after": "soon"}, {"paths": "("}, {"strict_scopes": "yes"}])
@pytest.mark.usefixtures("clean_emulator")
def test_invalid_knobs_are_rejected(emulator, knobs):
    with pytest.raises(RuntimeError, match="400"):
        emulator.control.set_faults(**knobs)


def test_faults_merge_clear_and_reset(api, emulator):
    emulator.control.set_faults(throttle_next=5)
    merged = emulator.control.set_faults(latency_ms=1)
    assert merged["throttle_next"] == 5 and merged["latency_ms"] == 1
    assert emulator.control.clear_faults()["throttle_next"] == 0
    emulator.control.set_faults(fail_next=3)
    emulator.control.reset()
    assert emulator.control.faults()["fail_next"] == 0
    assert api.get("/users").status_code == 200


@pytest.mark.usefixtures("clean_emulator")
def test_faults_do_not_touch_the_token_side_or_control_plane(emulator):
    emulator.control.set_faults(throttle_next=1, drop_next=1)
    assert emulator.token()
    assert emulator.control.state()["tenant"]["id"]
    faults = emulator.control.faults()
    assert (faults["throttle_next"], faults["drop_next"]) == (1, 1)
