"""The reading knobs: one per plausible reading of Graph where Microsoft's sources are silent or disagree
(docs/dev/emulator.md, "Readings"). Each runs as a plain request and as a `$batch` item."""

import time
import uuid
from urllib.parse import quote, urlencode

import pytest
import requests

from emu_helpers import (APP_HR, GRANT_HR_GRAPH_ALL, GRANT_HR_GRAPH_MEGAN, SEEDED_GRANTS, SP_FABRIKAM, SP_GRAPH, SP_HR, SP_ORDERS,
                         SP_PAYROLL, UPN_ADELE_GUEST, USER_ADELE_GUEST, USER_MEGAN, new_grant_body)

JSON = {"Content-Type": "application/json"}
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
TWIN_USERS = [{"id": str(uuid.UUID(int=0x20000000_0000_4000_8000_000000000000 + i)), "displayName": "Twin Account",
               "userPrincipalName": f"twin{i}@contoso.onmicrosoft.com"} for i in range(3)]


def relative(path, params=None):
    return path + "?" + urlencode(params, quote_via=quote, safe="$'") if params else path


def call(api, method, path, params=None, body=None, batched=False, headers=None):
    """(status, body) of one request, sent plainly or as the only item of a $batch."""
    url = relative(path, params)
    if not batched:
        response = api.request(method, url, json=body, headers=headers)
        return response.status_code, (response.json() if response.content else None)
    item = {"id": "1", "method": method, "url": url, "headers": dict(headers or {})}
    if body is not None:
        item["body"] = body
        item["headers"].update(JSON)
    envelope = api.post("/$batch", {"requests": [item]})
    assert envelope.status_code == 200, envelope.text
    answer = envelope.json()["responses"][0]
    return answer["status"], answer.get("body")


def follow(api, status, body, headers=None):
    """Every page from a first answer on (nextLinks are absolute, also when the first page came from a batch)."""
    assert status == 200, body
    pages = [body]
    while "@odata.nextLink" in pages[-1]:
        pages.append(api.get(pages[-1]["@odata.nextLink"], headers=headers).json())
        assert len(pages) < 100
    return pages


def ids_of(pages):
    return [item["id"] for page in pages for item in page["value"]]


def error(status_body):
    status, body = status_body
    return status, body["error"]["code"], body["error"]["message"]


@pytest.fixture(name="megan_grants")
def megan_grants_fixture(api):
    """Megan holds three Principal grants (one seeded, two added) so her navigation has several matches."""
    for client, resource in ((SP_PAYROLL, SP_ORDERS), (SP_FABRIKAM, SP_GRAPH)):
        assert api.post("/oauth2PermissionGrants", new_grant_body(client, resource, "Principal", USER_MEGAN)).status_code == 201
    return api


# Every collection the emulator serves, with a query that matches several items (the appId filter matches one).
COLLECTIONS = [
    ("/oauth2PermissionGrants", None),
    ("/oauth2PermissionGrants", {"$filter": f"resourceId eq '{SP_GRAPH}'"}),
    (f"/servicePrincipals/{SP_HR}/oauth2PermissionGrants", None),
    (f"/servicePrincipals(appId='{APP_HR}')/oauth2PermissionGrants", None),
    (f"/users/{USER_MEGAN}/oauth2PermissionGrants", None),
    ("/servicePrincipals", None),
    ("/servicePrincipals", {"$filter": "displayName eq 'Contoso Reporting'"}),
    ("/servicePrincipals", {"$filter": f"appId eq '{GRAPH_APP_ID}'"}),
    ("/users", None),
    ("/users", {"$filter": "displayName eq 'Twin Account'"}),
]


@pytest.fixture(name="populated")
def populated_fixture(emulator, megan_grants):
    for user in TWIN_USERS:
        emulator.control.add_user(user)
    return megan_grants


def expected_ids(api, path, params):
    pages = follow(api, *call(api, "GET", path, dict(params or {}, **{"$top": "999"})))
    return ids_of(pages)


