"""Readings of Graph where Microsoft's sources are silent or disagree: the decisions behind the reading knobs of
``faults.py`` (``navigation_filter``, ``listing_completeness``, ``batch_special_user_names``, ``duplicate_message``,
``write_lag_seconds``). docs/dev/emulator.md ("Readings") names the public source of each reading.

Pure functions over knob values, so the handlers (grants_api.py, directory_api.py, consent.py) only ask "what does this reading do here?".
"""

import time
from typing import Optional

from .messages import GraphApiError

# The message Graph gives with Request_UnsupportedQuery when a query option is refused as a whole.
UNSUPPORTED_QUERY = "Unsupported Query."
OTHER_DUPLICATE_MESSAGE = "Another object with the same value for property clientId already exists."
PERMISSION_ENTRY_MESSAGE = "Permission entry already exists."


def navigation_filter(mode: str, filter_text: Optional[str]) -> Optional[str]:
    """The ``$filter`` a grants navigation applies under ``navigation_filter``: honoured (as sent), ignored (None:
    every grant of the owner), rejected (400 before anything is read). Only a request that has a filter changes."""
    if filter_text is None or not filter_text.strip() or mode == "honoured":
        return filter_text
    if mode == "rejected":
        raise GraphApiError(400, "Request_UnsupportedQuery", UNSUPPORTED_QUERY)
    return None


def omit_for_incomplete_listing(items: list) -> list:
    """``listing_completeness: advanced_only``: drop the 2nd, 5th, 8th... item (ordered by id, so every page of one
    listing agrees). Two or more matches always lose at least one; a single match is kept."""
    return [item for index, item in enumerate(items) if index % 3 != 1]


def listing_is_incomplete(mode: str, client_filtered: bool, eventual: bool, count: bool) -> bool:
    """A tenant-wide listing (no ``clientId eq``) misses grants unless sent as an advanced query (header + $count)."""
    return mode == "advanced_only" and not client_filtered and not (eventual and count)


def duplicate_error(status: int, message_mode: str) -> GraphApiError:
    """The duplicate-create answer: ``duplicate_status`` picks the status, ``duplicate_message`` the text."""
    if message_mode == "other":  # the code stays: clients must recognise the duplicate by its code
        return GraphApiError(status, "Request_MultipleObjectsWithSameKeyValue", OTHER_DUPLICATE_MESSAGE)
    if status == 400:
        return GraphApiError(400, "Request_BadRequest", PERMISSION_ENTRY_MESSAGE)
    return GraphApiError(409, "Request_MultipleObjectsWithSameKeyValue", PERMISSION_ENTRY_MESSAGE)


def is_special_user_key(key_value: str, parenthesised: bool) -> bool:
    """A guest UPN (``#EXT#``, sent as ``%23EXT%23``) or the ``/users('$…')`` form: documented for plain requests only."""
    return "#" in key_value or (parenthesised and key_value.startswith("$"))


def within_write_lag(created_at: Optional[float], lag_seconds: float) -> bool:
    """``write_lag_seconds``: a grant created less than that long ago is not yet writable (PATCH/DELETE 404)."""
    return bool(lag_seconds) and created_at is not None and time.time() - created_at < lag_seconds
