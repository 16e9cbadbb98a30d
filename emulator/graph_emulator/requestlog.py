"""The request log behind ``GET /_emulator/requests`` (entries and summary as in docs/dev/architecture.md)."""

import threading

KINDS = ("graph", "token", "msi", "discovery", "batch_item")
MAX_ENTRIES = 100000  # a runaway test must not eat the machine's memory


class RequestLog:
    def __init__(self):
        self._lock = threading.Lock()
        self._entries = []
        self._seq = 0

    def reserve_seq(self) -> int:
        """A sequence number taken when a request starts (a $batch envelope's items then carry it as ``batch``)."""
        with self._lock:
            self._seq += 1
            return self._seq

    def add(self, entry: dict):
        with self._lock:
            self._entries.append(entry)
            if len(self._entries) > MAX_ENTRIES:
                del self._entries[: len(self._entries) - MAX_ENTRIES]

    def clear(self):
        with self._lock:
            self._entries = []

    def entries(self, since: int = 0) -> list:
        with self._lock:
            return sorted((dict(e) for e in self._entries if e["seq"] > since), key=lambda e: e["seq"])

    @staticmethod
    def summarize(entries: list) -> dict:
        graph = [e for e in entries if e["kind"] == "graph"]
        envelopes = [e for e in graph if e.get("is_batch")]
        items = [e for e in entries if e["kind"] == "batch_item"]
        by_status = {}
        for entry in graph + items:
            key = str(entry["status"])
            by_status[key] = by_status.get(key, 0) + 1
        return {
            "graph_requests": len(graph),
            "graph_operations": len(graph) - len(envelopes) + len(items),
            "token_requests": sum(1 for e in entries if e["kind"] in ("token", "msi", "discovery")),
            "writes": sum(1 for e in entries if e.get("write")),
            "batches": len(envelopes),
            "batch_items": len(items),
            "throttled": sum(1 for e in graph + items if e["status"] == 429),
            "faults": sum(1 for e in entries if e.get("fault")),
            "by_status": by_status,
        }

    def summary(self) -> dict:
        return self.summarize(self.entries())
