"""Graph ``/v1.0`` and ``/beta``: the request pipeline, routing, authorization, and the query, paging and error helpers
the resource handlers share (docs/dev/graph-behaviour.md; emulator choices in docs/dev/emulator.md).

``GraphApi.handle`` serves one HTTP request (authentication, then either one operation or a ``$batch``);
``GraphApi.run_operation`` serves one operation (request-level faults, routing, the handler, apply-then-fail),
and is what ``$batch`` items go through too. The handlers live in their own modules, each a class taking the
GraphApi: grants_api.py (``/oauth2PermissionGrants``), directory_api.py (``/servicePrincipals``, ``/users``),
consent.py (``/applications``, app role assignments), drives.py, and directory_objects.py.
"""

import datetime
import json
import uuid
from dataclasses import dataclass
from typing import Optional
from urllib.parse import parse_qsl

from . import batch, directory_objects, odata, throttle
from .messages import ODATA_JSON_CONTENT_TYPE, TEXT_CONTENT_TYPE, GraphApiError, Request, Response
from .faults import Failure, Throttle, WRITE_METHODS

VERSIONS = ("v1.0", "beta")
METHOD_NOT_ALLOWED_MESSAGE = "Specified HTTP method is not allowed for the request target."


def not_found(identifier: str) -> GraphApiError:
    return GraphApiError(404, "Request_ResourceNotFound",
                         f"Resource '{identifier}' does not exist or one of its queried reference-property objects are not present.")


def segment_not_found(name: str) -> GraphApiError:
    return GraphApiError(400, "BadRequest", f"Resource not found for the segment '{name}'.")


def method_not_allowed() -> GraphApiError:
    return GraphApiError(405, "Request_BadRequest", METHOD_NOT_ALLOWED_MESSAGE)


def selectable_names(names) -> dict:
    """``$select`` names a type accepts, by their lower-case form (the option is case-insensitive)."""
    return {name.lower(): name for name in names}


@dataclass
class GraphContext:
    """One Graph operation: the request with the version stripped from its path, plus who is calling."""

    request: Request  # .path is relative to the version root, e.g. "/oauth2PermissionGrants"
    version: str
    claims: dict
    request_id: str
    client_request_id: str
    in_batch: bool = False

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def full_path(self) -> str:
        return f"/{self.version}{self.request.path}"


def _iso_utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


