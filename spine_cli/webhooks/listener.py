"""`webhook listen`: a local receiver that verifies, dedupes, filters, forwards and runs.

Any POST, on any path, is one delivery. In order:

1. the body is read (Content-Length required, at most `max_body` bytes: else 411/413);
2. the signature is verified (signature.verify; else 400, reason as `SignatureError.reason`);
3. the event must have a string `id` and `type` (else 400 `bad_event`);
4. replay protection: an id already accepted within twice the tolerance (a signed
   request stays valid from t - tolerance to t + tolerance), or being handled
   right now, is 400 `replayed`. Only accepted ids are remembered, so the
   sender's retry of a delivery we answered 5xx is handled again, not refused;
5. a type outside `events` is acknowledged (200) and otherwise ignored;
6. `--forward-to`: the untouched body and the original `Spine-*`, `Content-Type`
   and `User-Agent` headers are POSTed to the app; an app that fails (non-2xx,
   unreachable: 502; too slow: 504) fails the delivery, so the sender retries;
7. `--exec`: the command runs (execute.py); a non-zero exit or a timeout is 500.

The answer is 200 only when every step succeeded. The caller hears of every
delivery through `on_event` (verified ones) or `on_reject` (refused ones), from
the server's threads; nothing here prints. The HTTP side (server.py) is the
standard library's `ThreadingHTTPServer`, so it works without the emulator extra.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

from spine_cli.api import outbound
from spine_cli.errors import UsageError
from spine_cli.webhooks import events
from spine_cli.webhooks.server import make_server
from spine_cli.webhooks.execute import ExecResult, ExecSpec, Runner
from spine_cli.webhooks.signature import DEFAULT_TOLERANCE, HEADER, SignatureError, verify

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787  # the emulator's is 8765
MAX_BODY = 5 * 1024 * 1024
# Below the emulator's 10 s delivery timeout, so a slow app makes us answer 504
# (and the sender retry) before the sender gives up on us.
FORWARD_TIMEOUT = 8.0
_FORWARDED_HEADERS = ("content-type", "user-agent")


@dataclass(frozen=True)
class ListenOptions:
    secret: str = field(repr=False)
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    tolerance: int = DEFAULT_TOLERANCE
    events: frozenset[str] | None = None  # None: every type
    forward_to: str | None = None
    forward_timeout: float = FORWARD_TIMEOUT
    exec_spec: ExecSpec | None = None
    max_body: int = MAX_BODY


@dataclass(frozen=True)
class Forwarded:
    url: str
    status: int | None  # None: no answer (error says why)
    elapsed_ms: float
    error: str | None = None
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class Received:
    """A verified delivery and what became of it."""

    event: dict[str, Any]
    received_at: float  # unix seconds
    answer: int  # the status we answered the sender
    handled_ms: float
    filtered: bool = False
    forward: Forwarded | None = None
    executed: ExecResult | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.answer < 300

    @property
    def summary(self) -> dict[str, Any]:
        """id, type, run_id, status, duration_ms of the event (None where absent)."""
        return events.summary(self.event)


@dataclass(frozen=True)
class Rejected:
    """A delivery we refused; `message` may quote the sender's data (sanitise to show)."""

    received_at: float
    status: int
    reason: str
    message: str
    event_id: str | None = None
    client: str | None = None


class ReplayGuard:
    """Event ids accepted within `window` seconds, plus the ones being handled now."""

    def __init__(self, window: float, clock: Callable[[], float] = time.time,
                 max_ids: int = 100_000) -> None:
        self.window, self._clock, self._max = window, clock, max_ids
        self._accepted: OrderedDict[str, float] = OrderedDict()
        self._busy: set[str] = set()
        self._lock = threading.Lock()

    def claim(self, event_id: str) -> bool:
        """True when the id may be handled now (the caller must `release` it)."""
        with self._lock:
            now = self._clock()
            while self._accepted and (next(iter(self._accepted.values())) < now - self.window
                                      or len(self._accepted) > self._max):
                self._accepted.popitem(last=False)
            if event_id in self._accepted or event_id in self._busy:
                return False
            self._busy.add(event_id)
            return True

    def release(self, event_id: str, accepted: bool) -> None:
        with self._lock:
            self._busy.discard(event_id)
            if accepted:
                self._accepted[event_id] = self._clock()


