"""Moving bytes for `spine_cli.runs.downloads`: one URL into a `.part` file.

Kept apart from naming and orchestration so each stays small. The fetcher
retries transient failures (connection errors, timeouts, 408/429/5xx, a body
shorter than announced) with backoff and reports an expired pre-signed URL
(403/410) as `Expired`, so the caller can re-poll the run for a fresh one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable

import httpx

from spine_cli.ui.output import Output
from spine_cli.api.retry import RETRY_STATUSES, RetryPolicy, backoff_delay, parse_retry_after
from spine_cli.ui.textsafe import sanitize

CHUNK = 64 * 1024
EXPIRED_STATUSES = frozenset({403, 410})
# The API client's retryable statuses, plus 408, which storage hosts send for a slow body.
TRANSIENT_STATUSES = RETRY_STATUSES | {408}


class Transient(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class Expired(Exception):
    """The URL was refused as expired or forbidden (403/410)."""


class Failed(Exception):
    """This artifact cannot be fetched; the message says why."""


class Fetcher:
    """GETs one URL into a `.part` file with retries; returns (size, sha256)."""

    def __init__(self, http: httpx.Client, bars: "Bars", sleep: Callable[[float], None],
                 policy: RetryPolicy) -> None:
        self.http, self.bars, self.sleep, self.policy = http, bars, sleep, policy

    def fetch(self, url: str, part: Path, label: str, expected: int | None) -> tuple[int, str]:
        if not url.startswith(("https://", "http://")):
            raise Failed("no usable download URL")
        reason, task = "", self.bars.start(label, expected)
        for attempt in range(self.policy.max_retries + 1):
            try:
                return self._stream(url, part, task, expected)
            except Transient as exc:
                reason = str(exc)
                if attempt < self.policy.max_retries:
                    # policy.max_delay caps Retry-After too: a download never stalls for long.
                    delay = backoff_delay(attempt, self.policy, exc.retry_after)
                    self.sleep(min(delay, self.policy.max_delay))
        raise Failed(f"{reason} (after {self.policy.max_retries + 1} attempts)")

    def _stream(self, url: str, part: Path, task: Any, expected: int | None) -> tuple[int, str]:
        digest, size = hashlib.sha256(), 0
        part.unlink(missing_ok=True)
        try:
            with self.http.stream("GET", url) as resp:
                _check_status(resp)
                self.bars.reset(task, expected or _int(resp.headers.get("content-length")))
                with open(part, "xb") as fh:  # "x": never follows a planted symlink
                    for chunk in resp.iter_bytes(CHUNK):
                        fh.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
                        self.bars.advance(task, len(chunk))
        except httpx.TransportError as exc:
            part.unlink(missing_ok=True)
            raise Transient(f"network error ({type(exc).__name__})") from None
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        if expected is not None and size != expected:
            part.unlink(missing_ok=True)
            raise Transient(f"size mismatch: got {size} bytes, expected {expected}")
        return size, digest.hexdigest()


def _check_status(resp: httpx.Response) -> None:
    code = resp.status_code
    if code in EXPIRED_STATUSES:
        raise Expired(f"HTTP {code}")
    if code in TRANSIENT_STATUSES:
        raise Transient(f"HTTP {code}", parse_retry_after(resp.headers.get("retry-after")))
    if code >= 300:
        raise Failed(f"HTTP {code}")


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Bars:
    """Per-file progress bars on stderr; does nothing when not live (a null object)."""

    def __init__(self, output: Output) -> None:
        self.progress = None
        if output.live and not output.quiet:
            from rich.progress import (BarColumn, DownloadColumn, Progress,
                                       TextColumn, TransferSpeedColumn)

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                     DownloadColumn(), TransferSpeedColumn(),
                                     console=output.err)

    def __enter__(self) -> "Bars":
        if self.progress:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress:
            self.progress.stop()

    def start(self, label: str, total: int | None) -> Any:
        if self.progress:
            label = sanitize(label, keep_newlines=False)
            short = label if len(label) <= 40 else label[:39] + "…"
            return self.progress.add_task(short, total=total)
        return None

    def reset(self, task: Any, total: int | None) -> None:
        if self.progress and task is not None:
            self.progress.reset(task, total=total)

    def advance(self, task: Any, n: int) -> None:
        if self.progress and task is not None:
            self.progress.advance(task, n)
