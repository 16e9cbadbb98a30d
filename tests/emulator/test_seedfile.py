"""Seed files (graph_emulator.seedfile): YAML and JSON, names instead of ids, and every problem reported with its
file, line and column (docs/testing-offline.md, "Seed files")."""

import json

import pytest
import yaml

from emu_helpers import REPO_ROOT_HINT, SEEDED_GRANTS, TENANT_ID
from graph_emulator.seedfile import SeedFileError, load_seed_file, parse_seed
from graph_emulator.server import load_default_seed

MY_TENANT = REPO_ROOT_HINT / "tests" / "emulator" / "package" / "my-tenant.yml"
BASE = load_default_seed()

MINIMAL = """\
servicePrincipals:
  - displayName: Orders API
    oauth2PermissionScopes:
      - {id: 6a8a1c9e-1111-4b8c-9d2e-0f1a2b3c4d5e, value: Orders.Read}
  - displayName: Shop
users:
  - userPrincipalName: ann@contoso.onmicrosoft.com
grants:
  - clientId: Shop
    resourceId: Orders API
    consentType: Principal
    principalId: ann@contoso.onmicrosoft.com
    scope: [Orders.Read]
"""


def error_of(text, path="t.yml"):
    with pytest.raises(SeedFileError) as caught:
        parse_seed(text, path, BASE)
    return caught.value


def test_names_and_derived_ids_resolve_to_ids():
    seed = parse_seed(MINIMAL, "t.yml", BASE)
    sps = {sp["displayName"]: sp for sp in seed["servicePrincipals"]}
    grant = seed["grants"][0]
    assert grant["clientId"] == sps["Shop"]["id"] and grant["resourceId"] == sps["Orders API"]["id"]
    assert grant["principalId"] == seed["users"][0]["id"] and grant["scope"] == "Orders.Read"
    assert seed["tenant"] == BASE["tenant"] and seed["apps"] == BASE["apps"]  # defaulted: the automation app still works
    assert parse_seed(MINIMAL, "other.yml", BASE) == seed  # derived ids are the same on every load


@pytest.mark.parametrize("change, line, column, reason", [
    (("consentType: Principal", "consentType: principal"), 11, 18, "grants[0].consentType: must be one of AllPrincipals, Principal"),
    (("resourceId: Orders API", "resourceId: Orders"), 10, 17, "grants[0].resourceId: 'Orders' is not a service principal of this seed"),
    (("principalId: ann@", "principalId: bob@"), 12, 18, "grants[0].principalId: 'bob@contoso.onmicrosoft.com' is not a user"),
    (("value: Orders.Read", "value: 3"), 4, 59, "oauth2PermissionScopes[0].value: must be a string"),
    (("id: 6a8a1c9e-1111", "id: 6a8a1c9e-XXXX"), 4, 14, "oauth2PermissionScopes[0].id: must be a GUID"),
    (("  - displayName: Shop\n", "  - displayName: Shop\n    appID: x\n"), 6, 5, "servicePrincipals[1].appID: unknown property; did you mean 'appId'?"),
    (("users:\n", "userz:\n"), 6, 1, "userz: unknown property; known:"),
    (("  - userPrincipalName: ann@contoso.onmicrosoft.com\n", "  - userPrincipalName: ann\n"), 7, 24,
     "users[0].userPrincipalName: must be a user principal name"),
    (("    consentType: Principal\n", ""), 9, 5, "grants[0]: missing required property 'consentType'"),
    (("    scope: [Orders.Read]\n", "    scope: [Orders.Read]\n    scope: x\n"), 14, 5, "grants[0].scope: is given twice"),
    (("  - displayName: Shop\n", "  - displayName: Shop\n  - displayName: Shop\n"), 6, 5,
     "servicePrincipals[2].appId: servicePrincipals[1] has the same displayName: give each an appId"),
])
def test_schema_errors_name_the_line_and_the_reason(change, line, column, reason):
    assert change[0] in MINIMAL
    err = error_of(MINIMAL.replace(*change))
    assert (err.line, err.column) == (line, column), str(err)
    assert reason in err.reason
    assert str(err).startswith(f"t.yml:{line}:{column}: ")


def test_syntax_errors_and_empty_files():
    err = error_of("users:\n  - userPrincipalName: [a\n")
    assert err.line == 3 and "not valid YAML" in err.reason
    assert "the file is empty" in error_of("").reason
    assert error_of("- a\n").reason == "must be a mapping (name: value)"


def test_an_ambiguous_display_name_needs_an_id():
    text = "grants:\n  - {clientId: Contoso Reporting, resourceId: Microsoft Graph, consentType: AllPrincipals}\n"
    seed_with_default_directory = json.dumps({"servicePrincipals": BASE["servicePrincipals"]}) + "\n"
    # Two service principals of the default seed are called "Contoso Reporting".
    err = error_of(yaml.safe_dump({**yaml.safe_load(seed_with_default_directory), **yaml.safe_load(text)}))
    assert "names more than one service principal: give its id or appId" in err.reason


