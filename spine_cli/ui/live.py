"""The live terminal display (imported only when stderr is a terminal).

Redrawn several times a second from what is known, not only when a poll
answers: the elapsed time ticks every second (the server's `elapsed_ms`,
plus the local time since that answer), and the time left counts down
between polls and is corrected at each one. The bar shows time progress
(elapsed / estimated, held below 100 % until the run ends) when there is an
estimate, the task count beside it; without one it is an indeterminate bar.
Every line fits the terminal (no line is wrapped by the terminal, so a resize
leaves nothing stale); the canvas link is printed once above the live area,
unbroken, as an OSC 8 hyperlink where the terminal supports it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from rich.console import Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from spine_cli.api.canvas import NodeStatus, Task, TaskTree
from spine_cli.api.models import Run
from spine_cli.errors import SpineError
from spine_cli.runs.waiter import Tracked
from spine_cli.ui.render import format_duration
from spine_cli.ui.reporters import NullReporter, eta_seconds, problem_text, short
from spine_cli.ui.styles import node_style, run_style
from spine_cli.ui.textsafe import one_line

if TYPE_CHECKING:
    from rich.console import Console

TASKS_REFRESH_SECONDS = 5.0
MAX_TREE_LINES = 14
ALMOST = 0.99  # the bar's ceiling until the run ends


@dataclass
class _Seen:
    run: Run | None
    estimated: float | None
    at: float  # local clock when the answer arrived


class LiveReporter(NullReporter):
    """A line per run (bar, tasks, elapsed, time left), plus the active task tree of one run."""

    def __init__(self, console: "Console", tasks_fetch: Callable[[str], TaskTree] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._console = console
        self._tasks_fetch = tasks_fetch
        self._clock = clock
        self._start = clock()
        self._seen: dict[str, _Seen] = {}
        self._lock = threading.Lock()
        self._tree: Tree | None = None
        self._tasks_at = -TASKS_REFRESH_SECONDS
        self._note = Text("")
        self._linked: set[str] = set()
        self._live = Live(console=console, get_renderable=self._render, refresh_per_second=4,
                          transient=True, redirect_stderr=False, redirect_stdout=False)

    def __enter__(self) -> "LiveReporter":
        self._live.start()
        return self

    def finish(self) -> None:
        self._live.stop()

    # -- events from the wait loop -------------------------------------------------------
    def update(self, t: Tracked) -> None:
        with self._lock:
            self._seen[t.run_id] = _Seen(t.run, t.estimated, self._clock())
            self._note = Text("")
        run = t.run
        if run and run.canvas_url and t.run_id not in self._linked:
            self._linked.add(t.run_id)
            url = run.canvas_url
            self._live.console.print(Text.assemble(("Canvas: ", "bold"), (url, f"link {url}")),
                                     soft_wrap=True)
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

    # -- drawing (called by rich several times a second) ---------------------------------
    def _render(self) -> RenderableType:
        with self._lock:
            rows = list(self._seen.items())
            tree, note = self._tree, self._note
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(width=max(10, min(30, self._console.width // 4)), no_wrap=True)
        grid.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
        for run_id, seen in rows:
            grid.add_row(*self._row(run_id, seen))
        parts: list[RenderableType] = [grid]
        if tree is not None:
            parts.append(tree)
        if note.plain:
            parts.append(note)
        return Group(*parts)

    def _row(self, run_id: str, seen: _Seen) -> tuple[Text, ProgressBar, Text]:
        run = seen.run
        style = run_style(run.status if run else None)
        label = Text(f"{short(run_id)} ")
        label.append(one_line(run.status_text) if run else "starting", style=style.colour)
        if run and run.terminal:
            info = format_duration((run.duration_ms or 0) / 1000)
            return label, ProgressBar(total=1, completed=1), Text(info)
        elapsed = self._elapsed(seen)
        bar = self._bar(run, seen.estimated, elapsed)
        bits = []
        if run and run.progress and run.progress.tasks_total:
            bits.append(f"{run.progress.tasks_completed}/{run.progress.tasks_total} tasks")
        bits.append(format_duration(elapsed))
        left = eta_seconds(run, seen.estimated, elapsed)
        if left is not None:
            bits.append(f"~{format_duration(left)} left" if left >= 1 else "finishing")
        return label, bar, Text(" · ".join(bits))

    def _elapsed(self, seen: _Seen) -> float:
        since = self._clock() - seen.at
        run = seen.run
        if run and run.progress and run.progress.elapsed_ms:
            return run.progress.elapsed_ms / 1000 + since
        return self._clock() - self._start

    @staticmethod
    def _bar(run: Run | None, estimated: float | None, elapsed: float) -> ProgressBar:
        if estimated:
            return ProgressBar(total=1.0, completed=min(ALMOST, elapsed / estimated))
        return ProgressBar(total=None, pulse=True)


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
