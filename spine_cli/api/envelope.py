"""Reading an answer: a capped body, then the `{success, error, data}` envelope.

`read_body` bounds what an answer may cost: at most `MAX_BODY` bytes (a
200 MB answer is refused, not buffered) and no longer than the caller's
deadline, even when the server trickles one byte at a time. `unwrap` turns
the envelope into `data` or the matching error of `spine_cli.errors`.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import httpx

from spine_cli.api.retry import parse_retry_after
from spine_cli.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    DeadlineError,
    MalformedResponseError,
    NotFoundError,
    RateLimitError,
    ServerError,
)

MAX_BODY = 16 * 1024 * 1024


def read_body(response: httpx.Response, *, deadline: float | None,
              clock: Callable[[], float], limit: int = MAX_BODY) -> bytes:
    """The whole body of a streamed response, within `limit` bytes and `deadline`."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(response, int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    # Chunks as they arrive (not 64 KiB at a time), so the deadline is checked on each.
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise _too_large(response, size, limit)
        chunks.append(chunk)
        if deadline is not None and clock() > deadline:
            raise DeadlineError("The API's answer was still arriving when the time ran out.")
    return b"".join(chunks)


def _too_large(response: httpx.Response, size: int, limit: int) -> MalformedResponseError:
    return MalformedResponseError(
        f"The API's answer is too large ({size:,} bytes or more; the limit is "
        f"{limit // (1024 * 1024)} MiB); it was not read.",
        status_code=response.status_code, request_id=response.headers.get("x-request-id"))


def unwrap(status: int, headers: httpx.Headers, body: bytes) -> Any:
    """Check the envelope; return `data` or raise the matching error."""
    rid = headers.get("x-request-id")
    doc = _parse(body)
    if not isinstance(doc, dict) or not isinstance(doc.get("success"), bool):
        message = f"The API answered HTTP {status} with {_what(doc, headers)}."
        if status < 400:
            raise MalformedResponseError(message, status_code=status, request_id=rid,
                                         hint="A proxy may be in the way; check SPINE_BASE_URL.")
        error = error_for_status(status, message, rid, headers)
        error.hint = error.hint or "A proxy may be in the way; check SPINE_BASE_URL."
        raise error
    if doc["success"] is True and 200 <= status < 300:
        return doc.get("data")
    text = _error_text(doc)
    if status < 400:
        # success:false on a 2xx: the API refused the request, whatever the status says.
        raise BadRequestError(f"The API refused the request: {text}", status, rid)
    raise error_for_status(status, text, rid, headers)


_NOT_JSON = object()


def _parse(body: bytes) -> Any:
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _what(doc: Any, headers: httpx.Headers) -> str:
    """What came instead of the envelope, in words."""
    ctype = headers.get("content-type", "").split(";")[0].strip() or "no content type"
    if doc is None:
        return "an empty body, not the API's JSON envelope"
    if doc is _NOT_JSON:
        what = "a body that is not JSON" if "json" in ctype else "a non-JSON page"
        return f"{what} ({ctype}), not the API's JSON envelope"
    return "JSON that is not the API's envelope"


def _error_text(doc: dict[str, Any]) -> str:
    """The error's words, wherever the server put them (`error`, else another field)."""
    for value in (doc.get("error"), doc.get("message"), doc.get("detail"), doc.get("errors")):
        text = _text_of(value)
        if text:
            return text
    return "no error message"


def _text_of(value: object) -> str | None:
    if isinstance(value, str):
        # One line: the server's newlines cannot fake a line of spine's own.
        return " ".join(value.split()) or None
    if isinstance(value, dict):
        for key in ("message", "error", "detail"):
            text = _text_of(value.get(key))
            if text:
                return text
    if isinstance(value, list):
        return next((t for t in map(_text_of, value) if t), None)
    if value not in (None, "", [], {}):
        return json.dumps(value, ensure_ascii=False)[:500]
    return None


def error_for_status(status: int, message: str, request_id: str | None = None,
                     headers: httpx.Headers | None = None) -> APIError:
    """Map an HTTP status to the matching APIError subclass."""
    retry_after = parse_retry_after(headers.get("retry-after")) if headers is not None else None
    if status == 401:
        cls: type[APIError] = AuthenticationError
        hint: str | None = "Check the key: `spine auth status`."
    elif status == 404:
        cls, hint = NotFoundError, None
    elif status == 429:
        cls, hint = RateLimitError, "The API is rate limiting this key; try again later."
    elif status >= 500:
        cls, hint = ServerError, "The Spine API is failing; try again later."
    else:
        cls, hint = BadRequestError, None
    return cls(message, status, request_id, hint=hint, retry_after=retry_after)
