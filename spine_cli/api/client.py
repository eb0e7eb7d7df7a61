"""The thin HTTP client for the Spine API.

It speaks the envelope (`api.envelope`), parses answers into typed models
(`api.models`), retries per the one policy (`api.retry`) and never prints
(request logs go through the `log` callable it is given).

The API key is added by a request hook only to requests for the API's own
origin, so neither a redirect nor a pre-signed download URL on another host
can ever receive it. A create is never redirected: a 3xx answer to
`POST /v1/run` is reported as an ambiguous outcome, never followed.

Every request has a total deadline as well as per-read timeouts: `deadline`
(a clock time) bounds connecting, waiting for the answer and reading it, so
a server that trickles one byte at a time cannot hold a bounded wait.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

# httpx imports its own command-line tool (click, rich.syntax, pygments) whenever
# click is installed (uvicorn brings it): ~0.1 s and 6 MiB on every `spine` call,
# for code we never run. A None entry makes that import fail, as httpx allows.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

import httpx  # noqa: E402

from spine_cli.api.envelope import read_body, unwrap  # noqa: E402
from spine_cli.api.canvas import Dag, Task, TaskTree  # noqa: E402
from spine_cli.api.models import CreatedRun, Run  # noqa: E402
from spine_cli.api.retry import (  # noqa: E402
    DEFAULT_POLICY, RequestBudget, RetryPolicy, never_sent, should_retry,
)
from spine_cli.api.transfer import USER_AGENT, UploadChangedError, UploadReader  # noqa: E402
from spine_cli.errors import (  # noqa: E402
    APIError, CreateInterruptedError, CreateUncertainError, DeadlineError,
    MalformedResponseError, NetworkError, SpineError, UsageError, interrupt_code,
)

CONNECT_TIMEOUT, READ_TIMEOUT, WRITE_TIMEOUT = 10.0, 60.0, 120.0
# One exchange (not counting retries) never takes longer than this, even trickled.
REQUEST_DEADLINE = 180.0
CREATE_PATH = "/run"
NO_RUN = "No run was created."


def normalize_base_url(url: str) -> str:
    """`https://host[/path]` → `https://host[/path]/v1` (as the SDKs do)."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"Invalid base URL {url!r}: it must start with http:// or https://.")
    return url if url.endswith("/v1") else url + "/v1"


def origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


@dataclass
class FilePart:
    """One uploaded file: where it is read from and what the server is told."""

    path: Path
    filename: str
    content_type: str
    sha256: str | None = None  # set by create_run once the whole file was sent


@dataclass
class _Attempt:
    """What one exchange got as far as (httpx's trace events, when the transport has them)."""

    traced: bool = False
    sending: bool = False  # the request's first bytes went out
    sent: bool = False     # the whole request went out: the server may act on it

    def trace(self, name: str, info: Any) -> None:
        self.traced = True
        if name.endswith("send_request_headers.started"):
            self.sending = True
        elif name.endswith("send_request_body.complete"):
            self.sent = True

    def never_sent(self, exc: BaseException) -> bool:
        return never_sent(exc) or (self.traced and not self.sending)

    def maybe_received(self) -> bool:
        """Could the server have acted on the request? (Unknown without a trace: yes.)"""
        return self.sent or not self.traced


