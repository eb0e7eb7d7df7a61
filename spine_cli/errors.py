"""Errors and exit codes.

Every failure `spine` reports is a `SpineError`; the command wrapper in
`spine_cli.commands.shared` prints its message (and hint) on stderr and exits with its code.

    SpineError                      exit code from .exit_code
     ├── UsageError                 2   bad flag, argument or input file
     ├── ConfigError                4   unreadable config, unknown profile
     │    └── MissingKeyError       4   no API key anywhere
     ├── APIError                       the server answered with an error
     │    ├── BadRequestError       2   400 / 413 / other 4xx
     │    ├── AuthenticationError   4   401
     │    ├── NotFoundError         9   404
     │    ├── RateLimitError        8   429 beyond the retry budget
     │    └── ServerError           8   5xx beyond the retry budget
     ├── NetworkError               8   connection, timeout, malformed body
     │    ├── MalformedResponseError 8  an answer of the wrong shape (not what the API documents)
     │    ├── DeadlineError         8   a request outlived the time left (a wait turns it into 6)
     │    └── CreateUncertainError  8   POST /v1/run may or may not have created a run
     ├── WaitTimeoutError           6   --timeout reached; the run goes on
     ├── DownloadError              7   an artifact could not be fetched or verified
     ├── WebhookError               10  a delivery failed verification, or an endpoint
     │                                  rejected the event `webhook trigger` sent
     └── InterruptedError_          130 Ctrl-C (143 for SIGTERM)
          └── CreateInterruptedError    during POST /v1/run; says whether a run may exist

Run outcomes (failed = 3, partial = 5) are not errors: `wait` turns a terminal
status into an exit code with `exit_code_for_status`.
"""

from __future__ import annotations

import re
import shlex
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 1
    USAGE = 2
    RUN_FAILED = 3
    CONFIG = 4
    RUN_PARTIAL = 5
    TIMEOUT = 6
    DOWNLOAD = 7
    UNAVAILABLE = 8
    NOT_FOUND = 9
    WEBHOOK = 10
    INTERRUPTED = 130
    BROKEN_PIPE = 141
    TERMINATED = 143


# Severity order for "worst wins" when several runs are waited on.
_SEVERITY = [
    ExitCode.OK,
    ExitCode.RUN_PARTIAL,
    ExitCode.DOWNLOAD,
    ExitCode.TIMEOUT,
    ExitCode.RUN_FAILED,
    ExitCode.WEBHOOK,
    ExitCode.NOT_FOUND,
    ExitCode.UNAVAILABLE,
    ExitCode.CONFIG,
    ExitCode.USAGE,
    ExitCode.INTERNAL,
    ExitCode.BROKEN_PIPE,
    ExitCode.INTERRUPTED,
    ExitCode.TERMINATED,
]

EXIT_CODE_TABLE: list[tuple[int, str]] = [
    (0, "success; for wait/watch/create --wait the run ended completed"),
    (1, "unexpected internal error (a bug; traceback only with SPINE_DEBUG=1)"),
    (2, "usage error: bad flag, argument or input file, or a request the API rejected (400)"),
    (3, "the run ended failed"),
    (4, "authentication or configuration problem: no key, key rejected (401), bad config"),
    (5, "the run ended partial (--partial-ok makes it 0)"),
    (6, "stopped waiting at --timeout; the run goes on server-side"),
    (7, "the run succeeded but an artifact could not be downloaded or verified"),
    (8, "API unreachable or failing (network, 5xx, 429) beyond the retry/outage budget, "
        "or answered what spine cannot use: an answer of the wrong shape or an unknown run "
        "status; also a create that may or may not have made a run (recorded as "
        "unconfirmed)"),
    (9, "not found (404): no such run, canvas or task for this key"),
    (10, "a webhook delivery failed verification (bad or missing signature, stale "
         "timestamp, not JSON), or the endpoint of webhook trigger rejected the event"),
    (130, "interrupted (Ctrl-C); the run goes on server-side"),
    (141, "stdout was closed early (e.g. piped into head); nothing more is printed"),
    (143, "terminated (SIGTERM, as CI runners cancel); handled like Ctrl-C"),
]


