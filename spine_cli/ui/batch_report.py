"""What `spine batch` prints around the run: the plan, the status, the outcome, CI reports.

- `show_plan`: `batch run --dry-run` (a document with --json, else lines on stdout);
- `show_opened`: before the first create, on stderr: what resuming found;
- `present_outcome`: after the run: stderr says what happened and what to run
  next; stdout gets each downloaded row's directory (human and -q; --json
  already streamed the rows); the GitHub step summary, outputs and annotations;
- `show_status`: `batch status` (a document with --json, else a table);
- `show_merge`: `batch merge` (the merged results with --json, else the
  Markdown table), and the merged table in the GitHub step summary.

Keys and messages come from the user's file and the server: every cell is
neutralised (`textsafe`), and Markdown cells are made inert (`runs/batch/merge.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spine_cli.errors import ExitCode
from spine_cli.runs.batch.merge import render_markdown
from spine_cli.ui import ci
from spine_cli.ui.batch_view import shown_key
from spine_cli.ui.render import format_duration, format_size
from spine_cli.ui.textsafe import one_line

if TYPE_CHECKING:
    from spine_cli.local.batch_state import InputDiff
    from spine_cli.runs.batch.plan import Opened
    from spine_cli.runs.batch.events import BatchOutcome
    from spine_cli.ui.output import Output

SUMMARY_ROWS = 300     # rows in the GitHub step summary (GitHub caps a summary at 1 MiB)
ANNOTATIONS = 50       # ::error:: lines for failed rows, then one that counts the rest
LISTED = 10            # keys named in a hint before "and N more"
PLAN_WORDS = {"create": "create", "wait": "wait on", "download": "download",
              "skip": "skip (done)", "uncertain": "leave uncertain"}


def _keys(keys: list[str]) -> str:
    shown = ", ".join(shown_key(k) for k in keys[:LISTED])
    return shown + (f" and {len(keys) - LISTED} more" if len(keys) > LISTED else "")


def diff_text(diff: "InputDiff") -> str | None:
    parts = [f"{len(getattr(diff, name))} {word}" for name, word in
             (("added", "new"), ("removed", "removed"), ("restored", "restored"),
              ("changed", "changed since their run was created")) if getattr(diff, name)]
    return ", ".join(parts) if parts else None


# --- dry run ---------------------------------------------------------------------------

def show_plan(output: "Output", plan: dict[str, Any]) -> None:
    if output.json:
        output.document(plan)
        return
    shard = f", shard {plan['shard']['k']}/{plan['shard']['n']} of {plan['rows_in_file']}" \
        if plan["shard"] else ""
    output.data(f"{one_line(plan['input'])} ({plan['format']}): {plan['rows']} rows{shard}, "
                f"{plan['files']} files, {format_size(plan['upload_bytes'])} to upload")
    output.data(f"state: {one_line(plan['state'])}"
                + ("" if plan["changes"] is not None else " (new)"))
    changes = plan["changes"]
    if changes and not changes["fresh"]:
        from spine_cli.local.batch_state import InputDiff

        output.data(f"changes since the last run: {diff_text(InputDiff(**changes)) or 'none'}")
    for what, keys in plan["plan"].items():
        output.data(f"  {PLAN_WORDS[what]:<16} {len(keys):>5}" + (f"  {_keys(keys)}" if keys else ""))
    if plan["extra_columns"]:
        output.info("Columns not used by the prompt template or as fields: "
                    + ", ".join(one_line(c) for c in plan["extra_columns"]))
    output.info("Dry run: nothing was sent.")


# --- before and after the run ------------------------------------------------------------

def show_opened(output: "Output", opened: "Opened", counts: dict[str, int]) -> None:
    """What opening the state found (stderr; silenced by -q)."""
    if not opened.diff.fresh:
        rest = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        output.info(f"Resuming the batch: {rest}.")
        changes = diff_text(opened.diff)
        if changes:
            output.info(f"Rows changed in the file since the last run: {changes}.")
    if opened.caught_creating:
        output.warn(f"{len(opened.caught_creating)} row(s) were being created when the last "
                    f"run stopped: {_keys(opened.caught_creating)}. They are now uncertain "
                    "and are not sent again.")
    if opened.retried_uncertain:
        output.warn(f"--retry-uncertain: sending {len(opened.retried_uncertain)} uncertain "
                    f"row(s) again ({_keys(opened.retried_uncertain)}). Each may have a run "
                    "already: this may create duplicates (and cost credits twice).")
    if opened.retried_failed:
        output.info(f"--retry-failed: creating {len(opened.retried_failed)} failed row(s) again.")


def present_outcome(output: "Output", ci_mode: str, out: "BatchOutcome", *,
                    timeout: float | None, max_runs: int | None,
                    results_path: str | None) -> int:
    """Say what happened, print the downloaded directories, write CI reports; the exit code."""
    summary = out.results["summary"]
    _explain(output, out, timeout, max_runs)
    statuses = ", ".join(f"{n} {one_line(s)}" for s, n in sorted(summary["statuses"].items()))
    states = ", ".join(f"{n} {s}" for s, n in summary["states"].items() if n)
    output.info(f"Batch: {summary['rows']} rows ({states})"
                + (f"; runs: {statuses}" if statuses else "") + f"; exit {out.exit_code}.")
    if results_path:
        output.info(f"Results written to {results_path}.")
    if not output.json:
        output.lines([r["download_dir"] for r in out.results["rows"]
                      if r.get("download_dir") and r["exit_code"] != ExitCode.DOWNLOAD])
    _github(output, ci_mode, out, results_path)
    return out.exit_code


def _explain(output: "Output", out: "BatchOutcome", timeout: float | None,
             max_runs: int | None) -> None:
    states = out.results["summary"]["states"]
    left = states.get("pending", 0) + states.get("not_created", 0)
    running = states.get("created", 0)
    again = "Run the same command again to resume."
    if out.interrupted:
        verb = "Terminated" if out.interrupted == ExitCode.TERMINATED else "Interrupted"
        output.note(f"\n{verb}: {running} run(s) go on server-side, {left} row(s) not created "
                    f"yet. {again}")
    elif out.timed_out:
        output.note(f"Stopped at --timeout ({format_duration(timeout)}): {running} run(s) go on "
                    f"server-side, {left} row(s) not created yet. {again}")
    if out.max_runs_reached and not out.interrupted:
        output.note(f"Stopped creating after --max-runs {max_runs}: {left} row(s) not created "
                    f"yet. {again}")
    if out.halted is not None:
        output.error(out.halted)
        output.note("Stopped creating runs. " + again)
    for key, error in list(out.given_up.items())[:LISTED]:
        output.note(f"Row {shown_key(key)}: stopped polling: {one_line(error.message)}; the run "
                    f"goes on server-side. {again}")
    uncertain = [r["key"] for r in out.results["rows"] if r["state"] == "uncertain"]
    if uncertain:
        output.note(f"{len(uncertain)} row(s) are uncertain (a run may or may not exist): "
                    f"{_keys(uncertain)}.\nCheck them (`spine run list`, the web app), then "
                    "re-send them with --retry-uncertain (this may create duplicates).")


def _github(output: "Output", ci_mode: str, out: "BatchOutcome",
            results_path: str | None) -> None:
    if not ci.github_enabled(ci_mode):
        return
    summary = out.results["summary"]
    outputs = {"rows": str(summary["rows"]), "exit_code": str(out.exit_code)}
    if results_path:
        outputs["results"] = results_path
    ci.write_outputs(output, outputs)
    ci.append_summary(output, render_markdown(out.results, max_rows=SUMMARY_ROWS))
    failed = [r for r in out.results["rows"] if r["exit_code"] != 0]
    for row in failed[:ANNOTATIONS]:
        ci.annotate(output, "error", f"Spine batch row {row['key']}", _failure(row))
    if len(failed) > ANNOTATIONS:
        ci.annotate(output, "error", "Spine batch",
                    f"{len(failed) - ANNOTATIONS} more rows did not succeed; see the step summary.")


def _failure(row: dict[str, Any]) -> str:
    what = {"pending": "was not created yet", "created": "is still running",
            "uncertain": "may or may not have a run (uncertain)",
            "not_created": "was not created"}.get(row["state"])
    if what is None:
        what = f"ended {row.get('status') or 'without a status'}"
    errors = row.get("errors") or []
    first = errors[-1] if errors and isinstance(errors[-1], dict) else {}
    reason = first.get("message") or first.get("error")
    run = f" (run {row['run_id']})" if row.get("run_id") else ""
    return (f"Row {row['key']} (line {row.get('line')}){run} {what}, exit {row['exit_code']}"
            + (f": {reason}" if reason else "") + ".")


# --- status and merge --------------------------------------------------------------------

COLUMNS = ("KEY", "LINE", "STATE", "STATUS", "EXIT", "RUN", "DOWNLOAD")


def show_status(output: "Output", report: dict[str, Any]) -> None:
    """`batch status`: the state's results and what changed in FILE (no API calls)."""
    if output.json:
        output.document(report)
        return
    batch, summary = report["batch"], report["summary"]
    shard = f", shard {batch['shard']['k']}/{batch['shard']['n']}" if batch["shard"] else ""
    output.data(f"Batch {one_line(batch['input'])} ({batch['format']}{shard}); "
                f"state {one_line(report['state'])}")
    states = ", ".join(f"{n} {s}" for s, n in summary["states"].items() if n) or "no rows"
    statuses = ", ".join(f"{n} {one_line(s)}" for s, n in sorted(summary["statuses"].items()))
    output.data(f"{summary['rows']} rows: {states}" + (f"; runs: {statuses}" if statuses else "")
                + f"; exit {summary['exit_code']}")
    if report.get("changes_error"):
        output.warn(f"cannot compare with the file: {report['changes_error']}")
    elif report.get("changes") is not None:
        from spine_cli.local.batch_state import InputDiff

        output.data("changes in the file since the last run: "
                    + (diff_text(InputDiff(**report["changes"])) or "none"))
    if report["rows"]:
        output.data("")
        _table(output, report["rows"])


def _table(output: "Output", rows: list[dict[str, Any]]) -> None:
    cells = [COLUMNS] + [(shown_key(r["key"]), str(r.get("line") or ""), r["state"],
                          one_line(r.get("status") or ""), str(r["exit_code"]),
                          (r.get("run_id") or "")[:8], one_line(r.get("download_dir") or ""))
                         for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    for row in cells:
        output.data("  ".join(c.rjust(w) if i in (1, 4) else c.ljust(w)
                              for i, (c, w) in enumerate(zip(row, widths))).rstrip())


def show_merge(output: "Output", ci_mode: str, merged: dict[str, Any], markdown: str) -> None:
    if output.json:
        output.document(merged)
    else:
        for line in markdown.rstrip("\n").split("\n"):
            output.data(line)
    if ci.github_enabled(ci_mode):
        ci.append_summary(output, render_markdown(merged, max_rows=SUMMARY_ROWS))
