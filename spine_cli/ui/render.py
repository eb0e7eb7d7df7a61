"""Human views of runs: rich on a terminal, plain text when piped.

Server text is neutralised (`textsafe`) and shown as text, never as rich
markup; the final output is rendered as Markdown on a terminal (links show
their target, so a link cannot pretend to go elsewhere) and printed raw when
piped. A failed or partial run is stated once, followed by its errors and
the next step to take.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spine_cli.api.models import Run, RunError, RunStatus
from spine_cli.ui.styles import run_style
from spine_cli.ui.textsafe import one_line, sanitize

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.text import Text

    from spine_cli.ui.output import Output

FILES_TITLE = "Files"


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(max(0.0, seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def format_size(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def status_line(run: Run) -> str:
    """`completed in 15m27s`, `running 3/8 tasks, 2m10s elapsed`, ..."""
    word = one_line(run.status_text)
    if run.status is RunStatus.RUNNING:
        p = run.progress
        if p and p.tasks_total:
            return (f"running {p.tasks_completed}/{p.tasks_total} tasks, "
                    f"{format_duration(p.elapsed_ms / 1000)} elapsed")
        return RunStatus.RUNNING.value
    if run.duration_ms is not None:
        return f"{word} in {format_duration(run.duration_ms / 1000)}"
    return word


def metadata_line(run: Run) -> str | None:
    md = run.metadata
    parts = []
    if md.template_used:
        parts.append(f"template {md.template_used}")
    if md.models_used:
        parts.append("models " + ", ".join(md.models_used))
    if md.credits_consumed is not None:
        parts.append(f"{md.credits_consumed} credits")
    return one_line(" · ".join(parts)) if parts else None


def error_text(err: RunError) -> str:
    where = err.block_type or err.block_id
    return f"{one_line(err.text)} ({one_line(where)})" if where else one_line(err.text)


def next_step(run: Run) -> str | None:
    """What to run after a run that did not simply succeed."""
    if run.status is RunStatus.FAILED:
        target = run.canvas_id and f"spine canvas tasks {run.run_id}"
        return f"See what failed: {target}" if target else None
    if run.status is RunStatus.PARTIAL:
        return (f"Some blocks failed; the rest is usable: spine run download {run.run_id} "
                "-d DIR")
    return None


def outcome_lines(run: Run) -> list[str]:
    """A failed or partial run's errors and the next step (nothing for other runs)."""
    if run.status not in (RunStatus.FAILED, RunStatus.PARTIAL):
        return []
    lines = [f"  - {error_text(e)}" for e in run.errors]
    step = next_step(run)
    return lines + ([step] if step else [])


def render_run(output: "Output", run: Run, exit_note: str | None = None) -> None:
    """The full human view of one run on stdout (`exit_note`: why the command exits so)."""
    if output.mode.rich_stdout:
        _render_rich(output, run, exit_note)
    else:
        _render_plain(output, run, exit_note)


def _header_lines(run: Run) -> list[tuple[str, str]]:
    rows = [("Run", f"{run.run_id}  {status_line(run)}")]
    if run.canvas_url:
        rows.append(("Canvas", run.canvas_url))
    meta = metadata_line(run)
    if meta:
        rows.append(("Details", meta))
    return rows


def _render_plain(output: "Output", run: Run, exit_note: str | None) -> None:
    for label, value in _header_lines(run):
        output.data(f"{label + ':':<9}{value}")
    if run.final_output:
        output.data("")
        output.data(sanitize(run.final_output).rstrip("\n"))
    if run.artifacts:
        output.data("")
        output.data(f"{FILES_TITLE}:")
        for a in run.artifacts:
            output.data(f"  {one_line(a.type or '?'):<5} {format_size(a.size_bytes):>10}  "
                        f"{one_line(a.name or a.id or '(unnamed)')}")
    if run.errors:
        output.data("")
        output.data("Errors:")
        for e in run.errors:
            output.data(f"  - {error_text(e)}")
    step = next_step(run)
    if step:
        output.data("")
        output.data(step)
    if exit_note:
        output.data(exit_note)


def _render_rich(output: "Output", run: Run, exit_note: str | None) -> None:
    from rich.markdown import Markdown
    from rich.table import Table
    from rich.text import Text

    con = output.out
    colour = run_style(run.status).colour
    for label, value in _header_lines(run):
        line = Text.assemble((f"{label + ':':<9}", "bold"))
        if label in ("Run", "Canvas"):
            # One unbroken line (soft-wrapped by the terminal), so the id or the link is
            # copied whole; the canvas is a link where the terminal supports it.
            line.append(value, style=colour if label == "Run" else f"link {value}")
            con.print(line, soft_wrap=True)
        else:  # long lines wrap under the value, not under the label
            line.append(value)
            con.print(_hanging(line, 9))
    if run.final_output:
        con.print()
        con.print(Markdown(sanitize(run.final_output), hyperlinks=False))
    if run.artifacts:
        # Not "Artifacts": the final output often has a section of that name already.
        table = Table(title=FILES_TITLE, title_justify="left", title_style="bold",
                      show_edge=False)
        for col in ("Type", "Name", "Size"):
            table.add_column(col, justify="right" if col == "Size" else "left")
        for a in run.artifacts:
            table.add_row(Text(one_line(a.type or "?")),
                          Text(one_line(a.name or a.id or "(unnamed)")),
                          format_size(a.size_bytes))
        con.print()
        con.print(table)
    if run.errors:
        con.print()
        con.print(Text("Errors:", style=f"bold {colour}"))
        for e in run.errors:
            con.print(Text(f"  - {error_text(e)}"))
    step = next_step(run)
    if step:
        con.print()
        con.print(Text(step, style="bold"), soft_wrap=True)  # a command copied whole
    if exit_note:
        con.print(Text(exit_note))


def _hanging(line: "Text", indent: int) -> "RenderableType":
    """`Label:  value…` whose continuation lines start under the value."""
    from rich.table import Table

    grid = Table.grid()
    grid.add_column(width=indent, no_wrap=True)
    grid.add_column()
    grid.add_row(line[:indent], line[indent:])
    return grid


def render_summary(output: "Output", runs: list[tuple[str, Run | None, int]]) -> None:
    """One line per run (several-run waits): id, status, exit code; then, under a failed
    or partial run, its errors and the next step."""
    for run_id, run, code in runs:
        text = status_line(run) if run else RunStatus.UNKNOWN.value
        output.data(f"{run_id}  {text}  (exit {code})")
        for line in outcome_lines(run) if run else []:
            output.data(line if line.startswith("  ") else f"  {line}")
