"""The thin HTTP client for the Spine API.

It speaks the envelope (`{success, error, data}`), maps statuses to the error
tree in `spine_cli.errors`, retries per `spine_cli.api.retry`, and never prints
(verbose request logs go through the `log` callable it is given).

The API key is added by a request hook only to requests for the API's own
origin, so neither a redirect nor a pre-signed download URL on another host
can ever receive it.
"""

from __future__ import annotations

import mimetypes
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable

# httpx imports its own command-line tool (click, rich.syntax, pygments) whenever
# click is installed (uvicorn brings it): ~0.1 s and 6 MiB on every `spine` call,
# for code we never run. A None entry makes that import fail, as httpx allows.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

import httpx  # noqa: E402

from spine_cli import __version__
from spine_cli.errors import (
    CreateUncertainError,
    NetworkError,
    SpineError,
    api_error_for_status,
)
from spine_cli.api.retry import RetryPolicy, backoff_delay, parse_retry_after, should_retry

USER_AGENT = f"spine-cli/{__version__}"
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=120.0, pool=60.0)
# A Retry-After longer than this on a one-shot request is reported, not slept through.
MAX_INLINE_RETRY_AFTER = 60.0


def normalize_base_url(url: str) -> str:
    """`https://host[/path]` → `https://host[/path]/v1` (as the SDKs do)."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        from spine_cli.errors import UsageError

        raise UsageError(f"Invalid base URL {url!r}: it must start with http:// or https://.")
    return url if url.endswith("/v1") else url + "/v1"


def origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


class UploadReader:
    """A file object that reports how many bytes httpx has read from it."""

    def __init__(self, path: Path, on_read: Callable[[int], None] | None) -> None:
        self._fh = open(path, "rb")
        self._on_read = on_read

    def read(self, size: int = -1) -> bytes:
        chunk = self._fh.read(size)
        if chunk and self._on_read:
            self._on_read(len(chunk))
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._fh.seek(offset, whence)

    def tell(self) -> int:
        return self._fh.tell()

    def fileno(self) -> int:
        return self._fh.fileno()

    def close(self) -> None:
        self._fh.close()


def content_type_for(path: Path) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    if path.suffix.lower() in (".md", ".yaml", ".yml") and not guessed:
        return "text/markdown" if path.suffix.lower() == ".md" else "application/yaml"
    return guessed or "application/octet-stream"


class SpineClient:
    """One connection pool; methods return the envelope's unwrapped `data`."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        policy: RetryPolicy = RetryPolicy(),
        log: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_connections: int = 20,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self._origin = origin(httpx.URL(self.base_url))
        self._key = api_key
        self._log = log
        self._sleep = sleep
        self.policy = policy
        self._http = httpx.Client(
            transport=transport,
            timeout=timeout,
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            limits=httpx.Limits(max_connections=max_connections,
                                max_keepalive_connections=max_connections),
            event_hooks={"request": [self._add_key], "response": [self._log_response]},
        )

    # -- hooks -------------------------------------------------------------
    def _add_key(self, request: httpx.Request) -> None:
        if origin(request.url) == self._origin:
            request.headers["X-API-KEY"] = self._key
        else:
            request.headers.pop("X-API-KEY", None)
        request.extensions["spine_t0"] = time.monotonic()

    def _log_response(self, response: httpx.Response) -> None:
        if not self._log:
            return
        req = response.request
        ms = (time.monotonic() - req.extensions.get("spine_t0", time.monotonic())) * 1000
        rid = response.headers.get("x-request-id")
        tail = f", request id {rid}" if rid else ""
        self._log(f"{req.method} {req.url} → {response.status_code} ({ms:.0f} ms{tail})")

    # -- plumbing ----------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "SpineClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _url(self, path: str) -> str:
        return self.base_url + path

    def request_json(self, method: str, path: str, *, idempotent: bool = True,
                     max_retries: int | None = None, **kwargs: Any) -> Any:
        """Send with retries; return `data` or raise a SpineError."""
        retries = self.policy.max_retries if max_retries is None else max_retries
        attempt = 0
        while True:
            try:
                response = self._http.request(method, self._url(path), **kwargs)
            except httpx.TransportError as exc:
                if attempt < retries and should_retry(idempotent=idempotent, exc=exc):
                    self._pause(attempt, None, f"{type(exc).__name__}")
                    attempt += 1
                    continue
                raise self._transport_error(exc, method, idempotent) from None
            if response.status_code < 400 or not should_retry(
                idempotent=idempotent, status=response.status_code
            ) or attempt >= retries:
                return unwrap(response)
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if retry_after is not None and retry_after > MAX_INLINE_RETRY_AFTER:
                return unwrap(response)
            self._pause(attempt, retry_after, f"HTTP {response.status_code}")
            attempt += 1

    def _pause(self, attempt: int, retry_after: float | None, why: str) -> None:
        delay = backoff_delay(attempt, self.policy, retry_after)
        if self._log:
            self._log(f"retrying in {delay:.1f}s after {why}")
        self._sleep(delay)

    def _transport_error(self, exc: httpx.TransportError, method: str,
                         idempotent: bool) -> SpineError:
        what = _describe_transport_error(exc)
        if not idempotent and method == "POST":
            return CreateUncertainError(
                f"{what} while creating the run; the request may have reached the "
                "server, so a run may have been created. It was not resent, to avoid a "
                "duplicate run.",
                hint="Check the canvas list in the Spine app or `spine run list` "
                "before creating it again.",
            )
        return NetworkError(f"Cannot reach the Spine API at {self.base_url}: {what}.",
                            hint="Check the network or SPINE_BASE_URL, then retry.")

    # -- endpoints ---------------------------------------------------------
    def create_run(self, fields: dict[str, str], files: Iterable[Path] = (),
                   on_upload: Callable[[int], None] | None = None) -> dict[str, Any]:
        """POST /v1/run (multipart when files are attached, url-encoded otherwise)."""
        readers = [UploadReader(Path(p), on_upload) for p in files]
        parts = [("files", (Path(p).name, r, content_type_for(Path(p))))
                 for p, r in zip(files, readers)]
        try:
            return self.request_json("POST", "/run", idempotent=False, data=fields,
                                     files=parts or None)
        except SpineError as exc:
            if getattr(exc, "status_code", 0) >= 500:
                exc.message += (". A run may have been created; the request was not resent, "
                                "to avoid a duplicate run")
                exc.hint = "Check `spine run list --refresh` or the Spine app before retrying."
            raise
        finally:
            for r in readers:
                r.close()

    def get_run(self, run_id: str, max_retries: int | None = None) -> dict[str, Any]:
        return self.request_json("GET", f"/run/{run_id}", max_retries=max_retries)

    def get_dag(self, canvas_id: str) -> dict[str, Any]:
        return self.request_json("GET", f"/canvas/{canvas_id}/dag")

    def get_tasks(self, canvas_id: str) -> dict[str, Any]:
        return self.request_json("GET", f"/canvas/{canvas_id}/tasks")

    def get_task(self, canvas_id: str, task_id: str) -> dict[str, Any]:
        return self.request_json("GET", f"/canvas/{canvas_id}/tasks/{task_id}")


