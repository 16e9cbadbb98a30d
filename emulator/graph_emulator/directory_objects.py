"""``POST /directoryObjects/getByIds``: directory objects by id, up to 1,000 a call
(https://learn.microsoft.com/graph/api/directoryobject-getbyids).

As documented: the body names ``ids`` (GUIDs, at most 1,000) and optionally ``types`` (the resource collections to
search); ids that name no object (of those types) are left out of the answer, which lists the others, each with its
``@odata.type``; the least privileged application permission is ``Directory.Read.All``. A read that is sent as POST:
the request log does not count it as a write.
"""

from .messages import ODATA_JSON_CONTENT_TYPE, GraphApiError, Response

MAX_IDS = 1000
READ_ROLES = frozenset({"Directory.Read.All", "Directory.ReadWrite.All"})
# types the emulator holds; other documented types (group, device, ...) are accepted and find nothing.
KNOWN_TYPES = ("serviceprincipal", "user", "group", "device", "application", "directoryobjectpartnerreference",
               "orgcontact", "directoryrole", "administrativeunit")


def is_read_only_post(method: str, path: str) -> bool:
    """True for a POST that only reads (logged as a read, not a write)."""
    return method.upper() == "POST" and path.rstrip("/").lower().endswith("/directoryobjects/getbyids")


def route(api, ctx, segments) -> Response:
    """``/directoryObjects/getByIds`` (anything else under ``/directoryObjects`` is not served by the emulator)."""
    if len(segments) != 2 or segments[1].lname not in ("getbyids", "microsoft.graph.getbyids"):
        raise GraphApiError(400, "Request_BadRequest", "The emulator serves only /directoryObjects/getByIds.")
    if ctx.method != "POST":
        raise GraphApiError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
    if not set(ctx.claims.get("roles") or []) & READ_ROLES:
        raise GraphApiError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    body = api.json_body(ctx)
    ids, types = body.get("ids"), body.get("types")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise GraphApiError(400, "Request_BadRequest", "ids must be a collection of strings.")
    if len(ids) > MAX_IDS:
        raise GraphApiError(400, "Request_BadRequest", f"The number of ids exceeds the maximum of {MAX_IDS}.")
    if types is None:
        wanted = set(KNOWN_TYPES)
    elif not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise GraphApiError(400, "Request_BadRequest", "types must be a collection of strings.")
    else:
        wanted = set(t.lower().replace("microsoft.graph.", "") for t in types)
        unknown = sorted(wanted - set(KNOWN_TYPES))
        if unknown:
            raise GraphApiError(400, "Request_BadRequest", f"Invalid type '{unknown[0]}'.")
    from .directory_api import render_service_principal, render_user  # pylint: disable=import-outside-toplevel
    directory = api.app.directory
    value = []
    for object_id in ids:
        key = object_id.strip().lower()
        sp = directory.service_principal(key) if "serviceprincipal" in wanted else None
        if sp is not None:
            value.append(dict({"@odata.type": "#microsoft.graph.servicePrincipal"}, **render_service_principal(sp, ctx.version)))
            continue
        user = directory.user(key) if "user" in wanted else None
        if user is not None:
            value.append(dict({"@odata.type": "#microsoft.graph.user"}, **render_user(user, None)))
    payload = {"@odata.context": api.context_url(ctx, "directoryObjects"), "value": value}
    return Response(200, payload, content_type=ODATA_JSON_CONTENT_TYPE)
