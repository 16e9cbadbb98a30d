"""Contract: every grant response body the emulator sends (entity, collection, error) validates against the
schemas of Microsoft's OpenAPI description, as extracted in data/openapi-oauth2PermissionGrants.yaml (provenance:
data/README.md)."""

import copy
from pathlib import Path

import pytest
import yaml
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from emu_helpers import (GRANT_HR_GRAPH_ALL, GRANT_HR_GRAPH_MEGAN, SP_GRAPH, SP_HR, USER_MEGAN, bulk_seed, new_grant_body)

SPEC_NAME = "openapi-oauth2PermissionGrants.yaml"
SCHEMAS = {
    "entity": "microsoft.graph.oAuth2PermissionGrant",
    "collection": "microsoft.graph.oAuth2PermissionGrantCollectionResponse",
    "error": "microsoft.graph.ODataErrors.ODataError",
}


SPEC_PATH = Path(__file__).resolve().parent / "data" / SPEC_NAME


def relax(document):
    """Drop the two inaccuracies of Microsoft's generated description (docs/dev/graph-behaviour.md#openapi-extract):
    - '@odata.type' listed as required (the service does not send it on these responses);
    - the innerError.date pattern demanding a timezone (the service sends "2022-10-06T07:13:31", no 'Z').
    Everything else in the schemas is enforced as published."""
    document = copy.deepcopy(document)

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("required"), list) and "@odata.type" in node["required"]:
                node["required"] = [r for r in node["required"] if r != "@odata.type"]
                if not node["required"]:
                    del node["required"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    del document["components"]["schemas"]["microsoft.graph.ODataErrors.InnerError"]["properties"]["date"]["pattern"]
    return document


@pytest.fixture(scope="module", name="validators")
def validators_fixture():
    # Part of the repository: a missing copy is a failure, never a skip (the contract would silently go unchecked).
    assert SPEC_PATH.is_file(), f"{SPEC_PATH} is missing: restore it from git (provenance in {SPEC_PATH.parent}/README.md)"
    document = relax(yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8")))
    registry = Registry().with_resource("urn:graph-extract", Resource.from_contents(document, default_specification=DRAFT4))
    return {kind: OAS30Validator({"$ref": f"urn:graph-extract#/components/schemas/{name}"}, registry=registry)
            for kind, name in SCHEMAS.items()}


def check(validators, kind, body):
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validators[kind].iter_errors(body)]
    assert not errors, f"{kind} body does not match the OpenAPI schema: {errors}\n{body}"


def test_validators_are_not_vacuous(validators):
    """The checks below could fail: a wrong type, a missing error code or message are caught."""
    assert list(validators["entity"].iter_errors({"id": "x", "clientId": 5}))
    assert list(validators["collection"].iter_errors({"value": [{"scope": ["User.Read"]}]}))
    assert list(validators["error"].iter_errors({"error": {"message": "no code"}}))
    assert list(validators["error"].iter_errors({}))
    assert not list(validators["entity"].iter_errors({"id": "x", "principalId": None}))  # nullable per schema


def test_collections(api, emulator, validators):
    eventual = {"ConsistencyLevel": "eventual"}
    bodies = [
        api.get("/oauth2PermissionGrants").json(),
        api.get("/oauth2PermissionGrants", params={"$filter": f"clientId eq '{SP_HR}'", "$select": "id,scope"}).json(),
        api.get("/oauth2PermissionGrants", params={"$count": "true"}, headers=eventual).json(),
        api.get(f"/servicePrincipals/{SP_HR}/oauth2PermissionGrants").json(),
        api.get(f"/users/{USER_MEGAN}/oauth2PermissionGrants").json(),
        api.get("/oauth2PermissionGrants", version="beta").json(),
    ]
    emulator.control.load_seed(bulk_seed(5))
    emulator.control.set_faults(empty_page_with_nextlink=1)
    bodies += api.get_all("/oauth2PermissionGrants", params={"$top": "2"})
    for body in bodies:
        check(validators, "collection", body)
    assert any("@odata.nextLink" in b for b in bodies) and any(b["value"] == [] for b in bodies) and any("@odata.count" in b for b in bodies)


def test_entities(api, validators):
    created = api.post("/oauth2PermissionGrants", new_grant_body())
    beta_body = dict(new_grant_body(client=SP_HR), startTime="2022-03-17T00:00:00Z", expiryTime="2023-03-17T00:00:00Z")
    bodies = [
        api.get(f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}").json(),
        api.get(f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_MEGAN}", params={"$select": "id,principalId"}).json(),
        api.get(f"/servicePrincipals/{SP_HR}/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}").json(),
        created.json(),
        api.post("/oauth2PermissionGrants", beta_body, version="beta").json(),
    ]
    assert created.status_code == 201
    for body in bodies:
        check(validators, "entity", body)


def test_errors(api, emulator, validators):
    reader = emulator.token("5b8e3d2f-0c4a-4f7b-9e6d-2a3b4c5d6e7f", "emu~reader~secret~not-a-real-credential")
    duplicate = {"clientId": SP_HR, "consentType": "AllPrincipals", "resourceId": SP_GRAPH}
    responses = [
        api.get("/oauth2PermissionGrants", params={"$filter": "scope eq 'x'"}),
        api.get("/oauth2PermissionGrants", params={"$top": "1000"}),
        api.get(f"/oauth2PermissionGrants/{SP_GRAPH}"),
        api.get("/oauth2PermissionGrants", token="garbage"),
        api.get("/oauth2PermissionGrants", token=False),
        api.post("/oauth2PermissionGrants", new_grant_body(), token=reader),
        api.get(f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL[:-1]}A"),
        api.post("/oauth2PermissionGrants", duplicate),
        api.post("/oauth2PermissionGrants", {"clientId": "x"}),
        api.patch(f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}", {"principalId": USER_MEGAN}),
        api.delete(f"/servicePrincipals/{SP_HR}/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}"),
        api.request("PUT", f"/oauth2PermissionGrants/{GRANT_HR_GRAPH_ALL}"),
    ]
    emulator.control.set_faults(throttle_next=1, retry_after=None)
    responses.append(api.get("/oauth2PermissionGrants"))
    for status in (500, 503, 504):
        emulator.control.set_faults(fail_next=1, fail_status=status)
        responses.append(api.get("/oauth2PermissionGrants"))
    statuses = sorted({r.status_code for r in responses})
    assert statuses == [400, 401, 403, 404, 405, 409, 429, 500, 503, 504]
    for response in responses:
        check(validators, "error", response.json())
    batch = api.post("/$batch", {"requests": [
        {"id": "1", "method": "POST", "url": "/oauth2PermissionGrants", "headers": {"Content-Type": "application/json"}, "body": duplicate},
        {"id": "2", "method": "GET", "url": "/oauth2PermissionGrants", "dependsOn": ["1"]}]}).json()
    for item in batch["responses"]:
        assert item["status"] in (409, 424)
        check(validators, "error", item["body"])