class SpineClient:
    """One connection pool; endpoint methods return typed models."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        policy: RetryPolicy = DEFAULT_POLICY,
        log: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        budget: RequestBudget | None = None,
        max_connections: int = 20,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self._origin = origin(httpx.URL(self.base_url))
        self._key = api_key
        self._log = log
        self._sleep, self._clock = sleep, clock
        self.policy = policy
        self.budget = budget or RequestBudget(clock)
        self._http = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT,
                                  write=WRITE_TIMEOUT, pool=READ_TIMEOUT),
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

    def request_json(self, method: str, path: str, *, idempotent: bool = True,
                     max_retries: int | None = None, deadline: float | None = None,
                     **kwargs: Any) -> Any:
        """Send with retries; return the envelope's `data` or raise a SpineError."""
        retries = self.policy.max_retries if max_retries is None else max_retries
        attempt = 0
        while True:
            self._hold(deadline)
            try:
                return self._exchange(method, path, idempotent, deadline, kwargs)
            except _Retryable as retry:
                if attempt >= retries or (deadline is not None and self._clock() >= deadline):
                    raise retry.error from None
                left = None if deadline is None else deadline - self._clock()
                delay = self.policy.delay(attempt, retry.retry_after, left)
                self._note(f"retrying in {delay:.1f}s after {retry.why}")
                if retry.retry_after is not None:
                    # Every request under this key waits it out (`_hold`), this one included.
                    self.budget.pause(delay)
                else:
                    self._sleep(delay)
                attempt += 1

    def _hold(self, deadline: float | None) -> None:
        """Wait out a pause the key's budget imposes (a 429 on any request)."""
        wait = self.budget.wait_time()
        if deadline is not None:
            wait = min(wait, max(0.0, deadline - self._clock()))
        if wait > 0:
            self._sleep(wait)

    def _exchange(self, method: str, path: str, idempotent: bool, deadline: float | None,
                  kwargs: dict[str, Any]) -> Any:
        creating = method == "POST" and path == CREATE_PATH
        attempt = _Attempt()
        try:
            with self._send(method, path, creating, deadline, attempt, kwargs) as response:
                if creating and 300 <= response.status_code < 400:
                    raise _redirected_create(response)
                body = read_body(response, deadline=_total(deadline, self._clock),
                                 clock=self._clock)
        except DeadlineError as exc:
            if creating:
                raise CreateUncertainError(
                    f"{exc.message} A run may have been created; the request was not resent, "
                    "to avoid a duplicate run.") from None
            raise
        except KeyboardInterrupt as exc:
            if creating:
                raise CreateInterruptedError(attempt.maybe_received(),
                                             interrupt_code(exc)) from None
            raise
        except UploadChangedError as exc:
            raise UsageError(f"{exc}; {NO_RUN if not attempt.sending else 'the request was cut short.'}",
                             hint="Attach a file that is not being written to.") from None
        except httpx.HTTPError as exc:
            raise self._transport_failure(exc, attempt, creating, idempotent) from None
        try:
            return unwrap(response.status_code, response.headers, body)
        except APIError as exc:
            if should_retry(idempotent=idempotent, status=exc.status_code):
                raise _Retryable(exc, f"HTTP {exc.status_code}", exc.retry_after) from None
            raise

    def _send(self, method: str, path: str, creating: bool, deadline: float | None,
              attempt: _Attempt, kwargs: dict[str, Any]) -> Any:
        total = _total(deadline, self._clock)
        left = None if total is None else max(0.001, total - self._clock())
        timeout = httpx.Timeout(
            connect=_min(CONNECT_TIMEOUT, left), read=_min(READ_TIMEOUT, left),
            write=_min(WRITE_TIMEOUT, left), pool=_min(READ_TIMEOUT, left))
        request = self._http.build_request(method, self.base_url + path, timeout=timeout,
                                           extensions={"trace": attempt.trace}, **kwargs)
        return _streamed(self._http, request, follow_redirects=not creating)

    def _transport_failure(self, exc: httpx.HTTPError, attempt: _Attempt, creating: bool,
                           idempotent: bool) -> SpineError:
        what = describe_transport_error(exc)
        if creating and attempt.maybe_received() and not attempt.never_sent(exc):
            return CreateUncertainError(
                f"{what} while creating the run; the request may have reached the "
                "server, so a run may have been created. It was not resent, to avoid a "
                "duplicate run.")
        error = NetworkError(f"Cannot reach the Spine API at {self.base_url}: {what}."
                             + (f" {NO_RUN}" if creating else ""),
                             hint="Check the network or SPINE_BASE_URL, then retry.")
        if should_retry(idempotent=idempotent, exc=exc) or attempt.never_sent(exc):
            return _Retryable(error, what)
        return error

    def _note(self, line: str) -> None:
        if self._log:
            self._log(line)

    # -- endpoints ---------------------------------------------------------
    def create_run(self, fields: dict[str, str], files: Iterable[FilePart] = (),
                   on_upload: Callable[[int], None] | None = None,
                   deadline: float | None = None) -> CreatedRun:
        """POST /v1/run (multipart when files are attached, url-encoded otherwise)."""
        parts = list(files)
        readers = [UploadReader(p.path, on_upload) for p in parts]
        multipart = [("files", (p.filename, r, p.content_type)) for p, r in zip(parts, readers)]
        try:
            data = self.request_json("POST", CREATE_PATH, idempotent=False, data=fields,
                                     files=multipart or None, deadline=deadline)
        except APIError as exc:
            if exc.status_code is not None and exc.status_code >= 500:
                raise CreateUncertainError(
                    f"{exc.message} (HTTP {exc.status_code}). A run may have been created; the "
                    "request was not resent, to avoid a duplicate run.") from None
            if exc.status_code == 429:
                exc.message += f". {NO_RUN}"
            raise
        finally:
            for p, r in zip(parts, readers):
                p.sha256 = r.sha256
                r.close()
        try:
            return CreatedRun.parse(data)
        except MalformedResponseError as exc:
            raise CreateUncertainError(
                f"{exc.message} A run may have been created; the request was not resent, to "
                "avoid a duplicate run.") from None

    def get_run(self, run_id: str, max_retries: int | None = None,
                deadline: float | None = None) -> Run:
        run = Run.parse(self.request_json("GET", f"/run/{run_id}", max_retries=max_retries,
                                          deadline=deadline))
        if run.run_id != run_id.lower():
            raise MalformedResponseError(f"The API answered for another run ({run.run_id}) "
                                         f"when asked for {run_id}.")
        return run

    def get_dag(self, canvas_id: str) -> Dag:
        return Dag.parse(self.request_json("GET", f"/canvas/{canvas_id}/dag"))

    def get_tasks(self, canvas_id: str, max_retries: int | None = None,
                  deadline: float | None = None) -> TaskTree:
        return TaskTree.parse(self.request_json("GET", f"/canvas/{canvas_id}/tasks",
                                                max_retries=max_retries, deadline=deadline))

    def get_task(self, canvas_id: str, task_id: str) -> Task:
        return Task.parse(self.request_json("GET", f"/canvas/{canvas_id}/tasks/{task_id}"))


