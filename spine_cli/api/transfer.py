"""Moving bytes: streamed uploads for `POST /v1/run`, artifact downloads into `.part` files.

Download URLs are pre-signed and live on other hosts, so `Fetcher` uses an
HTTP client of its own that never carries the API key. It retries transient
failures (connection errors, timeouts, 408/429/5xx, a body shorter than
announced) under the shared retry policy, stops at once when a body grows
past its announced size (never fetching it again), and reports an expired
pre-signed URL (403/410) as `Expired` so the caller can re-poll the run for a
fresh one. Progress goes to a `TransferProgress` the caller supplies (the
terminal's bars live in `ui/`; here they are only a protocol).
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any, Callable, Protocol

import httpx

from spine_cli import __version__
from spine_cli.api.retry import DOWNLOAD_POLICY, RETRY_STATUSES, RetryPolicy, parse_retry_after

USER_AGENT = f"spine-cli/{__version__}"
CHUNK = 64 * 1024
EXPIRED_STATUSES = frozenset({403, 410})
# The API client's retryable statuses, plus 408, which storage hosts send for a slow body.
TRANSIENT_STATUSES = RETRY_STATUSES | {408}
DOWNLOAD_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=60.0)


class TransferProgress(Protocol):
    """Per-file progress (bars on a terminal; nothing elsewhere)."""

    def start(self, label: str, total: int | None) -> object: ...

    def reset(self, task: object, total: int | None) -> None: ...

    def advance(self, task: object, n: int) -> None: ...


class NoProgress:
    def start(self, label: str, total: int | None) -> object:
        return None

    def reset(self, task: object, total: int | None) -> None:
        pass

    def advance(self, task: object, n: int) -> None:
        pass


class UploadChangedError(Exception):
    """A file being uploaded changed size while it was read."""


class UploadReader:
    """A file object for httpx's multipart encoder that reports how many bytes were read
    and refuses to send more or fewer bytes than the file had when the request was built.
    It hashes what it sends (`sha256`, once the whole file went out in order), so the
    history can record what was uploaded without reading the file twice."""

    def __init__(self, path: Path, on_read: Callable[[int], None] | None = None) -> None:
        self._fh = open(path, "rb")
        self.path = path
        self.size = os.fstat(self._fh.fileno()).st_size
        self.sent = 0
        self._on_read = on_read
        self._digest, self._hashed = hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        start = self.sent
        chunk = self._fh.read(size)
        self.sent += len(chunk)
        if self.sent > self.size or (not chunk and size != 0 and self.sent < self.size):
            raise UploadChangedError(f"{self.path} changed size while it was being uploaded "
                                     f"({self.size} bytes when the upload began)")
        if chunk and start == self._hashed:
            self._digest.update(chunk)
            self._hashed += len(chunk)
        if chunk and self._on_read:
            self._on_read(len(chunk))
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        position = self._fh.seek(offset, whence)
        if whence == 0:
            self.sent = position
            if position == 0:  # a resend starts over
                self._digest, self._hashed = hashlib.sha256(), 0
        return position

    @property
    def sha256(self) -> str | None:
        """The hex sha256 of the bytes sent, when they were the whole file, in order."""
        return self._digest.hexdigest() if self._hashed == self.size else None

    def tell(self) -> int:
        return self._fh.tell()

    def close(self) -> None:
        self._fh.close()


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

    def __init__(self, *, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 policy: RetryPolicy = DOWNLOAD_POLICY,
                 progress: TransferProgress | None = None) -> None:
        self.http = httpx.Client(transport=transport, timeout=DOWNLOAD_TIMEOUT,
                                 follow_redirects=True, headers={"User-Agent": USER_AGENT})
        self.sleep, self.policy = sleep, policy
        self.progress: TransferProgress = progress or NoProgress()

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "Fetcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(self, url: str | None, part: Path, label: str,
              expected: int | None) -> tuple[int, str]:
        if not url or not url.startswith(("https://", "http://")):
            raise Failed("no usable download URL")
        reason, task = "", self.progress.start(label, expected)
        for attempt in range(self.policy.max_retries + 1):
            try:
                return self._stream(url, part, task, expected)
            except Transient as exc:
                reason = str(exc)
                if attempt < self.policy.max_retries:
                    self.sleep(self.policy.delay(attempt, exc.retry_after))
        raise Failed(f"{reason} (after {self.policy.max_retries + 1} attempts)")

    def _stream(self, url: str, part: Path, task: object,
                expected: int | None) -> tuple[int, str]:
        digest, size = hashlib.sha256(), 0
        part.unlink(missing_ok=True)
        try:
            with self.http.stream("GET", url) as resp:
                _check_status(resp)
                announced = _int(resp.headers.get("content-length"))
                limit = expected if expected is not None else announced
                self.progress.reset(task, limit)
                with open(part, "xb") as fh:  # "x": never follows a planted symlink
                    for chunk in resp.iter_bytes(CHUNK):
                        size += len(chunk)
                        if limit is not None and size > limit:
                            raise Failed(f"the server sent more than the announced {limit} bytes")
                        fh.write(chunk)
                        digest.update(chunk)
                        self.progress.advance(task, len(chunk))
        except httpx.HTTPError as exc:
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
