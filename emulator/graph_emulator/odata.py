"""OData URL handling: path segments and key literals, system query options, the ``$filter`` subset Graph
supports on the emulated collections, ``$select``, ``$top`` and opaque skip tokens.

Everything here is pure (no state). Errors are raised as ``messages.GraphApiError`` with Graph's codes.
"""

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import unquote, unquote_plus

from .messages import GraphApiError

SYSTEM_OPTIONS = ("filter", "select", "top", "count", "skiptoken", "search", "orderby", "skip", "expand", "format")
_GUID_TOKEN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_IDENT = re.compile(r"[A-Za-z_@][A-Za-z0-9_./@#]*")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_QUOTED = re.compile(r"^'((?:[^']|'')*)'$")
_SKIPTOKEN_MAGIC = b"EMU\x01"


def bad_request(message: str, code: str = "BadRequest") -> GraphApiError:
    return GraphApiError(400, code, message)


# ----------------------------------------------------------------------------- path
def split_path(raw_path: str) -> list:
    """Raw path -> decoded segments. Split before decoding so an encoded '/' stays inside its segment."""
    return [unquote(seg) for seg in raw_path.split("/") if seg]


@dataclass
class Segment:
    name: str  # as written, e.g. "servicePrincipals"
    key: Optional[str] = None  # text between the parentheses, or None

    @property
    def lname(self) -> str:
        return self.name.lower()


def parse_segment(decoded: str) -> Segment:
    match = re.match(r"^([^()]+)\((.*)\)$", decoded, re.S)
    if match and not decoded.startswith("$"):
        return Segment(match.group(1), match.group(2))
    return Segment(decoded)


def unquote_literal(text: str) -> Optional[str]:
    """``'o''neil'`` -> ``o'neil``; None when the text is not a single quoted OData string literal."""
    match = _QUOTED.match(text.strip())
    return match.group(1).replace("''", "'") if match else None


def parse_key(key_text: str):
    """Parse the inside of ``(...)``: ``'v'`` -> (None, 'v'); ``appId='v'`` -> ('appId', 'v'); bare -> (None, text)."""
    text = key_text.strip()
    literal = unquote_literal(text)
    if literal is not None:
        return None, literal
    if text.startswith("'"):  # e.g. an undoubled quote inside the literal: ('o'neil@...')
        raise bad_request("Bad Request - Error in query syntax.")
    match = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+)$", text, re.S)
    if match:
        value = unquote_literal(match.group(2))
        if value is None:
            raise bad_request(f"Bad Request - Error in query syntax. The key value '{match.group(2)}' is not a valid literal.")
        return match.group(1), value
    return None, text


# ---------------------------------------------------------------------- query options
@dataclass
class QueryOptions:
    options: dict = field(default_factory=dict)  # canonical name (without '$') -> decoded value
    raw_pairs: list = field(default_factory=list)  # (decoded name, raw "name=value" text) in request order

    def get(self, name: str) -> Optional[str]:
        return self.options.get(name)

    def without_skiptoken(self) -> list:
        return [raw for name, raw in self.raw_pairs if _option_name(name, True) != "skiptoken"]


def _option_name(name: str, allow_bare: bool) -> Optional[str]:
    """Canonical system option name for a query parameter name, or None for a custom parameter."""
    lowered = name.lower()
    if lowered.startswith("$"):
        return lowered[1:]
    if allow_bare and lowered in SYSTEM_OPTIONS:  # beta accepts options without '$' (docs/dev/graph-behaviour.md#odata-literals)
        return lowered
    return None


def parse_query(raw_query: str, version: str) -> QueryOptions:
    result = QueryOptions()
    for part in raw_query.split("&") if raw_query else []:
        if not part:
            continue
        raw_name, raw_value = part.partition("=")[::2]
        name = unquote_plus(raw_name)
        result.raw_pairs.append((name, part))
        canonical = _option_name(name, version == "beta")
        if canonical is None:
            continue  # custom parameters are ignored, as Graph does
        if canonical not in SYSTEM_OPTIONS:
            raise bad_request(f"The query parameter '{name}' is not supported.")
        if canonical in result.options:
            raise bad_request(f"Query option '${canonical}' was specified more than once, but it must be specified at most once.")
        result.options[canonical] = unquote_plus(raw_value)
    return result


def parse_top(value: Optional[str], default: int = 100) -> int:
    if value is None:
        return default
    if not re.fullmatch(r"-?[0-9]+", value.strip()):
        raise bad_request(f"Invalid value '{value}' for $top query option found. The $top query option requires a non-negative integer value.")
    top = int(value)
    if top < 1 or top > 999:
        raise bad_request(f"Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive.", code="Request_BadRequest")
    return top


