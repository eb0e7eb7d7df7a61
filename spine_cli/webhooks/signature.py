"""The `Spine-Signature` scheme (spine-api.md §6.4): parse, sign, verify.

    Spine-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=<hex>...]

The HMAC is keyed with the whole `whsec_…` secret (prefix included) over
`"<t>." + raw body`. Verification follows the official SDK's `construct_event`
step by step, so both accept and reject the same deliveries: a header is
required; it needs `t` and at least one `v1` (several are accepted, for
dual-signing during a secret rotation); `|now - t|` must be within the
tolerance; one `v1` must match, compared in constant time; then the body must
be JSON. One difference: the SDK validates the JSON as an event model, we
require a JSON object and leave its fields to the caller.

Every failure is a `SignatureError` subclass (exit code 10) whose `reason` is a
stable short word for logs and NDJSON.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from spine_cli.errors import WebhookError

HEADER = "Spine-Signature"
DEFAULT_TOLERANCE = 300  # seconds; both SDKs' default, said to match the sender's
_TIMESTAMP = re.compile(r"^\d{1,15}$")


class SignatureError(WebhookError):
    """A delivery failed verification."""

    reason = "invalid"


class MissingSignatureError(SignatureError):
    reason = "missing_signature"


class MalformedSignatureError(SignatureError):
    reason = "malformed_signature"


class StaleTimestampError(SignatureError):
    reason = "stale_timestamp"


class SignatureMismatchError(SignatureError):
    reason = "signature_mismatch"


class NotJSONError(SignatureError):
    reason = "not_json"


@dataclass(frozen=True)
class ParsedHeader:
    timestamp: int
    signatures: tuple[str, ...]


def parse_header(header: str | None) -> ParsedHeader:
    """`t=…,v1=…[,v1=…]` → its timestamp and signatures (unknown schemes are ignored)."""
    if not header or not header.strip():
        raise MissingSignatureError(f"No {HEADER} header: the delivery is unsigned.")
    timestamp: str | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if not key or not value:
            continue  # as the SDK: empty or valueless parts are skipped
        if key == "t":
            timestamp = value.strip()
        elif key == "v1":
            signatures.append(value.strip())
    if timestamp is None or not signatures:
        missing = "t=" if timestamp is None else "v1="
        raise MalformedSignatureError(f"{HEADER} has no {missing} part.")
    if not _TIMESTAMP.match(timestamp):
        raise MalformedSignatureError(f"{HEADER} timestamp is not a whole number of seconds.")
    return ParsedHeader(int(timestamp), tuple(signatures))


def compute(secret: str, timestamp: int, body: bytes) -> str:
    """The hex `v1` signature of `body` at `timestamp`."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """A `Spine-Signature` header value for `body` (now, unless `timestamp` is given)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={compute(secret, t, body)}"


def verify(body: bytes, header: str | None, secret: str,
           tolerance: int = DEFAULT_TOLERANCE, now: float | None = None) -> dict[str, Any]:
    """The event (a JSON object) when `header` proves `secret` signed `body`; else raise."""
    parsed = parse_header(header)
    current = int(time.time() if now is None else now)
    if abs(current - parsed.timestamp) > tolerance:
        raise StaleTimestampError(
            f"{HEADER} timestamp is {abs(current - parsed.timestamp)} s away from now, "
            f"outside the {tolerance} s tolerance (replayed, or a clock is wrong).")
    expected = compute(secret, parsed.timestamp, body).encode()
    # Check every v1 without stopping early, so timing reveals nothing about which matched.
    matched = [hmac.compare_digest(expected, s.encode("utf-8", "replace"))
               for s in parsed.signatures]
    if not any(matched):
        raise SignatureMismatchError(
            f"{HEADER} does not match: wrong secret, or the body was changed after signing.")
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise NotJSONError("The body is signed but is not valid JSON.") from None
    if not isinstance(event, dict):
        raise NotJSONError("The body is signed but is not a JSON object.")
    return event

