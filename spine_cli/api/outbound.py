"""One POST to a URL that is not the Spine API: a webhook endpoint or a --forward-to app.

Unlike `spine_cli.api.client`, nothing here knows the API: no envelope, no
retries (the webhook sender retries, not us), and never an `X-API-KEY` header
(only the headers the caller gives are sent, so a key cannot leak to a user's
endpoint). Timeouts are explicit, redirects are not followed (a 3xx is an
answer like any other), and only the first `MAX_EXCERPT` bytes of the answer
are read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from spine_cli.errors import NetworkError

MAX_EXCERPT = 2048  # bytes of the answer kept for display
DEFAULT_TIMEOUT = 10.0


class OutboundError(NetworkError):
    """The URL could not be reached, or did not answer in time (exit 8)."""

    def __init__(self, message: str, elapsed_ms: float, timed_out: bool = False) -> None:
        super().__init__(message)
        self.elapsed_ms = elapsed_ms
        self.timed_out = timed_out


@dataclass(frozen=True)
class Answer:
    status: int
    elapsed_ms: float
    excerpt: str  # the start of the body, decoded leniently; not sanitised
    truncated: bool

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def post(url: str, body: bytes, headers: dict[str, str],
         timeout: float = DEFAULT_TIMEOUT) -> Answer:
    """POST `body` with exactly `headers` (plus Content-Length); raise OutboundError."""
    started = time.monotonic()
    limits = httpx.Timeout(timeout, connect=min(timeout, 10.0))
    try:
        # trust_env=False: a proxy from the environment must not see (or break) a
        # delivery to a loopback app; give a reachable URL instead.
        with httpx.Client(timeout=limits, follow_redirects=False, trust_env=False) as http:
            request = http.build_request("POST", url, content=body, headers=headers)
            for name in ("user-agent", "accept", "accept-encoding"):
                if name not in {k.lower() for k in headers}:
                    request.headers.pop(name, None)  # send only what the caller chose
            response = http.send(request, stream=True)
            try:
                excerpt, truncated = _read_excerpt(response)
            finally:
                response.close()
    except httpx.TimeoutException:
        elapsed = _ms(started)
        raise OutboundError(f"{url} did not answer within {timeout:g} s.", elapsed,
                            timed_out=True) from None
    except (httpx.HTTPError, ValueError) as exc:
        raise OutboundError(f"Cannot reach {url}: {_reason(exc)}.", _ms(started)) from None
    return Answer(response.status_code, _ms(started), excerpt, truncated)


def _read_excerpt(response: httpx.Response) -> tuple[str, bool]:
    data = b""
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) > MAX_EXCERPT:
            return data[:MAX_EXCERPT].decode("utf-8", "replace"), True
    return data.decode("utf-8", "replace"), False


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