# ----------------------------------------------------------------------------------- 1. paging on every collection
@pytest.mark.parametrize("batched", [False, True], ids=["plain", "batch"])
@pytest.mark.parametrize("path,params", COLLECTIONS)
def test_empty_first_page_with_nextlink_on_every_collection(populated, emulator, path, params, batched):
    api = populated
    wanted = expected_ids(api, path, params)
    assert wanted
    emulator.control.set_faults(empty_page_with_nextlink=1)
    status, first = call(api, "GET", path, params, batched=batched)
    assert status == 200 and first["value"] == [] and "@odata.nextLink" in first
    assert ids_of(follow(api, status, first)) == wanted


@pytest.mark.parametrize("batched", [False, True], ids=["plain", "batch"])
@pytest.mark.parametrize("path,params", COLLECTIONS)
def test_page_size_caps_every_collection_whatever_top(populated, emulator, path, params, batched):
    api = populated
    wanted = expected_ids(api, path, params)
    emulator.control.set_faults(page_size=1)
    pages = follow(api, *call(api, "GET", path, dict(params or {}, **{"$top": "999"}), batched=batched))
    assert all(len(page["value"]) <= 1 for page in pages)
    assert ids_of(pages) == wanted and len(pages) >= len(wanted)
    if "appId" not in str(params):
        assert len(wanted) >= 2  # several matches: the cap really split the listing


def test_page_size_is_validated_and_defaults_to_none(emulator):
    emulator.control.reset()
    assert emulator.control.faults()["page_size"] is None
    for bad in (0, -1, "2", True, 1.5):
        with pytest.raises(RuntimeError, match="400"):
            emulator.control.set_faults(page_size=bad)
    assert emulator.control.set_faults(page_size=None)["page_size"] is None


# --------------------------------------------------------------------------------------- 2. navigation_filter
NAVIGATIONS = [
    (f"/servicePrincipals/{SP_HR}/oauth2PermissionGrants", "consentType eq 'Principal'", {GRANT_HR_GRAPH_MEGAN},
     {GRANT_HR_GRAPH_ALL, GRANT_HR_GRAPH_MEGAN}),
    (f"/servicePrincipals(appId='{APP_HR}')/oauth2PermissionGrants", f"principalId eq '{USER_MEGAN}'", {GRANT_HR_GRAPH_MEGAN},
     {GRANT_HR_GRAPH_ALL, GRANT_HR_GRAPH_MEGAN}),
    (f"/users/{USER_MEGAN}/oauth2PermissionGrants", f"clientId eq '{SP_HR}'", {GRANT_HR_GRAPH_MEGAN}, None),
]


@pytest.mark.parametrize("batched", [False, True], ids=["plain", "batch"])
@pytest.mark.parametrize("mode", ["honoured", "ignored", "rejected"])
@pytest.mark.parametrize("path,filter_text,filtered,owned", NAVIGATIONS)
def test_navigation_filter_readings(megan_grants, emulator, path, filter_text, filtered, owned, mode, batched):
    api = megan_grants
    owned = owned or set(expected_ids(api, path, None))
    assert filtered < owned
    emulator.control.set_faults(navigation_filter=mode)
    answer = call(api, "GET", path, {"$filter": filter_text}, batched=batched)
    if mode == "rejected":
        assert error(answer) == (400, "Request_UnsupportedQuery", "Unsupported Query.")
    else:
        assert set(ids_of(follow(api, *answer))) == (filtered if mode == "honoured" else owned)
    # $top keeps working under every reading (without a filter, and with one where the filter is not refused)
    status, first = call(api, "GET", path, {"$top": "1"}, batched=batched)
    assert status == 200 and len(first["value"]) == 1 and "@odata.nextLink" in first
    # the root collection's filter is not a navigation filter: always honoured
    root = follow(api, *call(api, "GET", "/oauth2PermissionGrants", {"$filter": f"principalId eq '{USER_MEGAN}'"}, batched=batched))
    assert len(ids_of(root)) == 3


