"""Seed files with drives: what they may say, and every mistake reported at its line and column
(docs/dev/emulator.md, "Drives and sharing permissions", seed format)."""

import pytest

from graph_emulator.seedfile import SeedFileError, parse_seed
from graph_emulator.server import load_default_seed
from graph_emulator.state import Directory

BASE = load_default_seed()

GOOD = """\
users:
  - userPrincipalName: ann@contoso.onmicrosoft.com
  - userPrincipalName: bob@contoso.onmicrosoft.com
groups:
  - {id: 0a1b2c3d-0000-4000-8000-000000000001, displayName: Auditors, mail: auditors@contoso.onmicrosoft.com}
sites:
  - {id: "contoso.sharepoint.com,0a1b2c3d-0000-4000-8000-000000000002,0a1b2c3d-0000-4000-8000-000000000003", displayName: Audit}
drives:
  - user: ann@contoso.onmicrosoft.com
    items:
      - path: ""
        permissions: [{user: ann@contoso.onmicrosoft.com, roles: [owner]}]
      - path: "Reports/2026 #3 100%.xlsx"
        permissions:
          - {user: bob@contoso.onmicrosoft.com, roles: [read]}
          - {link: {scope: users, type: edit}, users: [bob@contoso.onmicrosoft.com]}
          - {invitation: {email: eve@fabrikam.com}, roles: [read]}
  - site: "contoso.sharepoint.com,0a1b2c3d-0000-4000-8000-000000000002,0a1b2c3d-0000-4000-8000-000000000003"
    items:
      - path: Audit
        folder: true
        inherits: false
        permissions: [{group: 0a1b2c3d-0000-4000-8000-000000000001, roles: [write]}]
"""


def test_good_seed_loads_with_folders_created():
    directory = Directory.from_seed(parse_seed(GOOD, "t.yml", BASE))
    store = directory.drivestore
    names = sorted(store.path_of(i) for i in store.items.values())
    assert names == ["", "", "Audit", "Reports", "Reports/2026 #3 100%.xlsx"]
    report = next(i for i in store.items.values() if i["name"] == "2026 #3 100%.xlsx")
    kinds = sorted(entry[0]["kind"] for entry in store.effective(report))
    assert kinds == ["invitation", "link", "user", "user"]


@pytest.mark.parametrize("old, new, line, reason", [
    ("roles: [read]}", "roles: [admin]}", 15, "must be one of read, write, owner"),
    ("{user: bob@contoso.onmicrosoft.com, roles: [read]}", "{user: zed@contoso.onmicrosoft.com, roles: [read]}", 15,
     "'zed@contoso.onmicrosoft.com' is not a user of this seed"),
    ("{user: bob@contoso.onmicrosoft.com, roles: [read]}", "{user: bob@contoso.onmicrosoft.com, group: 0a1b2c3d-0000-4000-8000-000000000001, roles: [read]}",
     15, "needs exactly one of user, group, siteGroup, link, invitation"),
    ("scope: users", "scope: everyone", 16, "must be one of anonymous, organization, users"),
    ("  - user: ann@contoso.onmicrosoft.com\n", "  - user: ann@contoso.onmicrosoft.com\n    site: x\n", 9, "needs exactly one of 'user'"),
    ("{group: 0a1b2c3d-0000-4000-8000-000000000001, roles", "{group: 0a1b2c3d-0000-4000-8000-00000000000f, roles", 23,
     "is not the id of a group of this seed"),
    ("  - site: \"contoso", "  - site: \"other", 18, "is not the id of a site of this seed"),
    ("        folder: true", "        folder: yes please", 21, "must be true or false"),
    ("{invitation: {email: eve@fabrikam.com}, roles: [read]}", "{invitation: {email: eve@fabrikam.com}}", 17, "needs roles"),
])
def test_seed_mistakes_name_their_line(old, new, line, reason):
    assert old in GOOD
    with pytest.raises(SeedFileError) as caught:
        parse_seed(GOOD.replace(old, new), "t.yml", BASE)
    assert caught.value.line == line and reason in caught.value.reason, str(caught.value)


def test_state_dump_is_a_valid_seed_file():
    import json  # pylint: disable=import-outside-toplevel
    directory = Directory.from_seed(parse_seed(GOOD, "t.yml", BASE))
    again = parse_seed(json.dumps(directory.dump()), "state.json", BASE)
    assert Directory.from_seed(again).drivestore.dump() == directory.drivestore.dump()
