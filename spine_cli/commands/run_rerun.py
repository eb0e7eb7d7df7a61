"""`spine run rerun`: create a run again from the create spec the history kept."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from spine_cli.commands.options import JsonOpt, QuietOpt, complete_run
from spine_cli.commands.shared import command, invocation
from spine_cli.errors import UsageError

if TYPE_CHECKING:
    from spine_cli.api.models import CreatedRun
    from spine_cli.context import Invocation

RerunArg = Annotated[str, typer.Argument(
    metavar="RUN", help="Run id, unique prefix from the history, @last, @last~N, or #N (an "
    "unconfirmed create in `spine run list`).", autocompletion=complete_run)]
YesOpt = Annotated[bool, typer.Option(
    "--yes", "-y", help="Create it without asking (needed when there is no terminal to ask on).")]


@command
def run_rerun(ctx: typer.Context, run: RerunArg, yes: YesOpt = False, json_: JsonOpt = False,
              quiet: QuietOpt = False) -> None:
    """Create the same run again (same prompt, options and files); print its id.

    Uses the create spec the local history kept when spine created the run.
    A new run costs credits, so it asks first on a terminal and needs --yes
    anywhere else (exit 2 without it). A file that changed since (size or
    sha256) is named, then sent as it is now. Exit 2 when the run was not
    created by this machine's spine (no spec kept) or a file is gone;
    declining the question exits 2 too, and nothing is sent.

    Examples:

        spine run rerun @last

        NEW=$(spine run rerun 3f2a1b4c --yes)
    """
    from spine_cli.commands.run_create import run_origin
    from spine_cli.runs import create as create_flow
    from spine_cli.runs.rerun import rerun_spec
    from spine_cli.ui import ci
    from spine_cli.ui.bars import UploadBar
    from spine_cli.ui.create_view import announce, describe_rerun

    inv = invocation(ctx, json_=json_, quiet=quiet)
    rerun = rerun_spec(_history_row(inv, run))
    for change in rerun.changes:
        inv.output.warn(change + "; sending it as it is now.")
    for warning in rerun.spec.warnings:
        inv.output.warn(warning)
    if not yes:
        _confirm(inv, describe_rerun(rerun.spec, rerun.source))
    with inv.client() as client:
        with UploadBar(inv.output, sum(f.size for f in rerun.spec.files)) as bar:
            def created_now(created: "CreatedRun") -> None:
                bar.stop()  # the id first, before the history is written to
                announce(inv.output, created, follow=False, watch=False)

            created = create_flow.send(client, inv.history, inv.settings, rerun.spec,
                                       on_upload=bar.advance, on_created=created_now,
                                       origin=run_origin())
    ci.report_created(inv.flags.ci, inv.output, created)


def _history_row(inv: "Invocation", ref: str) -> dict[str, Any]:
    from spine_cli.local.run_refs import resolve_row, where

    key, row = resolve_row(ref, inv.settings, inv.history)
    if row is None and isinstance(key, str):
        found = inv.history.lookup(inv.settings, "run_id = ?", [key], "LIMIT 1")
        row = found[0] if found else None
    if row is None:
        raise UsageError(f"Run {key if isinstance(key, str) else ref} is not in the local "
                         f"history for {where(inv.settings)}: spine reruns only runs it "
                         "created (it keeps their create spec).",
                         hint="See `spine run list`.")
    return row


def _confirm(inv: "Invocation", what: str) -> None:
    if not inv.mode.interactive:
        raise UsageError("`spine run rerun` creates a new run, which costs credits; there is no "
                         "terminal to ask on.", hint="Add --yes to create it.")
    inv.output.note(what)
    if not typer.confirm("Create this run again? It costs credits.", default=False, err=True):
        raise UsageError("Not confirmed: nothing was sent.")


def register(app: typer.Typer) -> None:
    """Add rerun to the `spine run` group."""
    app.command("rerun")(run_rerun)
