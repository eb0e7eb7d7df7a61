"""`spine batch run`: create, wait for and download the runs of a batch's rows.

    opened = plan.open_batch(state, batch, shard, …)      # lock, bind, resume
    outcome = BatchRunner(client, history, settings, state, rows, options, events,
                          fetcher, clock=…, sleep=…).run()

One loop in the calling thread; the HTTP work runs on daemon threads
(`jobs.py`) sharing the client's one connection pool.

- Creates start as slots free up: at most `Throttle.limit` runs in flight
  (rows `creating` or `created` and not yet ended; `--concurrency` at most).
  A row is claimed (`mark_creating`, committed) before its POST, and the
  answer is recorded by the job itself (`jobs.create_row`): `created`
  with the run id, `uncertain` after an ambiguous failure (never re-sent
  automatically), `not_created` after a refusal. A 429 or a connection that
  never opened puts the row back in the queue (`CreatePacer`).
- Waiting is `runs.waiter`'s: each created run is a `Tracked` driven through
  the same estimate-aware schedule, retries and outage budget as `run wait`
  (`Waiter.track/poll/settle`); the key's `RequestBudget` (the client's)
  holds back creates and polls alike after a 429 or `Retry-After`, and the
  throttle halves the concurrency after repeated pauses and grows it back.
- A run that ends is recorded (`mark_finished`); with `--download DIR` its
  artifacts go to `DIR/<safe key>/` (`record_download`).
- `--max-runs N` stops creating after N runs were (or may have been) created
  in this invocation; `--timeout` ends the invocation (rows left `pending` or
  `created` are exit 6: the same command resumes). Creates under way are
  given up to `CREATE_GRACE` seconds to answer when the loop stops
  (timeout, Ctrl-C, SIGTERM), so their answers are recorded; a row still
  `creating` becomes `uncertain` on the next resume.

Nothing here prints: everything goes to `BatchEvents` (ui/batch_view.py).
"""

from __future__ import annotations

import time
from collections import Counter, deque
from typing import TYPE_CHECKING, Any, Callable

from spine_cli.errors import AuthenticationError, SpineError, interrupt_code
from spine_cli.runs.batch.events import BatchEvents, BatchOptions, BatchOutcome, Ledger, RowChange
from spine_cli.runs.batch.jobs import (
    CreatePacer, CreateResult, DaemonPool, Throttle, create_row, download_row,
)
from spine_cli.runs.batch.waits import TAIL_RUNS, RunWaits
from spine_cli.runs.follow import Expected, new_tracked, schedule_estimates
from spine_cli.runs.waiter import Tracked

if TYPE_CHECKING:
    from spine_cli.api.client import SpineClient
    from spine_cli.api.models import Run
    from spine_cli.api.transfer import Fetcher
    from spine_cli.local.batch_state import BatchState
    from spine_cli.local.history import History
    from spine_cli.runs.batch.input import BatchRow

CREATE_GRACE = 15.0   # seconds creates under way may take to answer once the loop stops
TICK = 15.0           # the loop wakes at least this often (heartbeats)
POLL_SLOTS, CREATE_SLOTS, DOWNLOAD_SLOTS = 6, 4, 4
# A poll due this soon goes with those due now: one wake of the loop for several, and
# polls sent in bursts cost less CPU each than the same polls spread out (1.2 ms back to
# back, 1.6 ms 150 ms apart: cold caches). At most a second early, and at most a quarter
# of the poll's interval (`waits.EARLY_SHARE`); a retry never goes early.
POLL_EARLY = 1.0
# And the loop sleeps this much past a due poll before it wakes for it (outside the
# batch's tail): polls falling due in that second go in the same wake, early or late,
# and fewer wakes send fewer requests (10.7 instead of 11.7 per run on 300 runs of
# 30-120 s, the same CPU). A run's end is seen at most this much later; the tail's polls
# (the batch's end) wake on time.
POLL_LATE = 1.0