# ------------------------------------------------------------------------------ 3. batch_envelope_on_throttle
@pytest.mark.parametrize("reading,envelope_status", [(None, 200), (200, 200), (424, 424)])
def test_batch_envelope_on_throttle(api, emulator, reading, envelope_status):
    if reading is not None:
        emulator.control.set_faults(batch_envelope_on_throttle=reading)
    items = [{"id": str(i), "method": "GET", "url": "/users?$top=1"} for i in range(2)]
    assert api.post("/$batch", {"requests": items}).status_code == 200  # nothing throttled: 200 under every reading
    emulator.control.set_faults(throttle_next=1)
    response = api.post("/$batch", {"requests": items})
    assert response.status_code == envelope_status
    statuses = {item["id"]: item["status"] for item in response.json()["responses"]}
    assert statuses == {"0": 429, "1": 200}
    throttled = next(item for item in response.json()["responses"] if item["status"] == 429)
    assert throttled["headers"]["Retry-After"] == "1"


# ------------------------------------------------------------------- 4. listing_completeness and count_offset
EVENTUAL = {"ConsistencyLevel": "eventual"}


@pytest.mark.parametrize("batched", [False, True], ids=["plain", "batch"])
def test_listing_completeness_advanced_only(api, emulator, batched):
    emulator.control.set_faults(listing_completeness="advanced_only")

    def listing(params=None, headers=None, top=None):
        query = dict(params or {}, **({"$top": top} if top else {}))
        return set(ids_of(follow(api, *call(api, "GET", "/oauth2PermissionGrants", query, batched=batched, headers=headers),
                                 headers=headers)))

    everything = listing({"$count": "true"}, EVENTUAL)
    assert everything == SEEDED_GRANTS  # an advanced query (header + $count=true) sees every grant
    partial = listing()
    assert partial < everything and len(everything - partial) >= 1
    assert listing(top="1") == partial  # deterministic: the same grants are missing page after page
    assert listing({"$count": "true"}) == partial  # the header alone or $count alone is not enough
    assert listing(headers=EVENTUAL) == partial
    by_resource = {"$filter": f"resourceId eq '{SP_GRAPH}'"}  # 3 grants: not narrowed by client, so incomplete too
    assert len(listing(by_resource)) == 2 and len(listing(dict(by_resource, **{"$count": "true"}), EVENTUAL)) == 3
    assert len(listing({"$filter": f"clientId eq '{SP_HR}'"})) == 2  # narrowed by clientId: complete
    assert len(listing({"$filter": f"principalId eq '{USER_MEGAN}'"})) == 1  # a single match is never dropped
    assert len(ids_of(follow(api, *call(api, "GET", f"/servicePrincipals/{SP_HR}/oauth2PermissionGrants", batched=batched)))) == 2


@pytest.mark.parametrize("path", ["/oauth2PermissionGrants", f"/users/{USER_MEGAN}/oauth2PermissionGrants", "/servicePrincipals", "/users"])
def test_count_offset_on_every_count(api, emulator, path):
    emulator.control.set_faults(count_offset=3)
    for batched in (False, True):
        status, body = call(api, "GET", path, {"$count": "true"}, batched=batched, headers=EVENTUAL)
        assert status == 200 and body["@odata.count"] == len(body["value"]) + 3
    emulator.control.set_faults(count_offset=-1)
    assert api.get(path, params={"$count": "true"}, headers=EVENTUAL).json()["@odata.count"] == len(api.get(path).json()["value"]) - 1
    with pytest.raises(RuntimeError, match="400"):
        emulator.control.set_faults(count_offset=1.5)


# ------------------------------------------------------------------------------------------ 5. write_lag_seconds
CREATED_ID = "p4Evbp08H0qLbH2On6CxwoVvDUx7Gp1Oj0pbbH2On6A"  # grant_id(SP_PAYROLL, SP_ORDERS)