def _describe_transport_error(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "the request timed out"
    if isinstance(exc, httpx.ConnectError):
        return "connection failed"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the connection was dropped"
    return f"network error ({type(exc).__name__})"


def unwrap(response: httpx.Response) -> Any:
    """Check the envelope; return `data` or raise the matching error."""
    rid = response.headers.get("x-request-id")
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "success" not in body:
        ctype = response.headers.get("content-type", "unknown type").split(";")[0]
        message = f"The API returned a non-JSON response (HTTP {status}, {ctype})"
        if status < 400:
            raise NetworkError(message + ".", hint="A proxy may be in the way; check SPINE_BASE_URL.")
        raise api_error_for_status(status, message, rid, _retry_after(response))
    if body.get("success") is True and status < 400:
        return body.get("data")
    error = body.get("error") or f"HTTP {status}"
    raise api_error_for_status(status if status >= 400 else 400, str(error), rid,
                               _retry_after(response))


def _retry_after(response: httpx.Response) -> float | None:
    return parse_retry_after(response.headers.get("retry-after"))


def _stderr_log(line: str) -> None:
    import sys

    from spine_cli.ui.textsafe import sanitize

    sys.stderr.write(f"[spine] {sanitize(line)}\n")


def make_client(settings: Any, state: Any = None, **kwargs: Any) -> SpineClient:
    """The one factory commands use: resolved settings → a ready client."""
    key = settings.require_key()
    log = _stderr_log if state is not None and getattr(state, "verbose", 0) else None

    return SpineClient(settings.base_url, key, log=log, **kwargs)
