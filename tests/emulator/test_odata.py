"""Pure tests of the OData parsing helpers (no server)."""

import pytest

from graph_emulator import odata
from graph_emulator.directory_api import SP_FILTER
from graph_emulator.grants_api import GRANT_FILTER
from graph_emulator.messages import GraphApiError


def test_filter_with_three_clauses_and_escaped_quote():
    clauses = odata.parse_filter("clientId eq 'a' and (principalId eq 'b') and displayName eq 'O''Brien'")
    assert [(c.prop, c.op, c.value.value) for c in clauses] == [("clientId", "eq", "a"), ("principalId", "eq", "b"), ("displayName", "eq", "O'Brien")]


@pytest.mark.parametrize("text,prop", [
    ("clientId eq 'a' or clientId eq 'b'", "clientId"),
    ("startswith(displayName,'Con')", "displayName"),
    ("not (clientId eq 'a')", None),
    ("clientId ne 'a'", "clientId"),
])
def test_unsupported_constructs(text, prop):
    clauses = None
    try:
        clauses = odata.parse_filter(text)
    except odata.FilterUnsupported as exc:
        assert exc.prop == prop
        return
    # 'ne' and startswith() parse (the assignment navigations support startswith); the grant schema rejects both
    assert (clauses[0].prop, clauses[0].op) in (("clientId", "ne"), ("displayName", "startswith"))
    with pytest.raises(GraphApiError) as err:
        GRANT_FILTER.compile(text)
    assert err.value.code == "Request_UnsupportedQuery" and err.value.message == f"Filter is invalid. {prop}"


@pytest.mark.parametrize("text", ["clientId eq 'unterminated", "clientId eq", "clientId 'a'", "eq 'a'", "clientId eq 'a' and", "(clientId eq 'a'"])
def test_syntax_errors(text):
    with pytest.raises(GraphApiError) as err:
        GRANT_FILTER.compile(text)
    assert err.value.status == 400 and err.value.code == "BadRequest" and err.value.message.startswith("Invalid filter clause")


def test_grant_filter_semantics():
    predicate = GRANT_FILTER.compile("clientId eq 'ABCDEF00-0000-0000-0000-000000000000' and consentType eq 'Principal'")
    assert predicate({"clientId": "abcdef00-0000-0000-0000-000000000000", "consentType": "Principal"})
    assert not predicate({"clientId": "abcdef00-0000-0000-0000-000000000000", "consentType": "principal"})
    lowercase = GRANT_FILTER.compile("consentType eq 'principal'")
    assert not lowercase({"consentType": "Principal"})  # consentType is case-sensitive (§2.3)


@pytest.mark.parametrize("text,message", [
    ("scope eq 'User.Read'", "Filter is invalid. scope"),
    ("id eq 'x'", "Filter is invalid. id"),
    ("principalId eq null", "Filter is invalid. principalId"),
])
def test_grant_filter_rejects(text, message):
    with pytest.raises(GraphApiError) as err:
        GRANT_FILTER.compile(text)
    assert (err.value.status, err.value.code, err.value.message) == (400, "Request_UnsupportedQuery", message)


def test_bare_guid_is_a_type_error():
    with pytest.raises(GraphApiError) as err:
        GRANT_FILTER.compile("clientId eq 263a5b01-03e5-408e-8557-bab681df104c")
    assert "incompatible types" in err.value.message


def test_service_principal_display_name_is_case_insensitive():
    predicate = SP_FILTER.compile("displayName eq 'contoso REPORTING'")
    assert predicate({"displayName": "Contoso Reporting"})


@pytest.mark.parametrize("value,expected", [("'abc'", (None, "abc")), ("appId='x'", ("appId", "x")), ("'o''neil@x'", (None, "o'neil@x")),
                                            ("1234", (None, "1234"))])
def test_parse_key(value, expected):
    assert odata.parse_key(value) == expected


def test_parse_segment():
    segment = odata.parse_segment("servicePrincipals(appId='00000003-0000-0000-c000-000000000000')")
    assert segment.lname == "serviceprincipals" and segment.key == "appId='00000003-0000-0000-c000-000000000000'"
    assert odata.parse_segment("$count").key is None


@pytest.mark.parametrize("value,top", [(None, 100), ("1", 1), ("999", 999)])
def test_top_ok(value, top):
    assert odata.parse_top(value) == top


@pytest.mark.parametrize("value", ["0", "1000", "-1", "abc", "1.5"])
def test_top_rejected(value):
    with pytest.raises(GraphApiError) as err:
        odata.parse_top(value)
    assert err.value.status == 400


def test_skiptoken_roundtrip_and_garbage():
    state = {"a": "some-id", "e": 1}
    assert odata.decode_skiptoken(odata.encode_skiptoken(state)) == state
    with pytest.raises(GraphApiError):
        odata.decode_skiptoken("not-a-token")


def test_query_options():
    opts = odata.parse_query("%24filter=clientId%20eq%20'a'&$top=5&custom=1", "v1.0")
    assert opts.get("filter") == "clientId eq 'a'" and opts.get("top") == "5"
    assert odata.parse_query("filter=x", "v1.0").get("filter") is None  # v1.0 needs the '$'
    assert odata.parse_query("filter=x", "beta").get("filter") == "x"
    with pytest.raises(GraphApiError):
        odata.parse_query("$top=1&$top=2", "v1.0")
    with pytest.raises(GraphApiError):
        odata.parse_query("$bogus=1", "v1.0")