@pytest.mark.parametrize("batched", [False, True], ids=["plain", "batch"])
def test_write_lag_hides_a_new_grant_from_patch_and_delete(api, emulator, batched):
    emulator.control.set_faults(write_lag_seconds=30)
    assert api.post("/oauth2PermissionGrants", new_grant_body()).status_code == 201
    patched = call(api, "PATCH", f"/oauth2PermissionGrants/{CREATED_ID}", body={"scope": "Orders.ReadWrite"}, batched=batched)
    assert error(patched)[:2] == (404, "Request_ResourceNotFound") and CREATED_ID in error(patched)[2]
    assert error(call(api, "DELETE", f"/oauth2PermissionGrants/{CREATED_ID}", batched=batched))[:2] == (404, "Request_ResourceNotFound")
    read = api.get(f"/oauth2PermissionGrants/{CREATED_ID}")  # reads still see it, unchanged
    assert read.status_code == 200 and read.json()["scope"] == "Orders.Read"
    # seeded (old) grants are writable
    assert call(api, "PATCH", f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}", body={"scope": "User.Read"}, batched=batched)[0] == 204
    emulator.control.set_faults(write_lag_seconds=0.3)
    time.sleep(0.4)
    assert call(api, "PATCH", f"/oauth2PermissionGrants/{CREATED_ID}", body={"scope": "Orders.ReadWrite"}, batched=batched)[0] == 204
    assert call(api, "DELETE", f"/oauth2PermissionGrants/{CREATED_ID}", batched=batched)[0] == 204


def test_write_lag_is_validated(emulator):
    emulator.control.reset()
    assert emulator.control.faults()["write_lag_seconds"] == 0
    with pytest.raises(RuntimeError, match="400"):
        emulator.control.set_faults(write_lag_seconds=-1)


# ----------------------------------------------------------------------------------- 6. batch_special_user_names
SPECIAL_USER_URLS = [
    "/users/adele.vance_fabrikam.com%23EXT%23@contoso.onmicrosoft.com",
    "/users/adele.vance_fabrikam.com%23EXT%23@contoso.onmicrosoft.com/oauth2PermissionGrants",
    "/users('adele.vance_fabrikam.com%23EXT%23@contoso.onmicrosoft.com')",
    "/users('$svc-backup@contoso.onmicrosoft.com')",
]


@pytest.mark.parametrize("url", SPECIAL_USER_URLS)
@pytest.mark.parametrize("reading", ["supported", "not_found"])
def test_batch_special_user_names(api, emulator, url, reading):
    emulator.control.set_faults(batch_special_user_names=reading)
    assert call(api, "GET", url)[0] == 200  # plain requests keep working under every reading
    answer = call(api, "GET", url, batched=True)
    if reading == "supported":
        assert answer[0] == 200
    else:
        assert error(answer)[:2] == (404, "Request_ResourceNotFound")
    # the GUID and plain UPN forms keep working in a batch
    assert call(api, "GET", f"/users/{USER_ADELE_GUEST}", batched=True)[0] == 200
    assert call(api, "GET", "/users/megan.bowen@contoso.onmicrosoft.com", batched=True)[0] == 200
    assert UPN_ADELE_GUEST.replace("#", "%23") in SPECIAL_USER_URLS[0]


# ----------------------------------------------------------------------------------------- 7. duplicate_message
@pytest.mark.parametrize("batched", [False, True], ids=["plain", "batch"])
@pytest.mark.parametrize("status", [409, 400])
@pytest.mark.parametrize("reading", ["permission_entry", "other"])
def test_duplicate_message(api, emulator, reading, status, batched):
    emulator.control.set_faults(duplicate_message=reading, duplicate_status=status)
    answer = call(api, "POST", "/oauth2PermissionGrants", body=new_grant_body(SP_HR, SP_GRAPH, scope="User.Read"), batched=batched)
    if reading == "other":
        assert error(answer) == (status, "Request_MultipleObjectsWithSameKeyValue",
                                 "Another object with the same value for property clientId already exists.")
    else:
        code = "Request_BadRequest" if status == 400 else "Request_MultipleObjectsWithSameKeyValue"
        assert error(answer) == (status, code, "Permission entry already exists.")


