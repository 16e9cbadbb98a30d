"""Permission writes over HTTPS: PATCH, DELETE, invite, If-Match and the 412 body, every drive knob, and the
interfering writer (docs/dev/emulator.md, "Drives and sharing permissions")."""

import pytest

from drive_helpers import (BUDGET, CAMPAIGNS, GROUP_FINANCE, LAUNCH, LIB_ROOT, LIBRARY, ONEDRIVE, P_ADELE, P_ALEX, P_ANON_LINK, P_BACKUP,
                           P_FINANCE, P_KIM, P_LEE, P_MEGAN, P_ONEIL, P_ORG_LINK, P_OWNERS, P_USERS_LINK, PLAN, PROJECTS, RESUME, ROOT,
                           SHARED_PLANS, all_permissions, by_id, item_url, perm_url)
from emu_helpers import USER_ALEX, error_of

PRECONDITION = "ETag does not match current item's value"


def tags(api, item_id, drive=ONEDRIVE):
    item = api.get(item_url(item_id, drive)).json()
    return item["eTag"], item.get("cTag")


def version(tag: str) -> int:
    return int(tag.rstrip('"').rsplit(",", 1)[1])


def invite(api, item_id, recipients, roles=("read",), drive=ONEDRIVE, headers=None, **extra):
    body = {"recipients": recipients, "roles": list(roles), "requireSignIn": True, "sendInvitation": False, **extra}
    return api.post(f"{item_url(item_id, drive)}/invite", body, headers=headers)


# ======================================================================== PATCH
def test_patch_roles_bumps_both_tags(api):
    etag, ctag = tags(api, PLAN)
    response = api.patch(perm_url(PLAN, P_ONEIL), {"roles": ["write"]}, headers={"If-Match": etag})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == P_ONEIL and body["roles"] == ["write"] and body["grantedToV2"]["user"]["displayName"] == "Patrick O'Neil"
    assert "@deprecated.GrantedTo" in body and "@odata.context" in body
    new_etag, new_ctag = tags(api, PLAN)
    assert (version(new_etag), version(new_ctag)) == (version(etag) + 1, version(ctag) + 1)
    assert by_id(all_permissions(api, PLAN))[P_ONEIL]["roles"] == ["write"]


@pytest.mark.parametrize("which", ["eTag", "cTag", "*", None])
def test_if_match_accepts_etag_ctag_star_or_nothing(api, which):
    etag, ctag = tags(api, PLAN)
    header = {"eTag": etag, "cTag": ctag, "*": "*", None: None}[which]
    response = api.patch(perm_url(PLAN, P_ONEIL), {"roles": ["write"]}, headers={"If-Match": header} if header else None)
    assert response.status_code == 200


def test_if_match_on_a_folder_compares_the_etag(api):
    etag, ctag = tags(api, PROJECTS)
    assert ctag is None
    assert api.patch(perm_url(PROJECTS, P_ALEX), {"roles": ["read"]}, headers={"If-Match": etag}).status_code == 200
    status, code = error_of(api.patch(perm_url(PROJECTS, P_ALEX), {"roles": ["write"]}, headers={"If-Match": etag}))[:2]
    assert (status, code) == (412, "resourceModified")


@pytest.mark.parametrize("method", ["PATCH", "DELETE", "invite"])
@pytest.mark.parametrize("code", ["resourceModified", "notAllowed"])
def test_stale_if_match_is_412_and_nothing_changes(api, method, code):
    if code != "resourceModified":
        api.emulator.set_faults(drive_precondition_code=code)
    stale = '"{05F71D94-2527-541E-8A4D-AA776B0CFFB0},0"'
    before = all_permissions(api, PLAN)
    headers = {"If-Match": stale}
    if method == "PATCH":
        response = api.patch(perm_url(PLAN, P_ONEIL), {"roles": ["write"]}, headers=headers)
    elif method == "DELETE":
        response = api.delete(perm_url(PLAN, P_ONEIL), headers=headers)
    else:
        response = invite(api, PLAN, [{"email": "lee.gu@contoso.onmicrosoft.com"}], headers=headers)
    assert response.status_code == 412
    error = response.json()["error"]
    assert (error["code"], error["message"], error["innerError"]["code"]) == (code, PRECONDITION, "entityTagDoesNotMatch")
    assert set(error["innerError"]) >= {"date", "request-id", "client-request-id"}
    assert all_permissions(api, PLAN) == before
    assert version(tags(api, PLAN)[0]) == 1


def test_unquoted_if_match_is_malformed(api):
    etag = tags(api, PLAN)[0]
    response = api.patch(perm_url(PLAN, P_ONEIL), {"roles": ["write"]}, headers={"If-Match": etag.strip('"')})
    assert error_of(response)[:2] == (400, "invalidRequest")
    assert response.json()["error"]["innerError"]["code"] == "malformedEntityTag"


