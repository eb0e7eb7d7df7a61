"""`Liar`: a small, scriptable, misbehaving HTTP server for testing the client's hardening.

    liar = Liar()                                        # 127.0.0.1, a free port, started
    liar.on("POST", "/v1/run", Redirect(other.url("/v1/run")))      # answered once, in order
    liar.on("GET", "/v1/run/*", Trickle(b'{"success": true}', every=5), fail(503, "busy"))
    liar.always("GET", "/v1/run/*", ok({"run_id": RID, "status": "cancelled"}))  # then forever
    ...  # point spine at liar.base_url (SPINE_BASE_URL)
    liar.requests   # [Seen(method, path, query, headers, body_size, body, sent, ...)]
    liar.close()    # or `with Liar() as liar:`, or the `liar` / `make_liar` fixtures

A request takes the first queued behaviour whose method and path pattern (fnmatch; `*`
spans `/`) match, in the order they were queued; when none is left, the latest matching
`always` answers; else a 404 envelope naming the request. Every request is recorded.

The lies (see each class): `Json` (any body, status, headers: `success:false` on 200,
`data` of the wrong type, odd ids), `Raw` (any bytes and content type; a Content-Length
that is wrong or absent), `Stream` (a huge body made on the fly, never held in memory),
`Trickle` (headers, then one byte every N s), `Delay`, `Stall` (leave the request body
unread for a while: the upload stalls), `Redirect`, `Drop` (close before or after reading
the body). Any of them takes headers, e.g. `Retry-After` of any value.

Why the standard library's ThreadingHTTPServer rather than Starlette+uvicorn: a liar must
break HTTP on purpose (send more bytes than its Content-Length, trickle a body, hang up
before reading the request body, reset the connection), and uvicorn's h11 layer refuses
the first and hides the socket from the others. `BaseHTTPRequestHandler` hands over the
socket and its streams, needs no event loop, and each connection gets a thread, so a
trickling answer never holds up another request.
"""

from __future__ import annotations

import fnmatch
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from support.lies import (  # noqa: F401 - re-exported: tests import everything from here
    AUTO, Delay, Drop, Headers, Json, Raw, Redirect, Stall, Stream, Trickle, header_pairs,
    fail, ok,
)

KEEP_BODY = 1024 * 1024  # bytes of each request body kept in `Seen.body`


@dataclass
class Seen:
    """One request as the liar received it, and how much of the answer went out."""
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "
    body_size: int = 0
    body: bytes = b""  # the first KEEP_BODY bytes
    body_complete: bool = False  # False when the liar hung up before reading it all
    sent: int = 0  # response body bytes written before the answer ended or the client left
    client_gone: bool = False  # the client closed the connection while being answered
    at: float = field(default_factory=time.monotonic)


# -- the server ---------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real API: clients reuse connections
    timeout = 30  # an idle or stalled client cannot hold a thread for longer
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        pass

    def _dispatch(self) -> None:
        path, _, query = self.path.partition("?")
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        self.seen = Seen(self.command, path, query, headers)
        behaviour = self.server.liar._take(self.command, path)
        self.server.liar._record(self.seen)
        if getattr(behaviour, "reads_body", True):
            self._read_body()
        try:
            behaviour.respond(self, self.server.stop)
        except OSError:  # broken pipe, reset, or a write stalled past `timeout`
            self.seen.client_gone = True
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def _read_body(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while (size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)):
                self._take_body(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
        else:
            left = int(self.headers.get("Content-Length") or 0)
            while left > 0 and (chunk := self.rfile.read(min(left, 65536))):
                self._take_body(chunk)
                left -= len(chunk)
        self.seen.body_complete = True

    def _take_body(self, chunk: bytes) -> None:
        if len(self.seen.body) < KEEP_BODY:
            self.seen.body += chunk[:KEEP_BODY - len(self.seen.body)]
        self.seen.body_size += len(chunk)

    def start(self, status: int, headers: Headers, content_type: str | None,
              length: int | None, close: bool = False) -> None:
        """Status line and headers; `close` (or no length) ends the connection after.

        A `Date` among `headers` replaces the real one (a server whose clock is off)."""
        if any(name.lower() == "date" for name, _ in header_pairs(headers)):
            self.send_response_only(status)
        else:
            self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        if length is not None:
            self.send_header("Content-Length", str(length))
        for name, value in header_pairs(headers):
            self.send_header(name, value)
        if close or length is None:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()

    def write(self, data: bytes) -> None:
        if self.command != "HEAD" and data:
            self.wfile.write(data)
            self.seen.sent += len(data)

    def hang_up(self, reset: bool) -> None:
        if reset:  # SO_LINGER 0: close() sends RST instead of FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, liar: "Liar") -> None:
        self.liar, self.stop = liar, threading.Event()
        self.open: set[socket.socket] = set()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up mid-answer is part of the game, not a failure


class Liar:
    """A misbehaving HTTP server on a loopback port, serving from a daemon thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: list[tuple[str, str, list[Any]]] = []
        self._always: list[tuple[str, str, Any]] = []
        self._seen: list[Seen] = []
        self._server = _Server(self)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def on(self, method: str, pattern: str, *behaviours: Any) -> "Liar":
        """Queue behaviours for matching requests, each used once, in order."""
        with self._lock:
            self._queued.append((method.upper(), pattern, list(behaviours)))
        return self

    def always(self, method: str, pattern: str, behaviour: Any) -> "Liar":
        """Answer matching requests with `behaviour` once their queue is used up."""
        with self._lock:
            self._always.append((method.upper(), pattern, behaviour))
        return self

    def _take(self, method: str, path: str) -> Any:
        def hit(m: str, p: str) -> bool:
            return m in ("*", method) and fnmatch.fnmatchcase(path, p)

        with self._lock:
            for m, p, queue in self._queued:
                if queue and hit(m, p):
                    return queue.pop(0)
            for m, p, behaviour in reversed(self._always):
                if hit(m, p):
                    return behaviour
        return fail(404, f"liar: nothing scripted for {method} {path}")

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self._seen.append(seen)

    @property
    def requests(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[Seen]:
        """The requests once there are at least `count` (or all there are at `timeout`)."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.requests

    def close(self) -> None:
        """Stop serving, end every open connection and wake every waiting behaviour."""
        if self._server.stop.is_set():
            return
        self._server.stop.set()
        self._server.shutdown()
        for sock in list(self._server.open):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> "Liar":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
