"""JSON batching, ``POST /{version}/$batch`` (docs/dev/graph-behaviour.md#batch).

Items run one by one through ``GraphApi.run_operation`` (the same router, the same per-operation faults: a batch
counts as N requests for throttling), in dependency order. The envelope answers 200 whenever it is well formed
(424 when an item is throttled, under the ``batch_envelope_on_throttle: 424`` reading).
"""

import base64
import binascii
import dataclasses
import json
import random
import time

from .messages import JSON_CONTENT_TYPE, GraphApiError, Request, Response
from .directory_objects import is_read_only_post
from .faults import WRITE_METHODS

MAX_BATCH_REQUESTS = 20
ITEM_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")


def _bad(message: str) -> GraphApiError:
    return GraphApiError(400, "BadRequest", message)


def _parse_envelope(ctx) -> list:
    try:
        body = json.loads(ctx.request.body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.") from exc
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list) or not body["requests"]:
        raise _bad("Invalid batch payload format: a non-empty 'requests' array is required.")
    items = body["requests"]
    if len(items) > MAX_BATCH_REQUESTS:
        raise _bad(f"Invalid batch payload format: the batch holds {len(items)} requests; the maximum is {MAX_BATCH_REQUESTS}.")
    seen = set()
    for item in items:
        _check_item(item)
        if item["id"].lower() in seen:  # ids are not case-sensitive (§8)
            raise _bad(f"Invalid batch payload format: duplicate request id '{item['id']}'.")
        seen.add(item["id"].lower())
    for item in items:
        for dep in item.get("dependsOn") or []:
            if dep.lower() not in seen or dep.lower() == item["id"].lower():
                raise _bad(f"Invalid batch payload format: request '{item['id']}' depends on unknown request '{dep}'.")
    return items


def _check_item(item):
    if not isinstance(item, dict):
        raise _bad("Invalid batch payload format: each request must be an object.")
    item_id = item.get("id")
    if not isinstance(item_id, str) or not item_id:
        raise _bad("Invalid batch payload format: every request needs a string 'id'.")
    if not isinstance(item.get("method"), str) or item["method"].upper() not in ITEM_METHODS:
        raise _bad(f"Invalid batch payload format: request '{item_id}' has no valid 'method'.")
    if not isinstance(item.get("url"), str) or not item["url"]:
        raise _bad(f"Invalid batch payload format: request '{item_id}' has no 'url'.")
    headers = item.get("headers") or {}
    if not isinstance(headers, dict):
        raise _bad(f"Invalid batch payload format: 'headers' of request '{item_id}' must be an object.")
    if item.get("body") is not None and not any(k.lower() == "content-type" for k in headers):
        raise _bad(f"Invalid batch payload format: request '{item_id}' has a body but no Content-Type header.")
    depends = item.get("dependsOn") or []
    if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
        raise _bad(f"Invalid batch payload format: 'dependsOn' of request '{item_id}' must be an array of ids.")


def _execution_order(items: list) -> list:
    """Dependencies first; otherwise the order given. A cycle makes the batch invalid."""
    done, order = set(), []
    pending = list(items)
    while pending:
        for item in pending:
            if all(dep.lower() in done for dep in item.get("dependsOn") or []):
                order.append(item)
                done.add(item["id"].lower())
                pending.remove(item)
                break
        else:
            raise _bad("Invalid batch payload format: the dependsOn references form a cycle.")
    return order


def _item_request(item: dict, envelope: Request) -> Request:
    url = item["url"].strip()
    if "://" in url:
        raise _bad("Invalid request URL: batch request URLs must be relative to the version root.")
    path, query = url.lstrip("/").partition("?")[::2]
    headers = {k.lower(): str(v) for k, v in (item.get("headers") or {}).items()}
    headers.pop("authorization", None)  # items always run as the caller of the envelope
    headers["authorization"] = envelope.header("authorization") or ""
    body = item.get("body")
    if body is None:
        raw = b""
    elif isinstance(body, str) and "json" not in headers.get("content-type", ""):
        try:
            raw = base64.b64decode(body)
        except (binascii.Error, ValueError) as exc:
            raise _bad("Invalid batch payload format: a non-JSON body must be base64.") from exc
    else:
        raw = json.dumps(body).encode("utf-8")
    return Request(item["method"].upper(), "/" + path, query, headers, raw, envelope.base_url)


def _item_payload(item_id: str, response: Response) -> dict:
    headers = {"Cache-Control": "no-cache", "x-ms-resource-unit": "1"}
    if response.payload is not None:
        headers["Content-Type"] = response.content_type or JSON_CONTENT_TYPE
        if headers["Content-Type"].startswith("application/json"):
            headers["OData-Version"] = "4.0"
    for name, value in response.headers.items():
        if name.lower() in ("retry-after", "location", "www-authenticate", "x-ms-throttle-scope", "x-ms-throttle-information",
                            "x-ms-resource-unit"):
            headers[name] = value
    out = {"id": item_id, "status": response.status, "headers": headers}
    if response.payload is not None:
        out["body"] = response.payload
    return out


def _run_item(api, ctx, item: dict, failed: set) -> Response:
    try:
        item_request = _item_request(item, ctx.request)
    except GraphApiError as err:
        return api.error_response(ctx, err)
    item_ctx = dataclasses.replace(ctx, request=item_request, in_batch=True,
                                   client_request_id=item_request.header("client-request-id") or ctx.client_request_id)
    if any(dep.lower() in failed for dep in item.get("dependsOn") or []):
        return api.error_response(item_ctx, GraphApiError(424, "FailedDependency", "A request this request depends on failed."))
    return api.run_operation(item_ctx)


def run_batch(api, ctx, envelope_seq: int) -> Response:
    """Run a JSON batch. ``ctx`` is the envelope's GraphContext (already authenticated)."""
    if ctx.method != "POST":
        return api.error_response(ctx, GraphApiError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target."))
    try:
        items = _parse_envelope(ctx)
        order = _execution_order(items)
    except GraphApiError as err:
        return api.error_response(ctx, err)
    results, failed, drop = {}, set(), False
    for item in order:
        started = time.time()
        seq = api.app.log.reserve_seq()
        method = item["method"].upper()
        response = _run_item(api, ctx, item, failed)
        if response.drop:  # apply_then_fail 'drop' on an item: the whole HTTP answer is lost
            drop = True
        if response.status >= 400:
            failed.add(item["id"].lower())
        results[item["id"]] = response
        path, query = item["url"].strip().lstrip("/").partition("?")[::2]
        api.app.record(seq=seq, kind="batch_item", started=started, method=method, path=f"/{ctx.version}/{path}", query=query,
                       status=response.status, write=method in WRITE_METHODS and not is_read_only_post(method, "/" + path),
                       batch=envelope_seq, fault=response.fault,
                       body=item.get("body"), request_id=ctx.request_id)
    responses = [_item_payload(item["id"], results[item["id"]]) for item in items]
    if api.app.faults.get("shuffle_batch"):
        random.shuffle(responses)
    # The batching page says 200; the throttling page says a batch with throttled items "fails with a status code of
    # 424" (batch_envelope_on_throttle picks the reading). The body is the same either way.
    status = 200
    if any(result.status == 429 for result in results.values()):
        status = api.app.faults.get("batch_envelope_on_throttle")
    envelope = Response(status, {"responses": responses}, content_type=JSON_CONTENT_TYPE)
    envelope.drop = drop
    return envelope
