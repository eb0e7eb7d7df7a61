"""Human views of runs: rich on a terminal, plain text when piped.

Server text is sanitised and shown as text (never as rich markup); the final
output is rendered as Markdown on a terminal and printed raw when piped.
"""

from __future__ import annotations

from typing import Any

from spine_cli.api.models import Run
from spine_cli.ui.output import Output
from spine_cli.ui.textsafe import sanitize

STATUS_STYLE = {"completed": "green", "partial": "yellow", "failed": "red", "running": "cyan"}


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
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
    if run.status == "running":
        p = run.progress
        if p and p.tasks_total:
            return (f"running {p.tasks_completed}/{p.tasks_total} tasks, "
                    f"{format_duration(p.elapsed_ms / 1000)} elapsed")
        return "running"
    if run.duration_ms is not None:
        return f"{run.status} in {format_duration(run.duration_ms / 1000)}"
    return run.status


def metadata_line(run: Run) -> str | None:
    md = run.metadata
    parts = []
    if md.get("template_used"):
        parts.append(f"template {md['template_used']}")
    if md.get("models_used"):
        parts.append("models " + ", ".join(str(m) for m in md["models_used"]))
    if md.get("credits_consumed") is not None:
        parts.append(f"{md['credits_consumed']} credits")
    return sanitize(" · ".join(parts), keep_newlines=False) if parts else None


def render_run(output: Output, run: Run) -> None:
    """The full human view of one run on stdout."""
    if output.rich_stdout:
        _render_rich(output, run)
    else:
        _render_plain(output, run)


def _header_lines(run: Run) -> list[tuple[str, str]]:
    rows = [("Run", f"{run.run_id}  {status_line(run)}")]
    if run.canvas_url:
        rows.append(("Canvas", sanitize(run.canvas_url, keep_newlines=False)))
    meta = metadata_line(run)
    if meta:
        rows.append(("Details", meta))
    return rows


def _render_plain(output: Output, run: Run) -> None:
    for label, value in _header_lines(run):
        output.data(f"{label + ':':<9}{value}")
    if run.final_output:
        output.data("")
        output.data(sanitize(run.final_output).rstrip("\n"))
    if run.artifacts:
        output.data("")
        output.data("Artifacts:")
        for a in run.artifacts:
            output.data(f"  {sanitize(a.type, False):<5} {format_size(a.size_bytes):>10}  "
                        f"{sanitize(a.name, False)}")
    _render_errors_plain(output, run)


def _render_errors_plain(output: Output, run: Run) -> None:
    if not run.errors:
        return
    output.data("")
    output.data("Errors:")
    for e in run.errors:
        output.data(f"  - {error_text(e)}")


def error_text(err: dict[str, Any]) -> str:
    text = sanitize(str(err.get("error", "unknown error")), keep_newlines=False)
    where = err.get("block_type") or err.get("block_id")
    return f"{text} ({sanitize(str(where), False)})" if where else text


def _render_rich(output: Output, run: Run) -> None:
    from rich.markdown import Markdown
    from rich.table import Table
    from rich.text import Text

    con = output.out
    for label, value in _header_lines(run):
        line = Text(f"{label + ':':<9}", style="bold")
        style = STATUS_STYLE.get(run.status, "") if label == "Run" else ""
        line.append(value, style=style)
        con.print(line)
    if run.final_output:
        con.print()
        con.print(Markdown(sanitize(run.final_output)))
    if run.artifacts:
        table = Table(title="Artifacts", title_justify="left", show_edge=False)
        for col in ("Type", "Name", "Size"):
            table.add_column(col, justify="right" if col == "Size" else "left")
        for a in run.artifacts:
            table.add_row(Text(sanitize(a.type, False)), Text(sanitize(a.name, False)),
                          format_size(a.size_bytes))
        con.print()
        con.print(table)
    if run.errors:
        con.print()
        con.print(Text("Errors:", style="bold red"))
        for e in run.errors:
            con.print(Text(f"  - {error_text(e)}"))


def render_summary(output: Output, runs: list[tuple[str, Run | None, int]]) -> None:
    """One line per run (several-run waits): id, status, exit code."""
    for run_id, run, code in runs:
        text = status_line(run) if run else "unknown"
        output.data(f"{run_id}  {text}  (exit {code})")