def worst(codes: list[int]) -> int:
    """The most severe of several exit codes (0 when empty)."""
    if not codes:
        return 0

    def rank(code: int) -> int:
        try:
            return _SEVERITY.index(ExitCode(code))
        except ValueError:
            return len(_SEVERITY)

    return max(codes, key=rank)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be, so every path that handles one handles both."""


def interrupt_code(exc: BaseException) -> int:
    """130 for Ctrl-C, 143 for SIGTERM."""
    return int(ExitCode.TERMINATED if isinstance(exc, Terminated) else ExitCode.INTERRUPTED)


class SpineError(Exception):
    """Base of every error `spine` reports to the user."""

    exit_code: int = ExitCode.INTERNAL
    status_code: int | None = None  # the HTTP status, when an answer caused it
    request_id: str | None = None   # the answer's X-Request-ID, when it had one

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(SpineError):
    exit_code = ExitCode.USAGE


class ConfigError(SpineError):
    exit_code = ExitCode.CONFIG


class MissingKeyError(ConfigError):
    def __init__(self, profile: str | None = None) -> None:
        where = f" for profile '{profile}'" if profile else ""
        super().__init__(
            f"No API key configured{where}.",
            hint=hint_with_flags("Set SPINE_API_KEY, or run `spine auth login`.", profile),
        )


_AUTH_COMMAND = re.compile(r"\bspine auth (login|status)\b")


def hint_with_flags(hint: str, profile: str | None, base_url: str | None = None) -> str:
    """A hint's `spine auth login/status` with the --profile (and a --base-url flag) in use.

    Without them the suggested command would act on the default profile or host, not
    on the one that failed.
    """
    site = f" --base-url {shlex.quote(base_url)}" if base_url and "--base-url" not in hint \
        else ""
    prof = f" --profile {shlex.quote(profile)}" if profile and profile != "default" \
        and "--profile" not in hint else ""
    return _AUTH_COMMAND.sub(lambda m: f"spine{site} auth {m.group(1)}{prof}", hint)


class APIError(SpineError):
    """The API answered with an error envelope or an error status."""

    def __init__(
        self,
        message: str,
        status_code: int,
        request_id: str | None = None,
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.status_code = status_code
        self.request_id = request_id
        self.retry_after = retry_after


class BadRequestError(APIError):
    exit_code = ExitCode.USAGE


class AuthenticationError(APIError):
    exit_code = ExitCode.CONFIG


class NotFoundError(APIError):
    exit_code = ExitCode.NOT_FOUND


class RateLimitError(APIError):
    exit_code = ExitCode.UNAVAILABLE


class ServerError(APIError):
    exit_code = ExitCode.UNAVAILABLE


class NetworkError(SpineError):
    exit_code = ExitCode.UNAVAILABLE


class MalformedResponseError(NetworkError):
    """The API answered with a body that is not what it documents."""

    def __init__(self, message: str, hint: str | None = None, status_code: int | None = None,
                 request_id: str | None = None) -> None:
        super().__init__(message, hint)
        self.status_code = status_code
        self.request_id = request_id


class DeadlineError(NetworkError):
    """A request did not finish within the time its caller had left (--timeout)."""


class CreateUncertainError(NetworkError):
    """POST /v1/run failed after the request may have reached the server."""


class WaitTimeoutError(SpineError):
    exit_code = ExitCode.TIMEOUT


class DownloadError(SpineError):
    exit_code = ExitCode.DOWNLOAD


class WebhookError(SpineError):
    """A webhook delivery failed verification, or an endpoint rejected a triggered event."""

    exit_code = ExitCode.WEBHOOK


class InterruptedError_(SpineError):
    exit_code = ExitCode.INTERRUPTED


class CreateInterruptedError(InterruptedError_):
    """Ctrl-C (or SIGTERM) during POST /v1/run; `ambiguous` when the request was complete."""

    def __init__(self, ambiguous: bool, exit_code: int = ExitCode.INTERRUPTED) -> None:
        if ambiguous:
            # runs.create points the hint at the attempt's unconfirmed history row.
            super().__init__("Interrupted after the create request was sent: a run may have "
                             "been created.",
                             hint="Check for the run before creating it again.")
        else:
            super().__init__("Interrupted before the create request was complete: no run was "
                             "created.")
        self.ambiguous = ambiguous
        self.exit_code = ExitCode(exit_code)


def api_error_for_status(
    status_code: int,
    message: str,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> APIError:
    """Map an HTTP status to the matching APIError subclass."""
    if status_code == 401:
        cls: type[APIError] = AuthenticationError
        hint = "Check the key: `spine auth status`."
    elif status_code == 404:
        cls, hint = NotFoundError, None
    elif status_code == 429:
        cls, hint = RateLimitError, "The API is rate limiting this key; try again later."
    elif status_code >= 500:
        cls, hint = ServerError, "The Spine API is failing; try again later."
    else:
        cls, hint = BadRequestError, None
    return cls(message, status_code, request_id, hint=hint, retry_after=retry_after)
