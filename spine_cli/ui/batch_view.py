"""What `spine batch run` shows while it runs (the runner's `BatchEvents`).

- On a terminal (stderr live): one overall bar (rows done / total, counts per
  state), the active runs with their progress, and a line per finished row
  printed above the live area (`ui.live_area`), so the finished rows scroll by.
- Off a terminal: a line per row state change (created, uncertain, not
  created, ended, downloaded) plus a heartbeat line per quiet minute: a CI
  log of a batch of hundreds of rows stays readable.
- `-q`: nothing, except a heartbeat every 5 minutes in CI (a silent job looks dead).
- `--json`: one NDJSON line per row result on stdout (`runs/batch/merge.row_result`'s
  shape), beside whichever progress stderr gets.

`make_batch_view(output, clock)` picks; the runner never branches on the mode.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from spine_cli.api.models import RunStatus
from spine_cli.runs.batch.events import RowChange, Snapshot
from spine_cli.ui.render import format_duration
from spine_cli.ui.reporters import eta_seconds, problem_text
from spine_cli.ui.styles import run_style
from spine_cli.ui.textsafe import one_line

if TYPE_CHECKING:
    from spine_cli.errors import SpineError
    from spine_cli.runs.waiter import Tracked
    from spine_cli.ui.output import Output

HEARTBEAT_SECONDS = 60.0
QUIET_HEARTBEAT_SECONDS = 300.0
ACTIVE_SHOWN = 8
KEY_CHARS = 40
NARROW = 72  # columns: below, no bars
STATE_ORDER = ("done", "created", "creating", "pending", "not_created", "uncertain")
STATE_WORDS = {"created": "running", "not_created": "not created"}


def shown_key(key: str) -> str:
    text = one_line(key)
    return text if len(text) <= KEY_CHARS else text[:KEY_CHARS - 1] + "…"


def counts_text(snap: Snapshot) -> str:
    """`12/40 done · 4 running · 23 pending` (states with rows only)."""
    done = snap.states.get("done", 0)
    parts = [f"{done}/{snap.total} done"]
    parts += [f"{n} {STATE_WORDS.get(s, s)}" for s in STATE_ORDER[1:]
              if (n := snap.states.get(s, 0))]
    return " · ".join(parts)


def change_text(change: RowChange) -> str | None:
    """The line a row state change gets (None: not worth a line of its own)."""
    run = f"run {change.run_id[:8]}" if change.run_id else ""
    message = one_line(change.message or "")
    what = change.what
    if what == "created":
        return f"created {run}"
    if what == "done":
        status = one_line(change.status or "ended")
        code = f", exit {change.exit_code}" if change.exit_code else ""
        return f"{status} ({run}{code})" if not message else f"{status} ({run}{code}): {message}"
    texts = {"uncertain": f"uncertain: {message}",
             "not_created": f"not created: {message}",
             "downloaded": f"downloaded to {one_line(change.directory)}",
             "download_failed": f"download failed: {message}",
             "given_up": f"stopped polling ({message}); {run} goes on server-side"}
    return texts.get(what)


class BatchView:
    """The runner's events → the progress view and, with --json, NDJSON results."""

    def __init__(self, output: "Output", progress: "NullProgress", json_lines: bool) -> None:
        self.output, self.progress, self.json_lines = output, progress, json_lines

    def __enter__(self) -> "BatchView":
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def row(self, change: RowChange) -> None:
        self.progress.row(change)

    def polled(self, key: str, t: "Tracked") -> None:
        self.progress.polled(key, t)

    def problem(self, key: str | None, text: str) -> None:
        self.progress.problem(key, text)

    def poll_problem(self, key: str, exc: "SpineError", delay: float) -> None:
        self.progress.problem(key, problem_text(exc, delay))

    def tick(self, snapshot: Snapshot) -> None:
        self.progress.tick(snapshot)

    def result(self, row: dict[str, Any]) -> None:
        if self.json_lines:
            self.output.record(row)


class NullProgress:
    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def row(self, change: RowChange) -> None:
        pass

    def polled(self, key: str, t: "Tracked") -> None:
        pass

    def problem(self, key: str | None, text: str) -> None:
        pass

    def tick(self, snapshot: Snapshot) -> None:
        pass


class PlainProgress(NullProgress):
    """A line per row state change, a heartbeat per quiet `heartbeat` seconds (stderr)."""

    def __init__(self, output: "Output", clock: Callable[[], float] = time.monotonic,
                 heartbeat: float = HEARTBEAT_SECONDS, changes: bool = True) -> None:
        self.output, self.clock, self.heartbeat, self.changes = output, clock, heartbeat, changes
        self.last = clock()

    def _line(self, text: str) -> None:
        self.output.note(text)
        self.last = self.clock()

    def row(self, change: RowChange) -> None:
        text = change_text(change) if self.changes else None
        if text:
            self._line(f"row {shown_key(change.key)}: {text}")

    def problem(self, key: str | None, text: str) -> None:
        if self.changes:
            self._line(f"row {shown_key(key)}: {one_line(text)}" if key is not None
                       else f"batch: {one_line(text)}")

    def tick(self, snapshot: Snapshot) -> None:
        if self.clock() - self.last >= self.heartbeat:
            self._line(f"batch: {counts_text(snapshot)}")


