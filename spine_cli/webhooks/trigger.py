"""`webhook trigger`: build a realistic event, sign it, POST it to an endpoint.

The event is the documented envelope (events.py) with a fresh id and `created`
now; `data.object` is a sample, or a real run's `GET /v1/run` data (`--run`), so
a handler can be tried on real shapes. The request carries exactly the
documented delivery headers, and is signed at the moment it is built (a
printed request stays valid for the receiver's tolerance, 300 s by default).
Nothing here prints or knows the API client: the command fetches the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spine_cli.api import outbound
from spine_cli.webhooks import events
from spine_cli.webhooks.signature import sign

DEFAULT_URL = "http://127.0.0.1:8787/"  # where `spine webhook listen` listens by default
TIMEOUT = 10.0


@dataclass(frozen=True)
class SignedRequest:
    url: str
    event: dict[str, Any]
    body: bytes
    headers: dict[str, str] = field(repr=False)  # holds the signature


def event_type_for(run: dict[str, Any] | None, requested: str | None) -> tuple[str, str | None]:
    """The event type to send, and a warning when it does not fit the run's status."""
    if run is None:
        return requested or "run.completed", None
    status = str(run.get("status"))
    natural = events.EVENT_FOR_STATUS.get(status)
    if requested is None:
        return natural or "run.completed", None
    if requested.startswith("run.") and natural is not None and requested != natural:
        return requested, (f"the run is {status}, which Spine announces as {natural}; "
                           f"sending {requested} anyway")
    return requested, None


def build_event(event_type: str, run: dict[str, Any] | None = None) -> dict[str, Any]:
    """The envelope; `run` (GET data) supplies data.object for run.* events."""
    if run is not None and event_type.startswith("run."):
        obj = events.run_object(run)
    else:
        obj = events.sample_object(event_type)
    return events.envelope(event_type, obj)


def sign_event(url: str, event: dict[str, Any], secret: str,
               timestamp: int | None = None) -> SignedRequest:
    body = events.encode(event)
    return SignedRequest(url, event, body, events.headers(event, sign(secret, body, timestamp)))


def send(request: SignedRequest, timeout: float = TIMEOUT) -> outbound.Answer:
    """POST it; raises outbound.OutboundError (exit 8) when the endpoint cannot be reached."""
    return outbound.post(request.url, request.body, request.headers, timeout)
