"""`spine run get`, `spine run wait`, `spine run watch`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from spine_cli.commands.shared import command, invocation
from spine_cli.context import Invocation
from spine_cli.commands.options import (
    DownloadOpt,
    JsonOpt,
    MaxOutageOpt,
    PartialOkOpt,
    PollIntervalOpt,
    QuietOpt,
    RunArg,
    TimeoutOpt,
    complete_run,
)

WaitRunsArg = Annotated[Optional[list[str]], typer.Argument(
    metavar="[RUN]...", show_default=False, autocompletion=complete_run,
    help="Run ids, unique prefixes, @last, or @last~N. None: read run ids from stdin.")]
MAX_STDIN_IDS_BYTES = 1024 * 1024


@command
def run_get(ctx: typer.Context, run: RunArg, json_: JsonOpt = False, quiet: QuietOpt = False) -> None:
    """Show a run's current state; its output and artifacts once it has ended.

    Prints the status, progress or duration, metadata, the final output
    (Markdown) and the artifacts. With -q, prints only the status word.
    Exit 0 whatever the run's status (use `spine run wait` to gate on it).

    Examples:

        spine run get 3f2a1b4c

        spine run get @last --json | jq .status

        STATUS=$(spine run get @last -q)
    """
    inv = invocation(ctx, json_=json_, quiet=quiet)
    (run_id,) = inv.resolve_runs([run])
    with inv.client() as client:
        got = client.get_run(run_id)
    inv.history.observe(inv.settings, got)

    def human() -> None:
        from spine_cli.ui.render import render_run  # not needed for --json and -q

        render_run(inv.output, got)

    inv.output.show(json=got.raw, quiet=[got.status_text], human=human)


@command
def run_wait(
    ctx: typer.Context,
    runs: WaitRunsArg = None,
    timeout: TimeoutOpt = None,
    poll_interval: PollIntervalOpt = None,
    max_outage: MaxOutageOpt = None,
    partial_ok: PartialOkOpt = False,
    download: DownloadOpt = None,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Wait until runs end; exit with their outcome.

    Polls each run on an adaptive schedule (dense at the start and near the
    expected end, sparse in between) until it is completed, partial or failed.
    Several runs are followed at once; the most severe exit code wins.
    Without RUN, reads run ids from stdin (whitespace-separated); none there
    is exit 0 with a note on stderr. With --json: NDJSON, one run object per
    line, whatever the number of runs.
    Exit codes: 0 completed, 3 failed, 5 partial, 6 --timeout reached,
    7 a download failed, 8 API unreachable beyond --max-outage, 9 not found.

    Examples:

        spine run wait @last

        spine run wait "$RUN" --timeout 2h --download ./out

        spine run list -q --status running | spine run wait --json
    """
    _follow(ctx, runs or [], watch=False, timeout=timeout, poll_interval=poll_interval,
            max_outage=max_outage, partial_ok=partial_ok, download=download, json_=json_,
            quiet=quiet)


@command
def run_watch(
    ctx: typer.Context,
    run: RunArg,
    timeout: TimeoutOpt = None,
    poll_interval: PollIntervalOpt = None,
    max_outage: MaxOutageOpt = None,
    partial_ok: PartialOkOpt = False,
    download: DownloadOpt = None,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Follow a run live, then show its result.

    On a terminal: a progress bar over tasks, elapsed time and an estimate,
    and the active task tree. Off a terminal: one line per change plus a
    heartbeat each minute. With --json: NDJSON events (state, progress,
    result) on stdout. Exit codes as for `spine run wait`.

    Examples:

        spine run watch @last

        spine run watch "$RUN" --json | jq -c 'select(.event == "progress")'
    """
    _follow(ctx, [run], watch=True, timeout=timeout, poll_interval=poll_interval,
            max_outage=max_outage, partial_ok=partial_ok, download=download, json_=json_,
            quiet=quiet)


def _follow(ctx: typer.Context, refs: list[str], *, watch: bool, timeout: float | None,
            poll_interval: float | None, max_outage: float | None, partial_ok: bool,
            download: str | None, json_: bool, quiet: bool) -> None:
    """The body of wait and watch: resolve, follow, exit with the outcome."""
    from spine_cli.commands.following import follow_runs
    from spine_cli.runs.follow import wait_options

    # wait and watch both print NDJSON with --json: one line per run or event.
    inv = invocation(ctx, json_=json_, quiet=quiet, stream=True)
    if not refs:
        refs = _run_ids_from_stdin(inv)
        if not refs:
            raise typer.Exit(0)
    run_ids = inv.resolve_runs(refs)
    opts = wait_options(inv.settings, timeout=timeout, poll_interval=poll_interval,
                        max_outage=max_outage, partial_ok=partial_ok)
    with inv.client() as client:
        code = follow_runs(inv, client, run_ids, opts, watch=watch, download=download)
    raise typer.Exit(code)


def _run_ids_from_stdin(inv: Invocation) -> list[str]:
    """`spine run list -q --status running | spine run wait`: the ids on stdin."""
    import sys

    from spine_cli.errors import UsageError
    from spine_cli.ui.output import isatty

    if isatty(sys.stdin):
        raise UsageError("Give at least one RUN, or pipe run ids to stdin.",
                         hint="For example: spine run wait @last")
    data = sys.stdin.buffer.read(MAX_STDIN_IDS_BYTES + 1)
    if len(data) > MAX_STDIN_IDS_BYTES:
        raise UsageError("More than 1 MiB of run ids on stdin; refused.")
    refs = data.decode("utf-8", errors="replace").split()
    if not refs:
        inv.output.note("No run ids on stdin: nothing to wait for.")
    return refs


def register(app: typer.Typer) -> None:
    """Add get, wait and watch to the `spine run` group."""
    app.command("get")(run_get)
    app.command("wait")(run_wait)
    app.command("watch")(run_watch)
