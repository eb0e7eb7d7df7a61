"""The one wait loop behind `wait`, `watch`, `create --wait` and batches.

`Waiter.run` polls each `Tracked` run on the schedule of `runs.schedule`
until it is terminal, timed out, missing or unreachable, and reports every
answer and every failed poll through `WaitEvents` (the caller's reporter).

- One poll at a time per run; several runs are polled concurrently in one
  thread pool (one connection pool, the client's), and a 429 or
  `Retry-After` on any of them pauses all of them (`RequestBudget`).
- A failed poll (connection error, timeout, 429, 5xx, any other 4xx but 401/404,
  an answer of the wrong shape) is retried under the retry policy, never taken
  for the end of a run; after `max_outage` seconds of failures in a row the run
  gives up (exit 8).
  Every wait — `Retry-After` included — is capped by the policy and by what is
  left of `max_outage` and `timeout`, so neither is ever overshot.
- `timeout` bounds the whole wait, including a request in flight: each poll
  gets the deadline, and the client gives up on an answer still arriving.
- Only a terminal status ends a wait. A status this version of spine does not
  know ends it at once (exit 8), naming the status, rather than polling
  forever.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable, Protocol

from spine_cli.api.models import Run, RunStatus
from spine_cli.api.retry import POLL_POLICY, RequestBudget, RetryPolicy
from spine_cli.errors import (
    APIError, BadRequestError, ExitCode, MalformedResponseError, NetworkError, NotFoundError,
    RateLimitError, ServerError, SpineError,
)
from spine_cli.runs.schedule import next_poll_delay

DEFAULT_MAX_OUTAGE = 600.0
# Failures a wait rides out (a 401 ends the command; a 404 ends the run at once). A
# 4xx other than those cannot answer a valid run id's poll: like an answer of the wrong
# shape (a proxy's page, success:false on a 200), it is a failed poll within the outage.
TRANSIENT = (NetworkError, ServerError, RateLimitError, NotFoundError, BadRequestError)


def exit_code_for(status: RunStatus, partial_ok: bool = False) -> int:
    """The exit code of a run that ended with `status`."""
    if status is RunStatus.COMPLETED:
        return ExitCode.OK
    if status is RunStatus.PARTIAL:
        return ExitCode.OK if partial_ok else ExitCode.RUN_PARTIAL
    if status is RunStatus.FAILED:
        return ExitCode.RUN_FAILED
    return ExitCode.UNAVAILABLE


@dataclass
class Tracked:
    """What the wait loop knows about one run."""

    run_id: str
    run: Run | None = None
    estimated: float | None = None  # seconds the API estimated at creation, or a prior's
    spread: float | None = None  # a prior's: the spread of its template's durations
    next_at: float = 0.0
    planned_at: float = 0.0  # when next_at was set (the last poll's answer, or tracking)
    polls: int = 0
    failures: int = 0
    outage_since: float | None = None
    last_error: SpineError | None = None
    done: bool = False
    exit_code: int | None = None
    error: SpineError | None = None
    outage: float = 0.0  # seconds of failed polls when the run was given up

    @property
    def status(self) -> RunStatus | None:
        return self.run.status if self.run else None


@dataclass
class WaitOptions:
    timeout: float | None = None
    poll_interval: float | None = None   # a fixed interval instead of the schedule
    max_outage: float = DEFAULT_MAX_OUTAGE
    partial_ok: bool = False
    workers: int = 8


class WaitEvents(Protocol):
    def update(self, t: Tracked) -> None: ...

    def problem(self, t: Tracked, exc: SpineError, delay: float) -> None: ...


class NoEvents:
    def update(self, t: Tracked) -> None:
        pass

    def problem(self, t: Tracked, exc: SpineError, delay: float) -> None:
        pass


Fetch = Callable[[str, "float | None"], Run]  # (run_id, deadline) -> Run


@dataclass
class Waiter:
    """Poll runs until each is terminal, timed out, missing or unreachable."""

    fetch: Fetch
    options: WaitOptions = field(default_factory=WaitOptions)
    events: WaitEvents = field(default_factory=NoEvents)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    budget: RequestBudget | None = None
    policy: RetryPolicy = POLL_POLICY
    deadline: float | None = field(default=None, init=False)

    def run(self, tracked: list[Tracked]) -> list[Tracked]:
        start = self.clock()
        self.deadline = start + self.options.timeout if self.options.timeout is not None else None
        self.budget = self.budget or RequestBudget(self.clock)
        for t in tracked:
            t.next_at = t.planned_at = start
        if self.options.workers <= 1 or len(tracked) == 1:
            self._run_inline(tracked)
        else:
            self._run_pooled(tracked)
        return tracked

    # -- one run at a time, for a loop of its own (the batch runner) --------
    def track(self, t: Tracked, at: float | None = None) -> None:
        """Start following `t`; its first poll is due `at` (now by default)."""
        self.budget = self.budget or RequestBudget(self.clock)
        t.planned_at = self.clock()
        t.next_at = t.planned_at if at is None else at

    def due_at(self, t: Tracked) -> float:
        """When `t` may be polled next (its schedule, held back by the key's pauses)."""
        return self._due_at(t)

    def poll(self, t: Tracked) -> tuple[Run | None, SpineError | None]:
        """One GET of `t` (any thread); a transient failure is returned, not raised."""
        return self._attempt(t)

    def settle(self, t: Tracked, run: Run | None, exc: SpineError | None) -> None:
        """Take in what `poll` got (the loop's thread): events, outcome, next poll time."""
        self._handle(t, run, exc)

    # -- loops -------------------------------------------------------------
    def _pending(self, tracked: list[Tracked]) -> list[Tracked]:
        """Runs still to poll ([] when all are done or the deadline has passed)."""
        pending = [t for t in tracked if not t.done]
        if pending and self._expired(pending, self.clock()):
            return []
        return pending

    def _due_at(self, t: Tracked) -> float:
        assert self.budget is not None
        return max(t.next_at, self.budget.ready_at())

    def _run_inline(self, tracked: list[Tracked]) -> None:
        while pending := self._pending(tracked):
            now = self.clock()
            due = min(pending, key=self._due_at)
            at = self._due_at(due)
            if at > now:
                wake = at if self.deadline is None else min(at, self.deadline)
                self.sleep(max(0.0, wake - now))
                continue
            self._handle(due, *self._attempt(due))

    def _run_pooled(self, tracked: list[Tracked]) -> None:
        pool = ThreadPoolExecutor(max_workers=self.options.workers, thread_name_prefix="spine-poll")
        inflight: dict[Future[tuple[Run | None, SpineError | None]], Tracked] = {}
        try:
            while pending := self._pending(tracked):
                now = self.clock()
                busy = {id(t) for t in inflight.values()}
                idle = [t for t in pending if id(t) not in busy]
                for t in sorted((t for t in idle if self._due_at(t) <= now), key=self._due_at):
                    if len(inflight) >= self.options.workers:
                        break
                    inflight[pool.submit(self._attempt, t)] = t
                    busy.add(id(t))
                waits = [self._due_at(t) for t in idle if id(t) not in busy]
                if self.deadline is not None:
                    waits.append(self.deadline)
                timeout = max(0.0, min(waits) - now) if waits else None
                if inflight:
                    finished, _ = wait(list(inflight), timeout=timeout, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        self._handle(inflight.pop(fut), *fut.result())
                elif timeout:
                    self.sleep(timeout)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _expired(self, pending: list[Tracked], now: float) -> bool:
        if self.deadline is None or now < self.deadline:
            return False
        for t in pending:
            t.done, t.exit_code = True, int(ExitCode.TIMEOUT)
        return True

    # -- one poll ----------------------------------------------------------
    def _attempt(self, t: Tracked) -> tuple[Run | None, SpineError | None]:
        try:
            return self.fetch(t.run_id, self.deadline), None
        except TRANSIENT as exc:
            return None, exc

    def _handle(self, t: Tracked, run: Run | None, exc: SpineError | None) -> None:
        now = t.planned_at = self.clock()
        t.polls += 1
        if exc is not None or run is None:
            self._failed(t, exc or MalformedResponseError("The API gave no answer."), now)
            return
        t.run, t.failures, t.outage_since, t.last_error = run, 0, None, None
        if run.status.terminal:
            t.done, t.exit_code = True, exit_code_for(run.status, self.options.partial_ok)
        elif run.status is RunStatus.UNKNOWN:
            t.done, t.exit_code = True, int(ExitCode.UNAVAILABLE)
            said = " ".join(run.status_text.split())  # one line, whatever the server sent
            t.error = MalformedResponseError(
                f"The API reports run {t.run_id} as '{said}', a status this version "
                "of spine does not know, so it cannot tell whether the run will end.",
                hint=f"See it with `spine run get {t.run_id}`; a newer spine may know it.")
        self.events.update(t)
        if not t.done:
            t.next_at = now + self._interval(t)

    def _failed(self, t: Tracked, exc: SpineError, now: float) -> None:
        if isinstance(exc, NotFoundError):
            t.done, t.exit_code, t.error = True, int(ExitCode.NOT_FOUND), exc
            return
        if self.deadline is not None and now >= self.deadline:
            return  # the deadline, not the failure, ends this run (see _expired)
        t.failures += 1
        t.last_error = exc
        if t.outage_since is None:
            t.outage_since = now
        outage_left = self.options.max_outage - (now - t.outage_since)
        if outage_left <= 0:
            t.done, t.exit_code, t.error = True, int(ExitCode.UNAVAILABLE), exc
            t.outage = now - t.outage_since
            return
        retry_after = exc.retry_after if isinstance(exc, APIError) else None
        delay = self.policy.delay(t.failures - 1, retry_after, self._left(now, outage_left))
        if retry_after is not None or isinstance(exc, RateLimitError):
            assert self.budget is not None
            self.budget.pause(delay)  # every run under this key waits with it
        self.events.problem(t, exc, delay)
        t.next_at = now + delay

    def _left(self, now: float, outage_left: float) -> float:
        if self.deadline is None:
            return outage_left
        return min(outage_left, self.deadline - now)

    def _interval(self, t: Tracked) -> float:
        if self.options.poll_interval is not None:
            return self.options.poll_interval
        run = t.run
        progress = run.progress if run else None
        elapsed = progress.elapsed_ms / 1000.0 if progress and progress.elapsed_ms else None
        fraction = progress.fraction if progress else None
        if elapsed is None:
            elapsed = float(t.polls)  # no server clock yet: stay in the dense phase
        return next_poll_delay(elapsed, t.estimated, fraction, None,
                               bool(run and run.canvas_id), t.spread)