def test_json_seeds_load_as_before(tmp_path):
    seed = load_seed_file(str(REPO_ROOT_HINT / "emulator" / "graph_emulator" / "seed_default.json"))
    assert seed["tenant"]["id"] == TENANT_ID and len(seed["grants"]) == len(SEEDED_GRANTS)
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "users": [\n    {"id": "not-a-guid", "userPrincipalName": "a@b"}\n  ]\n}\n')
    with pytest.raises(SeedFileError, match=r"broken.json:3:\d+: users\[0\].id: must be a GUID"):
        load_seed_file(str(broken))


def test_the_state_of_a_running_emulator_loads_as_a_seed_file(clean_emulator, tmp_path):
    state = tmp_path / "state.json"
    state.write_text(json.dumps(clean_emulator.control.state()))
    seed = load_seed_file(str(state))
    assert {g["id"] for g in seed["grants"]} == SEEDED_GRANTS


def test_the_documented_example_loads():
    seed = load_seed_file(str(MY_TENANT), BASE)
    assert seed["tenant"]["domain"] == "fabrikam.onmicrosoft.com"
    assert [g["consentType"] for g in seed["grants"]] == ["AllPrincipals", "Principal"]
    inventory = next(sp for sp in seed["servicePrincipals"] if sp["displayName"] == "Fabrikam Inventory API")
    assert [r["value"] for r in inventory["appRoles"]] == ["Inventory.Sync"]


CONSENT_YAML = """applications:
  - displayName: Fabrikam Portal
    requiredResourceAccess:
      - resourceAppId: 00000003-0000-0000-c000-000000000000
        resourceAccess:
          - {id: e1fe6dd8-ba31-4d61-89e7-88639da4683d, type: Scope}
          - {id: 7e4a0b3c-5d6f-4a81-9c2d-3e4f5a6b7c8d, type: Role}
appCatalog:
  - {appId: 0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e, displayName: Elsewhere API}
appRoleAssignments:
  - {principalId: Fabrikam Portal, resourceId: Fabrikam Inventory API, appRoleId: Inventory.Sync}
  - {principalId: ines.moreau@fabrikam.onmicrosoft.com, resourceId: Fabrikam Inventory API, appRoleId: 7e4a0b3c-5d6f-4a81-9c2d-3e4f5a6b7c8d}
"""


def test_consent_objects_in_a_seed_file():
    """The testing-offline.md example: applications pair with their SP by name, assignments name things."""
    seed = parse_seed(MY_TENANT.read_text(encoding="utf-8") + CONSENT_YAML, "my-tenant.yml", BASE)
    portal = next(sp for sp in seed["servicePrincipals"] if sp["displayName"] == "Fabrikam Portal")
    inventory = next(sp for sp in seed["servicePrincipals"] if sp["displayName"] == "Fabrikam Inventory API")
    assert seed["applications"][0]["appId"] == portal["appId"]
    first, second = seed["appRoleAssignments"]
    assert (first["principalId"], first["resourceId"], first["appRoleId"]) == (portal["id"], inventory["id"], "7e4a0b3c-5d6f-4a81-9c2d-3e4f5a6b7c8d")
    assert second["principalId"] == next(u["id"] for u in seed["users"] if u["displayName"] == "Ines Moreau")


@pytest.mark.parametrize("old,new,expected", [
    ("appRoleId: Inventory.Sync", "appRoleId: Inventory.Synk",
     ":11:87: appRoleAssignments[0].appRoleId: 'Inventory.Synk' is neither a GUID nor the value of an app role of Fabrikam Inventory API "
     "(its roles: Inventory.Sync)"),
    ("type: Role", "type: role", ":7:62: applications[0].requiredResourceAccess[0].resourceAccess[1].type: must be one of Scope, Role"),
    ("resourceAppId: 00000003-0000-0000-c000-000000000000", "resourceAppId: Microsoft Graph",
     ":4:22: applications[0].requiredResourceAccess[0].resourceAppId: must be a GUID"),
    ("principalId: Fabrikam Portal", "principalId: Nobody", ":11:20: appRoleAssignments[0].principalId: 'Nobody' is not a service principal"),
    ("{appId: 0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e, displayName: Elsewhere API}", "{displayName: Elsewhere API}",
     ":9:5: appCatalog[0]: missing required property 'appId'"),
])
def test_consent_objects_errors_have_lines(old, new, expected):
    text = MY_TENANT.read_text(encoding="utf-8")
    offset = text.count("\n")
    with pytest.raises(SeedFileError) as err:
        parse_seed(text + CONSENT_YAML.replace(old, new), "my-tenant.yml", BASE)
    line = int(expected[1:].split(":", 1)[0])
    assert str(err.value).startswith(f"my-tenant.yml:{line + offset}:") and expected.split(": ", 1)[1] in str(err.value)
