"""Presenting a follow (`wait`, `watch`, `create --wait`): its reporter, then its outcome.

`make_reporter` picks the progress reporter for the output mode. `present`
prints, for each run, what happened (stderr: a timeout and how to resume, a
give-up after an outage with the true time spent, a failure or partial end,
a download that failed) and then the results (stdout: the run view, a
summary line per run, NDJSON result events, a JSON document, or the
downloaded paths), and writes the CI outputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from spine_cli.api.models import RunStatus
from spine_cli.errors import ExitCode
from spine_cli.ui import ci
from spine_cli.ui.render import (format_duration, outcome_lines, render_run, render_summary,
                                 status_line)
from spine_cli.ui.reporters import JsonEventReporter, NullReporter, PlainReporter

PARTIAL_OK = "--partial-ok makes it 0"

if TYPE_CHECKING:
    from spine_cli.api.canvas import TaskTree
    from spine_cli.runs.follow import FollowOutcome
    from spine_cli.runs.waiter import Tracked, WaitOptions
    from spine_cli.ui.output import Output


def make_reporter(output: "Output", clock: Callable[[], float], *, watch: bool = False,
                  tasks_fetch: Callable[[str], "TaskTree"] | None = None) -> NullReporter:
    """The reporter for this invocation's output situation."""
    if output.mode.json and watch:
        return JsonEventReporter(output)
    if output.quiet:
        # -q keeps stdout to ids, but a silent 2-hour wait looks dead to a CI watchdog.
        return PlainReporter(output, clock, heartbeat=300.0) if output.mode.ci \
            else NullReporter()
    if output.live:
        from spine_cli.ui.live import LiveReporter

        return LiveReporter(output.err, tasks_fetch=tasks_fetch if watch else None, clock=clock)
    return PlainReporter(output, clock)


def present(output: "Output", ci_mode: str, outcome: "FollowOutcome", options: "WaitOptions",
            *, watch: bool = False, download: str | None = None) -> int:
    """Print the outcome of a follow and write the CI outputs; return the exit code."""
    if outcome.interrupted:
        _interrupted(output, outcome, watch)
    else:
        for t in outcome.tracked:
            _conclude(output, t, options)
            report = outcome.downloads.get(t.run_id)
            error = report.error() if report else None
            if error is not None:
                output.error(error)
        _results(output, outcome, watch)
    ci.report_runs(ci_mode, output, outcome.tracked, download=download)
    return outcome.exit_code


def _interrupted(output: "Output", outcome: "FollowOutcome", watch: bool) -> None:
    pending = outcome.pending or outcome.tracked
    verb = "Terminated" if outcome.interrupted == ExitCode.TERMINATED else "Interrupted"
    output.note(f"\n{verb}; stopped waiting.")
    for t in outcome.pending:
        last = status_line(t.run) if t.run else "not polled yet"
        output.note(f"Run {t.run_id} goes on server-side (last seen: {last}).")
    command = "watch" if watch and len(pending) == 1 else "wait"
    output.note(f"Resume with: spine run {command} {' '.join(t.run_id for t in pending)}")


def _conclude(output: "Output", t: "Tracked", options: "WaitOptions") -> None:
    """What happened to one run, on stderr."""
    code, rid = t.exit_code, t.run_id
    if code == ExitCode.TIMEOUT:
        last = status_line(t.run) if t.run else "not polled yet"
        output.note(f"Stopped waiting at --timeout ({format_duration(options.timeout)}): run "
                    f"{rid} is still running ({last}); it goes on server-side.\n"
                    f"Resume with: spine run wait {rid}")
    elif code == ExitCode.NOT_FOUND and t.error is not None:
        output.error(t.error)
    elif code == ExitCode.UNAVAILABLE and t.run is not None and \
            t.run.status is RunStatus.UNKNOWN and t.error is not None:
        output.error(t.error)
    elif code == ExitCode.UNAVAILABLE:
        msg = t.error.message if t.error else "the API kept failing"
        output.note(f"Error: gave up on run {rid} after {format_duration(t.outage)} of failed "
                    f"polls (--max-outage {format_duration(options.max_outage)}): {msg}\n"
                    f"The run goes on server-side; resume with: spine run wait {rid}")
    elif t.run is not None and t.status in (RunStatus.FAILED, RunStatus.PARTIAL) \
            and not shows_view(output):
        # Stated here only when stdout has no view to state it (-q, --json).
        word = "failed" if t.status is RunStatus.FAILED else "ended partial"
        why = f" (exit 5; {PARTIAL_OK})" if _partial_exit(code, t.status) else ""
        output.note("\n".join([f"Run {rid} {word}{why}.", *outcome_lines(t.run)]))


def shows_view(output: "Output") -> bool:
    """Whether stdout gets a human view of the runs (which states how each one ended)."""
    return not output.mode.json and not output.quiet


def _partial_exit(code: int | None, status: RunStatus | None) -> bool:
    return code == ExitCode.RUN_PARTIAL and status is RunStatus.PARTIAL


def _results(output: "Output", outcome: "FollowOutcome", watch: bool) -> None:
    tracked = outcome.tracked
    if output.mode.json:
        if watch:
            for t in tracked:
                output.record({"event": "result", "run_id": t.run_id, "exit_code": t.exit_code,
                               "run": t.run.raw if t.run else None})
            return
        # NDJSON whatever the number of runs; a run never read (not found) has its
        # error on stderr and no line.
        for t in tracked:
            if t.run is not None:
                output.record(t.run.raw)
        return
    if not output.quiet:
        if len(tracked) == 1:
            t = tracked[0]
            if t.run is not None and t.done and t.exit_code != ExitCode.TIMEOUT \
                    and t.run.terminal:
                note = f"Exit 5: the run ended partial; {PARTIAL_OK}." \
                    if _partial_exit(t.exit_code, t.status) else None
                render_run(output, t.run, exit_note=note)
        else:
            render_summary(output, [(t.run_id, t.run, t.exit_code or 0) for t in tracked])
    for report in outcome.downloads.values():
        for path in report.paths:
            output.data(str(path))
