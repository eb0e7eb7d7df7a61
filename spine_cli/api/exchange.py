"""One exchange with the API: how far its request got, and its total deadline.

`Attempt` follows httpcore's trace events to tell whether a request certainly
never reached the server (a create may then be retried) or may have (it may
not). `Watchdog` enforces the exchange's total deadline on the connection
itself: per-read timeouts cannot bound an exchange, since a server that
trickles one byte every few seconds satisfies every read and never finishes.
The watchdog is due when what is left has passed (one alarm thread serves every
exchange of the process) and then shuts the exchange's socket down, which wakes
the blocked read at once; the client then reports a `DeadlineError`.

The socket is learnt from the trace (`connection.connect_tcp.complete`, for a
new connection) or from the response's `network_stream` (once the headers are
in, for a reused one). A reused connection that trickles its headers is
bounded by the per-read timeouts alone, which the client also caps by the
time left.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import httpx

from spine_cli.api.retry import never_sent

SENT = "http11.send_request_body.complete"


class Watchdog:
    """Cut the exchange's connection `seconds` after it starts, unless it is over first.

    With `after_sending`, the time counts from when the request body has gone out:
    an upload is bounded by its write timeouts, and only the answer by the deadline.
    """

    def __init__(self, seconds: float, after_sending: bool = False) -> None:
        self.fired = False
        self.over = False
        self._stream: Any = None
        self._lock = threading.Lock()
        self._after_sending = after_sending
        self._seconds = max(0.0, seconds)
        self._armed = False

    def __enter__(self) -> "Watchdog":
        if not self._after_sending:
            self._arm()
        return self

    def _arm(self) -> None:
        if not self._armed:
            self._armed = True
            _ALARMS.add(self, self._seconds)

    def __exit__(self, *exc: object) -> None:
        self.over = True  # the alarm thread drops it

    def trace(self, name: str, info: Any) -> None:
        """httpcore trace events: a new connection's stream, and the end of the upload."""
        if name == "connection.connect_tcp.complete" and isinstance(info, dict):
            self.watch(info.get("return_value"))
        elif name.endswith(SENT) and self._after_sending:
            self._arm()

    def watch(self, stream: Any) -> None:
        """The exchange's network stream (cut at once if the deadline has passed)."""
        if stream is None:
            return
        with self._lock:
            self._stream = stream
            fired = self.fired
        if fired:
            _cut(stream)

    def fire(self) -> None:
        with self._lock:
            if self.over:
                return
            self.fired = True
            stream = self._stream
        if stream is not None:
            _cut(stream)


class _Alarms:
    """One daemon thread that fires every watchdog when it is due. (A `threading.Timer`
    per exchange starts a thread per request: about 0.7 ms of CPU, most of a poll's.)"""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Watchdog]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, dog: Watchdog, seconds: float) -> None:
        when = time.monotonic() + seconds
        with self._cond:
            first = not self._heap or when < self._heap[0][0]
            heapq.heappush(self._heap, (when, next(self._seq), dog))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="spine-watchdog",
                                                daemon=True)
                self._thread.start()
            elif first:  # else the thread already wakes in time for it
                self._cond.notify()

    def _due(self) -> list[Watchdog]:
        """Wait (holding the condition) until some watchdog is due; those due."""
        while True:
            now = time.monotonic()
            while self._heap and (self._heap[0][2].over or self._heap[0][0] <= now):
                _, _, dog = heapq.heappop(self._heap)
                if not dog.over:
                    return [dog]
            self._cond.wait(self._heap[0][0] - now if self._heap else None)

    def _run(self) -> None:
        while True:
            with self._cond:
                due = self._due()
            for dog in due:
                dog.fire()


_ALARMS = _Alarms()


def _cut(stream: Any) -> None:
    with contextlib.suppress(Exception):
        sock = stream.get_extra_info("socket")
        if isinstance(sock, socket.socket):
            # The plain socket's shutdown, even under TLS: it wakes a reader blocked in
            # another thread, where SSLSocket.shutdown would first drop its TLS state.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


@dataclass
class Attempt:
    """What one exchange got as far as (httpx's trace events, when the transport has them)."""

    traced: bool = False
    sending: bool = False  # the request's first bytes went out
    sent: bool = False     # the whole request went out: the server may act on it
    watchdog: Watchdog | None = None

    def trace(self, name: str, info: Any) -> None:
        self.traced = True
        if self.watchdog is not None:
            self.watchdog.trace(name, info)
        if name.endswith("send_request_headers.started"):
            self.sending = True
        elif name.endswith("send_request_body.complete"):
            self.sent = True

    def never_sent(self, exc: BaseException) -> bool:
        return never_sent(exc) or (self.traced and not self.sending)

    def maybe_received(self) -> bool:
        """Could the server have acted on the request? (Unknown without a trace: yes.)"""
        return self.sent or not self.traced


class streamed:
    """`with streamed(send) as response`: `send()` gives a streamed response; always closed."""

    def __init__(self, send: Callable[[], httpx.Response]) -> None:
        self._send = send
        self._response: httpx.Response | None = None

    def __enter__(self) -> httpx.Response:
        self._response = self._send()
        return self._response

    def __exit__(self, *exc: object) -> None:
        if self._response is not None:
            self._response.close()


def describe_transport_error(exc: BaseException) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "the request timed out"
    if isinstance(exc, httpx.ConnectError):
        return "connection failed"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the connection was dropped"
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects"
    return f"network error ({type(exc).__name__})"