class GraphApi:
    """Graph request handling. ``app`` is the server's Emulator (directory, lock, faults, tokens, log)."""

    def __init__(self, app):
        self.app = app
        # The handler modules build on this one, so they are imported here rather than at the top.
        # pylint: disable=import-outside-toplevel
        from .consent import ConsentApi
        from .directory_api import DirectoryApi
        from .drives import DriveApi
        from .grants_api import GrantsApi
        self.consent = ConsentApi(self)
        self.directory_sets = DirectoryApi(self)
        self.drives = DriveApi(self)
        self.grants = GrantsApi(self)

    # ================================================================ entry points
    def handle(self, request: Request, seq: int) -> Response:
        """One HTTP request under /v1.0 or /beta (``request.path`` still includes the version)."""
        request_id = str(uuid.uuid4())
        client_request_id = request.header("client-request-id") or request_id
        version, rest = request.path.lstrip("/").partition("/")[::2]
        version = version.lower()
        inner = Request(request.method, "/" + rest, request.query, request.headers, request.body, request.base_url)
        ctx = GraphContext(inner, version, {}, request_id, client_request_id)
        try:
            ctx.claims = self.app.tokens.validate_bearer(request.header("authorization"))
        except GraphApiError as err:
            return self.finish(ctx, self.error_response(ctx, err))
        segments = odata.split_path(inner.path)
        if len(segments) == 1 and segments[0].lower() == "$batch":
            return self.finish(ctx, batch.run_batch(self, ctx, seq))
        return self.finish(ctx, self.run_operation(ctx))

    def run_operation(self, ctx: GraphContext) -> Response:
        """Faults that hit a single operation, then the handler, then apply-then-fail for writes."""
        fault = self.app.faults.take_operation_fault(ctx.method, ctx.full_path)
        retry_after = throttle.check(ctx, self.app.faults)  # the throttling model: one operation of the app's budget
        if retry_after is not None and fault is None:
            fault = Throttle(str(retry_after))
        if isinstance(fault, Throttle):
            return self.throttled_response(ctx, fault)
        if isinstance(fault, Failure):
            err = self.server_error(fault.status)
            if fault.retry_after is not None:
                err.headers["Retry-After"] = fault.retry_after
            response = self.error_response(ctx, err)
            response.fault = f"fail_next:{fault.status}"
            return response
        try:
            with self.app.lock:
                response = self.dispatch(ctx)
        except GraphApiError as err:
            return self.error_response(ctx, err)
        if ctx.method in WRITE_METHODS and 200 <= response.status < 300:
            mode = self.app.faults.take_apply_then_fail(ctx.method, ctx.full_path)
            if mode == "drop":
                response.drop = True
                response.fault = "apply_then_fail:drop"
            elif mode is not None:
                response = self.error_response(ctx, self.server_error(int(mode)))
                response.fault = f"apply_then_fail:{mode}"
        return response

    # ============================================================ response shaping
    def error_response(self, ctx: GraphContext, err: GraphApiError) -> Response:
        inner = {"date": _iso_utc_now(), "request-id": ctx.request_id, "client-request-id": ctx.client_request_id}
        inner.update(err.inner)
        payload = {"error": {"code": err.code, "message": err.message, "innerError": inner}}
        return Response(err.status, payload, dict(err.headers), content_type="application/json")

    def throttled_response(self, ctx: GraphContext, throttle: Throttle) -> Response:
        err = GraphApiError(429, "TooManyRequests", "Please retry again later.",
                            inner={"code": "429", "message": "Please retry after", "status": "429"})
        appid = ctx.claims.get("appid", "")
        err.headers.update({"x-ms-throttle-scope": f"Tenant_Application/ReadWrite/{appid}/{ctx.claims.get('tid', '')}",
                            "x-ms-throttle-information": "ResourceUnitLimitExceeded"})
        if throttle.retry_after is not None:
            err.headers["Retry-After"] = throttle.retry_after
        response = self.error_response(ctx, err)
        response.fault = "throttle"
        return response

    @staticmethod
    def server_error(status: int) -> GraphApiError:
        if status == 500:
            return GraphApiError(500, "Service_InternalServerError", "Encountered an internal server error.")
        if status == 504:
            return GraphApiError(504, "gatewayTimeout", "The gateway did not receive a timely response from the upstream service.")
        return GraphApiError(503, "serviceNotAvailable", "The service is temporarily unavailable. Please retry later.")

    def finish(self, ctx: GraphContext, response: Response) -> Response:
        """Headers every top-level Graph response carries (§3.7)."""
        headers = {
            "Cache-Control": "no-cache",
            "Strict-Transport-Security": "max-age=31536000",
            "request-id": ctx.request_id,
            "client-request-id": ctx.client_request_id,
            "x-ms-ags-diagnostic": json.dumps({"ServerInfo": {"DataCenter": "Emulator", "Slice": "E", "Ring": "0", "ScaleUnit": "000",
                                                              "RoleInstance": "GRAPH-EMULATOR"}}, separators=(",", ":")),
            "x-ms-resource-unit": "1",
        }
        if response.payload is not None and (response.content_type or "").startswith("application/json"):
            headers["OData-Version"] = "4.0"
        headers.update(response.headers)
        response.headers = headers
        return response

    def root(self, ctx: GraphContext) -> str:
        """Host used in @odata.context/@odata.id: the emulator, or the cloud's Graph root (``cloud`` knob)."""
        cloud = self.app.faults.get("cloud")
        return self.app.cloud_root(cloud) if cloud else ctx.request.base_url

    def context_url(self, ctx: GraphContext, fragment: str) -> str:
        return f"{self.root(ctx)}/{ctx.version}/$metadata#{fragment}"

    # ================================================================== routing
    def dispatch(self, ctx: GraphContext) -> Response:
        if ctx.version not in VERSIONS:
            raise GraphApiError(400, "BadRequest", f"Invalid version: {ctx.version}")
        segments = [odata.parse_segment(s) for s in odata.split_path(ctx.request.path)]
        if not segments:
            return self.service_document(ctx)
        first = segments[0].lname
        drive_response = self.drives.route(ctx)  # drives, and users/groups/sites .../drive (drives.py)
        if drive_response is not None:
            return drive_response
        if first == "oauth2permissiongrants":
            return self.grants.route(ctx, segments)
        if first == "serviceprincipals":
            return self.directory_sets.route(ctx, segments, self.directory_sets.service_principal_set())
        if first == "users":
            return self.directory_sets.route(ctx, segments, self.directory_sets.user_set())
        if first == "applications":
            return self.directory_sets.route(ctx, segments, self.consent.application_set())
        if first == "directoryobjects":
            return directory_objects.route(self, ctx, segments)
        if first == "me":
            raise GraphApiError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
        if first == "$batch":
            raise GraphApiError(400, "BadRequest", "Nested batch requests are not supported.")
        if first == "$metadata":
            raise GraphApiError(501, "NotImplemented", "The emulator does not serve $metadata.")
        raise segment_not_found(segments[0].name)

    def service_document(self, ctx: GraphContext) -> Response:
        if ctx.method != "GET":
            raise method_not_allowed()
        sets = ("applications", "oauth2PermissionGrants", "servicePrincipals", "users")
        payload = {"@odata.context": f"{self.root(ctx)}/{ctx.version}/$metadata",
                   "value": [{"name": name, "kind": "EntitySet", "url": name} for name in sets]}
        return Response(200, payload, content_type=ODATA_JSON_CONTENT_TYPE)

    def require(self, ctx: GraphContext, roles: frozenset):
        if not set(ctx.claims.get("roles") or []) & roles:
            raise GraphApiError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")

    def require_get(self, ctx: GraphContext, roles: frozenset):
        if ctx.method != "GET":
            raise method_not_allowed()
        self.require(ctx, roles)

    # ============================================================ query helpers
    def query(self, ctx: GraphContext) -> odata.QueryOptions:
        opts = odata.parse_query(ctx.request.query, ctx.version)
        if opts.get("search") is not None:
            if self.app.faults.get("search_status") == 500:
                raise GraphApiError(500, "Service_InternalServerError", "Encountered an internal server error.")
            raise GraphApiError(400, "Request_UnsupportedQuery", "Search is not supported on this resource.")
        if opts.get("orderby") is not None:
            raise GraphApiError(400, "Request_UnsupportedQuery", "Sorting not supported for current query.")
        if opts.get("skip") is not None:
            raise GraphApiError(400, "Request_BadRequest", "'$skip' is not supported by the service.")
        if opts.get("expand") is not None:
            raise GraphApiError(400, "Request_UnsupportedQuery", "The query option '$expand' is not supported by the emulator.")
        return opts

    def wants_count(self, ctx: GraphContext, opts: odata.QueryOptions) -> bool:
        # Without ConsistencyLevel: eventual, $count=true is silently ignored (aad-advanced-queries, "Error handling").
        return odata.parse_count(opts.get("count")) and self.eventual(ctx)

    @staticmethod
    def eventual(ctx: GraphContext) -> bool:
        return (ctx.request.header("consistencylevel") or "").strip().lower() == "eventual"

    @staticmethod
    def set_fragment(entity_set: str, select: Optional[list]) -> str:
        return f"{entity_set}({','.join(select)})" if select else entity_set

    def page(self, ctx, opts, items: list, key, render, select, context_fragment: str, count: bool) -> Response:
        """One page of a collection with keyset paging, optional inserted empty pages, and an absolute nextLink."""
        top = odata.parse_top(opts.get("top"))
        page_size = self.app.faults.get("page_size")
        if page_size:  # the server's own page size wins over $top (any collection may page, paging docs)
            top = min(top, page_size)
        token = opts.get("skiptoken")
        state = odata.decode_skiptoken(token) if token else {}
        after, empties = state.get("a"), state.get("e", 0)
        if not isinstance(after, (str, type(None))) or not isinstance(empties, int):
            raise GraphApiError(400, "Request_BadRequest", "Invalid paging token (skip token).")
        remaining = [item for item in items if after is None or key(item) > after]
        payload = {"@odata.context": self.context_url(ctx, context_fragment)}
        if count and not token:
            payload["@odata.count"] = len(items) + self.app.faults.get("count_offset")
        inserted = self.app.faults.get("empty_page_with_nextlink")
        if inserted and empties < inserted:
            page, next_state = [], {"a": after, "e": empties + 1}
        else:
            page = remaining[:top]
            next_state = {"a": key(page[-1]), "e": 0} if len(remaining) > top else None
        if next_state is not None:
            query = "&".join(opts.without_skiptoken() + [f"$skiptoken={odata.encode_skiptoken(next_state)}"])
            payload["@odata.nextLink"] = f"{ctx.request.base_url}/{ctx.version}{ctx.request.path}?{query}"
        payload["value"] = [odata.apply_select(render(item), select) for item in page]
        return Response(200, payload, content_type=ODATA_JSON_CONTENT_TYPE)

    def entity_response(self, ctx, entity: dict, entity_set: str, selectable: dict, type_name: str, extra: Optional[dict] = None) -> Response:
        opts = self.query(ctx)
        select = odata.parse_select(opts.get("select"), selectable, type_name)
        payload = {"@odata.context": self.context_url(ctx, self.set_fragment(entity_set, select) + "/$entity")}
        if extra and select is None:
            payload.update(extra)
        payload.update(odata.apply_select(entity, select))
        return Response(200, payload, content_type=ODATA_JSON_CONTENT_TYPE)

    def count_collection(self, ctx, items: list, schema: odata.FilterSchema) -> Response:
        if not self.eventual(ctx):
            raise GraphApiError(400, "Request_BadRequest",
                                "Raw count (/$count) is not supported because the 'ConsistencyLevel:eventual' header is missing. "
                                "Refer to https://aka.ms/graph-docs/advanced-queries for more information")
        opts = self.query(ctx)
        predicate = schema.compile(opts.get("filter"))
        return Response(200, str(sum(1 for item in items if predicate(item))), content_type=TEXT_CONTENT_TYPE)

    @staticmethod
    def json_body(ctx: GraphContext) -> dict:
        if not ctx.request.body.strip():
            raise GraphApiError(400, "BadRequest", "Empty Payload. JSON content expected.")
        try:
            body = json.loads(ctx.request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise GraphApiError(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and "
                                                   "payload is of valid JSON format.") from exc
        if not isinstance(body, dict):
            raise GraphApiError(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and "
                                                   "payload is of valid JSON format.")
        return body

    def replication(self) -> tuple:
        """The replication knobs a write hands to the store (grants and app role assignments alike)."""
        faults = self.app.faults
        return faults.get("replication_delay_reads"), faults.get("replication_delay_seconds")


def query_dict(raw_query: str) -> dict:
    """Decoded query parameters for the request log (last value wins)."""
    return dict(parse_qsl(raw_query, keep_blank_values=True))
