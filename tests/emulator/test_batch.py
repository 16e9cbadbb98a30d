"""JSON batching (docs/dev/graph-behaviour.md#batch)."""

import pytest

from emu_helpers import GRANT_HR_GRAPH_ALL, SP_HR, SP_ORDERS, SP_PAYROLL, error_of, new_grant_body

JSON = {"Content-Type": "application/json"}


def batch(api, requests_, version="v1.0", **kwargs):
    return api.post("/$batch", {"requests": requests_}, version=version, **kwargs)


def by_id(response):
    assert response.status_code == 200, response.text
    return {item["id"]: item for item in response.json()["responses"]}


def test_mixed_batch(api):
    response = batch(api, [
        {"id": "1", "method": "GET", "url": f"/oauth2PermissionGrants?$filter=clientId eq '{SP_HR}'"},
        {"id": "2", "method": "POST", "url": "oauth2PermissionGrants", "headers": JSON, "body": new_grant_body()},
        {"id": "3", "method": "GET", "url": "/oauth2PermissionGrants/notAnId"},
        {"id": "4", "method": "PATCH", "url": f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}", "headers": JSON, "body": {"scope": "User.Read"}},
    ])
    assert response.headers["Content-Type"].startswith("application/json")
    items = by_id(response)
    assert items["1"]["status"] == 200 and len(items["1"]["body"]["value"]) == 2
    assert items["2"]["status"] == 201 and items["2"]["body"]["clientId"] == SP_PAYROLL
    assert items["2"]["headers"]["Content-Type"].startswith("application/json")
    assert items["3"]["status"] == 400 and items["3"]["body"]["error"]["code"] == "Request_UnsupportedQuery"
    assert items["4"]["status"] == 204 and "body" not in items["4"]
    assert api.get(f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}").json()["scope"] == "User.Read"


def test_batch_on_beta_uses_beta_rules(api):
    items = by_id(batch(api, [{"id": "a", "method": "POST", "url": "/oauth2PermissionGrants", "headers": JSON, "body": new_grant_body()}],
                        version="beta"))
    assert items["a"]["status"] == 400 and items["a"]["body"]["error"]["message"] == "Missing property: startTime."


def test_twenty_is_the_limit(api):
    twenty = [{"id": str(i), "method": "GET", "url": "/oauth2PermissionGrants"} for i in range(20)]
    assert len(by_id(batch(api, twenty))) == 20
    status, code = error_of(batch(api, twenty + [{"id": "20", "method": "GET", "url": "/oauth2PermissionGrants"}]))[:2]
    assert (status, code) == (400, "BadRequest")


@pytest.mark.parametrize("requests_", [
    [{"id": "1", "method": "GET", "url": "/users"}, {"id": "1", "method": "GET", "url": "/users"}],
    [{"id": "a", "method": "GET", "url": "/users"}, {"id": "A", "method": "GET", "url": "/users"}],  # ids are case-insensitive
    [{"method": "GET", "url": "/users"}],
    [{"id": "1", "url": "/users"}],
    [{"id": "1", "method": "GET"}],
    [{"id": "1", "method": "POST", "url": "/oauth2PermissionGrants", "body": {"scope": "x"}}],  # body without Content-Type
    [{"id": "1", "method": "GET", "url": "/users", "dependsOn": ["9"]}],
    [{"id": "1", "method": "GET", "url": "/users", "dependsOn": ["2"]}, {"id": "2", "method": "GET", "url": "/users", "dependsOn": ["1"]}],
    [],
])
def test_malformed_batches(api, requests_):
    assert error_of(batch(api, requests_))[:2] == (400, "BadRequest")


def test_unparseable_envelope(api):
    response = api.request("POST", "/$batch", data=b"{", headers=JSON)
    assert error_of(response)[:2] == (400, "BadRequest")


