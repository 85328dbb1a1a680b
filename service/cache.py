"""Response bodies of finished results kept in memory: a finished scenario never changes, so
a read is a dictionary lookup (least recently used dropped first, bounded in bytes). Each body
is kept as is and, when it shrinks well, gzipped once for clients that accept it."""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.responses import Response

__all__ = ["Body", "BodyCache", "accepts_gzip"]

_GZIP_FROM = 1400  # bytes: below about one packet compression gains nothing


@dataclass(frozen=True)
class Body:
    """One response body: the bytes, and their gzip when that is much smaller."""

    raw: bytes
    gzipped: bytes | None

    @classmethod
    def of(cls, raw: bytes) -> Body:
        if len(raw) < _GZIP_FROM:
            return cls(raw, None)
        packed = gzip.compress(raw, compresslevel=6, mtime=0)
        return cls(raw, packed if len(packed) < 0.8 * len(raw) else None)

    @property
    def size(self) -> int:
        return len(self.raw) + len(self.gzipped or b"")

    def response(self, headers: Headers, *, media_type: str) -> Response:
        """The body as a response: gzipped for a client whose Accept-Encoding allows it."""
        if self.gzipped is not None and accepts_gzip(headers.get("accept-encoding", "")):
            return Response(
                self.gzipped,
                media_type=media_type,
                headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"},
            )
        vary = {"Vary": "Accept-Encoding"} if self.gzipped is not None else None
        return Response(self.raw, media_type=media_type, headers=vary)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header value allows gzip (by name or `*`, with q > 0)."""
    allowed: dict[str, bool] = {}
    for item in accept_encoding.lower().split(","):
        name, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name:
            allowed[name.strip()] = q > 0
    return allowed.get("gzip", allowed.get("x-gzip", allowed.get("*", False)))


class BodyCache:
    """Bodies by key, at most `limit` bytes in all (thread-safe)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._bodies: OrderedDict[Hashable, Body] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Body | None:
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
            return body

    def put(self, key: Hashable, body: Body) -> Body:
        """Keep `body` (unless larger than the whole cache) and return it."""
        if body.size > self.limit:
            return body
        with self._lock:
            old = self._bodies.pop(key, None)
            if old is not None:
                self._size -= old.size
            self._bodies[key] = body
            self._size += body.size
            while self._size > self.limit:
                _, dropped = self._bodies.popitem(last=False)
                self._size -= dropped.size
        return body

    def __len__(self) -> int:
        return len(self._bodies)