def parse_count(value: Optional[str]) -> bool:
    if value is None:
        return False
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise bad_request(f"'{value}' is not a valid count option.")
    return lowered == "true"


def parse_select(value: Optional[str], allowed: dict, type_name: str) -> Optional[list]:
    """``$select`` -> list of canonical property names (None = all). ``allowed`` maps lower name -> canonical."""
    if value is None or not value.strip():
        return None
    out = []
    for item in value.split(","):
        name = item.strip()
        if name == "*":
            return None
        canonical = allowed.get(name.lower())
        if canonical is None:
            raise bad_request(f"Could not find a property named '{name}' on type '{type_name}'.")
        if canonical not in out:
            out.append(canonical)
    return out


def apply_select(entity: dict, select: Optional[list]) -> dict:
    if select is None:
        return entity
    return {k: v for k, v in entity.items() if k in select}


# ----------------------------------------------------------------------- skip tokens
def encode_skiptoken(state: dict) -> str:
    raw = _SKIPTOKEN_MAGIC + json.dumps(state, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_skiptoken(token: str) -> dict:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        if not raw.startswith(_SKIPTOKEN_MAGIC):
            raise ValueError("not an emulator skip token")
        state = json.loads(raw[len(_SKIPTOKEN_MAGIC):])
        if not isinstance(state, dict):
            raise ValueError("bad skip token")
        return state
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise bad_request("Invalid paging token (skip token).", code="Request_BadRequest") from exc


# --------------------------------------------------------------------------- $filter
@dataclass
class Literal:
    kind: str  # string, guid, null, bool, number, list
    value: Any
    text: str


@dataclass
class Comparison:
    prop: str
    op: str
    value: Literal


class FilterSyntaxError(Exception):
    def __init__(self, position: int):
        super().__init__(position)
        self.position = position


class FilterUnsupported(Exception):
    """A well-formed filter that uses something the collection does not support (``prop`` when known)."""

    def __init__(self, prop: Optional[str]):
        super().__init__(prop)
        self.prop = prop


@dataclass
class _Token:
    kind: str  # string, guid, ident, number, lparen, rparen, comma, end
    text: str
    pos: int
    value: Any = None


def _tokenize(text: str) -> list:
    tokens, pos = [], 0
    while pos < len(text):
        char = text[pos]
        if char.isspace():
            pos += 1
        elif char in "(),":
            tokens.append(_Token({"(": "lparen", ")": "rparen", ",": "comma"}[char], char, pos))
            pos += 1
        elif char == "'":
            end, chars = pos + 1, []
            while True:
                if end >= len(text):
                    raise FilterSyntaxError(pos)
                if text[end] == "'":
                    if end + 1 < len(text) and text[end + 1] == "'":  # '' is an escaped quote
                        chars.append("'")
                        end += 2
                        continue
                    break
                chars.append(text[end])
                end += 1
            tokens.append(_Token("string", text[pos:end + 1], pos, "".join(chars)))
            pos = end + 1
        else:
            for kind, pattern in (("guid", _GUID_TOKEN), ("number", _NUMBER), ("ident", _IDENT)):
                match = pattern.match(text, pos)
                if match and (kind != "number" or not _IDENT.match(text, match.end())):
                    tokens.append(_Token(kind, match.group(0), pos, match.group(0)))
                    pos = match.end()
                    break
            else:
                raise FilterSyntaxError(pos)
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _FilterParser:
    """Recursive descent over the OData boolean grammar, keeping only conjunctions of comparisons."""

    COMPARISON_OPS = ("eq", "ne", "gt", "ge", "lt", "le", "in", "has")

    def __init__(self, text: str):
        self.tokens = _tokenize(text)
        self.index = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, kind: str) -> _Token:
        token = self.take()
        if token.kind != kind:
            raise FilterSyntaxError(token.pos)
        return token

    def parse(self) -> list:
        clauses = self.parse_and()
        token = self.peek()
        if token.kind == "ident" and token.text.lower() == "or":
            raise FilterUnsupported(clauses[0].prop if clauses else None)
        if token.kind != "end":
            raise FilterSyntaxError(token.pos)
        return clauses

    def parse_and(self) -> list:
        clauses = self.parse_primary()
        while self.peek().kind == "ident" and self.peek().text.lower() == "and":
            self.take()
            clauses += self.parse_primary()
        return clauses

    def parse_primary(self) -> list:
        token = self.peek()
        if token.kind == "lparen":
            self.take()
            clauses = self.parse_and()
            if self.peek().kind == "ident" and self.peek().text.lower() == "or":
                raise FilterUnsupported(clauses[0].prop if clauses else None)
            self.expect("rparen")
            return clauses
        if token.kind != "ident":
            raise FilterSyntaxError(token.pos)
        self.take()
        if token.text.lower() == "not":
            raise FilterUnsupported(None)
        if self.peek().kind == "lparen" and token.text.lower() == "startswith" \
                and [t.kind for t in self.tokens[self.index:self.index + 5]] == ["lparen", "ident", "comma", "string", "rparen"]:
            prop, literal = self.tokens[self.index + 1], self.tokens[self.index + 3]
            self.index += 5  # collections that support no function refuse it by its property, as before
            return [Comparison(prop.text, "startswith", Literal("string", literal.value, literal.text))]
        if self.peek().kind == "lparen":  # another function call, or a lambda
            self.skip_balanced()
            raise FilterUnsupported(self.first_ident_after(token))
        op_token = self.take()
        if op_token.kind != "ident" or op_token.text.lower() not in self.COMPARISON_OPS:
            raise FilterSyntaxError(op_token.pos)
        value = self.parse_value()
        return [Comparison(token.text, op_token.text.lower(), value)]

    def parse_value(self) -> Literal:
        token = self.take()
        if token.kind == "string":
            return Literal("string", token.value, token.text)
        if token.kind == "guid":
            return Literal("guid", token.value, token.text)
        if token.kind == "number":
            return Literal("number", token.value, token.text)
        if token.kind == "ident" and token.text.lower() in ("null", "true", "false"):
            lowered = token.text.lower()
            return Literal("null" if lowered == "null" else "bool", None if lowered == "null" else lowered == "true", token.text)
        if token.kind == "lparen":  # the list of an 'in' operator
            items = [self.parse_value()]
            while self.peek().kind == "comma":
                self.take()
                items.append(self.parse_value())
            self.expect("rparen")
            return Literal("list", items, "(...)")
        raise FilterSyntaxError(token.pos)

    def skip_balanced(self):
        depth = 0
        while True:
            token = self.take()
            if token.kind == "end":
                raise FilterSyntaxError(token.pos)
            if token.kind == "lparen":
                depth += 1
            elif token.kind == "rparen":
                depth -= 1
                if depth == 0:
                    return

    def first_ident_after(self, function_token: _Token) -> str:
        start = self.tokens.index(function_token)
        for token in self.tokens[start + 1:self.index]:
            if token.kind == "ident":
                return token.text
        return function_token.text


