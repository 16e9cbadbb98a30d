"""The throttling model (knobs ``throttle_budget`` and ``throttle_window_seconds``): a per-application request budget
per time window, as Graph throttles (https://learn.microsoft.com/graph/throttling): beyond the budget every request
is answered 429 with a ``Retry-After`` saying when the window ends. Every operation counts, each ``$batch`` item
individually (https://learn.microsoft.com/graph/json-batching: "each request inside the batch is evaluated against
throttling limits"); the envelope itself does not. 0 (the default) turns the model off.
"""

import math
import threading
import time
from typing import Optional


class ThrottleModel:
    """Fixed windows per application (the token's ``appid``), thread-safe."""

    def __init__(self, clock=time.monotonic):
        self._lock = threading.Lock()
        self._clock = clock
        self._windows = {}  # appid -> [window start, operations counted]

    def reset(self):
        with self._lock:
            self._windows = {}

    def take(self, app_id: str, budget: int, window: float) -> Optional[int]:
        """Count one operation of ``app_id``; None when it is within the budget, else the Retry-After seconds."""
        if not budget:
            return None
        window = window or 10.0
        with self._lock:
            now = self._clock()
            start, used = self._windows.get(app_id, (now, 0))
            if now - start >= window:
                start, used = now, 0
            used += 1
            self._windows[app_id] = (start, used)
            if used <= budget:
                return None
            return max(1, int(math.ceil(start + window - now)))


_MODEL = ThrottleModel()


_CONFIG = {"knobs": None}


def check(ctx, faults) -> Optional[int]:
    """The Retry-After of an operation beyond the budget of the caller's application, else None. Setting the knobs
    anew (off, then on again) starts fresh windows."""
    knobs = (faults.get("throttle_budget"), faults.get("throttle_window_seconds"))
    if knobs != _CONFIG["knobs"]:
        _CONFIG["knobs"] = knobs
        _MODEL.reset()
    if not knobs[0]:
        return None
    return _MODEL.take(ctx.claims.get("appid") or ctx.claims.get("azp") or "", knobs[0], knobs[1])


def reset():
    _MODEL.reset()
