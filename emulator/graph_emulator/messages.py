"""Request/response value types shared by the HTTP layer, the token side, Graph and the control plane."""

import json
from dataclasses import dataclass, field
from typing import Any, Optional

JSON_CONTENT_TYPE = "application/json"
# What Graph sends on successful JSON responses (docs/dev/graph-behaviour.md#response-headers).
ODATA_JSON_CONTENT_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
TEXT_CONTENT_TYPE = "text/plain"


@dataclass
class Request:
    """One HTTP request (or one $batch item) as the emulator sees it."""

    method: str
    path: str  # raw, still percent-encoded
    query: str  # raw query string, without '?'
    headers: dict  # lower-cased names
    body: bytes = b""
    base_url: str = ""  # scheme://host:port the client addressed (used to build absolute links)

    def header(self, name: str, default: Optional[str] = None) -> Optional[str]:
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    """A response before serialisation. ``payload`` is JSON-able (or text for text/plain); None means no body."""

    status: int
    payload: Any = None
    headers: dict = field(default_factory=dict)
    content_type: Optional[str] = None
    drop: bool = False  # close the connection without answering (fault injection)
    fault: Optional[str] = None  # name of the fault that produced or altered this response, for the request log

    def body_bytes(self) -> bytes:
        if self.payload is None:
            return b""
        if isinstance(self.payload, bytes):
            return self.payload
        if isinstance(self.payload, str):
            return self.payload.encode("utf-8")
        return json.dumps(self.payload, separators=(",", ":")).encode("utf-8")

    def all_headers(self) -> dict:
        headers = dict(self.headers)
        if self.payload is not None:
            headers.setdefault("Content-Type", self.content_type or JSON_CONTENT_TYPE)
        return headers


def json_response(status: int, payload: Any, headers: Optional[dict] = None, content_type: str = JSON_CONTENT_TYPE) -> Response:
    return Response(status=status, payload=payload, headers=dict(headers or {}), content_type=content_type)


class GraphApiError(Exception):
    """A Graph error response: raised anywhere in request handling, rendered with the §4.1 envelope."""

    def __init__(self, status: int, code: str, message: str, headers: Optional[dict] = None, inner: Optional[dict] = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.inner = dict(inner or {})  # extra innerError members (the 429 body has code/status/message there)