def test_depends_on_runs_in_order_and_fails_dependents(api):
    created_first = batch(api, [
        {"id": "get", "method": "GET", "url": f"/oauth2PermissionGrants?$filter=clientId eq '{SP_PAYROLL}' and resourceId eq '{SP_ORDERS}'",
         "dependsOn": ["create"]},
        {"id": "create", "method": "POST", "url": "/oauth2PermissionGrants", "headers": JSON, "body": new_grant_body()},
    ])
    items = by_id(created_first)
    assert items["create"]["status"] == 201 and len(items["get"]["body"]["value"]) == 1
    failing = by_id(batch(api, [
        {"id": "dup", "method": "POST", "url": "/oauth2PermissionGrants", "headers": JSON, "body": new_grant_body()},
        {"id": "after", "method": "GET", "url": "/oauth2PermissionGrants", "dependsOn": ["dup"]},
    ]))
    assert failing["dup"]["status"] == 409
    assert failing["after"]["status"] == 424 and failing["after"]["body"]["error"]["code"] == "FailedDependency"


def test_items_inherit_the_envelope_token(api, emulator):
    noperm = emulator.token("6c9f4e3a-1d5b-4a8c-8f7e-3b4c5d6e7f80", "emu~noperm~secret~not-a-real-credential")
    items = by_id(batch(api, [{"id": "1", "method": "GET", "url": "/oauth2PermissionGrants",
                               "headers": {"Authorization": f"Bearer {api.token}"}}], token=noperm))
    assert items["1"]["status"] == 403
    assert batch(api, [{"id": "1", "method": "GET", "url": "/users"}], token="garbage").status_code == 401


def test_item_throttling_has_its_own_retry_after(api, emulator):
    emulator.control.set_faults(throttle_next=2, retry_after=7)
    response = batch(api, [{"id": str(i), "method": "GET", "url": "/oauth2PermissionGrants"} for i in range(3)])
    assert response.status_code == 200 and "Retry-After" not in response.headers
    items = by_id(response)
    assert [items[str(i)]["status"] for i in range(3)] == [429, 429, 200]
    assert items["0"]["headers"]["Retry-After"] == "7"
    assert items["0"]["body"]["error"]["code"] == "TooManyRequests"


def test_batch_log_and_summary(api, emulator):
    emulator.control.clear_requests()
    batch(api, [{"id": "1", "method": "GET", "url": "/users"},
                {"id": "2", "method": "POST", "url": "/oauth2PermissionGrants", "headers": JSON, "body": new_grant_body()},
                {"id": "3", "method": "DELETE", "url": f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}"}])
    log = emulator.control.requests_with_summary()
    envelope = next(e for e in log["requests"] if e["kind"] == "graph")
    items = [e for e in log["requests"] if e["kind"] == "batch_item"]
    assert envelope["path"] == "/v1.0/$batch" and envelope["write"] is False and envelope["status"] == 200
    seq = envelope["seq"]
    assert [(e["method"], e["write"], e["batch"]) for e in items] == [("GET", False, seq), ("POST", True, seq), ("DELETE", True, seq)]
    assert items[1]["body"] == new_grant_body() and items[0]["path"] == "/v1.0/users"
    summary = log["summary"]
    assert (summary["graph_requests"], summary["graph_operations"], summary["writes"]) == (1, 3, 2)


def test_shuffle_knob(api, emulator):
    emulator.control.set_faults(shuffle_batch=True)
    order = [str(i) for i in range(20)]
    seen = set()
    for attempt in range(3):
        response = batch(api, [{"id": i, "method": "GET", "url": "/oauth2PermissionGrants/$count",
                                "headers": {"ConsistencyLevel": "eventual"}} for i in order])
        seen.add(tuple(item["id"] for item in response.json()["responses"]))
        assert response.status_code == 200, f"attempt {attempt}"
    assert seen != {tuple(order)} and all(sorted(s, key=int) == order for s in seen)


def test_nested_batch_and_absolute_urls_fail_per_item(api):
    items = by_id(batch(api, [{"id": "1", "method": "POST", "url": "/$batch", "headers": JSON, "body": {"requests": []}},
                              {"id": "2", "method": "GET", "url": f"{api.emulator.url}/v1.0/users"}]))
    assert items["1"]["status"] == 400 and items["2"]["status"] == 400


def test_get_on_batch_is_not_allowed(api):
    assert api.get("/$batch").status_code == 405
