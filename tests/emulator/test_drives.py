"""Drives, items and the permission list over HTTPS: addressing, path encoding, shapes, paging, knobs that change
reads, $batch, and seed files with a drives section (docs/dev/emulator.md, "Drives and sharing permissions")."""

import http.client
import json
import ssl

import pytest

from drive_helpers import (BUDGET, CAFE, CAMPAIGNS, GROUP_FINANCE, GROUP_MARKETING, LAUNCH, LIB_ROOT, LIBRARY, MEGAN_UPN, ONEDRIVE,
                           P_ADELE, P_ALEX, P_ANON_LINK, P_FINANCE, P_KIM, P_MEGAN, P_MEMBERS, P_ONEIL, P_ORG_LINK, P_OWNERS,
                           P_USERS_LINK, PLAN, PROJECTS, RESUME, ROOT, SHARED_PLANS, SITE, all_permissions, by_id, enc, item_url,
                           perm_url)
from emu_helpers import NOPERM_APP, NOPERM_SECRET, USER_ALEX, USER_MEGAN, USER_ONEIL, error_of


@pytest.mark.parametrize("path, drive_id", [
    (f"/drives/{ONEDRIVE}", ONEDRIVE), (f"/users/{MEGAN_UPN}/drive", ONEDRIVE), (f"/users/{USER_MEGAN}/drive", ONEDRIVE),
    (f"/users/{MEGAN_UPN.upper()}/drive", ONEDRIVE), (f"/sites/{SITE}/drive", LIBRARY),
    (f"/sites/{SITE.replace(',', '%2C')}/drive", LIBRARY), (f"/groups/{GROUP_MARKETING}/drive", LIBRARY)])
@pytest.mark.parametrize("version", ["v1.0", "beta"])
def test_drive_forms(api, path, drive_id, version):
    response = api.get(path, version=version)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == drive_id
    assert body["driveType"] == ("business" if drive_id == ONEDRIVE else "documentLibrary")


def test_drive_owner(api):
    assert api.get(f"/drives/{ONEDRIVE}").json()["owner"]["user"]["id"] == USER_MEGAN
    assert api.get(f"/drives/{LIBRARY}").json()["owner"]["group"]["id"] == GROUP_MARKETING


@pytest.mark.parametrize("path, expected", [
    ("/drives/b!nope/root", (404, "itemNotFound", "Item not found")),
    ("/users/nobody@contoso.onmicrosoft.com/drive", (404, "Request_ResourceNotFound", None)),
    ("/users/lee.gu@contoso.onmicrosoft.com/drive", (404, "ResourceNotFound", "User's mysite not found.")),
    (f"/groups/{GROUP_FINANCE}/drive", (404, "itemNotFound", "The resource could not be found.")),
    ("/sites/contoso.sharepoint.com,1,2/drive", (404, "itemNotFound", "The resource could not be found.")),
    ("/me/drive", (400, "BadRequest", "/me request is only valid with delegated authentication flow.")),
    (f"/drives/{ONEDRIVE}/root:/Projects/nothing.txt", (404, "itemNotFound", "Item not found")),
    (f"/drives/{ONEDRIVE}/items/01NOPE", (404, "itemNotFound", "Item not found")),
    (f"/drives/{LIBRARY}/items/{PLAN}", (404, "itemNotFound", "Item not found")),  # an item of another drive
    (f"/drives/{ONEDRIVE}/items/{PLAN}/permissions/nope", (404, "itemNotFound", "Item not found")),
])
def test_drive_errors(api, path, expected):
    response = api.get(path)
    status, code, message = error_of(response)
    assert (status, code) == expected[:2], response.text
    if expected[2]:
        assert message == expected[2]
    assert set(response.json()["error"]["innerError"]) >= {"date", "request-id", "client-request-id"}


PATHS = [("Projects", PROJECTS), ("Projects/Q3 #1 plan.docx", PLAN), ("Projects/Budget 100% final.xlsx", BUDGET),
         ("Résumé Megan.docx", RESUME), ("projects/q3 #1 PLAN.docx", PLAN)]


