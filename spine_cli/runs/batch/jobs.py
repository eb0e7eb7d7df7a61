"""The batch runner's parts that do one thing each: its threads, its throttle, its jobs.

- `DaemonPool`: worker threads that never hold the process open. A Ctrl-C or
  SIGTERM must end `spine batch run` at once; `concurrent.futures`' pool
  joins its threads at exit, so a download under way would keep the process
  alive. The runner waits for creates under way itself (bounded), since their
  answers must be recorded; everything else is dropped.
- `Throttle`: the number of runs allowed in flight. It halves after repeated
  pauses of the key's request budget (429s and Retry-Afters, wherever they
  came from: a create, a poll) and grows back by one after as many successes
  in a row as the current limit (additive increase, multiplicative decrease).
- `CreatePacer`: creates after a 429 or an unreachable API wait under the retry
  policy, and stop after `--max-outage` of nothing but such failures.
- `create_row`, `download_row`: what a worker thread does for one row; each
  records its outcome in the batch state itself, so an answer that arrives
  is recorded even when the loop has moved on.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from spine_cli.api.retry import POLL_POLICY
from spine_cli.errors import CreateUncertainError, NetworkError, RateLimitError, SpineError
from spine_cli.runs.create import send
from spine_cli.runs.downloads import download_run

if TYPE_CHECKING:
    from spine_cli.api.client import SpineClient
    from spine_cli.api.models import CreatedRun, Run
    from spine_cli.api.transfer import Fetcher
    from spine_cli.local.batch_state import BatchState
    from spine_cli.local.history import History
    from spine_cli.runs.batch.input import BatchRow

Done = tuple[int, Any, "BaseException | None"]  # (job tag, result, exception)
PAUSE_WINDOW = 60.0  # two budget pauses within this many seconds halve the concurrency


class DaemonPool:
    """Jobs on daemon threads (see the module doc); their outcomes come back through one
    queue (`finished`), so the loop wakes once per answer, whatever is under way."""

    def __init__(self, workers: int, name: str = "spine-batch") -> None:
        self._todo: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[Done] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
                         for i in range(max(1, workers))]
        for thread in self._threads:
            thread.start()

    def submit(self, tag: int, fn: Callable[..., Any], *args: Any) -> None:
        self._todo.put((tag, fn, args))

    def _work(self) -> None:
        while (item := self._todo.get()) is not None:
            tag, fn, args = item
            try:
                self._done.put((tag, fn(*args), None))
            except BaseException as exc:  # handed to the loop, which decides
                self._done.put((tag, None, exc))

    def finished(self, timeout: float) -> list[Done]:
        """The outcomes of jobs that ended: waits up to `timeout` seconds for the first."""
        try:
            found = [self._done.get(timeout=timeout) if timeout > 0 else self._done.get_nowait()]
        except queue.Empty:
            return []
        while True:
            try:
                found.append(self._done.get_nowait())
            except queue.Empty:
                return found

    def close(self) -> None:
        """Let the threads end once the work queued before is done (never waits)."""
        for _ in self._threads:
            self._todo.put(None)


@dataclass
class Throttle:
    """How many runs may be in flight now (see the module doc)."""

    cap: int
    limit: int = 0
    backoffs: int = 0
    _seen_pauses: int = 0
    _recent: list[float] = field(default_factory=list)
    _streak: int = 0

    def __post_init__(self) -> None:
        self.limit = self.limit or self.cap

    def observe(self, pauses: int, now: float) -> bool:
        """Take in the budget's pause count; True when the limit was just lowered."""
        if pauses <= self._seen_pauses:
            return False
        self._recent += [now] * (pauses - self._seen_pauses)
        self._seen_pauses, self._streak = pauses, 0
        self._recent = [t for t in self._recent if now - t <= PAUSE_WINDOW]
        if len(self._recent) < 2 or self.limit == 1:
            return False
        self.limit, self._recent = max(1, self.limit // 2), []
        self.backoffs += 1
        return True

    def success(self) -> None:
        """A request answered; enough of them in a row raise the limit by one."""
        self._streak += 1
        if self.limit < self.cap and self._streak >= self.limit:
            self.limit, self._streak = self.limit + 1, 0


@dataclass
class CreatePacer:
    """When creates may go on after a 429 or an unreachable API (no run was made): after
    the retry policy's delay, and not at all once failures lasted `max_outage` seconds."""

    max_outage: float
    until: float = 0.0
    since: float | None = None
    failures: int = 0

    def failed(self, now: float, retry_after: float | None) -> float | None:
        """The pause before the next create, or None: stop creating."""
        self.since = self.since if self.since is not None else now
        delay = POLL_POLICY.delay(self.failures, retry_after)
        self.failures += 1
        self.until = now + delay
        return None if now - self.since >= self.max_outage else delay

    def succeeded(self) -> None:
        self.since, self.failures = None, 0


@dataclass
class CreateResult:
    """What became of one create: `created`, `uncertain`, `throttled`, `unreachable`, `refused`."""

    outcome: str
    created: "CreatedRun | None" = None
    error: SpineError | None = None


def create_row(client: "SpineClient", history: "History", settings: Any, state: "BatchState",
               row: "BatchRow", origin: str | None) -> CreateResult:
    """POST one claimed (`creating`) row and record the answer in the state and history."""
    try:
        created = send(client, history, settings, row.spec, origin=origin)
    except CreateUncertainError as exc:
        state.mark_uncertain(row.key, exc.message)
        return CreateResult("uncertain", error=exc)
    except RateLimitError as exc:  # a 429 is refused before it is processed: no run
        state.mark_not_created(row.key, exc.message, int(exc.exit_code))
        return CreateResult("throttled", error=exc)
    except NetworkError as exc:  # what is left certainly never reached the server
        state.mark_not_created(row.key, exc.message, int(exc.exit_code))
        return CreateResult("unreachable", error=exc)
    except SpineError as exc:  # refused: 400, 401, 413, a file that changed
        state.mark_not_created(row.key, exc.message, int(exc.exit_code))
        return CreateResult("refused", error=exc)
    except BaseException:
        # A bug between the claim and the answer: the request may have left.
        state.mark_uncertain(row.key, "spine failed while creating this run (a bug)")
        raise
    state.mark_created(row.key, created.run_id, canvas_id=created.canvas_id,
                       status=created.status.value)
    return CreateResult("created", created)


@dataclass
class DownloadResult:
    directory: str
    ok: bool
    error: str | None = None
    files: int = 0


def download_row(client: "SpineClient", state: "BatchState", fetcher: "Fetcher", key: str,
                 run_id: str, run: "Run | None", directory: str,
                 warn: Callable[[str], None]) -> DownloadResult:
    """Fetch one finished row's artifacts into `directory` and record how it went."""
    try:
        run = run or client.get_run(run_id)
        report = download_run(run, Path(directory), refresh=lambda: client.get_run(run_id),
                              fetcher=fetcher, warn=warn)
    except SpineError as exc:
        result = DownloadResult(directory, False, exc.message)
    else:
        error = report.error()
        result = DownloadResult(directory, error is None, error.message if error else None,
                                len(report.paths))
    state.record_download(key, directory, result.ok, result.error)
    return result

