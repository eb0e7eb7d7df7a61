"""Following runs to their end: the use-case behind `wait`, `watch` and `create --wait`.

It runs the wait loop, records what it learns in the history, downloads the
artifacts of runs that ended with output, and returns a `FollowOutcome`:
each run's final state and exit code (its download included), for the
caller's ui to present. It prints nothing; progress goes to the `WaitEvents`
it is given.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from spine_cli.errors import interrupt_code, worst
from spine_cli.local.values import parse_duration
from spine_cli.runs.downloads import DownloadReport, download_run
from spine_cli.runs.waiter import DEFAULT_MAX_OUTAGE, Tracked, WaitEvents, WaitOptions, Waiter

if TYPE_CHECKING:
    from spine_cli.api.client import SpineClient
    from spine_cli.api.models import Run
    from spine_cli.api.transfer import Fetcher
    from spine_cli.local.history import History
    from spine_cli.local.settings import Settings


def wait_options(settings: "Settings", *, timeout: float | None, poll_interval: float | None,
                 max_outage: float | None, partial_ok: bool) -> WaitOptions:
    """Flags first, then the profile's defaults (timeout, poll_interval, max_outage)."""

    def profile(key: str) -> float | None:
        value = settings.value(key)
        return parse_duration(str(value)) if value is not None else None

    return WaitOptions(
        timeout=timeout if timeout is not None else profile("timeout"),
        poll_interval=poll_interval if poll_interval is not None else profile("poll_interval"),
        max_outage=max_outage if max_outage is not None else (profile("max_outage")
                                                              or DEFAULT_MAX_OUTAGE),
        partial_ok=partial_ok,
    )


# What the schedule expects of a run: seconds, and a prior's spread (None: the API's estimate).
Expected = tuple[float, "float | None"]


def schedule_estimates(history: "History", run_ids: list[str]) -> dict[str, Expected]:
    """What the schedule expects of each run: the API's creation-time estimate the history
    kept, else a prior from the history (the durations of like runs: median and spread)."""
    found: dict[str, Expected] = {rid: (s, None) for rid, s in history.estimates(run_ids).items()}
    missing = [rid for rid in run_ids if rid.lower() not in found]
    if missing:
        found.update(history.priors(missing))
    return {rid: found[rid.lower()] for rid in run_ids if rid.lower() in found}


def new_tracked(run_id: str, expected: Expected | None) -> Tracked:
    seconds, spread = expected or (None, None)
    return Tracked(run_id, estimated=seconds, spread=spread)


def download_dirs(download: str | None, run_ids: list[str]) -> list[str | None]:
    """Where `--download DIR` puts each run: DIR itself for one run, DIR/spine-<id> for several."""
    if not download:
        return [None] * len(run_ids)
    if len(run_ids) == 1:
        return [download]
    return [str(Path(download) / f"spine-{rid}") for rid in run_ids]


@dataclass
class FollowRequest:
    run_ids: list[str]
    options: WaitOptions
    download: str | None = None
    estimates: dict[str, Expected] = field(default_factory=dict)


@dataclass
class FollowOutcome:
    tracked: list[Tracked]
    downloads: dict[str, DownloadReport] = field(default_factory=dict)
    interrupted: int = 0  # 130 (Ctrl-C) or 143 (SIGTERM) when the wait was cut short

    @property
    def pending(self) -> list[Tracked]:
        return [t for t in self.tracked if not t.done]

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return self.interrupted
        return worst([t.exit_code for t in self.tracked if t.exit_code is not None])


@dataclass
class Follower:
    """Everything `follow` needs, built by the caller (the invocation context in practice)."""

    client: "SpineClient"
    settings: "Settings"
    history: "History"
    warn: Callable[[str], None]
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def wait(self, req: FollowRequest, events: WaitEvents) -> FollowOutcome:
        """Wait for the runs; an interrupt is an outcome too (`interrupted`), not an error."""
        # Runs created by this command bring their estimate; others may have one in the history.
        expected = req.estimates or schedule_estimates(self.history, req.run_ids)
        runs = [new_tracked(rid, expected.get(rid)) for rid in req.run_ids]
        waiter = Waiter(self._fetch, req.options, events, clock=self.clock,
                        sleep=self.sleep, budget=self.client.budget)
        outcome = FollowOutcome(runs)
        try:
            waiter.run(runs)
        except KeyboardInterrupt as exc:
            outcome.interrupted = interrupt_code(exc)
            for t in outcome.pending:
                t.exit_code = outcome.interrupted
        return outcome

    def _fetch(self, run_id: str, deadline: float | None) -> "Run":
        # No inner retries: the wait loop retries, reports and keeps the outage budget.
        run = self.client.get_run(run_id, max_retries=0, deadline=deadline)
        self.history.observe(self.settings, run)
        return run

    def download(self, outcome: FollowOutcome, download: str, fetcher: "Fetcher") -> None:
        """Fetch the artifacts of every run that ended with output (`--download DIR`)."""
        dirs = download_dirs(download, [t.run_id for t in outcome.tracked])
        for t, dest in zip(outcome.tracked, dirs):
            if t.run is None or not t.run.status.has_output or dest is None:
                continue
            report = download_run(t.run, Path(dest), refresh=functools.partial(self.refresh, t),
                                  fetcher=fetcher, warn=self.warn)
            outcome.downloads[t.run_id] = report
            # The run's final code includes its download: the CI report and the exit agree.
            t.exit_code = worst([t.exit_code or 0, report.exit_code])

    def refresh(self, t: Tracked) -> "Run":
        run = self.client.get_run(t.run_id)
        self.history.observe(self.settings, run)
        return run
