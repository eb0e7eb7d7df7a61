"""`spine run list` as text: a table on a terminal, aligned columns when piped.

History rows hold prompts and statuses that came from users and the server:
every cell is neutralised and put into rich `Text`, never read as markup.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from spine_cli.local.history import Row
from spine_cli.ui.styles import recorded_style
from spine_cli.ui.textsafe import sanitize

if TYPE_CHECKING:
    from spine_cli.local.settings import Settings
    from spine_cli.ui.output import Output


def render_run_list(out: "Output", runs: list[Row], settings: "Settings",
                    all_profiles: bool) -> None:
    """The history rows: a table on a terminal, aligned text when piped, ids with -q."""
    if out.json:
        out.document(runs)
        return
    if out.quiet:
        out.lines([run["run_id"] for run in runs if run["run_id"]])
        return
    if not runs:
        scope = "" if all_profiles else f" for profile '{settings.profile}' at {settings.base_url}"
        out.info(f"No runs in the local history{scope}.")
        if not all_profiles:
            out.info("Runs of other profiles: spine run list --all-profiles")
        return
    header, rows = _table(runs, all_profiles)
    if out.mode.rich_stdout:
        _rich_table(out, header, rows)
    else:
        _plain_table(out, header, rows)


def _table(runs: list[Row], all_profiles: bool) -> tuple[list[str], list[list[str]]]:
    header = ["RUN ID", "STATUS", "CREATED", "TEMPLATE", "FILES", "PROMPT"]
    if all_profiles:
        header[2:2] = ["PROFILE", "BASE URL"]
    rows = []
    for run in runs:
        prompt = sanitize(run["prompt"] or "", keep_newlines=False)
        row = [run["run_id"] or "(unconfirmed)",
               "unconfirmed" if run["unconfirmed"] else run["status"],
               _local_time(run["created_at"]), run["template"] or "-",
               str(len(run["files"])), prompt[:60] + ("…" if len(prompt) > 60 else "")]
        if all_profiles:
            row[2:2] = [run["profile"], run["base_url"]]
        rows.append(row)
    return header, rows


def _local_time(stamp: str) -> str:
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    return when.astimezone().strftime("%Y-%m-%d %H:%M")


def _plain_table(out: "Output", header: list[str], rows: list[list[str]]) -> None:
    # The prompt (last column) is not padded, so lines carry no trailing blanks.
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [cell.ljust(w) for cell, w in zip(row, widths)]
        out.data("  ".join([*cells, row[-1]]).rstrip())


def _rich_table(out: "Output", header: list[str], rows: list[list[str]]) -> None:
    from rich.table import Table
    from rich.text import Text

    # One line per run: the prompt (last column) alone is cut to what the terminal leaves.
    fixed = sum(max(len(r[i]) for r in [header, *rows]) + 2 for i in range(len(header) - 1))
    room = max(8, out.out.width - fixed)
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in header:
        table.add_column(name, no_wrap=True)
    status_col = header.index("STATUS")
    for row in rows:
        prompt = row[-1] if len(row[-1]) <= room else row[-1][: room - 1] + "…"
        cells = [Text(cell) for cell in [*row[:-1], prompt]]  # Text: no markup interpreted
        cells[status_col].stylize(recorded_style(row[status_col],
                                                 row[status_col] == "unconfirmed").colour)
        table.add_row(*cells)
    out.out.print(table)