@pytest.mark.parametrize("item_id, perm_id, body, expected", [
    (BUDGET, P_ALEX, {"roles": ["read"]}, (400, "invalidRequest", "Cannot update inherited permission.")),
    (ROOT, P_MEGAN, {"roles": ["write"]}, (400, "invalidRequest", "Cannot update the owner permission.")),
    (PROJECTS, P_ORG_LINK, {"roles": ["write"]}, (400, "badArgument", "One of the provided arguments is not acceptable.")),
    (PLAN, P_USERS_LINK, {"roles": ["read"]}, (400, "badArgument", "One of the provided arguments is not acceptable.")),
    (RESUME, P_ANON_LINK, {"roles": ["write"]}, (400, "badArgument", "One of the provided arguments is not acceptable.")),
    (PLAN, P_ONEIL, {"expirationDateTime": "2030-01-01T00:00:00Z"}, (400, "badArgument", None)),
    (PLAN, P_ONEIL, {"roles": ["owner"]}, (400, "invalidRequest", "Invalid value for role")),
    (PLAN, P_ONEIL, {"roles": []}, (400, "invalidRequest", "Invalid value for role")),
    (PLAN, P_ONEIL, {"roles": ["read"], "link": {}}, (400, "invalidRequest", "Property 'link' cannot be updated.")),
    (PLAN, "nope", {"roles": ["read"]}, (404, "itemNotFound", "Item not found")),
])
def test_patch_refusals_write_nothing(api, item_id, perm_id, body, expected):
    before = all_permissions(api, item_id)
    status, code, message = error_of(api.patch(perm_url(item_id, perm_id), body))
    assert (status, code) == expected[:2] and (expected[2] is None or message == expected[2])
    assert all_permissions(api, item_id) == before and version(tags(api, item_id)[0]) == 1


def test_patch_anonymous_link_expiration(api):
    response = api.patch(perm_url(RESUME, P_ANON_LINK), {"expirationDateTime": "2028-01-01T00:00:00Z"})
    assert response.status_code == 200 and response.json()["expirationDateTime"] == "2028-01-01T00:00:00Z"


def test_patch_group_and_percent_encoded_pending_invitation(api):
    assert api.patch(perm_url(SHARED_PLANS, P_FINANCE, LIBRARY), {"roles": ["write"]}).json()["roles"] == ["write"]
    assert api.patch(perm_url(RESUME, P_KIM), {"roles": ["write"]}).json()["invitation"]["email"] == "kim@fabrikam.com"


@pytest.mark.parametrize("bump", [True, False])
def test_permission_change_bump_etag_reading(api, bump):
    api.emulator.set_faults(permission_change_bump_etag=bump)
    etag, ctag = tags(api, PLAN)
    api.patch(perm_url(PLAN, P_ONEIL), {"roles": ["write"]})
    api.delete(perm_url(PLAN, P_USERS_LINK))
    invite(api, PLAN, [{"email": "lee.gu@contoso.onmicrosoft.com"}])
    after = tags(api, PLAN)
    assert (after == (etag, ctag)) is not bump
    if bump:
        assert version(after[0]) == version(etag) + 3


# ======================================================================= DELETE
def test_delete_then_inherited_entry_shows_again(api):
    assert invite(api, PLAN, [{"objectId": USER_ALEX}], roles=["read"]).status_code == 200
    direct = by_id(all_permissions(api, PLAN))[P_ALEX]
    assert direct["roles"] == ["read"] and "inheritedFrom" not in direct
    etag = tags(api, PLAN)[0]
    response = api.delete(perm_url(PLAN, P_ALEX), headers={"If-Match": etag})
    assert response.status_code == 204 and response.content == b""
    again = by_id(all_permissions(api, PLAN))[P_ALEX]
    assert again["roles"] == ["write"] and again["inheritedFrom"]["id"] == PROJECTS


@pytest.mark.parametrize("perm_id", [P_ONEIL, P_USERS_LINK])
def test_delete_direct_and_link(api, perm_id):
    assert api.delete(perm_url(PLAN, perm_id)).status_code == 204
    assert perm_id not in by_id(all_permissions(api, PLAN))
    assert error_of(api.delete(perm_url(PLAN, perm_id)))[:2] == (404, "itemNotFound")


def test_delete_pending_invitation_needs_percent_encoding(api):
    assert api.delete(perm_url(RESUME, P_KIM)).status_code == 204
    assert P_KIM not in by_id(all_permissions(api, RESUME))


def test_delete_inherited_is_refused(api):
    assert error_of(api.delete(perm_url(BUDGET, P_ALEX))) == (400, "invalidRequest", "Inherited permissions cannot be deleted.")
    assert P_ALEX in by_id(all_permissions(api, BUDGET))