@pytest.mark.parametrize("path, item_id", PATHS)
@pytest.mark.parametrize("closing", ["", ":"])
def test_item_by_path(api, path, item_id, closing):
    response = api.get(f"/drives/{ONEDRIVE}/root:/{enc(path)}{closing}")
    assert response.status_code == 200, response.text
    assert response.json()["id"] == item_id


@pytest.mark.parametrize("prefix", [f"/users/{MEGAN_UPN}/drive", f"/users/{USER_MEGAN}/drive", f"/drives/{ONEDRIVE}"])
def test_permissions_by_path_under_every_drive_form(api, prefix):
    response = api.get(f"{prefix}/root:/{enc('Projects/Q3 #1 plan.docx')}:/permissions")
    assert response.status_code == 200, response.text
    assert P_ONEIL in {p["id"] for p in response.json()["value"]} or "@odata.nextLink" in response.json()


def test_library_paths_under_site_and_group(api):
    for prefix in (f"/sites/{SITE}/drive", f"/groups/{GROUP_MARKETING}/drive"):
        assert api.get(f"{prefix}/root:/{enc('Shared Plans/Launch #2 (50% off).pptx')}").json()["id"] == LAUNCH
        assert api.get(f"{prefix}/root:/{enc('Shared Plans/Café menü.docx')}:").json()["id"] == CAFE
        assert api.get(f"{prefix}/items/{SHARED_PLANS}:/{enc('Café menü.docx')}:").json()["id"] == CAFE


@pytest.mark.parametrize("raw_path", ["/root:/Budget%2", "/root:/Projects/Budget%20100%%20final.xlsx", "/root:/Caf%C3"])
def test_bogus_escapes_are_refused(api, raw_path):
    """Sent byte for byte (requests and urllib3 would re-quote them): a bare % or broken UTF-8 is a 400."""
    host, port = api.emulator.url.split("//")[1].split(":")
    connection = http.client.HTTPSConnection(host, int(port), context=ssl.create_default_context(cafile=api.emulator.ca_path), timeout=30)
    try:
        connection.request("GET", f"/v1.0/drives/{ONEDRIVE}{raw_path}", headers={"Authorization": f"Bearer {api.token}"})
        answer = connection.getresponse()
        assert answer.status == 400 and json.loads(answer.read())["error"]["code"] == "invalidRequest"
    finally:
        connection.close()


def test_plus_is_literal_and_raw_hash_cuts_the_path(api):
    # "+" is a literal in a path: no item has it, so 404 (not a space match).
    assert api.get(f"/drives/{ONEDRIVE}/root:/Projects/Q3+%231+plan.docx").status_code == 404
    # A raw "#" never reaches the server: the client sends ".../Projects/Q3 " and the item is not found.
    assert api.get(f"/drives/{ONEDRIVE}/root:/Projects/Q3 #1 plan.docx").status_code == 404


def test_item_shape_file_and_folder(api):
    file_item = api.get(item_url(PLAN)).json()
    assert file_item["name"] == "Q3 #1 plan.docx"
    assert file_item["eTag"].startswith('"{') and file_item["eTag"].endswith('},1"')
    assert file_item["cTag"] == '"c:' + file_item["eTag"][1:]
    assert file_item["parentReference"] == {"driveType": "business", "driveId": ONEDRIVE, "id": PROJECTS, "name": "Projects",
                                            "path": f"/drives/{ONEDRIVE}/root:/Projects"}
    assert "file" in file_item and "folder" not in file_item
    folder = api.get(item_url(PROJECTS)).json()
    assert "cTag" not in folder and folder["folder"] == {"childCount": 2}
    assert api.get(f"/drives/{ONEDRIVE}/items/root").json()["id"] == ROOT  # the alias SDKs use
    root = api.get(f"/drives/{ONEDRIVE}/root").json()
    assert root["id"] == ROOT and root["root"] == {} and "id" not in root["parentReference"]
    assert api.get(item_url(LAUNCH, LIBRARY)).json()["parentReference"]["siteId"] == SITE


