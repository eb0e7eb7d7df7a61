"""Following runs to their end: the code behind `wait`, `watch` and `create --wait`.

It runs the wait loop with the right reporter, then turns each run's outcome
into output and an exit code (the worst one wins across several runs).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spine_cli.local import history
from spine_cli.context import AppState
from spine_cli.errors import ExitCode, worst
from spine_cli.api.models import Run
from spine_cli.ui.output import Output, make_output
from spine_cli.runs.polling import Tracked, WaitOptions, Waiter
from spine_cli.ui.reporters import JsonEventReporter, make_reporter
from spine_cli.ui.render import format_duration, render_run, render_summary, status_line
from spine_cli.local.settings import Settings


DEFAULT_MAX_OUTAGE = 600.0


def wait_options(settings: Settings, *, timeout: float | None, poll_interval: float | None,
                 max_outage: float | None, partial_ok: bool) -> WaitOptions:
    """Flags first, then the profile's defaults (timeout, poll_interval, max_outage)."""
    from spine_cli.local.settings import parse_duration

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


@dataclass
class FollowRequest:
    run_ids: list[str]
    options: WaitOptions
    watch: bool = False
    download: str | None = None
    estimates: dict[str, float] | None = None


def follow(state: AppState, settings: Settings, client: Any, req: FollowRequest) -> int:
    """Wait for the runs, print their outcome, return the exit code."""
    output = make_output(state)
    # Runs created by this command bring their estimate; others may have one in the history.
    estimates = req.estimates or history.estimates(req.run_ids)
    tracked = [Tracked(rid, estimated=estimates.get(rid)) for rid in req.run_ids]

    def fetch(run_id: str) -> dict:
        # No inner retries: the wait loop retries, reports and keeps the outage budget.
        data = client.get_run(run_id, max_retries=0)
        history.observe_run(settings, data)
        return data

    reporter = make_reporter(output, watch=req.watch, tasks_fetch=client.get_tasks)
    waiter = Waiter(fetch, req.options, on_update=reporter.update, on_problem=reporter.problem)
    try:
        with reporter:
            waiter.run(tracked)
    except KeyboardInterrupt:
        _interrupted(tracked)
        return int(ExitCode.INTERRUPTED)
    paths: list[Path] = []
    for t in tracked:
        # The run's final code includes its download: the CI report and the exit agree.
        t.exit_code, saved = _conclude(output, client, t, req)
        paths.extend(saved)
    _print_results(output, tracked, req, paths)
    from spine_cli.ui import ci

    ci.report_runs(state, tracked, download=req.download)
    return worst([t.exit_code for t in tracked if t.exit_code is not None])


def _interrupted(tracked: list[Tracked]) -> None:
    pending = [t for t in tracked if not t.done]
    ids = " ".join(t.run_id for t in pending) or " ".join(t.run_id for t in tracked)
    sys.stderr.write("\nInterrupted; stopped waiting.\n")
    for t in pending:
        last = status_line(Run.from_api(t.data)) if t.data else "not polled yet"
        sys.stderr.write(f"Run {t.run_id} goes on server-side (last seen: {last}).\n")
    sys.stderr.write(f"Resume with: spine run wait {ids}\n")
    sys.stderr.flush()


def _conclude(output: Output, client: Any, t: Tracked,
              req: FollowRequest) -> tuple[int, list[Path]]:
    """Messages on stderr and downloads for one run; its exit code and saved paths."""
    code = t.exit_code if t.exit_code is not None else int(ExitCode.INTERNAL)
    rid = t.run_id
    if code == ExitCode.TIMEOUT:
        last = status_line(Run.from_api(t.data)) if t.data else "not polled yet"
        _err(f"Stopped waiting at --timeout: run {rid} is still running ({last}); it goes on "
             f"server-side.\nResume with: spine run wait {rid}")
    elif code == ExitCode.NOT_FOUND:
        _err(f"Error: {t.error.message if t.error else 'Run not found: ' + rid}")
    elif code == ExitCode.UNAVAILABLE:
        msg = t.error.message if t.error else "the API kept failing"
        _err(f"Error: gave up on run {rid} after {format_duration(req.options.max_outage)} of "
             f"failed polls: {msg}\nThe run goes on server-side; resume with: spine run wait {rid}")
    elif t.status == "failed":
        _err(f"Run {rid} failed.")
    elif t.status == "partial" and code:
        _err(f"Run {rid} ended partial: some blocks failed (exit 5; --partial-ok makes it 0).")
    if req.download and t.status in ("completed", "partial"):
        download_code, saved = _download(output, client, t, req)
        return worst([code, download_code]), saved
    return code, []


def _download(output: Output, client: Any, t: Tracked,
              req: FollowRequest) -> tuple[int, list[Path]]:
    from spine_cli.runs.downloads import download_run

    from spine_cli.ui.ci import download_dirs

    # One rule for where each run's files go, shared with the CI outputs that name them.
    dest = Path(download_dirs(req.download, req.run_ids)[req.run_ids.index(t.run_id)] or ".")
    report = download_run(t.data or {}, dest, refresh=lambda: client.get_run(t.run_id),
                          output=output)
    error = report.error()
    if error is not None:
        from spine_cli.commands.shared import print_error

        print_error(error)
    return report.exit_code, list(report.paths)


def _print_results(output: Output, tracked: list[Tracked], req: FollowRequest,
                   paths: list[Path]) -> None:
    if req.watch and output.json:
        for t in tracked:
            JsonEventReporter.emit({"event": "result", "run_id": t.run_id, "exit_code": t.exit_code,
                                    "run": t.data})
        return
    if output.json:
        datas = [t.data for t in tracked]
        output.emit_json(datas[0] if len(datas) == 1 else datas)
        return
    if not output.quiet:
        if len(tracked) == 1:
            if tracked[0].data and tracked[0].done and tracked[0].exit_code != ExitCode.TIMEOUT:
                render_run(output, Run.from_api(tracked[0].data))
        else:
            render_summary(output, [(t.run_id, Run.from_api(t.data) if t.data else None,
                                     t.exit_code or 0) for t in tracked])
    for p in paths:
        output.data(str(p))


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()

