"""The live terminal display (imported only when stderr is a terminal)."""

from __future__ import annotations

import time
from typing import Any, Callable

from rich.console import Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.text import Text
from rich.tree import Tree

from spine_cli.errors import SpineError
from spine_cli.api.models import Run
from spine_cli.runs.polling import Tracked
from spine_cli.ui.reporters import NullReporter, eta_text, problem_text, short
from spine_cli.ui.render import STATUS_STYLE, format_duration
from spine_cli.ui.textsafe import sanitize

TASKS_REFRESH_SECONDS = 5.0
MAX_TREE_LINES = 14
MARKS = {"completed": ("✓", "green"), "error": ("✗", "red"), "running": ("•", "cyan")}


class LiveReporter(NullReporter):
    """Progress bars per run, plus the active task tree when watching one run."""

    def __init__(self, console: Any, tasks_fetch: Callable[[str], dict] | None = None) -> None:
        self._console = console
        self._tasks_fetch = tasks_fetch
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.fields[label]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            console=console,
        )
        self._ids: dict[str, Any] = {}
        self._tree: Tree | None = None
        self._tasks_at = 0.0
        self._note = Text("")
        self._live = Live(self._render(), console=console, refresh_per_second=8, transient=True)

    def __enter__(self) -> "LiveReporter":
        self._live.start()
        return self

    def _render(self) -> Group:
        parts: list[Any] = [self._progress]
        if self._tree is not None:
            parts.append(self._tree)
        parts.append(self._note)
        return Group(*parts)

    def update(self, t: Tracked) -> None:
        run = Run.from_api(t.data or {})
        p = run.progress
        done, total = (p.tasks_completed, p.tasks_total) if p else (0, 0)
        elapsed = format_duration(p.elapsed_ms / 1000) if p else ""
        info = " · ".join(x for x in (elapsed, eta_text(t)) if x)
        label = Text(short(t.run_id) + " ")
        label.append(run.status, style=STATUS_STYLE.get(run.status, ""))
        if run.terminal:
            total = max(total, done, 1)
            done = total
            info = format_duration((run.duration_ms or 0) / 1000)
        if t.run_id not in self._ids:
            self._ids[t.run_id] = self._progress.add_task("", total=total or None, label=label,
                                                           info=info)
        self._progress.update(self._ids[t.run_id], completed=done, total=total or None,
                              label=label, info=info)
        self._note = Text("")
        self._maybe_tree(run)
        self._live.update(self._render())

    def _maybe_tree(self, run: Run) -> None:
        if not self._tasks_fetch or not run.canvas_id or run.terminal:
            return
        now = time.monotonic()
        if now - self._tasks_at < TASKS_REFRESH_SECONDS:
            return
        self._tasks_at = now
        try:
            tasks = self._tasks_fetch(run.canvas_id)
        except SpineError:
            return  # the tree is decoration; the poll loop reports real trouble
        self._tree = active_tree(tasks)

    def problem(self, t: Tracked, exc: SpineError, delay: float) -> None:
        self._note = Text(f"run {short(t.run_id)}: {problem_text(exc, delay)}", style="yellow")
        self._live.update(self._render())

    def finish(self) -> None:
        self._live.stop()


def active_tree(tasks: dict) -> Tree:
    """The not-completed part of the task tree, running tasks first, bounded."""
    tree = Tree(Text("Active tasks", style="bold"))
    budget = [MAX_TREE_LINES]

    def add(parent: Tree, node: dict, depth: int) -> None:
        if budget[0] <= 0 or depth > 3:
            return
        budget[0] -= 1
        status = str(node.get("status", ""))
        mark, style = MARKS.get(status, ("·", "dim"))
        text = Text(f"{mark} ", style=style)
        text.append(sanitize(str(node.get("name", "?")), keep_newlines=False))
        text.append(f"  {sanitize(str(node.get('task_type', '')), False)}", style="dim")
        branch = parent.add(text)
        children = [c for c in node.get("children") or [] if isinstance(c, dict)]
        children.sort(key=lambda c: c.get("status") != "running")
        for child in children:
            if child.get("status") != "completed":
                add(branch, child, depth + 1)

    for root in tasks.get("not_completed") or []:
        if isinstance(root, dict):
            add(tree, root, 1)
    if budget[0] == MAX_TREE_LINES:
        tree.add(Text("(none running)", style="dim"))
    return tree