def test_if_none_match(api):
    item = api.get(item_url(PLAN)).json()
    for tag in (item["eTag"], item["cTag"]):
        assert api.get(item_url(PLAN), headers={"If-None-Match": tag}).status_code == 304
        assert api.get(f"{item_url(PLAN)}/permissions", headers={"If-None-Match": tag}).status_code == 304
    assert api.get(item_url(PLAN), headers={"If-None-Match": '"other"'}).status_code == 200


def test_children(api):
    names = [c["name"] for page in api.get_all(f"{item_url(PROJECTS)}/children") for c in page["value"]]
    assert sorted(names) == ["Budget 100% final.xlsx", "Q3 #1 plan.docx"]


def test_every_permission_kind_shape(api):
    plan = by_id(all_permissions(api, PLAN))
    assert set(plan) == {P_USERS_LINK, P_ONEIL, P_ORG_LINK, P_ALEX, P_MEGAN}
    direct = plan[P_ONEIL]
    assert direct["roles"] == ["read"] and "inheritedFrom" not in direct and "link" not in direct
    assert direct["grantedToV2"]["user"] == {"id": USER_ONEIL, "displayName": "Patrick O'Neil", "email": "o'neil@contoso.onmicrosoft.com"}
    assert direct["grantedToV2"]["siteUser"]["loginName"] == "i:0#.f|membership|o'neil@contoso.onmicrosoft.com"
    assert direct["@deprecated.GrantedTo"].startswith("GrantedTo has been deprecated")
    people = plan[P_USERS_LINK]
    assert people["link"]["scope"] == "users" and people["link"]["type"] == "edit" and people["roles"] == ["write"]
    assert [i["user"]["id"] for i in people["grantedToIdentitiesV2"]] == [USER_ONEIL, USER_ALEX]
    inherited = plan[P_ALEX]
    assert inherited["inheritedFrom"] == {"driveType": "business", "driveId": ONEDRIVE, "id": PROJECTS, "name": "Projects",
                                          "path": f"/drives/{ONEDRIVE}/root:/Projects"}
    assert plan[P_MEGAN]["roles"] == ["owner"] and plan[P_MEGAN]["inheritedFrom"]["id"] == ROOT
    org = plan[P_ORG_LINK]
    assert org["link"]["scope"] == "organization" and org["grantedToIdentitiesV2"] == [] and org["inheritedFrom"]["id"] == PROJECTS
    resume = by_id(all_permissions(api, RESUME))
    assert resume[P_ANON_LINK]["link"]["scope"] == "anonymous" and resume[P_ANON_LINK]["expirationDateTime"] == "2027-06-30T00:00:00Z"
    assert resume[P_KIM] == {"id": P_KIM, "roles": ["read"], "invitation": {"email": "kim@fabrikam.com", "signInRequired": True}}
    assert resume[P_ADELE]["grantedToV2"]["user"]["email"] == "adele.vance@fabrikam.com"
    shared = by_id(all_permissions(api, SHARED_PLANS, LIBRARY))
    assert shared[P_FINANCE]["grantedToV2"]["group"] == {"id": GROUP_FINANCE, "displayName": "Finance Reviewers",
                                                         "email": "finance-reviewers@contoso.onmicrosoft.com"}
    assert shared[P_OWNERS]["grantedToV2"]["siteGroup"]["displayName"] == "Marketing Owners" and shared[P_OWNERS]["roles"] == ["owner"]
    assert shared[P_MEMBERS]["inheritedFrom"]["id"] == LIB_ROOT
    campaigns = by_id(all_permissions(api, CAMPAIGNS, LIBRARY))
    assert set(campaigns) == {P_OWNERS, P_ALEX} and all("inheritedFrom" not in p for p in campaigns.values())


def test_get_one_permission_percent_encoded(api):
    response = api.get(perm_url(RESUME, P_KIM))
    assert response.status_code == 200 and response.json()["invitation"]["email"] == "kim@fabrikam.com"
    # Unencoded, the "/" splits the id into two segments: not a permission.
    assert api.get(f"{item_url(RESUME)}/permissions/{P_KIM}").status_code in (400, 404)
    inherited = api.get(perm_url(BUDGET, P_ALEX)).json()
    assert inherited["inheritedFrom"]["id"] == PROJECTS


