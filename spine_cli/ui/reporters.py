"""Progress reporters for the wait loop, one per output situation.

- `PlainReporter`: stderr lines, one per change plus a heartbeat each minute
  (no `\\r`, no ANSI) — for pipes, CI logs and non-terminals;
- `LiveReporter`: a rich live display on stderr (terminal only): a progress bar
  per run and, for `watch`, the active part of the task tree;
- `JsonEventReporter`: NDJSON events on stdout for `watch --json`;
- `NullReporter`: nothing (`-q`).
Callers pick one with `make_reporter` and never branch on the mode again.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Callable

from spine_cli.errors import APIError, SpineError
from spine_cli.api.models import Run
from spine_cli.runs.polling import Tracked, predicted_end
from spine_cli.ui.render import format_duration, status_line
from spine_cli.ui.textsafe import sanitize

HEARTBEAT_SECONDS = 60.0


def short(run_id: str) -> str:
    return run_id[:8]


def problem_text(exc: SpineError, delay: float) -> str:
    detail = exc.message
    if isinstance(exc, APIError):
        detail = f"HTTP {exc.status_code}: {exc.message}"
    return f"poll failed ({sanitize(detail, keep_newlines=False)}); retrying in {delay:.0f}s"


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
    """A line per change, a heartbeat per quiet minute, on stderr."""

    def __init__(self, stream: Any = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._clock = clock
        self._last: dict[str, tuple] = {}
        self._printed_at: dict[str, float] = {}

    def _write(self, run_id: str, text: str) -> None:
        stream = self._stream or sys.stderr
        stream.write(f"run {short(run_id)}: {text}\n")
        stream.flush()
        self._printed_at[run_id] = self._clock()

    def update(self, t: Tracked) -> None:
        run = Run.from_api(t.data or {})
        p = run.progress
        key = (run.status, bool(run.canvas_id), p.tasks_completed if p else None,
               p.tasks_total if p else None)
        if key != self._last.get(t.run_id):
            self._last[t.run_id] = key
            self._write(t.run_id, status_line(run))
        elif self._clock() - self._printed_at.get(t.run_id, 0.0) >= HEARTBEAT_SECONDS:
            self._write(t.run_id, f"still {status_line(run)}")

    def problem(self, t: Tracked, exc: SpineError, delay: float) -> None:
        self._write(t.run_id, problem_text(exc, delay))


class JsonEventReporter(NullReporter):
    """NDJSON events on stdout: `state` and `progress` (the caller adds `result`)."""

    def __init__(self) -> None:
        self._last: dict[str, tuple] = {}

    @staticmethod
    def emit(event: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(event, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def update(self, t: Tracked) -> None:
        data = t.data or {}
        last = self._last.get(t.run_id, (None, None, None))
        state = (data.get("status"), data.get("canvas_id"))
        progress = data.get("progress")
        if state != last[:2]:
            self.emit({"event": "state", "run_id": t.run_id, "status": state[0],
                       "canvas_id": state[1]})
        if progress and progress != last[2]:
            self.emit({"event": "progress", "run_id": t.run_id, **progress})
        self._last[t.run_id] = (*state, progress)

    def problem(self, t: Tracked, exc: SpineError, delay: float) -> None:
        sys.stderr.write(f"run {short(t.run_id)}: {problem_text(exc, delay)}\n")


def eta_text(t: Tracked) -> str:
    run = Run.from_api(t.data or {})
    p = run.progress
    if not p or run.terminal:
        return ""
    elapsed = p.elapsed_ms / 1000
    fraction = p.tasks_completed / p.tasks_total if p.tasks_total else None
    end = predicted_end(elapsed, t.estimated, fraction)
    if end is None:
        return ""
    left = end - elapsed
    return f"~{format_duration(left)} left" if left > 0 else "finishing"


def make_reporter(output: Any, *, watch: bool = False,
                  tasks_fetch: Callable[[str], dict] | None = None) -> NullReporter:
    """The reporter for this invocation's output situation."""
    if watch and output.json:
        return JsonEventReporter()
    if output.state.quiet:
        return NullReporter()
    if output.live:
        from spine_cli.ui.live import LiveReporter

        return LiveReporter(output.err, tasks_fetch=tasks_fetch if watch else None)
    return PlainReporter()
