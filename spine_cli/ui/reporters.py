"""Progress reporters for the wait loop, one per output situation.

- `PlainReporter`: stderr lines, one per change plus a heartbeat each minute
  (no `\\r`, no ANSI) — for pipes, CI logs and non-terminals;
- `LiveReporter` (`ui.live`): a rich live display on stderr (terminal only);
- `JsonEventReporter`: NDJSON events on stdout for `watch --json`;
- `NullReporter`: nothing (`-q`).
`ui.follow_view.make_reporter` picks one; callers never branch on the mode again.
Each implements the wait loop's `WaitEvents` and is a context manager.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

from spine_cli.api.models import Run
from spine_cli.errors import SpineError
from spine_cli.runs.schedule import predicted_end
from spine_cli.runs.waiter import Tracked
from spine_cli.ui.render import status_line
from spine_cli.ui.textsafe import one_line

if TYPE_CHECKING:
    from spine_cli.ui.output import Output

HEARTBEAT_SECONDS = 60.0


def short(run_id: str) -> str:
    return run_id[:8]


def problem_text(exc: SpineError, delay: float) -> str:
    detail = exc.message
    if exc.status_code is not None and f"HTTP {exc.status_code}" not in detail:
        detail = f"HTTP {exc.status_code}: {detail}"
    return f"poll failed ({one_line(detail)}); retrying in {delay:.0f}s"


def eta_seconds(run: Run | None, estimated: float | None, elapsed: float | None = None) -> float | None:
    """Seconds the run probably has left (None when nothing can be said)."""
    if run is None or run.terminal or run.progress is None:
        return None
    p = run.progress
    now = p.elapsed_ms / 1000 if elapsed is None else elapsed
    end = predicted_end(now, estimated, p.fraction)
    return None if end is None else end - now


class NullReporter:
    def __enter__(self) -> "NullReporter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()

    def update(self, t: Tracked) -> None:
        pass

    def problem(self, t: Tracked, exc: SpineError, delay: float) -> None:
        pass

    def finish(self) -> None:
        pass


class PlainReporter(NullReporter):
    """A line per change, a heartbeat per quiet minute (or per `heartbeat` s), on stderr."""

    def __init__(self, output: "Output", clock: Callable[[], float] = time.monotonic,
                 heartbeat: float = HEARTBEAT_SECONDS) -> None:
        self._output = output
        self._clock = clock
        self._heartbeat = heartbeat
        self._last: dict[str, tuple[Any, ...]] = {}
        self._printed_at: dict[str, float] = {}

    def _write(self, run_id: str, text: str) -> None:
        self._output.note(f"run {short(run_id)}: {text}")
        self._printed_at[run_id] = self._clock()

    def update(self, t: Tracked) -> None:
        run = t.run
        if run is None:
            return
        p = run.progress
        key = (run.status_text, bool(run.canvas_id), p.tasks_completed if p else None,
               p.tasks_total if p else None)
        if key != self._last.get(t.run_id):
            self._last[t.run_id] = key
            self._write(t.run_id, status_line(run))
        elif self._clock() - self._printed_at.get(t.run_id, 0.0) >= self._heartbeat:
            self._write(t.run_id, f"still {status_line(run)}")

    def problem(self, t: Tracked, exc: SpineError, delay: float) -> None:
        self._write(t.run_id, problem_text(exc, delay))


class JsonEventReporter(NullReporter):
    """NDJSON events on stdout: `state` and `progress` (the caller adds `result`)."""

    def __init__(self, output: "Output") -> None:
        self._output = output
        self._last: dict[str, tuple[Any, ...]] = {}

    def update(self, t: Tracked) -> None:
        run = t.run
        if run is None:
            return
        last = self._last.get(t.run_id, (None, None, None))
        state = (run.status_text, run.canvas_id)
        progress = run.raw.get("progress") if isinstance(run.raw.get("progress"), dict) else None
        if state != last[:2]:
            self._output.record({"event": "state", "run_id": t.run_id, "status": state[0],
                                 "canvas_id": state[1]})
        if progress and progress != last[2]:
            self._output.record({"event": "progress", "run_id": t.run_id, **progress})
        self._last[t.run_id] = (*state, progress)

    def problem(self, t: Tracked, exc: SpineError, delay: float) -> None:
        self._output.note(f"run {short(t.run_id)}: {problem_text(exc, delay)}")
