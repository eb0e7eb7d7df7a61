"""A request's total deadline, enforced on the connection itself.

Per-read timeouts cannot bound an exchange: a server that trickles one byte
every few seconds satisfies every read and never finishes. `Watchdog` arms a
timer for what is left of the deadline and, when it fires, shuts the
exchange's socket down, which wakes the blocked read at once; the client then
reports a `DeadlineError`.

The socket is learnt from httpcore's trace (`connection.connect_tcp.complete`,
for a new connection) or from the response's `network_stream` (once the
headers are in, for a reused one). A reused connection that trickles its
headers is bounded by the per-read timeouts alone, which the client also caps
by the time left.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any


SENT = "http11.send_request_body.complete"


class Watchdog:
    """Cut the exchange's connection `seconds` after it starts, unless it is over first.

    With `after_sending`, the time counts from when the request body has gone out:
    an upload is bounded by its write timeouts, and only the answer by the deadline.
    """

    def __init__(self, seconds: float, after_sending: bool = False) -> None:
        self.fired = False
        self._stream: Any = None
        self._lock = threading.Lock()
        self._after_sending = after_sending
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True

    def __enter__(self) -> "Watchdog":
        if not self._after_sending:
            self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def trace(self, name: str, info: Any) -> None:
        """httpcore trace events: a new connection's stream, and the end of the upload."""
        if name == "connection.connect_tcp.complete" and isinstance(info, dict):
            self.watch(info.get("return_value"))
        elif name.endswith(SENT) and self._after_sending and not self._timer.is_alive():
            self._timer.start()

    def watch(self, stream: Any) -> None:
        """The exchange's network stream (cut at once if the deadline has passed)."""
        if stream is None:
            return
        with self._lock:
            self._stream = stream
            fired = self.fired
        if fired:
            _cut(stream)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            stream = self._stream
        if stream is not None:
            _cut(stream)


def _cut(stream: Any) -> None:
    with contextlib.suppress(Exception):
        sock = stream.get_extra_info("socket")
        if isinstance(sock, socket.socket):
            # The plain socket's shutdown, even under TLS: it wakes a reader blocked in
            # another thread, where SSLSocket.shutdown would first drop its TLS state.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