Headers = list[tuple[str, str]]


def _header(headers: Headers, name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name.lower()), None)


class Listener:
    """Bind with `bind()`, serve with `start()`, stop with `stop()`."""

    def __init__(self, options: ListenOptions, on_event: Callable[[Received], None],
                 on_reject: Callable[[Rejected], None],
                 clock: Callable[[], float] = time.time) -> None:
        self.options, self.on_event, self.on_reject, self._clock = options, on_event, on_reject, clock
        self.guard = ReplayGuard(2 * options.tolerance, clock)
        self.runner = Runner(options.exec_spec, options.secret) if options.exec_spec else None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # -- one delivery ------------------------------------------------------
    def handle(self, headers: Headers, body: bytes, client: str | None = None
               ) -> tuple[int, dict[str, Any]]:
        """The status and JSON answer for one delivery (also reported to the callbacks)."""
        received_at, started = self._clock(), time.monotonic()
        try:
            event = verify(body, _header(headers, HEADER), self.options.secret,
                           self.options.tolerance, received_at)
        except SignatureError as exc:
            return self.reject(400, exc.reason, exc.message, client)
        event_id, event_type = event.get("id"), event.get("type")
        if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str):
            return self.reject(400, "bad_event", "The event has no string id and type.", client)
        if not self.guard.claim(event_id):
            return self.reject(400, "replayed", f"Event {event_id} was already received "
                               "(a replay, or a duplicate still being handled).", client, event_id)
        status, forward, executed, filtered = 500, None, None, False
        try:
            filtered = self.options.events is not None and event_type not in self.options.events
            if filtered:
                status = 200
            else:
                status, forward, executed = self._act(event, headers, body)
        finally:
            self.guard.release(event_id, 200 <= status < 300)
        self.on_event(Received(event, received_at, status, _ms(started), filtered, forward,
                               executed))
        if 200 <= status < 300:
            return status, {"received": True, "id": event_id}
        return status, {"error": "The delivery was verified but could not be handled; retry."}

    def reject(self, status: int, reason: str, message: str, client: str | None,
               event_id: str | None = None) -> tuple[int, dict[str, Any]]:
        self.on_reject(Rejected(self._clock(), status, reason, message, event_id, client))
        return status, {"error": message, "reason": reason}

    def _act(self, event: dict[str, Any], headers: Headers, body: bytes
             ) -> tuple[int, Forwarded | None, ExecResult | None]:
        forward = executed = None
        if self.options.forward_to:
            forward = self._forward(self.options.forward_to, headers, body)
            if not forward.ok:
                return (504 if forward.timed_out else 502), forward, None
        if self.runner is not None:
            info = events.summary(event)
            executed = self.runner.run(body, str(info["type"]), str(info["id"]), info["run_id"])
            if not executed.ok:
                return 500, forward, executed
        return 200, forward, executed

    def _forward(self, url: str, headers: Headers, body: bytes) -> Forwarded:
        kept = {k: v for k, v in headers
                if k.lower().startswith("spine-") or k.lower() in _FORWARDED_HEADERS}
        try:
            answer = outbound.post(url, body, kept, self.options.forward_timeout)
        except outbound.OutboundError as exc:
            return Forwarded(url, None, exc.elapsed_ms, exc.message, exc.timed_out)
        return Forwarded(url, answer.status, answer.elapsed_ms)

    # -- the server --------------------------------------------------------
    def bind(self) -> str:
        """Bind the socket (UsageError when impossible) and return the URL to give senders."""
        host, port = self.options.host, self.options.port
        try:
            self._server = make_server(host, port, self)
        except (OSError, OverflowError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise UsageError(f"Cannot listen on {host}:{port}: {reason}.",
                             hint="Choose another --port, or --port 0 for a free one.") from None
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(
            self.options.host, self.options.host)
        port = self._server.server_address[1]
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"

    def start(self) -> None:
        assert self._server is not None, "bind() first"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.2,),
                                        name="spine-webhook-listener", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self.runner is not None:
            self.runner.kill_all()


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # another name: it may resolve anywhere


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
