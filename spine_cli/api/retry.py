"""When a failed request is retried, and how long to wait first.

GETs are idempotent: they retry on connection errors, timeouts, 429 and 5xx.
`POST /v1/run` has no idempotency key, so a resend could start (and bill) a
second run: it retries only when the request certainly never reached the
server — the connection was never established — or on 429, which rejects a
request before it is processed. Everything else after sending is ambiguous.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass
from typing import Callable

import httpx

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0


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
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now())


def jitter(delay: float, rand: Callable[[], float] = random.random) -> float:
    """Full-ish jitter: a delay between 50 % and 100 % of the nominal one."""
    return delay * (0.5 + 0.5 * rand())


def backoff_delay(attempt: int, policy: RetryPolicy, retry_after: float | None = None,
                  jitter_fn: Callable[[float], float] = jitter) -> float:
    """Wait before retry number `attempt` (0-based). Retry-After always wins."""
    if retry_after is not None:
        return retry_after
    nominal = min(policy.max_delay, policy.base_delay * (2 ** attempt))
    return jitter_fn(nominal)
