"""What a `Liar` (tests/support/liar.py) can answer: the behaviours and envelope helpers.

Each behaviour has `respond(handler, stop)`: it writes through the handler's `start`,
`write` and `hang_up`, and returns early once `stop` is set (the liar is closing).
Behaviours are plain data, so one may be queued several times.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Union

if TYPE_CHECKING:
    from support.liar import _Handler

AUTO: Any = object()  # Content-Length: the body's true length
Headers = Union[dict[str, str], list[tuple[str, str]]]


@dataclass
class Raw:
    """Any bytes; `content_length` may lie (an int) or be left out (None: ends at close)."""
    body: bytes | str = b""
    status: int = 200
    content_type: str | None = "text/html; charset=utf-8"
    headers: Headers = field(default_factory=dict)
    content_length: Any = AUTO

    def chunks(self) -> Iterator[bytes]:
        yield self.body.encode() if isinstance(self.body, str) else self.body

    def total(self) -> int:
        return len(self.body.encode() if isinstance(self.body, str) else self.body)

    def respond(self, h: "_Handler", stop: threading.Event) -> None:
        length = self.total() if self.content_length is AUTO else self.content_length
        h.start(self.status, self.headers, self.content_type, length,
                close=length is None or length != self.total())
        for chunk in self.chunks():
            h.write(chunk)


@dataclass
class Json(Raw):
    """`body` serialised as JSON (non-ASCII kept as UTF-8): any shape, any status."""
    content_type: str | None = "application/json"

    def __post_init__(self) -> None:
        self.body = json.dumps(self.body, ensure_ascii=False).encode()


@dataclass
class Stream(Raw):
    """`size` bytes of `fill` between `prefix` and `suffix`, made chunk by chunk."""
    size: int = 0
    fill: bytes = b"x"
    prefix: bytes = b""
    suffix: bytes = b""
    content_type: str | None = "application/octet-stream"

    def total(self) -> int:
        return len(self.prefix) + self.size + len(self.suffix)

    def chunks(self) -> Iterator[bytes]:
        yield self.prefix
        block = (self.fill * (65536 // len(self.fill) + 1))[:65536]
        left = self.size
        while left > 0:
            yield block[:left]
            left -= len(block)
        yield self.suffix


@dataclass
class Trickle(Raw):
    """Headers at once, then one byte every `every` s; gives up after `limit` s."""
    every: float = 1.0
    limit: float = 60.0
    content_type: str | None = "application/json"

    def respond(self, h: "_Handler", stop: threading.Event) -> None:
        data = b"".join(self.chunks())
        length = len(data) if self.content_length is AUTO else self.content_length
        h.start(self.status, self.headers, self.content_type, length, close=True)
        deadline = time.monotonic() + self.limit
        for i in range(len(data)):
            if stop.wait(self.every) or time.monotonic() > deadline:
                return
            h.write(data[i:i + 1])


@dataclass
class Delay:
    """Wait `seconds` (cut short when the liar closes), then behave as `then`."""
    seconds: float
    then: Any = None

    def respond(self, h: "_Handler", stop: threading.Event) -> None:
        if not stop.wait(self.seconds):
            (self.then or ok({})).respond(h, stop)


@dataclass
class Stall:
    """Leave the request body unread for `seconds` (the client's upload stalls once the
    socket buffers are full), then read it and behave as `then`."""
    seconds: float
    then: Any = None
    reads_body = False  # not a field: the liar reads the body only after the stall

    def respond(self, h: "_Handler", stop: threading.Event) -> None:
        if stop.wait(self.seconds):
            return
        h._read_body()
        (self.then or ok({})).respond(h, stop)


@dataclass
class Redirect:
    """A 3xx to `location` (another liar's `url(...)` for a cross-origin redirect)."""
    location: str
    status: int = 307
    headers: Headers = field(default_factory=dict)

    def respond(self, h: "_Handler", stop: threading.Event) -> None:
        h.start(self.status, [*header_pairs(self.headers), ("Location", self.location)], None, 0)


@dataclass
class Drop:
    """Close without answering: before reading the body, or after it; `reset` sends RST."""
    after_body: bool = False
    reset: bool = False

    @property
    def reads_body(self) -> bool:
        return self.after_body

    def respond(self, h: "_Handler", stop: threading.Event) -> None:
        h.hang_up(reset=self.reset)


def ok(data: Any, status: int = 200, headers: Headers | None = None) -> Json:
    """The API's success envelope around `data`."""
    return Json({"success": True, "error": None, "data": data}, status, headers=headers or {})


def fail(status: int, error: Any, retry_after: str | None = None,
         headers: Headers | None = None, success: Any = False) -> Json:
    """The API's error envelope; `retry_after` is sent as given (any text)."""
    pairs = header_pairs(headers or {})
    if retry_after is not None:
        pairs.append(("Retry-After", str(retry_after)))
    return Json({"success": success, "error": error, "data": None}, status, headers=pairs)


def header_pairs(headers: Headers) -> list[tuple[str, str]]:
    return list(headers.items()) if isinstance(headers, dict) else list(headers)
