"""The drive readings of invite and of the permission list (docs/dev/emulator.md, "Drives and sharing permissions",
knobs): pending invitations listed or not, invite replacing or merging roles, a list cut short without a nextLink,
207 when the invitation mail fails, and app-only invites of new guests refused."""

import pytest

from drive_helpers import (P_ALEX, P_KIM, P_ORG_LINK, PLAN, PROJECTS, RESUME, all_permissions, by_id,
                           item_url, perm_url)
from emu_helpers import error_of


def invite(api, item_id, email, roles=("read",), send=False):
    body = {"recipients": [{"email": email}], "roles": list(roles), "requireSignIn": True, "sendInvitation": send}
    return api.post(f"{item_url(item_id)}/invite", body)


# ============================================================= pending invitations
@pytest.mark.parametrize("listed", [True, False])
def test_pending_invitations_listed_or_not(api, listed):
    api.emulator.set_faults(drive_pending_invitations_listed=listed)
    (entry,) = invite(api, PLAN, "ray@tailspintoys.com").json()["value"]
    assert entry["invitation"]["email"] == "ray@tailspintoys.com"  # the invite answer carries it either way
    for item_id, pending in ((PLAN, entry["id"]), (RESUME, P_KIM)):
        assert (pending in by_id(all_permissions(api, item_id))) is listed
    # the hidden invitation is still there: inviting the address again answers the same id, and it can be changed
    (again,) = invite(api, PLAN, "RAY@tailspintoys.com", roles=["write"]).json()["value"]
    assert again["id"] == entry["id"] and again["roles"] == ["write"]
    assert api.patch(perm_url(RESUME, P_KIM), {"roles": ["write"]}).status_code == 200
    api.emulator.set_faults(drive_pending_invitations_listed=True)
    assert by_id(all_permissions(api, PLAN))[entry["id"]]["roles"] == ["write"]


# ================================================================== invite_merge
@pytest.mark.parametrize("merge, roles_after", [("replace", ["read"]), ("union", ["write", "read"])])
def test_invite_of_an_existing_grantee_replaces_or_merges(api, merge, roles_after):
    api.emulator.set_faults(invite_merge=merge)
    (entry,) = invite(api, PROJECTS, "alex.wilber@contoso.onmicrosoft.com", roles=["read"]).json()["value"]
    assert entry["id"] == P_ALEX and entry["roles"] == roles_after
    assert by_id(all_permissions(api, PROJECTS))[P_ALEX]["roles"] == roles_after


def test_invite_union_of_the_same_roles_changes_nothing(api):
    api.emulator.set_faults(invite_merge="union")
    (entry,) = invite(api, PROJECTS, "alex.wilber@contoso.onmicrosoft.com", roles=["write"]).json()["value"]
    assert entry["roles"] == ["write"]


# ================================================================ truncate_after
@pytest.mark.parametrize("cut", [None, 1, 2, 50])
def test_truncate_after_cuts_the_list_without_a_nextlink(api, cut):
    full = all_permissions(api, PROJECTS)
    api.emulator.set_faults(truncate_after=cut)
    pages = api.get_all(f"{item_url(PROJECTS)}/permissions")
    listed = [p for page in pages for p in page["value"]]
    assert listed == full[:cut] and "@odata.nextLink" not in pages[-1]
    if cut == 1:
        assert [p["id"] for p in listed] == [P_ORG_LINK]  # Alex's direct entry is cut off, and nothing says so
        assert api.get(perm_url(PROJECTS, P_ALEX)).status_code == 200  # still there


# =================================================================== notify_fail
@pytest.mark.parametrize("send", [True, False])
def test_notify_fail_answers_207_with_an_error_and_grants_all_the_same(api, send):
    api.emulator.set_faults(notify_fail=True)
    response = invite(api, PLAN, "lee.gu@contoso.onmicrosoft.com", send=send)
    assert response.status_code == (207 if send else 200)
    (entry,) = response.json()["value"]
    if send:
        assert entry["error"]["code"] == "notAllowed" and entry["error"]["innererror"]["code"] == "accountVerificationRequired"
    else:
        assert "error" not in entry
    assert by_id(all_permissions(api, PLAN))[entry["id"]]["roles"] == ["read"]


# ============================================================ app_only_new_guest
def test_app_only_new_guest_refused_writes_nothing(api):
    api.emulator.set_faults(app_only_new_guest="refused")
    before = all_permissions(api, PLAN)
    assert error_of(invite(api, PLAN, "ray@tailspintoys.com"))[:2] == (403, "accessDenied")
    assert all_permissions(api, PLAN) == before
    # users and groups of the directory (existing guests among them) are still invited
    assert invite(api, PLAN, "adele.vance@fabrikam.com").status_code == 200
    assert invite(api, PLAN, "lee.gu@contoso.onmicrosoft.com").status_code == 200


@pytest.mark.parametrize("knobs", [{"drive_pending_invitations_listed": "no"}, {"invite_merge": "merge"},
                                   {"truncate_after": 0}, {"truncate_after": True}, {"notify_fail": 1},
                                   {"app_only_new_guest": "denied"}])
def test_reading_knobs_are_validated(api, knobs):
    with pytest.raises(RuntimeError, match="400"):
        api.emulator.set_faults(**knobs)


def test_reading_knob_defaults(api):
    faults = api.emulator.control.faults()
    assert {k: faults[k] for k in ("drive_pending_invitations_listed", "invite_merge", "truncate_after", "notify_fail",
                                   "app_only_new_guest")} == {
        "drive_pending_invitations_listed": True, "invite_merge": "replace", "truncate_after": None, "notify_fail": False,
        "app_only_new_guest": "invited"}