class _Retryable(SpineError):
    """An attempt that may be repeated; `error` is what to report if it is not."""

    def __init__(self, error: SpineError, why: str, retry_after: float | None = None) -> None:
        super().__init__(error.message, error.hint)
        self.error, self.why, self.retry_after = error, why, retry_after


def _total(deadline: float | None, clock: Callable[[], float]) -> float | None:
    own = clock() + REQUEST_DEADLINE
    return own if deadline is None else min(own, deadline)


def _min(a: float, b: float | None) -> float:
    return a if b is None else min(a, b)


class _streamed:
    """`with _streamed(http, request) as response`: send streaming, always close."""

    def __init__(self, http: httpx.Client, request: httpx.Request, follow_redirects: bool) -> None:
        self._http, self._request, self._follow = http, request, follow_redirects
        self._response: httpx.Response | None = None

    def __enter__(self) -> httpx.Response:
        self._response = self._http.send(self._request, stream=True,
                                         follow_redirects=self._follow)
        return self._response

    def __exit__(self, *exc: object) -> None:
        if self._response is not None:
            self._response.close()


def _redirected_create(response: httpx.Response) -> CreateUncertainError:
    where = httpx.URL(response.headers.get("location", "")).host or "another address"
    return CreateUncertainError(
        f"The API answered the create with a redirect (HTTP {response.status_code} to "
        f"{where}); it was not followed, so the prompt and files went nowhere else. "
        "A run may have been created; the request was not resent, to avoid a duplicate run.")


def describe_transport_error(exc: BaseException) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "the request timed out"
    if isinstance(exc, httpx.ConnectError):
        return "connection failed"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the connection was dropped"
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects"
    return f"network error ({type(exc).__name__})"
