"""Response bodies of finished results kept in memory: a finished scenario never changes, so
a read is a dictionary lookup (least recently used dropped first, bounded in bytes)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["BodyCache"]


class BodyCache:
    """Bytes by key, at most `limit` bytes in all (thread-safe)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._bodies: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
            return body

    def put(self, key: Hashable, body: bytes) -> bytes:
        """Keep `body` (unless larger than the whole cache) and return it."""
        if len(body) > self.limit:
            return body
        with self._lock:
            old = self._bodies.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._bodies[key] = body
            self._size += len(body)
            while self._size > self.limit:
                _, dropped = self._bodies.popitem(last=False)
                self._size -= len(dropped)
        return body

    def __len__(self) -> int:
        return len(self._bodies)