@pytest.mark.parametrize("reading", ["ignored", "refused"])
def test_delete_owner_entry(api, reading):
    api.emulator.set_faults(drive_owner_delete=reading)
    response = api.delete(perm_url(LIB_ROOT, P_OWNERS, LIBRARY))
    if reading == "ignored":
        assert response.status_code == 204
    else:
        assert error_of(response) == (403, "notAllowed", "Operation not allowed")
    assert P_OWNERS in by_id(all_permissions(api, LIB_ROOT, LIBRARY))


# ======================================================================= invite
@pytest.mark.parametrize("recipient", [{"email": "lee.gu@contoso.onmicrosoft.com"}, {"email": "LEE.GU@contoso.onmicrosoft.com"},
                                       {"objectId": "5d6f7081-92a3-44b5-9fc0-4b5c6d7e8f90"}])
def test_invite_known_user_creates_direct_permission(api, recipient):
    response = invite(api, LAUNCH, [recipient], roles=["write"], drive=LIBRARY)
    assert response.status_code == 200, response.text
    (entry,) = response.json()["value"]
    assert entry["id"] == P_LEE and entry["roles"] == ["write"] and entry["grantedToV2"]["user"]["displayName"] == "Lee Gu"
    assert entry["invitation"] == {"email": "lee.gu@contoso.onmicrosoft.com", "signInRequired": True}
    listed = by_id(all_permissions(api, LAUNCH, LIBRARY))[P_LEE]
    assert "invitation" not in listed and "inheritedFrom" not in listed
    assert api.emulator.summary()["writes"] == 1


@pytest.mark.parametrize("recipient", [{"email": "finance-reviewers@contoso.onmicrosoft.com"}, {"alias": "finance-reviewers"},
                                       {"objectId": GROUP_FINANCE}])
def test_invite_group(api, recipient):
    (entry,) = invite(api, CAMPAIGNS, [recipient], drive=LIBRARY).json()["value"]
    assert entry["id"] == P_FINANCE and entry["grantedToV2"]["group"]["id"] == GROUP_FINANCE


def test_invite_unknown_email_is_a_listed_pending_invitation(api):
    (entry,) = invite(api, PLAN, [{"email": "ray@tailspintoys.com"}]).json()["value"]
    assert "grantedToV2" not in entry and entry["invitation"]["email"] == "ray@tailspintoys.com"
    listed = by_id(all_permissions(api, PLAN))[entry["id"]]
    assert listed["invitation"] == {"email": "ray@tailspintoys.com", "signInRequired": True}
    assert entry["id"] not in by_id(all_permissions(api, BUDGET))  # pending invitations are not inherited


@pytest.mark.parametrize("item_id, recipient, perm_id", [(PLAN, {"email": "o'neil@contoso.onmicrosoft.com"}, P_ONEIL),
                                                         (RESUME, {"email": "KIM@fabrikam.com"}, P_KIM),
                                                         (RESUME, {"email": "adele.vance@fabrikam.com"}, P_ADELE)])
def test_invite_existing_grantee_keeps_id_and_replaces_roles(api, item_id, recipient, perm_id):
    (entry,) = invite(api, item_id, [recipient], roles=["write"]).json()["value"]
    assert entry["id"] == perm_id and entry["roles"] == ["write"]
    matching = [p for p in all_permissions(api, item_id) if p["id"] == perm_id]
    assert len(matching) == 1 and matching[0]["roles"] == ["write"]


def test_invite_without_retained_inheritance_drops_inherited_entries(api):
    invite(api, BUDGET, [{"email": "lee.gu@contoso.onmicrosoft.com"}], retainInheritedPermissions=False)
    assert set(by_id(all_permissions(api, BUDGET))) == {P_LEE}


@pytest.mark.parametrize("body_change, message", [
    ({"roles": ["owner"]}, "Invalid value for role"),
    ({"roles": []}, "roles is required."),
    ({"recipients": []}, "recipients is required."),
    ({"recipients": [{"email": "lee.gu@contoso.onmicrosoft.com", "objectId": USER_ALEX}]}, None),
    ({"recipients": [{"email": "lee.gu@contoso.onmicrosoft.com"}, {"objectId": "00000000-0000-4000-8000-000000000009"}]}, None),
    ({"recipients": [{"alias": "nobody"}]}, None),
    ({"requireSignIn": "yes"}, None),
    ({"colour": "blue"}, None),
])
def test_invite_refusals_write_nothing(api, body_change, message):
    body = {"recipients": [{"email": "lee.gu@contoso.onmicrosoft.com"}], "roles": ["read"], "requireSignIn": True,
            "sendInvitation": False, **body_change}
    before = all_permissions(api, PLAN)
    status, code, text = error_of(api.post(f"{item_url(PLAN)}/invite", body))
    assert (status, code) == (400, "invalidRequest") and (message is None or text == message)
    assert all_permissions(api, PLAN) == before


