"""`spine run list`: the runs this machine created, from the local history.

The Spine API has no list endpoint, so this reads `spine_cli.local.history`;
`--refresh` polls the runs still `running` and records what the API says.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import typer

from spine_cli.commands.shared import command, invocation
from spine_cli.context import Invocation


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
    from spine_cli.ui.run_list_view import render_run_list

    inv = invocation(ctx, json_=json_, quiet=quiet)
    settings = inv.settings
    wanted = status.value if status else None

    def fetch() -> list[dict[str, Any]]:
        return inv.history.recent(settings, limit=limit or None, status=wanted,
                                all_profiles=all_profiles)

    runs = fetch()
    if refresh and _refresh(inv, runs):
        runs = fetch()  # a status filter may now select other rows
    render_run_list(inv.output, runs, settings, all_profiles)


def _refresh(inv: Invocation, runs: list[dict[str, Any]]) -> int:
    """Poll the listed runs still running; return how many were polled."""
    from spine_cli.errors import MissingKeyError, NotFoundError
    from spine_cli.local.settings import canonical_base_url

    current = inv.settings
    pending = [r for r in runs if r["run_id"] and r["status"] == "running"]
    groups: dict[tuple[str, str], list[str]] = {}
    for run in pending:
        groups.setdefault((run["profile"], run["base_url"]), []).append(run["run_id"])
    here = (current.profile, canonical_base_url(current.base_url))
    for (profile, base_url), run_ids in groups.items():
        # Each run is polled with the key of the profile and host it was created with.
        settings = current if (profile, base_url) == here else inv.settings_for(
            profile, allow_new_profile=True, base_url=base_url)
        try:
            client = inv.client(settings)
        except MissingKeyError:
            if settings is current:
                raise  # asked to refresh the current profile's runs: that needs its key
            inv.output.warn(f"no API key for profile '{profile}'; its runs were not refreshed.")
            continue
        with client:
            for run_id in run_ids:
                try:
                    inv.history.observe(settings, client.get_run(run_id))
                except NotFoundError:
                    inv.output.warn(f"the API no longer knows run {run_id} (profile "
                                    f"'{profile}').")
    return len(pending)
