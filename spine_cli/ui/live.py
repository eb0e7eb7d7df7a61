"""The live terminal display (imported only when stderr is a terminal).

Redrawn four times a second from what is known, not only when a poll
answers: the elapsed time ticks every second (the server's `elapsed_ms`,
plus the local time since that answer), and the time left counts down
between polls and is corrected at each one. The bar shows time progress
(elapsed / estimated, held below 100 % until the run ends) when there is an
estimate, the task count beside it; without one it is an indeterminate bar.

Every line is laid out for the terminal's width at each redraw: a run's line
(id, status, bar, tasks, elapsed, time left) becomes two lines where one does
not fit, and nothing is hard-wrapped. `ui.live_area.LiveArea` redraws in place
and survives resizes; the canvas link is printed once above the live area,
unbroken, as an OSC 8 hyperlink where the terminal supports it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from rich.console import Group, RenderableType
from rich.text import Text
from rich.tree import Tree

from spine_cli.api.canvas import NodeStatus, Task, TaskTree
from spine_cli.api.models import Run, RunStatus
from spine_cli.errors import SpineError
from spine_cli.runs.waiter import Tracked
from spine_cli.ui.live_area import LiveArea
from spine_cli.ui.render import format_duration
from spine_cli.ui.reporters import NullReporter, eta_seconds, problem_text, short
from spine_cli.ui.styles import node_style, run_style
from spine_cli.ui.textsafe import one_line

if TYPE_CHECKING:
    from rich.console import Console

TASKS_REFRESH_SECONDS = 5.0
MAX_TREE_LINES = 14
ALMOST = 0.99  # the bar's ceiling until the run ends
BAR_MAX, BAR_MIN = 30, 8
SEP = " · "


@dataclass
class _Seen:
    run: Run | None
    estimated: float | None
    at: float  # local clock when the answer arrived


class LiveReporter(NullReporter):
    """A line per run (bar, tasks, elapsed, time left), plus the active task tree of one run."""

    def __init__(self, console: "Console", tasks_fetch: Callable[[str], TaskTree] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._tasks_fetch = tasks_fetch
        self._clock = clock
        self._start = clock()
        self._seen: dict[str, _Seen] = {}
        self._lock = threading.Lock()
        self._tree: Tree | None = None
        self._tasks_at = -TASKS_REFRESH_SECONDS
        self._note = Text("")
        self._linked: set[str] = set()
        self._area = LiveArea(console, self._render)

    def __enter__(self) -> "LiveReporter":
        self._area.start()
        return self

    def finish(self) -> None:
        self._area.stop()

    # -- events from the wait loop -------------------------------------------------------
    def update(self, t: Tracked) -> None:
        with self._lock:
            self._seen[t.run_id] = _Seen(t.run, t.estimated, self._clock())
            self._note = Text("")
        run = t.run
        if run and run.canvas_url and t.run_id not in self._linked:
            self._linked.add(t.run_id)
            url = run.canvas_url
            label = "Canvas: " if len(self._seen) == 1 else f"Canvas of {short(t.run_id)}: "
            self._area.print_above(Text.assemble((label, "bold"), (url, f"link {url}")))
        if run and len(self._seen) == 1:
            self._maybe_tree(run)

    def problem(self, t: Tracked, exc: SpineError, delay: float) -> None:
        with self._lock:
            self._note = Text(f"run {short(t.run_id)}: {problem_text(exc, delay)}",
                              style="yellow", no_wrap=True, overflow="ellipsis")

    def _maybe_tree(self, run: Run) -> None:
        if not self._tasks_fetch or not run.canvas_id or run.terminal:
            return
        now = self._clock()
        if now - self._tasks_at < TASKS_REFRESH_SECONDS:
            return
        self._tasks_at = now
        try:
            tasks = self._tasks_fetch(run.canvas_id)
        except SpineError:
            return  # the tree is decoration; the poll loop reports real trouble
        tree = active_tree(tasks)
        with self._lock:
            self._tree = tree

    # -- drawing (called by the live area four times a second) ---------------------------
    def _render(self, width: int) -> RenderableType:
        with self._lock:
            rows = list(self._seen.items())
            tree, note = self._tree, self._note
        parts: list[RenderableType] = []
        for run_id, seen in rows or [("", _Seen(None, None, self._start))]:
            parts.extend(self._lines(run_id, seen, width))
        if tree is not None:
            parts.append(tree)
        if note.plain:
            parts.append(note)
        return Group(*parts)

    def _lines(self, run_id: str, seen: _Seen, width: int) -> list[Text]:
        """One line per run where it fits, else two (the bar and times on the second)."""
        run = seen.run
        style = run_style(run.status if run else RunStatus.RUNNING)
        label = Text(f"{short(run_id)} " if run_id else "")
        label.append(f"{style.mark} {one_line(run.status_text) if run else 'starting'}",
                     style=style.colour)
        if run and run.terminal:
            label.append(f" in {format_duration((run.duration_ms or 0) / 1000)}"
                         if run.duration_ms is not None else "")
            return [label]
        elapsed = self._elapsed(seen)
        tasks = (f"{run.progress.tasks_completed}/{run.progress.tasks_total} tasks"
                 if run and run.progress and run.progress.tasks_total else "")
        left = eta_seconds(run, seen.estimated, elapsed)
        times = format_duration(elapsed) + (
            "" if left is None else SEP + (f"~{format_duration(left)} left" if left >= 1
                                           else "finishing"))
        fraction = min(ALMOST, elapsed / seen.estimated) if seen.estimated else None
        info = SEP.join(p for p in (tasks, times) if p)
        bar_room = width - label.cell_len - len(info) - 4
        if bar_room >= BAR_MIN:
            return [Text.assemble(label, "  ", bar(min(BAR_MAX, bar_room), fraction,
                                                   self._clock()), "  ", info)]
        first = Text.assemble(label, SEP + tasks if tasks else "")
        bar_room = width - len(times) - 2
        second = Text.assemble(bar(min(BAR_MAX, bar_room), fraction, self._clock()), "  ", times) \
            if bar_room >= BAR_MIN else Text(times)
        return [first, second]

    def _elapsed(self, seen: _Seen) -> float:
        since = self._clock() - seen.at
        run = seen.run
        if run and run.progress and run.progress.elapsed_ms:
            return run.progress.elapsed_ms / 1000 + since
        return self._clock() - self._start


def bar(width: int, fraction: float | None, now: float) -> Text:
    """A bar `width` cells wide: filled to `fraction`, or a pulse moving across (None).

    Filled cells are heavy (━) and the rest thin (─), so the bar reads without colour
    too (NO_COLOR, a monochrome terminal, a screenshot in a bug report).
    """
    cells = ["─"] * width
    if fraction is None:
        head = int(now * 12) % (width + 6) - 6  # a 6-cell pulse sweeping left to right
        for i in range(max(0, head), min(width, head + 6)):
            cells[i] = "━"
    else:
        filled = max(0.0, min(1.0, fraction)) * width
        cells[:int(filled)] = ["━"] * int(filled)
        if int(filled) < width and filled - int(filled) >= 0.5:
            cells[int(filled)] = "╸"
    text = Text()
    for cell in cells:
        text.append(cell, style="bright_black" if cell == "─" else "magenta")
    return text


def active_tree(tasks: TaskTree) -> Tree:
    """The not-completed part of the task tree, running tasks first, bounded."""
    tree = Tree(Text("Active tasks", style="bold"))
    budget = [MAX_TREE_LINES]

    def add(parent: Tree, node: Task, depth: int) -> None:
        if budget[0] <= 0 or depth > 3:
            return
        budget[0] -= 1
        style = node_style(node.status)
        text = Text(f"{style.mark} ", style=style.colour, no_wrap=True, overflow="ellipsis")
        text.append(one_line(node.name or "?"))
        text.append(f"  {one_line(node.task_type)}", style="dim")
        branch = parent.add(text)
        children = sorted(node.children, key=lambda c: c.status is not NodeStatus.RUNNING)
        for child in children:
            if child.status is not NodeStatus.COMPLETED:
                add(branch, child, depth + 1)

    for root in tasks.not_completed:
        add(tree, root, 1)
    if budget[0] == MAX_TREE_LINES:
        tree.add(Text("(none running)", style="dim"))
    return tree