def test_permissions_page_by_default_and_follow(api):
    first = api.get(f"{item_url(PLAN)}/permissions").json()
    assert len(first["value"]) == 4 and first["@odata.nextLink"].startswith("https://")
    pages = api.get_all(f"{item_url(PLAN)}/permissions")
    assert [len(p["value"]) for p in pages] == [4, 1]


@pytest.mark.parametrize("knobs, query, sizes", [({"page_size": 2}, "", [2, 2, 1]), ({"page_size": 100}, "", [5]),
                                                 ({}, "?$top=3", [3, 2]), ({"empty_page_with_nextlink": 1}, "", [0, 4, 0, 1])])
def test_permissions_paging_knobs(api, knobs, query, sizes):
    api.emulator.set_faults(**knobs)
    pages = api.get_all(f"{item_url(PLAN)}/permissions{query}")
    assert [len(p["value"]) for p in pages] == sizes
    assert len({p["id"] for page in pages for p in page["value"]}) == 5


def test_select_and_expand(api):
    value = api.get(f"{item_url(PLAN)}/permissions?$select=id,roles&$top=10").json()["value"]
    assert all(set(p) == {"id", "roles"} for p in value)
    status, code = error_of(api.get(f"{item_url(PLAN)}?$expand=permissions"))[:2]
    assert (status, code) == (400, "invalidRequest")


@pytest.mark.parametrize("reading, expected", [("full", PROJECTS), ("empty", {}), ("omitted", None)])
def test_inherited_from_reading(api, reading, expected):
    api.emulator.set_faults(drive_inherited_from=reading)
    entry = api.get(perm_url(BUDGET, P_ALEX)).json()
    if expected is None:
        assert "inheritedFrom" not in entry
    elif expected == {}:
        assert entry["inheritedFrom"] == {}
    else:
        assert entry["inheritedFrom"]["id"] == expected


def test_roles_needed(api):
    reader = api.emulator.token("5b8e3d2f-0c4a-4f7b-9e6d-2a3b4c5d6e7f", "emu~reader~secret~not-a-real-credential")
    assert api.get(item_url(PLAN), token=reader).status_code == 200
    status, code, message = error_of(api.patch(perm_url(PLAN, P_ONEIL), {"roles": ["write"]}, token=reader))
    assert (status, code, message) == (403, "accessDenied", "Access denied")
    nobody = api.emulator.token(NOPERM_APP, NOPERM_SECRET)
    assert error_of(api.get(item_url(PLAN), token=nobody))[:2] == (403, "accessDenied")


def test_batch_routes_drive_requests(api):
    body = {"requests": [
        {"id": "1", "method": "GET", "url": f"/drives/{ONEDRIVE}/root:/{enc('Projects/Q3 #1 plan.docx')}:"},
        {"id": "2", "method": "GET", "url": f"users/{MEGAN_UPN}/drive/items/{PLAN}/permissions?$top=10"},
        {"id": "3", "method": "PATCH", "url": perm_url(PLAN, P_ONEIL), "headers": {"Content-Type": "application/json"},
         "body": {"roles": ["write"]}}]}
    answers = {r["id"]: r for r in api.post("/$batch", body).json()["responses"]}
    assert answers["1"]["status"] == 200 and answers["1"]["body"]["id"] == PLAN
    assert len(answers["2"]["body"]["value"]) == 4 and "@odata.nextLink" in answers["2"]["body"]
    assert answers["3"]["status"] == 200 and answers["3"]["body"]["roles"] == ["write"]
    summary = api.emulator.summary()
    assert summary["writes"] == 1 and summary["batch_items"] == 3


def test_state_round_trip(api):
    api.patch(perm_url(PLAN, P_ONEIL), {"roles": ["write"]})
    state = api.emulator.control.state()
    api.emulator.control.load_seed(state)
    after = by_id(all_permissions(api, PLAN))
    assert after[P_ONEIL]["roles"] == ["write"]
    assert api.get(item_url(PLAN)).json()["eTag"].endswith(',2"')
