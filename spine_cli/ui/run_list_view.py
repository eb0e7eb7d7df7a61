"""`spine run list` as text: a table on a terminal, aligned columns when piped.

On a terminal the table fits 80 columns: ids are shortened to their first 8
characters (longer where two listed runs share them), which every RUN argument
accepts; `--wide` (and piped output) shows full ids, full dates and base URLs.
An unconfirmed create has no run id: it is named `#N` and followed by a note
saying why it is unconfirmed and how to dismiss it. Runs made under
`spine emulator exec` are marked `emulator`, `emulator (ended)` once that
emulator has stopped.

History rows hold prompts and statuses that came from users and the server:
every cell is neutralised and put into rich `Text`, never read as markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from spine_cli.local.history import Row
from spine_cli.local.run_refs import elsewhere_lines, emulator_ended
from spine_cli.ui.styles import recorded_style
from spine_cli.ui.textsafe import one_line, sanitize

if TYPE_CHECKING:
    from spine_cli.local.settings import Settings
    from spine_cli.ui.output import Output

SHORT_ID = 8


@dataclass
class ListRequest:
    """What the user asked `run list` for (the empty-list message depends on it)."""

    all_profiles: bool = False
    wide: bool = False
    status: str | None = None


def render_run_list(out: "Output", runs: list[Row], settings: "Settings", request: ListRequest,
                    elsewhere: dict[tuple[str, str, str | None], int]) -> None:
    """The history rows: a table on a terminal, aligned text when piped, ids with -q."""
    if out.json:
        out.document(runs)
        return
    if out.quiet:
        out.lines([run["run_id"] for run in runs if run["run_id"]])
        return
    if not runs:
        _say_empty(out, settings, request, elsewhere)
        return
    wide = request.wide or not out.mode.rich_stdout
    header, rows = _table(runs, settings, request.all_profiles, wide)
    if out.mode.rich_stdout:
        _rich_table(out, header, rows, wide)
    else:
        _plain_table(out, header, rows)
    _notes(out, runs, settings)


def _say_empty(out: "Output", settings: "Settings", request: ListRequest,
               elsewhere: dict[tuple[str, str, str | None], int]) -> None:
    what = f"{request.status} runs" if request.status else "runs"
    scope = "" if request.all_profiles else \
        f" for profile '{settings.profile}' at {settings.base_url}"
    out.info(f"No {what} in the local history{scope}.")
    if request.all_profiles or request.status:
        return
    lines = elsewhere_lines(elsewhere, settings)
    if lines:
        out.info("Elsewhere in the history: " + "; ".join(lines) + ".")
        out.info("See them: spine run list --all-profiles")
    else:
        out.info("Create one: spine run create -p PROMPT --watch (or try it offline: "
                 "spine emulator exec -- spine run create -p PROMPT --watch)")


def _table(runs: list[Row], settings: "Settings", all_profiles: bool,
           wide: bool) -> tuple[list[str], list[list[str]]]:
    where = all_profiles or any(r.get("origin") == "emulator" for r in runs)
    header = ["RUN", "STATUS", "CREATED", "TEMPLATE", "FILES", *(["WHERE"] * where), "PROMPT"]
    ids = _ids(runs, wide)
    rows = []
    for run, shown_id in zip(runs, ids):
        status = "unconfirmed" if run["unconfirmed"] else one_line(run["status"])
        row = [shown_id, status, _local_time(run["created_at"], wide), _template(run),
               str(len(run["files"]))]
        if where:
            row.append(_where(run, settings, all_profiles, wide))
        prompt = sanitize(run["prompt"] or "", keep_newlines=False)
        row.append(prompt[:60] + ("…" if len(prompt) > 60 else ""))
        rows.append(row)
    return header, rows


def _ids(runs: list[Row], wide: bool) -> list[str]:
    """`#N` for an id-less create; else the id, or its shortest prefix (≥ 8) unique here."""
    full = [r["run_id"] for r in runs]
    out = []
    for run, run_id in zip(runs, full):
        if not run_id:
            out.append(f"#{run['id']}")
            continue
        size = len(run_id) if wide else SHORT_ID
        while any(o != run_id and o and o.startswith(run_id[:size]) for o in full):
            size += 1
        out.append(run_id[:size])
    return out


def _template(run: Row) -> str:
    """What the run used: the API's `template_used` once known, else what was sent."""
    if run.get("template_used"):
        return one_line(run["template_used"])
    if run.get("blocks"):
        return f"blocks ({len(run['blocks'])})"
    return one_line(run["template"] or "auto")  # the API's default, sent when none is given