# ============================================================ interfering writer
@pytest.mark.parametrize("change", ["content", "add_permission", "same_change"])
def test_concurrent_writer_makes_the_old_tag_stale(api, change):
    api.emulator.set_faults(drive_concurrent_writer=1, drive_concurrent_change=change)
    etag, ctag = tags(api, PLAN)
    api.emulator.control.clear_requests()
    response = api.patch(perm_url(PLAN, P_ONEIL), {"roles": ["write"]}, headers={"If-Match": etag})
    assert response.status_code == 412
    log = api.emulator.control.requests_with_summary()
    assert [(r["method"], r["status"], r["fault"]) for r in log["requests"]] == [("PATCH", 412, f"drive_concurrent_writer:{change}")]
    assert log["summary"]["writes"] == 1
    new_etag, new_ctag = tags(api, PLAN)
    assert version(new_etag) == version(etag) + 1 and version(new_ctag) == version(ctag) + 1
    listed = by_id(all_permissions(api, PLAN))
    assert listed[P_ONEIL]["roles"] == (["write"] if change == "same_change" else ["read"])
    assert (P_BACKUP in listed) is (change == "add_permission")
    # The knob is spent: the same write with the fresh tag goes through, and the other writer's grant survives.
    assert api.patch(perm_url(PLAN, P_ONEIL), {"roles": ["write"]}, headers={"If-Match": new_etag}).status_code == 200
    assert (P_BACKUP in by_id(all_permissions(api, PLAN))) is (change == "add_permission")
    assert api.emulator.control.faults()["drive_concurrent_writer"] == 0


def test_concurrent_writer_without_if_match_is_applied_on_top(api):
    api.emulator.set_faults(drive_concurrent_writer=2, drive_concurrent_change="add_permission")
    assert api.patch(perm_url(PLAN, P_ONEIL), {"roles": ["write"]}).status_code == 200
    listed = by_id(all_permissions(api, PLAN))
    assert listed[P_ONEIL]["roles"] == ["write"] and listed[P_BACKUP]["roles"] == ["read"]
    assert api.emulator.control.faults()["drive_concurrent_writer"] == 1


def test_concurrent_same_change_on_delete_and_invite(api):
    api.emulator.set_faults(drive_concurrent_writer=2, drive_concurrent_change="same_change")
    assert error_of(api.delete(perm_url(PLAN, P_ONEIL)))[:2] == (404, "itemNotFound")  # the other writer deleted it first
    (entry,) = invite(api, PLAN, [{"email": "lee.gu@contoso.onmicrosoft.com"}]).json()["value"]
    assert [p["id"] for p in all_permissions(api, PLAN)].count(entry["id"]) == 1


def test_concurrent_permission_change_without_tag_bump_is_invisible_to_if_match(api):
    api.emulator.set_faults(drive_concurrent_writer=1, drive_concurrent_change="add_permission", permission_change_bump_etag=False)
    etag = tags(api, PLAN)[0]
    assert api.patch(perm_url(PLAN, P_ONEIL), {"roles": ["write"]}, headers={"If-Match": etag}).status_code == 200
    assert P_BACKUP in by_id(all_permissions(api, PLAN)) and tags(api, PLAN)[0] == etag


def test_concurrent_writer_only_interferes_with_permission_writes(api):
    api.emulator.set_faults(drive_concurrent_writer=1)
    etag = tags(api, PLAN)[0]
    api.get(f"{item_url(PLAN)}/permissions")
    assert error_of(api.patch(perm_url(PLAN, P_ONEIL), {"roles": ["write"]}, token=api.emulator.control.mint_token(roles=[])))[0] == 403
    assert api.emulator.control.faults()["drive_concurrent_writer"] == 1 and tags(api, PLAN)[0] == etag


@pytest.mark.parametrize("knobs", [{"drive_concurrent_writer": -1}, {"drive_concurrent_change": "other"},
                                   {"permission_change_bump_etag": "yes"}, {"drive_inherited_from": "none"},
                                   {"drive_precondition_code": "preconditionFailed"}, {"drive_owner_delete": "noop"}])
def test_drive_knobs_are_validated(api, knobs):
    with pytest.raises(RuntimeError, match="400"):
        api.emulator.set_faults(**knobs)


def test_drive_knob_defaults(api):
    faults = api.emulator.control.faults()
    assert {k: faults[k] for k in ("permission_change_bump_etag", "drive_inherited_from", "drive_precondition_code",
                                   "drive_owner_delete", "drive_concurrent_writer", "drive_concurrent_change")} == {
        "permission_change_bump_etag": True, "drive_inherited_from": "full", "drive_precondition_code": "resourceModified",
        "drive_owner_delete": "ignored", "drive_concurrent_writer": 0, "drive_concurrent_change": "content"}