# ---------------------------------------------------------------------------------- 8. alternate_key_miss_status
@pytest.mark.parametrize("batched", [False, True], ids=["plain", "batch"])
@pytest.mark.parametrize("form", ["(appId='{}')", "/{}", "('{}')"])
@pytest.mark.parametrize("reading", [404, 400])
def test_alternate_key_miss_status(api, emulator, reading, form, batched):
    emulator.control.set_faults(alternate_key_miss_status=reading)
    missing = str(uuid.uuid4())
    answer = call(api, "GET", "/servicePrincipals" + form.format(missing), {"$select": "id,appId"}, batched=batched)
    if reading == 404:
        assert error(answer)[:2] == (404, "Request_ResourceNotFound")
    else:
        assert error(answer) == (400, "Request_BadRequest", f"Invalid object identifier '{missing}'.")
    existing = APP_HR if "appId" in form else SP_HR
    assert call(api, "GET", "/servicePrincipals" + form.format(existing), batched=batched)[0] == 200
    # the navigation of a missing service principal keeps its 404
    assert call(api, "GET", f"/servicePrincipals/{missing}/oauth2PermissionGrants", batched=batched)[0] == 404


# ---------------------------------------------------------------------------------------- 9. msi_resource_form
@pytest.mark.parametrize("reading,accepted", [("any", {"", "/"}), ("slash", {"/"}), ("no_slash", {""})])
def test_msi_resource_form(api, emulator, reading, accepted):
    emulator.control.set_faults(msi_resource_form=reading)
    for suffix in ("", "/"):
        resource = emulator.url + suffix
        response = requests.get(emulator.msi_endpoint, params={"api-version": "2019-08-01", "resource": resource},
                                headers={"X-IDENTITY-HEADER": emulator.msi_header}, verify=emulator.ca_path, timeout=30)
        if suffix in accepted:
            assert response.status_code == 200 and response.json()["resource"] == resource
            # the audience is the Graph root whatever the spelling: Graph accepts the token
            assert api.get("/users", token=response.json()["access_token"]).status_code == 200
        else:
            assert response.status_code == 500
            assert response.json()["message"] == "An unexpected error occured while fetching the AAD Token."


@pytest.mark.parametrize("knobs", [{"navigation_filter": "dropped"}, {"batch_envelope_on_throttle": "424"},
                                   {"batch_envelope_on_throttle": 500}, {"listing_completeness": "partial"},
                                   {"batch_special_user_names": True}, {"duplicate_message": "permission entry"},
                                   {"alternate_key_miss_status": "400"}, {"msi_resource_form": "trailing"}])
def test_reading_knobs_are_validated(emulator, knobs):
    emulator.control.reset()
    with pytest.raises(RuntimeError, match="400"):
        emulator.control.set_faults(**knobs)


def test_reading_defaults(emulator):
    emulator.control.reset()
    faults = emulator.control.faults()
    defaults = {
        "page_size": None, "navigation_filter": "honoured", "batch_envelope_on_throttle": 200, "listing_completeness": "complete",
        "count_offset": 0, "write_lag_seconds": 0, "batch_special_user_names": "supported", "duplicate_message": "permission_entry",
        "alternate_key_miss_status": 404, "msi_resource_form": "any"}
    assert {name: faults[name] for name in defaults} == defaults


def test_every_knob_is_documented():
    from graph_emulator.faults import DEFAULTS  # pylint: disable=import-outside-toplevel
    from emu_helpers import REPO_ROOT_HINT  # pylint: disable=import-outside-toplevel
    doc = (REPO_ROOT_HINT / "docs" / "dev" / "emulator.md").read_text(encoding="utf-8")
    assert [name for name in DEFAULTS if f"`{name}`" not in doc] == []
