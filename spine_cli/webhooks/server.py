"""The HTTP side of `webhook listen`: the standard library's ThreadingHTTPServer.

It works without the emulator extra. A request handler reads the body within
the listener's cap, hands it to `Listener.handle` and writes the JSON answer;
it logs nothing itself (the listener reports through its callbacks).
"""

from __future__ import annotations

import json
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_SOCKET_TIMEOUT = 15.0  # a client that stalls mid-request frees its thread after this


def make_server(host: str, port: int, listener: Any) -> ThreadingHTTPServer:
    """A bound server whose requests go to `listener` (raises OSError when it cannot bind)."""
    server_class = _Server6 if ":" in host else _Server
    return server_class((host, port), _handler_class(listener))


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stalled client never keeps the listener from stopping


class _Server6(_Server):
    address_family = socket.AF_INET6


def _handler_class(listener: Any) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "spine-webhook-listener"
        sys_version = ""
        timeout = _SOCKET_TIMEOUT

        def do_POST(self) -> None:  # noqa: N802
            client = self.client_address[0] if self.client_address else None
            body = _read_body(self, listener, client)
            if body is None:
                return
            try:
                status, payload = listener.handle(list(self.headers.items()), body, client)
            except Exception as exc:  # a bug must not kill the thread silently: say so
                status, payload = listener.reject(500, "internal_error",
                                                  f"{type(exc).__name__}: {exc}", client)
            _answer(self, status, payload)

        def do_GET(self) -> None:  # noqa: N802
            _answer(self, 405, {"error": "POST signed Spine webhook deliveries here."},
                    {"Allow": "POST"})

        do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # deliveries are reported through the listener's callbacks

    return Handler


def _read_body(handler: BaseHTTPRequestHandler, listener: Any,
               client: str | None) -> bytes | None:
    """The request body, or None after answering a request whose body we refuse."""
    length_text = handler.headers.get("Content-Length")
    problem: tuple[int, str, str] | None = None
    if handler.headers.get("Transfer-Encoding") or length_text is None:
        problem = (411, "no_length", "A delivery needs a Content-Length header.")
    elif not length_text.strip().isdigit():
        problem = (400, "bad_length", "Content-Length is not a number.")
    elif int(length_text) > listener.options.max_body:
        problem = (413, "too_large", f"The body ({int(length_text)} bytes) is over the "
                   f"{listener.options.max_body}-byte limit.")
    if problem is not None:
        handler.close_connection = True  # the unread body must not be taken for a request
        _answer(handler, problem[0], listener.reject(*problem, client)[1])
        return None
    try:
        body = handler.rfile.read(int(length_text or 0))
    except OSError:  # the client stalled past the socket timeout, or hung up
        handler.close_connection = True
        return None
    return body if len(body) == int(length_text or 0) else None


def _answer(handler: BaseHTTPRequestHandler, status: int, payload: dict[str, Any],
            extra: dict[str, str] | None = None) -> None:
    data = json.dumps(payload).encode()
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for name, value in (extra or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data)
    except OSError:
        pass  # the sender hung up; it will retry
