"""One HTTP session with the Spine API: the key, the envelope, retries, deadlines.

`ApiSession.request_json` sends one request under the one retry policy
(`api.retry`) and the key's `RequestBudget`, within a total deadline, and
returns the envelope's `data` or raises the matching `SpineError`. The API key
is added by a request hook only to requests for the API's own origin, so
neither a redirect nor a pre-signed download URL on another host can ever
receive it. A create is never redirected: a 3xx answer to `POST /v1/run` is
an ambiguous outcome, never followed. The API's own requests skip httpx's
client layer (`_send_direct`: straight to the transport the client would use,
a proxy's included), since a batch sends thousands of them; everything else
(downloads, redirects) goes through the client. The endpoints live in `api.client`.
"""

from __future__ import annotations

import http.cookiejar
import time
from typing import Any, Callable, TypeVar

import httpx

from spine_cli.api.catalog import KEY_PREFIX
from spine_cli.api.exchange import (
    Attempt, Watchdog, describe_transport_error, streamed,
)
from spine_cli.api.envelope import read_body, unwrap
from spine_cli.api.retry import (
    DEFAULT_POLICY, RequestBudget, RetryPolicy, should_retry,
)
from spine_cli.api.transfer import USER_AGENT, UploadChangedError
from spine_cli.errors import (
    APIError, CreateInterruptedError, CreateUncertainError, DeadlineError,
    NetworkError, SpineError, UsageError, interrupt_code,
)

CONNECT_TIMEOUT, READ_TIMEOUT, WRITE_TIMEOUT = 10.0, 60.0, 120.0
# One exchange (not counting retries) never takes longer than this, even trickled.
REQUEST_DEADLINE = 180.0
CREATE_PATH = "/run"
URL_CACHE = 4096  # parsed URLs kept (the ids of the runs being polled)
NO_RUN = "No run was created."
S = TypeVar("S", bound="ApiSession")