def _where(run: Row, settings: "Settings", all_profiles: bool, wide: bool) -> str:
    if run.get("origin") == "emulator":
        return "emulator (ended)" if emulator_ended(run, settings) else "emulator"
    if not all_profiles:
        return ""
    host = run["base_url"] if wide else (urlsplit(run["base_url"]).netloc or run["base_url"])
    return f"{run['profile']} @ {host}"


def _local_time(stamp: str, wide: bool) -> str:
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    return when.astimezone().strftime("%Y-%m-%d %H:%M" if wide else "%m-%d %H:%M")


def _notes(out: "Output", runs: list[Row], settings: "Settings") -> None:
    """Why a create is unconfirmed and how to dismiss it; what `emulator (ended)` means."""
    for run in runs:
        if run["unconfirmed"]:
            name = f"#{run['id']}" if not run["run_id"] else run["run_id"][:SHORT_ID]
            why = one_line(run.get("note") or "the API never confirmed it")
            out.info(f"{name} unconfirmed: {why}. A run may exist: check the Spine app before "
                     f"creating it again; then dismiss it: spine run forget {name}")
    if any(emulator_ended(run, settings) for run in runs):
        out.info("emulator (ended): made under `spine emulator exec`, whose emulator has "
                 "stopped; those runs cannot be fetched any more.")


def describe_row(run: Row) -> str:
    """One history row in a sentence (for `run forget`'s confirmation)."""
    when = _local_time(run["created_at"], wide=True)
    prompt = sanitize(run["prompt"] or "", keep_newlines=False)
    excerpt = prompt[:40] + ("…" if len(prompt) > 40 else "")
    if not run["run_id"]:
        return f"#{run['id']}, the unconfirmed create of {when} (\"{excerpt}\")"
    status = "unconfirmed" if run["unconfirmed"] else one_line(run["status"])
    return f"run {run['run_id']} ({status}, created {when}, \"{excerpt}\")"


def _plain_table(out: "Output", header: list[str], rows: list[list[str]]) -> None:
    # The prompt (last column) is not padded, so lines carry no trailing blanks.
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [cell.ljust(w) for cell, w in zip(row, widths)]
        out.data("  ".join([*cells, row[-1]]).rstrip())


def _rich_table(out: "Output", header: list[str], rows: list[list[str]], wide: bool) -> None:
    """Aligned lines with a coloured status; one line per run.

    Narrow, the prompt (last column) is cut to what the terminal leaves. --wide cuts
    nothing: a line longer than the terminal wraps there (soft-wrapped, so a copied id
    stays whole).
    """
    from rich.text import Text

    status_col = header.index("STATUS")
    cells = [[*row[:status_col], _marked(row[status_col]), *row[status_col + 1:]]
             for row in rows]
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(len(header) - 1)]
    room = max(8, out.out.width - sum(w + 2 for w in widths))
    out.out.print(Text("  ".join([*(h.ljust(w) for h, w in zip(header, widths)), header[-1]]),
                       style="bold"), soft_wrap=True)
    for row, shown in zip(rows, cells):
        prompt = shown[-1]
        if not wide and len(prompt) > room:
            prompt = prompt[: room - 1] + "…"
        line = Text()
        for i, (cell, w) in enumerate(zip(shown, widths)):
            text = cell.rjust(w) if header[i] == "FILES" else cell.ljust(w)
            style = recorded_style(row[status_col], row[status_col] == "unconfirmed").colour \
                if i == status_col else ""
            line.append(text + "  ", style=style)
        line.append(prompt)  # Text: no markup interpreted
        out.out.print(line, soft_wrap=True)


def _marked(status: str) -> str:
    return f"{recorded_style(status, status == 'unconfirmed').mark} {status}"
