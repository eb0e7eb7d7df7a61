"""The runs a batch waits on, each driven through `runs.waiter` one poll at a time.

`Waiter.run` waits on a fixed set; a batch adds a run whenever a create
answers and must free its slot as soon as a run ends, so the batch loop asks
`due` which runs to poll, sends `Waiter.poll` to its threads, and hands each
answer back to `Waiter.settle`: the same schedule, retries, outage budget and
per-key `RequestBudget` as `spine run wait`. A poll's news goes to the events;
the batch state and the history hear only of a new status and of the end
(every write there is a synced commit). At the batch's tail (its last few
runs, nothing left to create) a run inside its expected end window is polled
every 2 s (`hurry`): the batch then ends within seconds of its last run.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

from spine_cli.errors import ExitCode, SpineError
from spine_cli.runs.schedule import end_window, next_poll_delay
from spine_cli.runs.waiter import Tracked, WaitOptions, Waiter

if TYPE_CHECKING:
    from spine_cli.api.client import SpineClient
    from spine_cli.api.models import Run
    from spine_cli.local.batch_state import BatchState
    from spine_cli.local.history import History
    from spine_cli.runs.batch.events import BatchEvents


TAIL_RUNS = 3         # this many runs left, and nothing left to create: the batch's tail
TAIL_INTERVAL = 2.0   # their polls inside the expected end window, at most this far apart…
TAIL_LEAD = 0.9       # …from a little before it (a run may end right at its start)


# A poll goes early by at most this share of its interval: a 1 s interval stays 0.75 s.
EARLY_SHARE = 0.25


def _may_go_early(t: Tracked, now: float) -> bool:
    return not t.failures and t.next_at - now <= EARLY_SHARE * (t.next_at - t.planned_at)


class RunWaits:
    """Tracked runs by row key; also the waiter's `WaitEvents`."""

    def __init__(self, client: "SpineClient", history: "History", settings: Any,
                 state: "BatchState", events: "BatchEvents", options: WaitOptions, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client, self.history, self.settings = client, history, settings
        self.state, self.events = state, events
        self.waiter = Waiter(self._fetch, options, self, clock=clock, sleep=sleep,
                             budget=client.budget)
        self.tracked: dict[str, Tracked] = {}
        self.key_of: dict[str, str] = {}
        self.seen: dict[str, str] = {}  # the last status recorded, by row key

    def follow(self, key: str, t: Tracked, now: float, fresh: bool | None = None) -> None:
        """Wait on a run: polled now (resumed), or on the schedule (`fresh`: just created,
        True when its create answer had a canvas id)."""
        self.tracked[key] = t
        self.key_of[t.run_id] = key
        first = now if fresh is None else now + next_poll_delay(
            0.0, t.estimated, have_canvas=fresh, spread=t.spread)
        self.waiter.track(t, at=first)

    def due(self, now: float, busy: set[str], room: int,
            early: float = 0.0) -> list[tuple[str, Tracked]]:
        """Up to `room` runs to poll now (not those whose poll is under way), soonest first;
        with `early`, those due within that many seconds too, though never more than
        `EARLY_SHARE` of their interval early, and never a retry (its delay is the retry
        policy's, or the server's Retry-After)."""
        if room <= 0 or now < self._ready():
            return []
        by = now + early
        found = [(k, t) for k, t in self.tracked.items()
                 if k not in busy and t.next_at <= by
                 and (t.next_at <= now or _may_go_early(t, now))]
        if len(found) > room:
            found.sort(key=lambda kt: kt[1].next_at)
        return found[:room]

    def next_due(self, busy: set[str]) -> float | None:
        """When the next poll is due (as `Waiter.due_at`, the key's pause read once)."""
        times = [t.next_at for k, t in self.tracked.items() if k not in busy]
        return max(min(times), self._ready()) if times else None

    def _ready(self) -> float:
        budget = self.waiter.budget
        return budget.ready_at() if budget is not None else 0.0

    def hurry(self, t: Tracked, now: float) -> None:
        """The batch's last runs: poll one inside (or about to enter) its expected end
        window every `TAIL_INTERVAL` s, so the batch ends soon after them (a few requests
        more, for a few runs)."""
        run = t.run
        p = run.progress if run else None
        if t.done or p is None or not p.elapsed_ms:
            return
        elapsed = p.elapsed_ms / 1000
        # A prior's own window may run to several times its median: the tail hurries
        # only around the median (±30 %, as for an estimate).
        window = end_window(elapsed, t.estimated, p.fraction)
        if window is not None and elapsed >= TAIL_LEAD * window[0]:
            t.next_at = min(t.next_at, now + TAIL_INTERVAL)

    def drop(self, key: str) -> None:
        self.tracked.pop(key, None)

    def record_end(self, key: str, t: Tracked) -> SpineError | None:
        """Record in the state a run the waiter is done with: `done` when it ended (or is
        gone: 404); else the error it was given up on (an outage, a status spine does not
        know), leaving the row `created`: the run goes on, a resume waits on it again."""
        run = t.run
        if run is not None and run.status.terminal:
            errors = [e for e in run.raw.get("errors") or [] if isinstance(e, dict)]
            self.state.mark_finished(key, run.status_text, int(t.exit_code or 0),
                                     canvas_id=run.canvas_id, errors=errors)
        elif t.exit_code == ExitCode.NOT_FOUND and t.error is not None:
            self.state.mark_finished(key, None, int(ExitCode.NOT_FOUND), errors=[
                {"message": t.error.message, "exit_code": int(ExitCode.NOT_FOUND)}])
        else:
            return t.error or SpineError("the API kept failing")
        return None

    def _fetch(self, run_id: str, deadline: float | None) -> "Run":
        # No inner retries: the wait loop retries, reports and keeps the outage budget.
        run = self.client.get_run(run_id, max_retries=0, deadline=deadline)
        # The history needs the end (status, canvas, duration: the schedule's prior); each
        # write is a synced commit, and a batch polls thousands of times.
        if run.terminal:
            self.history.observe(self.settings, run)
        return run

    # -- the waiter's events ----------------------------------------------------------
    def update(self, t: Tracked) -> None:
        key = self.key_of[t.run_id]
        run = t.run
        # The state records a new status, not every canvas id (mark_finished keeps it).
        if run is not None and not t.done and self.seen.get(key, "running") != run.status_text:
            self.seen[key] = run.status_text
            self.state.observe(key, run.status_text, run.canvas_id)
        self.events.polled(key, t)

    def problem(self, t: Tracked, exc: SpineError, delay: float) -> None:
        self.events.poll_problem(self.key_of[t.run_id], exc, delay)