def parse_filter(text: str) -> list:
    """Parse ``$filter`` into a list of comparisons that must all hold (raises FilterSyntaxError/FilterUnsupported)."""
    return _FilterParser(text).parse()


@dataclass
class FilterSchema:
    """Which properties a collection can filter on, and how values compare.

    ``properties`` maps lower-case name -> (canonical name, mode); mode is ``guid`` (case-insensitive GUID text),
    ``ci`` (case-insensitive string) or ``cs`` (case-sensitive string).
    """

    properties: dict
    unsupported: Any  # callable(prop or None) -> GraphApiError

    def compile(self, text: Optional[str]) -> "CompiledFilter":
        """A predicate over entities (matching everything when there is no filter)."""
        if text is None or not text.strip():
            return CompiledFilter([])
        try:
            clauses = parse_filter(text)
        except FilterSyntaxError as exc:
            raise bad_request(f"Invalid filter clause: Syntax error at position {exc.position} in '{text}'.") from exc
        except FilterUnsupported as exc:
            raise self.unsupported(exc.prop) from exc
        checks = []
        for clause in clauses:
            spec = self.properties.get(clause.prop.lower())
            if spec is None or clause.op != "eq" or clause.value.kind == "null":
                raise self.unsupported(clause.prop)
            canonical, mode = spec
            if clause.value.kind != "string":
                edm = {"guid": "Edm.Guid", "number": "Edm.Int32", "bool": "Edm.Boolean", "list": "Collection"}[clause.value.kind]
                raise bad_request("A binary operator with incompatible types was detected. "
                                  f"Found operand types 'Edm.String' and '{edm}' for operator kind 'Equal'.")
            checks.append((canonical, mode, clause.value.value))
        return CompiledFilter(checks)


@dataclass
class CompiledFilter:
    """A conjunction of ``property eq 'value'`` checks: (canonical name, compare mode, wanted value)."""

    checks: list

    def __call__(self, entity: dict) -> bool:
        for canonical, mode, wanted in self.checks:
            actual = entity.get(canonical)
            if not isinstance(actual, str):
                return False
            if mode == "cs":
                if actual != wanted:
                    return False
            elif actual.lower() != wanted.lower():
                return False
        return True

    def values_of(self, prop: str) -> list:
        return [wanted for canonical, _mode, wanted in self.checks if canonical == prop]