def normalize_base_url(url: str) -> str:
    """`https://host[/path]` → `https://host[/path]/v1` (as the SDKs do)."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"Invalid base URL {url!r}: it must start with http:// or https://.")
    return url if url.endswith("/v1") else url + "/v1"


def masked_key(key: str) -> str:
    """`sk_spine_…abcd` (as `spine auth status` shows it): never enough to use the key."""
    tail = key[-4:] if len(key) > len(KEY_PREFIX) + 8 else ""
    return f"{KEY_PREFIX if key.startswith(KEY_PREFIX) else ''}…{tail}"


def origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


class ApiSession:
    """One connection pool to the API; `api.client.SpineClient` adds the endpoints."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        policy: RetryPolicy = DEFAULT_POLICY,
        log: Callable[[str], None] | None = None,
        trace: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        budget: RequestBudget | None = None,
        max_connections: int = 20,
        request_deadline: float = REQUEST_DEADLINE,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self._origin = origin(httpx.URL(self.base_url))
        self._key = api_key
        self._log = log
        self._trace = trace  # -vv: headers (the key masked) and rate-limit waits
        self._sleep, self._clock = sleep, clock
        self.policy = policy
        self.request_deadline = request_deadline
        self.budget = budget or RequestBudget(clock)
        self._urls: dict[str, httpx.URL] = {}
        self._http = httpx.Client(
            transport=transport,
            # The API sets no cookies: none are parsed or kept (parsing cost a tenth of a
            # poll's CPU), and no redirect can plant one to be sent back.
            cookies=_NoCookies(),
            timeout=httpx.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT,
                                  write=WRITE_TIMEOUT, pool=READ_TIMEOUT),
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            limits=httpx.Limits(max_connections=max_connections,
                                max_keepalive_connections=max_connections),
            event_hooks={"request": [self._add_key], "response": [self._log_response]},
        )
        self._headers = httpx.Headers(self._http.headers)  # the key: added by `_add_key`
        # What the client sends the API's requests through (a proxy's, when the environment
        # names one): `_send_direct` hands them to it.
        self._transport = self._http._transport_for_url(httpx.URL(self.base_url))

    # -- hooks -------------------------------------------------------------
    def _add_key(self, request: httpx.Request) -> None:
        if self._key and origin(request.url) == self._origin:
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
        if self._trace:
            for name, value in req.headers.items():
                shown = masked_key(value) if name.lower() == "x-api-key" else value
                self._trace(f"  > {name}: {shown}")
            for name, value in response.headers.items():
                self._trace(f"  < {name}: {value}")

    # -- plumbing ----------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self: S) -> S:
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
            if self._trace:
                self._trace(f"waiting {wait:.1f}s: the API asked this key to slow down")
            self._sleep(wait)

    def _exchange(self, method: str, path: str, idempotent: bool, deadline: float | None,
                  kwargs: dict[str, Any]) -> Any:
        creating = method == "POST" and path == CREATE_PATH
        total = self._total(deadline)
        # A create's deadline counts from the end of its upload (a big file on a slow
        # link is not a stalled server); its upload is bounded by the write timeouts.
        watchdog = Watchdog(total - self._clock(), after_sending=creating)
        attempt = Attempt(watchdog=watchdog)
        try:
            with watchdog, self._send(method, path, total, attempt, kwargs) as response:
                watchdog.watch(response.extensions.get("network_stream"))
                if creating and 300 <= response.status_code < 400:
                    raise _redirected_create(response)
                body = read_body(response, clock=self._clock,
                                 deadline=self._total(deadline) if creating else total)
        except httpx.HTTPError as exc:
            if not watchdog.fired:
                raise self._transport_failure(exc, attempt, creating, idempotent) from None
            raise _deadline_passed(DeadlineError(
                "The API's answer was still arriving when the time ran out."), creating) from None
        except DeadlineError as exc:
            raise _deadline_passed(exc, creating) from None
        except KeyboardInterrupt as exc:
            if creating:
                raise CreateInterruptedError(attempt.maybe_received(),
                                             interrupt_code(exc)) from None
            raise
        except UploadChangedError as exc:
            # The body never went out whole (no final boundary), so no server can act on it.
            raise UsageError(f"{exc}. The upload was stopped: no run was created.",
                             hint="Attach a file that is not being written to.") from None
        try:
            return unwrap(response.status_code, response.headers, body)
        except APIError as exc:
            if should_retry(idempotent=idempotent, status=exc.status_code):
                raise _Retryable(exc, f"HTTP {exc.status_code}", exc.retry_after) from None
            raise

    def _send(self, method: str, path: str, total: float, attempt: Attempt,
              kwargs: dict[str, Any]) -> Any:
        left = max(0.001, total - self._clock())
        timeout = httpx.Timeout(
            connect=_min(CONNECT_TIMEOUT, left), read=_min(READ_TIMEOUT, left),
            write=_min(WRITE_TIMEOUT, left), pool=_min(READ_TIMEOUT, left))
        # Built here rather than by `Client.build_request`: the client's headers are fixed,
        # it sets no cookies and no parameters (merging them cost a tenth of a poll's CPU).
        request = httpx.Request(method, self._url(path), headers=self._headers, **kwargs,
                                extensions={"timeout": timeout.as_dict(), "trace": attempt.trace})
        return streamed(lambda: self._send_direct(request))

    def _send_direct(self, request: httpx.Request) -> httpx.Response:
        """`Client.send` for a request to the API itself, less what the API never needs: no
        auth flow, no cookies, no redirect loop (a sixth of a poll's CPU). A redirect (the
        API sends none) is followed for a GET only, through the client, which follows any
        further ones and whose hook keeps the key from any other host; any other method
        (a create) gets the 3xx back: an ambiguous outcome, never re-sent."""
        self._add_key(request)
        response = self._transport.handle_request(request)
        response.request = request
        self._log_response(response)
        if request.method != "GET" or not response.has_redirect_location:
            return response
        response.close()
        try:
            target = request.url.join(response.headers["location"])
        except httpx.InvalidURL:  # as the client says of it
            raise httpx.RemoteProtocolError("Invalid URL in location header",
                                            request=request) from None
        return self._http.send(self._http.build_request("GET", target,
                                                        extensions=request.extensions),
                               stream=True, follow_redirects=True)

    def _url(self, path: str) -> httpx.URL:
        """The API URL of `path`, parsed once: a batch polls each run's URL many times, and
        parsing a URL was a tenth of a poll's CPU."""
        url = self._urls.get(path)
        if url is None:
            if len(self._urls) >= URL_CACHE:
                self._urls.clear()
            url = self._urls[path] = httpx.URL(self.base_url + path)
        return url

    def _total(self, deadline: float | None) -> float:
        """When this exchange must be over: the caller's deadline, or our own."""
        own = self._clock() + self.request_deadline
        return own if deadline is None else min(own, deadline)

    def _transport_failure(self, exc: httpx.HTTPError, attempt: Attempt, creating: bool,
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


class _NoCookies(http.cookiejar.CookieJar):
    """A cookie jar that takes nothing in."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None


class _Retryable(SpineError):
    """An attempt that may be repeated; `error` is what to report if it is not."""

    def __init__(self, error: SpineError, why: str, retry_after: float | None = None) -> None:
        super().__init__(error.message, error.hint)
        self.error, self.why, self.retry_after = error, why, retry_after


def _deadline_passed(exc: DeadlineError, creating: bool) -> NetworkError:
    if creating:
        return CreateUncertainError(
            f"{exc.message} A run may have been created; the request was not resent, "
            "to avoid a duplicate run.")
    return exc


def _min(a: float, b: float | None) -> float:
    return a if b is None else min(a, b)


def _redirected_create(response: httpx.Response) -> CreateUncertainError:
    where = httpx.URL(response.headers.get("location", "")).host or "another address"
    return CreateUncertainError(
        f"The API answered the create with a redirect (HTTP {response.status_code} to "
        f"{where}); it was not followed, so the prompt and files went nowhere else. "
        "A run may have been created; the request was not resent, to avoid a duplicate run.")


