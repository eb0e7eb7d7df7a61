"""`spine run list`: the runs this machine created, from the local history.

The Spine API has no list endpoint, so this reads `spine_cli.local.history`;
`--refresh` polls the runs still `running` and records what the API says.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import typer

from spine_cli.context import AppState
from spine_cli.commands.shared import apply_local_flags, command


class StatusFilter(str, Enum):
    running = "running"
    completed = "completed"
    partial = "partial"
    failed = "failed"
    unconfirmed = "unconfirmed"


LimitOpt = Annotated[int, typer.Option("--limit", "-n", min=0, help="Show at most N runs (0: all).")]
StatusOpt = Annotated[StatusFilter | None, typer.Option("--status", help="Only runs with this last known status.")]
AllProfilesOpt = Annotated[bool, typer.Option("--all-profiles", help="Runs of every profile and base URL.")]
RefreshOpt = Annotated[bool, typer.Option("--refresh", help="Poll the API for runs not yet finished first.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON array on stdout.")]
QuietOpt = Annotated[bool, typer.Option("-q", "--quiet", help="Print run ids only, one per line.")]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `spine run` group."""
    app.command("list")(run_list)


@command
def run_list(
    ctx: typer.Context,
    limit: LimitOpt = 20,
    status: StatusOpt = None,
    all_profiles: AllProfilesOpt = False,
    refresh: RefreshOpt = False,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """List recent runs this machine created, newest first (from the local history).

    Shows the current profile and base URL unless --all-profiles. Statuses are the
    last ones seen; --refresh polls the API for the runs still running.

    Examples:

        spine run list

        spine run list --status failed --limit 5

        spine run list --refresh -q | xargs spine run wait
    """
    from spine_cli.local import history
    from spine_cli.local.settings import load_settings

    state = apply_local_flags(ctx, json_, quiet)
    settings = load_settings(state.profile, state.base_url)
    wanted = status.value if status else None

    def fetch() -> list[dict[str, Any]]:
        return history.list_runs(settings, limit=limit or None, status=wanted,
                                 all_profiles=all_profiles)

    runs = fetch()
    if refresh and _refresh(runs, settings, state):
        runs = fetch()  # a status filter may now select other rows
    _render(runs, state, settings, all_profiles)


def _refresh(runs: list[dict[str, Any]], current: Any, state: AppState) -> int:
    """Poll the listed runs still running; return how many were polled."""
    from spine_cli.local import history
    from spine_cli.api.client import make_client
    from spine_cli.errors import MissingKeyError, NotFoundError
    from spine_cli.ui.output import make_output
    from spine_cli.local.settings import canonical_base_url, load_settings

    warn = make_output(state).warn
    pending = [r for r in runs if r["run_id"] and r["status"] == "running"]
    groups: dict[tuple[str, str], list[str]] = {}
    for run in pending:
        groups.setdefault((run["profile"], run["base_url"]), []).append(run["run_id"])
    here = (current.profile, canonical_base_url(current.base_url))
    for (profile, base_url), run_ids in groups.items():
        # Each run is polled with the key of the profile and host it was created with.
        settings = current if (profile, base_url) == here else load_settings(
            profile, base_url, allow_new_profile=True)
        try:
            client = make_client(settings, state)
        except MissingKeyError:
            if settings is current:
                raise  # asked to refresh the current profile's runs: that needs its key
            warn(f"no API key for profile '{profile}'; its runs were not refreshed.")
            continue
        with client:
            for run_id in run_ids:
                try:
                    history.observe_run(settings, client.get_run(run_id))
                except NotFoundError:
                    warn(f"the API no longer knows run {run_id} (profile '{profile}').")
    return len(pending)


def _render(runs: list[dict[str, Any]], state: AppState, settings: Any, all_profiles: bool) -> None:
    from spine_cli.ui.output import make_output

    out = make_output(state)
    if state.json:
        out.emit_json(runs)
        return
    if state.quiet:
        for run in runs:
            if run["run_id"]:
                out.data(run["run_id"])
        return
    if not runs:
        scope = "" if all_profiles else f" for profile '{settings.profile}' at {settings.base_url}"
        out.info(f"No runs in the local history{scope}.")
        if not all_profiles:
            out.info("Runs of other profiles: spine run list --all-profiles")
        return
    header, rows = _table(runs, all_profiles)
    if out.rich_stdout:
        _rich_table(out, header, rows)
    else:
        _plain_table(out, header, rows)


def _table(runs: list[dict[str, Any]], all_profiles: bool) -> tuple[list[str], list[list[str]]]:
    from spine_cli.ui.textsafe import sanitize

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


def _plain_table(out: Any, header: list[str], rows: list[list[str]]) -> None:
    # The prompt (last column) is not padded, so lines carry no trailing blanks.
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [cell.ljust(w) for cell, w in zip(row, widths)]
        out.data("  ".join([*cells, row[-1]]).rstrip())


def _rich_table(out: Any, header: list[str], rows: list[list[str]]) -> None:
    from rich.table import Table
    from rich.text import Text

    colours = {"completed": "green", "partial": "yellow", "failed": "red", "unconfirmed": "magenta"}
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
        cells[status_col].stylize(colours.get(row[status_col], "cyan"))
        table.add_row(*cells)
    out.out.print(table)
