"""The one retry policy: when a failed request is repeated, and after how long.

Used by API calls (`api.client`), artifact downloads (`api.transfer`) and the
wait loop (`runs.waiter`), so a `Retry-After` is capped in one place:

    delay = min(Retry-After or jittered backoff, policy.max_delay, what the caller has left)

GETs are idempotent: they retry on connection errors, timeouts, 429 and 5xx.
`POST /v1/run` has no idempotency key, so a resend could start (and bill) a
second run: it retries only when the request certainly never reached the
server — the connection was never established — or on 429, which rejects a
request before it is processed. Everything else after sending is ambiguous.

`RequestBudget` is shared by every request under one API key in a process: a
429 or `Retry-After` on any of them pauses all of them, as one client of a
rate-limited key should.
"""

from __future__ import annotations

import email.utils
import math
import random
import threading
import time
from dataclasses import dataclass
from typing import Callable

import httpx

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def jitter(delay: float, rand: Callable[[], float] = random.random) -> float:
    """A delay between 50 % and 100 % of the nominal one (spreads synchronised clients)."""
    return delay * (0.5 + 0.5 * rand())


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0  # caps the backoff and any Retry-After alike

    def backoff(self, attempt: int, jitter_fn: Callable[[float], float] = jitter) -> float:
        """The jittered exponential wait before retry number `attempt` (0-based)."""
        return jitter_fn(min(self.max_delay, self.base_delay * (2 ** min(attempt, 32))))

    def delay(self, attempt: int, retry_after: float | None = None, left: float | None = None,
              jitter_fn: Callable[[float], float] = jitter) -> float:
        """Seconds to wait before retry `attempt`: Retry-After wins over the backoff, and
        both are capped by `max_delay` and by the `left` of the caller's budget."""
        wanted = self.backoff(attempt, jitter_fn) if retry_after is None else retry_after
        capped = min(wanted, self.max_delay)
        if left is not None:
            capped = min(capped, max(0.0, left))
        return max(0.0, capped)


DEFAULT_POLICY = RetryPolicy()
# The wait loop's failed polls: starts at 2 s, doubles up to 30 s (it is budgeted by
# --max-outage, not by a count of retries).
POLL_POLICY = RetryPolicy(max_retries=0, base_delay=2.0, max_delay=30.0)
DOWNLOAD_POLICY = RetryPolicy(max_retries=3)


def never_sent(exc: BaseException) -> bool:
    """True when the request certainly did not reach the server."""
    return isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol))


def should_retry(*, idempotent: bool, status: int | None = None,
                 exc: BaseException | None = None) -> bool:
    """Decide whether one failed attempt may be repeated."""
    if exc is not None:
        if never_sent(exc):
            return True
        return idempotent and isinstance(exc, httpx.TransportError)
    if status is None:
        return False
    if status == 429:
        return True
    return idempotent and status in RETRY_STATUSES


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    try:
        return max(0.0, when.timestamp() - now())
    except (OverflowError, ValueError, OSError):
        return None


class RequestBudget:
    """One pause shared by every request under one API key.

    `pause(seconds)` (after a 429 or any Retry-After) holds back every caller
    that consults `ready_at()` until then; pauses only ever extend.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until = 0.0
        self._lock = threading.Lock()
        self.pauses = 0

    def pause(self, seconds: float) -> None:
        with self._lock:
            until = self._clock() + max(0.0, seconds)
            if until > self._until:
                self._until = until
                self.pauses += 1

    def ready_at(self) -> float:
        """The clock time before which no request under this key should start."""
        with self._lock:
            return self._until

    def wait_time(self) -> float:
        return max(0.0, self.ready_at() - self._clock())
