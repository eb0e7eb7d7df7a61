"""`spine run list`: the runs this machine created, from the local history.

The Spine API has no list endpoint, so this reads `spine_cli.local.history`;
`--refresh` polls the runs still `running` and records what the API says.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import typer

from spine_cli.commands.options import complete_run
from spine_cli.commands.shared import command, invocation
from spine_cli.context import Invocation
from spine_cli.errors import UsageError


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
ForgetJsonOpt = Annotated[bool, typer.Option("--json", help="Print the forgotten row as JSON.")]
ForgetQuietOpt = Annotated[bool, typer.Option("-q", "--quiet", help="Print nothing but errors.")]
WideOpt = Annotated[bool, typer.Option(
    "--wide", "-w", help="Full run ids, dates and base URLs (a terminal shows 8-character ids).")]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `spine run` group."""
    app.command("list")(run_list)
    app.command("forget")(run_forget)


@command
def run_list(
    ctx: typer.Context,
    limit: LimitOpt = 20,
    status: StatusOpt = None,
    all_profiles: AllProfilesOpt = False,
    refresh: RefreshOpt = False,
    wide: WideOpt = False,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """List recent runs this machine created, newest first (from the local history).

    Shows the current profile and base URL unless --all-profiles. Statuses are the
    last ones seen; --refresh polls the API for the runs still running. The
    template is the one the API reports using, else the one sent. An unconfirmed
    create (the API may or may not have made it) is listed as #N with the reason;
    dismiss it with `spine run forget #N` once checked. Runs made under
    `spine emulator exec` are marked emulator.

    Examples:

        spine run list

        spine run list --status failed --limit 5

        spine run list --all-profiles --wide

        spine run list --refresh -q --status running | spine run wait
    """
    from spine_cli.ui.run_list_view import ListRequest, render_run_list

    inv = invocation(ctx, json_=json_, quiet=quiet)
    settings = inv.settings
    wanted = status.value if status else None

    def fetch() -> list[dict[str, Any]]:
        # -q prints ids only: an id-less unconfirmed row would use up the --limit unseen.
        return inv.history.recent(settings, limit=limit or None, status=wanted,
                                  all_profiles=all_profiles, with_ids=inv.output.quiet)

    runs = fetch()
    if refresh and _refresh(inv, runs):
        runs = fetch()  # a status filter may now select other rows
    elsewhere = inv.history.counts_elsewhere(settings) if not runs else {}
    render_run_list(inv.output, runs, settings,
                    ListRequest(all_profiles=all_profiles, wide=wide, status=wanted), elsewhere)


@command
def run_forget(ctx: typer.Context, ref: Annotated[str, typer.Argument(
        metavar="REF", help="#N (an unconfirmed create, as `spine run list` names it) or a RUN.",
        autocompletion=complete_run)],
        json_: ForgetJsonOpt = False, quiet: ForgetQuietOpt = False) -> None:
    """Drop a row from the local history (an unconfirmed create, once checked).

    Only the local record goes: a run that exists goes on server-side and can
    still be fetched by its full id. Use it once you have checked in the Spine
    app whether an unconfirmed create made a run.

    Examples:

        spine run forget '#12'

        spine run forget 3f2a1b4c
    """
    from spine_cli.local.run_refs import resolve_row
    from spine_cli.ui.run_list_view import describe_row

    inv = invocation(ctx, json_=json_, quiet=quiet)
    key, row = resolve_row(ref, inv.settings, inv.history)
    if row is None and isinstance(key, str):
        found = inv.history.lookup(inv.settings, "run_id = ?", [key], "LIMIT 1")
        row = found[0] if found else None
    if row is None or not inv.history.forget(key):
        raise UsageError(f"{ref.strip()} is not in the local history.",
                         hint="See `spine run list` (unconfirmed creates are named #N there).")
    forgotten = row
    inv.output.show(json={"forgotten": ref.strip(), "row": forgotten}, quiet=[],
                    human=lambda: inv.output.info(
                        f"Forgot {describe_row(forgotten)}. Only the local record is gone; "
                        "no run was changed."))


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
