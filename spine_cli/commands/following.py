"""The one follow pipeline of `run wait`, `run watch` and `run create --wait/--watch`.

Reporter from ui, wait and downloads from runs, outcome back to ui: a
created run and a run named on the command line go through the same code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spine_cli.runs.follow import Expected, Follower, FollowRequest
from spine_cli.ui.bars import DownloadBars
from spine_cli.ui.follow_view import make_reporter, present

if TYPE_CHECKING:
    from spine_cli.api.client import SpineClient
    from spine_cli.context import Invocation
    from spine_cli.runs.waiter import WaitOptions


def follow_runs(inv: "Invocation", client: "SpineClient", run_ids: list[str],
                options: "WaitOptions", *, watch: bool = False, download: str | None = None,
                estimates: dict[str, Expected] | None = None) -> int:
    """Wait for the runs with live progress, fetch their files, print the outcome; exit code."""
    follower = Follower(client, inv.settings, inv.history, warn=inv.output.warn,
                        clock=inv.seams.clock, sleep=inv.seams.sleep)
    # The tree is decoration: one try per refresh, never a retry that would stall the polls.
    reporter = make_reporter(inv.output, inv.seams.clock, watch=watch,
                             tasks_fetch=lambda canvas: client.get_tasks(canvas, max_retries=0))
    with reporter:
        outcome = follower.wait(FollowRequest(run_ids, options, download, estimates or {}),
                                reporter)
    if download and not outcome.interrupted:
        with DownloadBars(inv.output) as bars, inv.fetcher(bars) as fetcher:
            follower.download(outcome, download, fetcher)
    return present(inv.output, inv.flags.ci, outcome, options, watch=watch, download=download)