class BatchRunner:
    def __init__(self, client: "SpineClient", history: "History", settings: Any,
                 state: "BatchState", rows: list["BatchRow"], options: BatchOptions,
                 events: BatchEvents, fetcher: "Fetcher", *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 estimates: Callable[[list[str]], dict[str, Expected]] | None = None) -> None:
        self.client, self.history, self.settings = client, history, settings
        self.state, self.options, self.events, self.fetcher = state, options, events, fetcher
        self.clock, self.sleep = clock, sleep
        self._estimates = estimates or (lambda ids: schedule_estimates(history, ids))
        self.rows = {r.key: r for r in rows}
        self.waits = RunWaits(client, history, settings, state, events, options.wait,
                              clock=clock, sleep=sleep)
        self.throttle = Throttle(options.concurrency)
        self.pool = DaemonPool(POLL_SLOTS + CREATE_SLOTS + DOWNLOAD_SLOTS)
        self.queue: deque[BatchRow] = deque()
        self.tracked = self.waits.tracked
        self.downloads: deque[tuple[str, str, "Run | None"]] = deque()
        self.jobs: dict[int, tuple[str, str]] = {}  # job tag -> (kind, key)
        self.polling: set[str] = set()                   # keys whose poll is under way
        self.tags = 0
        self.kinds: Counter[str] = Counter()                # jobs under way, by kind
        self.ledger = Ledger(state, events, options.wait.partial_ok)
        self.out = BatchOutcome({}, 0)
        self.deadline: float | None = None
        self.pacer = CreatePacer(options.wait.max_outage)

    # -- the loop ---------------------------------------------------------------------
    def run(self) -> BatchOutcome:
        start = self.clock()
        timeout = self.options.wait.timeout
        self.deadline = self.waits.waiter.deadline = None if timeout is None else start + timeout
        self._load(start)
        try:
            while self._busy():
                now = self.clock()
                if self.deadline is not None and now >= self.deadline:
                    self.out.timed_out = True
                    break
                if self.throttle.observe(self.client.budget.pauses, now):
                    self.out.backoffs += 1
                    self.events.problem(None, "the API is rate limiting this key: at most "
                                        f"{self.throttle.limit} runs in flight for now")
                self._start_creates(now)
                self._start_polls(now)
                self._start_downloads()
                self.events.tick(self.ledger.snapshot(list(self.tracked.items()),
                                                       self.throttle.limit))
                self._wait(now)
        except KeyboardInterrupt as exc:
            self.out.interrupted = interrupt_code(exc)
        finally:
            self._finish_creates()
            self.pool.close()
        return self._outcome()

    def _load(self, now: float) -> None:
        """Queue the work the state holds: rows to create, runs to wait on, downloads."""
        waiting = []
        for row in self.state.rows():
            if row.key not in self.rows:
                continue
            self.ledger.move(row.key, row.state)
            if row.state in ("pending", "not_created"):
                self.queue.append(self.rows[row.key])
            elif row.state == "created" and row.run_id:
                waiting.append((row.key, row.run_id))
            elif (row.state == "done" and self.options.download and row.run_id
                  and row.status in ("completed", "partial") and not row.download_ok):
                self.downloads.append((row.key, row.run_id, None))
        estimates = self._estimates([rid for _, rid in waiting]) if waiting else {}
        for key, run_id in waiting:
            self.waits.follow(key, new_tracked(run_id, estimates.get(run_id)), now)

    def _busy(self) -> bool:
        return bool(self.jobs or self.tracked or self.downloads
                    or (self.queue and self._may_create()))

    def _may_create(self) -> bool:
        if self.out.halted is not None or self.out.timed_out:
            return False
        limit = self.options.max_runs
        return limit is None or self.out.created + self._count("create") < limit

    def _in_flight(self) -> int:
        return len(self.tracked) + self._count("create")

    def _in_tail(self) -> bool:
        """The batch's last few runs, with nothing left to create."""
        return len(self.tracked) <= TAIL_RUNS and not (self.queue and self._may_create())

    def _count(self, kind: str) -> int:
        return self.kinds[kind]

    def _submit(self, kind: str, key: str, fn: Callable[..., Any], *args: Any) -> None:
        self.tags += 1
        self.jobs[self.tags] = (kind, key)
        self.pool.submit(self.tags, fn, *args)
        self.kinds[kind] += 1
        if kind == "poll":
            self.polling.add(key)

    def _job_ended(self, tag: int) -> tuple[str, str]:
        kind, key = self.jobs.pop(tag)
        self.kinds[kind] -= 1
        if kind == "poll":
            self.polling.discard(key)
        return kind, key

    def _may_start_create(self) -> bool:
        """A create could start now but for a pause (the key's budget, the pacer)."""
        return (bool(self.queue) and self._may_create() and self._count("create") < CREATE_SLOTS
                and self._in_flight() < self.throttle.limit)

    def _start_creates(self, now: float) -> None:
        if now < max(self.pacer.until, self.client.budget.ready_at()):
            return
        while self._may_start_create():
            row = self.queue.popleft()
            if not self.state.mark_creating(row.key):
                continue  # not claimable any more (another process took it)
            self.ledger.move(row.key, "creating")
            self._submit("create", row.key, create_row, self.client, self.history,
                         self.settings, self.state, row, self.options.origin)

    def _start_polls(self, now: float) -> None:
        if self._count("poll") >= POLL_SLOTS:
            return
        room = POLL_SLOTS - len(self.polling)
        for key, t in self.waits.due(now, self.polling, room, early=POLL_EARLY):
            self._submit("poll", key, self.waits.waiter.poll, t)

    def _start_downloads(self) -> None:
        while self.downloads and self._count("download") < DOWNLOAD_SLOTS:
            key, run_id, run = self.downloads.popleft()
            self._submit("download", key, download_row, self.client, self.state, self.fetcher,
                         key, run_id, run, self._directory(key),
                         lambda text, key=key: self.events.problem(key, text))

    def _directory(self, key: str) -> str:
        from pathlib import Path

        assert self.options.download is not None
        return str(Path(self.options.download) / self.rows[key].dir_name)

    def _wait(self, now: float) -> None:
        """Until a job ends or something falls due (with every slot of a kind busy, only
        a job's end can make room: its due times would only spin the loop)."""
        wake = [now + TICK]
        if self.deadline is not None:
            wake.append(self.deadline)
        if self._count("poll") < POLL_SLOTS:
            due = self.waits.next_due(self.polling)
            if due is not None:
                wake.append(due if self._in_tail() else due + POLL_LATE)
        if self._may_start_create():
            wake.append(max(self.pacer.until, self.client.budget.ready_at()))
        timeout = max(0.0, min(wake) - now)
        if not self.jobs:
            if timeout > 0:
                self.sleep(timeout)
            return
        for tag, result, exc in self.pool.finished(timeout):
            kind, key = self._job_ended(tag)
            getattr(self, f"_{kind}_done")(key, result, exc)

    # -- answers ------------------------------------------------------------------------
    def _create_done(self, key: str, result: CreateResult, exc: BaseException | None) -> None:
        if exc is not None:
            raise exc  # a bug in the job (it left the row uncertain)
        now = self.clock()
        change = RowChange(key, result.outcome, message=result.error.message
                           if result.error else None)
        if result.outcome in ("throttled", "unreachable"):
            self._create_failed(key, result.error, now)
            return
        self.ledger.move(key, {"created": "created", "uncertain": "uncertain"}.get(
            result.outcome, "not_created"))
        if result.outcome == "created" and result.created is not None:
            created = result.created
            self.out.created += 1
            self.pacer.succeeded()
            self.throttle.success()
            change.run_id, change.status = created.run_id, created.status.value
            self.events.row(change)
            # Without the API's estimate, the history's prior for the row's template.
            expected = ((created.estimated_seconds, None) if created.estimated_seconds
                        else self._estimates([created.run_id]).get(created.run_id))
            self.waits.follow(key, new_tracked(created.run_id, expected), now,
                              fresh=bool(created.canvas_id))
            return
        if result.outcome == "uncertain":
            self.out.created += 1
            self.out.uncertain.append(key)
        elif isinstance(result.error, AuthenticationError):
            self.out.halted = result.error  # every other create would be refused alike
        change.what = "not_created" if result.outcome == "refused" else result.outcome
        self.events.row(change)
        self.ledger.emit(key)

    def _create_failed(self, key: str, error: SpineError | None, now: float) -> None:
        """A 429 or an unreachable API: no run; the row goes back to the queue, after a pause."""
        self.ledger.move(key, "not_created")
        self.queue.appendleft(self.rows[key])
        delay = self.pacer.failed(now, getattr(error, "retry_after", None))
        text = error.message if error else "create failed"
        if delay is None:
            self.out.halted = error
            self.events.problem(key, f"{text}; stopped creating runs")
            return
        self.events.problem(key, f"{text}; creating again in {delay:.0f}s")

    def _poll_done(self, key: str, answer: "tuple[Run | None, SpineError | None] | None",
                   error: BaseException | None) -> None:
        t = self.tracked.get(key)
        if t is None:
            return
        if isinstance(error, SpineError):  # not transient: a 401, a 400
            if isinstance(error, AuthenticationError):
                self.out.halted = error
            self._give_up(key, error, t)
            return
        if error is not None or answer is None:
            raise error or RuntimeError("a poll gave no answer")
        run, exc = answer
        if run is not None:
            self.throttle.success()
        self.waits.waiter.settle(t, run, exc)
        if t.done:
            self._ended(key, t)
        elif self._in_tail():
            self.waits.hurry(t, self.clock())

    def _download_done(self, key: str, result: Any, exc: BaseException | None) -> None:
        if exc is not None:
            raise exc
        self.events.row(RowChange(key, "downloaded" if result.ok else "download_failed",
                                  message=result.error, directory=result.directory))
        self.ledger.emit(key)

    # -- runs that end ----------------------------------------------------------------
    def _ended(self, key: str, t: Tracked) -> None:
        self.waits.drop(key)
        given_up = self.waits.record_end(key, t)
        if given_up is not None:
            self._give_up(key, given_up, t)
            return
        run = t.run
        self.ledger.move(key, "done")
        self.events.row(RowChange(key, "done", t.run_id, run.status_text if run else None,
                                  t.exit_code, t.error.message if t.error else None))
        if self.options.download and run is not None and run.status.has_output:
            self.downloads.append((key, t.run_id, run))
        else:
            self.ledger.emit(key)

    def _give_up(self, key: str, error: SpineError, t: Tracked) -> None:
        self.waits.drop(key)
        self.ledger.given_up[key] = error
        self.events.row(RowChange(key, "given_up", t.run_id,
                                  exit_code=int(error.exit_code), message=error.message))
        self.ledger.emit(key)

    # -- the end --------------------------------------------------------------------------
    def _finish_creates(self) -> None:
        """Let creates under way answer (bounded), so their outcome is recorded."""
        until = time.monotonic() + CREATE_GRACE  # real time: the answers come in real time
        while self._count("create") and (left := until - time.monotonic()) > 0:
            for tag, result, exc in self.pool.finished(left):
                kind, key = self._job_ended(tag)
                if kind != "create" or exc is not None:
                    continue
                if result.outcome in ("created", "uncertain"):
                    self.out.created += 1
                if result.outcome == "uncertain":
                    self.out.uncertain.append(key)

    def _outcome(self) -> BatchOutcome:
        out = self.out
        limit = self.options.max_runs
        out.max_runs_reached = bool(self.queue) and limit is not None and out.created >= limit
        return self.ledger.close(out, set(self.rows))