class LiveProgress(NullProgress):
    """The terminal view (see the module doc), drawn by `ui.live_area.LiveArea` (redrawn in
    place, surviving resizes) with `ui.live`'s bars; rich is imported only here."""

    def __init__(self, output: "Output", clock: Callable[[], float] = time.monotonic) -> None:
        from spine_cli.ui.live_area import LiveArea

        self.clock = clock
        self.lock = threading.Lock()
        self.snapshot: Snapshot | None = None
        self.note = ""
        self.polled_at: dict[str, float] = {}
        self.area = LiveArea(output.err, self._render)

    def start(self) -> None:
        self.area.start()

    def stop(self) -> None:
        self.area.stop()

    def row(self, change: RowChange) -> None:
        from rich.text import Text

        text = change_text(change)
        if not text or change.what == "created":
            return  # the active list shows new runs; the rolling lines are for endings
        status = RunStatus.parse(change.status) if change.status else None
        ok = change.what in ("downloaded",) or (change.what == "done" and not change.exit_code)
        style = run_style(status) if change.what == "done" else run_style(
            RunStatus.COMPLETED if ok else RunStatus.FAILED)
        line = Text(f"{style.mark} ", style=style.colour)
        line.append(f"{shown_key(change.key)}  ", style="bold")
        line.append(text)
        self.area.print_above(line)

    def polled(self, key: str, t: "Tracked") -> None:
        with self.lock:
            self.polled_at[key] = self.clock()
            self.note = ""

    def problem(self, key: str | None, text: str) -> None:
        with self.lock:
            self.note = (f"row {shown_key(key)}: " if key else "") + one_line(text)

    def tick(self, snapshot: Snapshot) -> None:
        with self.lock:
            self.snapshot = snapshot

    def _render(self, width: int) -> Any:
        from rich.console import Group
        from rich.text import Text

        from spine_cli.ui.live import bar

        with self.lock:
            snap, note, polled_at = self.snapshot, self.note, dict(self.polled_at)
        if snap is None:
            return Text("Starting the batch…")
        # Below NARROW columns the bars go: a bar squeezed to a character or two says
        # nothing, and the counts and times need the room.
        cells = 0 if width < NARROW else max(8, min(30, width // 4))
        now = self.clock()
        running = [(key, t) for key, t in snap.running if not t.done]
        rows = [(Text("Batch", style="bold"),
                 bar(cells, snap.states.get("done", 0) / max(1, snap.total), now),
                 Text(counts_text(snap)))]
        rows += [self._active(key, t, polled_at.get(key), cells, now)
                 for key, t in running[:ACTIVE_SHOWN]]
        # Labels line up, keeping up to half the width; the counts and times get the rest.
        label_width = min(max(len(label) for label, _, _ in rows), width // 2)
        lines = []
        for label, progress, info in rows:
            line = label.copy()
            line.truncate(label_width, overflow="ellipsis", pad=True)
            if cells:
                line.append(" ").append_text(progress)
            line.append(" ").append_text(info)
            line.truncate(width, overflow="ellipsis")
            lines.append(line)
        if len(running) > ACTIVE_SHOWN:
            lines.append(Text(f"  … and {len(running) - ACTIVE_SHOWN} more running",
                              style="dim", no_wrap=True, overflow="ellipsis"))
        if note:
            lines.append(Text(note, style="yellow", no_wrap=True, overflow="ellipsis"))
        return Group(*lines)

    def _active(self, key: str, t: "Tracked", polled_at: float | None,
                cells: int, now: float) -> tuple[Any, Any, Any]:
        from rich.text import Text

        from spine_cli.ui.live import ALMOST, bar

        run = t.run
        status = Text(one_line(run.status_text) if run else "starting",
                      style=run_style(run.status if run else None).colour)
        label = Text(f"  {shown_key(key)}")
        if cells:  # narrow: the key alone; the tasks and times tell it is running
            label.append(" ").append_text(status)
        p = run.progress if run else None
        # The server's elapsed time at the last poll, ticking on between polls.
        elapsed = p.elapsed_ms / 1000 + now - (polled_at or now) if p and p.elapsed_ms else None
        fraction = min(ALMOST, elapsed / t.estimated) if t.estimated and elapsed else None
        bits = [f"{p.tasks_completed}/{p.tasks_total} tasks"] if p and p.tasks_total else []
        if elapsed is not None:
            bits.append(format_duration(elapsed))
        left = eta_seconds(run, t.estimated, elapsed)
        if left is not None and left >= 1:
            bits.append(f"~{format_duration(left)} left")
        info = Text(" · ".join(bits))
        if not bits and not cells:
            info = status  # no progress yet: say what it is doing
        return label, bar(cells, fraction, now), info


def make_batch_view(output: "Output", clock: Callable[[], float]) -> BatchView:
    """The view for this invocation's output situation."""
    if output.quiet:
        progress: NullProgress = (PlainProgress(output, clock, QUIET_HEARTBEAT_SECONDS,
                                                changes=False)
                                  if output.mode.ci else NullProgress())
    elif output.live:
        progress = LiveProgress(output, clock)
    else:
        progress = PlainProgress(output, clock)
    return BatchView(output, progress, json_lines=output.json)
