"""`spine batch`: many runs from one file, resumable, sharded (docs/batch.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer

from spine_cli.commands.options import (
    JsonOpt, MaxOutageOpt, PartialOkOpt, PollIntervalOpt, QuietOpt, TimeoutOpt,
)
from spine_cli.commands.shared import command, invocation

if TYPE_CHECKING:
    from pathlib import Path

    from spine_cli.context import Invocation
    from spine_cli.local.batch_state import BatchState
    from spine_cli.runs.batch.input import Batch
    from spine_cli.runs.batch.keys import Shard
    from spine_cli.runs.batch.events import BatchOptions

app = typer.Typer(help="Run many runs from one JSONL or CSV file: resumable, sharded.",
                  no_args_is_help=True)

FileArg = Annotated[str, typer.Argument(
    metavar="FILE", help="JSONL (one object per line) or CSV (a header row); - reads stdin.")]
FormatOpt = Annotated[Optional[str], typer.Option(
    "--format", metavar="jsonl|csv", help="FILE's format (default: from its extension).")]
TemplateOpt = Annotated[Optional[str], typer.Option(
    "--prompt-template", metavar="TEXT", help="Make each prompt from TEXT: {column} is filled "
    "from the row; {{ and }} are literal braces.")]
TemplateFileOpt = Annotated[Optional[str], typer.Option(
    "--prompt-template-file", metavar="PATH", help="Read the prompt template from a file.")]
ConcurrencyOpt = Annotated[int, typer.Option(
    "--concurrency", "-c", metavar="N", min=1, max=500,
    help="Runs in flight at once (lowered for a while when the API answers 429).")]
ShardOpt = Annotated[Optional[str], typer.Option(
    "--shard", metavar="K/N", help="Take only shard K of N (a stable split by key), for a CI "
    "matrix of N jobs.")]
StateOpt = Annotated[Optional[str], typer.Option(
    "--state", metavar="PATH", help="The batch's state file (default: beside FILE).")]
ResultsOpt = Annotated[Optional[str], typer.Option(
    "--results", metavar="PATH", help="Write the results JSON to PATH at the end.")]
BatchDownloadOpt = Annotated[Optional[str], typer.Option(
    "--download", metavar="DIR", help="Download each row's artifacts into DIR/<key>/.")]
DryRunFlag = Annotated[bool, typer.Option(
    "--dry-run", help="Validate and print the plan; send nothing.")]
RetryUncertainFlag = Annotated[bool, typer.Option(
    "--retry-uncertain", help="Send uncertain rows again (they may already have a run: "
    "this may duplicate).")]
RetryFailedFlag = Annotated[bool, typer.Option(
    "--retry-failed", help="Create rows whose run failed again.")]
MaxRunsOpt = Annotated[Optional[int], typer.Option(
    "--max-runs", metavar="N", min=0, help="Create at most N new runs in this invocation "
    "(a spending guard); resume to go on.")]
StatusShardOpt = Annotated[Optional[str], typer.Option(
    "--shard", metavar="K/N", help="The shard whose state to show (its default state path).")]
ResultsArg = Annotated[list[str], typer.Argument(
    metavar="RESULTS...", help="Results files written by `spine batch run --results`.")]


@command
def batch_run(
    ctx: typer.Context,
    file: FileArg,
    format_: FormatOpt = None,
    prompt_template: TemplateOpt = None,
    prompt_template_file: TemplateFileOpt = None,
    concurrency: ConcurrencyOpt = 4,
    download: BatchDownloadOpt = None,
    shard: ShardOpt = None,
    state: StateOpt = None,
    results: ResultsOpt = None,
    dry_run: DryRunFlag = False,
    retry_uncertain: RetryUncertainFlag = False,
    retry_failed: RetryFailedFlag = False,
    max_runs: MaxRunsOpt = None,
    timeout: TimeoutOpt = None,
    poll_interval: PollIntervalOpt = None,
    max_outage: MaxOutageOpt = None,
    partial_ok: PartialOkOpt = False,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Create a run per row of FILE, wait for them, fetch their files; resumable.

    Every row is checked before anything is sent. The batch's state (beside
    FILE, or --state) makes the same command resume: created runs are waited
    on, finished rows skipped, missing downloads fetched, and a row whose
    create may or may not have reached the API is never sent again unless
    --retry-uncertain says so. Exit code: the worst over the rows (6: not
    finished yet, resume later). See docs/batch.md.

    Examples:

        spine batch run clients.csv --prompt-template 'Write a memo for {client}.' --download out/

        spine batch run rows.jsonl --concurrency 8 --results results.json --json

        spine batch run rows.jsonl --shard 2/4 --timeout 2h --max-runs 100

        spine batch run rows.jsonl --dry-run
    """
    from spine_cli.local.batch_state import state_path
    from spine_cli.runs.batch.keys import parse_shard

    inv = invocation(ctx, json_=json_, quiet=quiet, stream=True)
    chosen = parse_shard(shard) if shard else None
    state_file = state_path(file, state, (chosen.k, chosen.n) if chosen else None)
    batch = _read(inv, file, format_, prompt_template, prompt_template_file)
    if dry_run:
        from spine_cli.runs.batch.plan import dry_run_plan
        from spine_cli.ui.batch_report import show_plan

        show_plan(inv.output, dry_run_plan(batch, chosen, state_file, download=download,
                                           retry_uncertain=retry_uncertain,
                                           retry_failed=retry_failed))
        raise typer.Exit(0)
    from spine_cli.runs.batch.events import BatchOptions
    from spine_cli.runs.follow import wait_options

    options = BatchOptions(
        wait_options(inv.settings, timeout=timeout, poll_interval=poll_interval,
                     max_outage=max_outage, partial_ok=partial_ok),
        concurrency=concurrency, download=download, max_runs=max_runs, origin=_origin())
    code = _run(inv, batch, chosen, state_file, options, retry_uncertain=retry_uncertain,
                retry_failed=retry_failed, results=results)
    raise typer.Exit(code)


def _read(inv: "Invocation", file: str, fmt: str | None, template_text: str | None,
          template_file: str | None) -> "Batch":
    """Read and validate the whole FILE (exit 2 naming every bad row; nothing sent)."""
    from spine_cli.runs.batch.input import read_batch
    from spine_cli.runs.batch.template import load_prompt_template
    from spine_cli.runs.spec import check_template

    template = load_prompt_template(template_text, template_file)
    batch = read_batch(file, fmt=fmt, prompt_template=template)
    default = inv.settings.value("template")
    warnings: list[str] = []
    for row in batch.rows:
        if default and row.spec.template is None and not row.spec.blocks:
            row.spec.template = check_template(str(default))
        warnings += [f"{batch.display}:{row.line}: {w}" for w in row.spec.warnings]
    for warning in warnings[:5]:
        inv.output.warn(warning)
    if len(warnings) > 5:
        inv.output.warn(f"… and {len(warnings) - 5} more such warnings.")
    if batch.extra_columns:
        inv.output.warn("columns neither known nor used by the prompt template: "
                        + ", ".join(batch.extra_columns))
    return batch


def _run(inv: "Invocation", batch: "Batch", shard: "Shard | None", state_file: "Path",
         options: "BatchOptions", *, retry_uncertain: bool, retry_failed: bool,
         results: str | None) -> int:
    from spine_cli.local.batch_state import BatchState
    from spine_cli.runs.batch.merge import write_results
    from spine_cli.runs.batch.plan import open_batch
    from spine_cli.runs.batch.run import BatchRunner
    from spine_cli.ui.batch_report import present_outcome, show_opened
    from spine_cli.ui.batch_view import make_batch_view

    client = inv.client()  # the key is checked before the state is touched
    with client, BatchState(state_file) as state:
        opened = open_batch(state, batch, shard, retry_uncertain=retry_uncertain,
                            retry_failed=retry_failed)
        show_opened(inv.output, opened, state.summary())
        with make_batch_view(inv.output, inv.seams.clock) as view, inv.fetcher() as fetcher:
            runner = BatchRunner(client, inv.history, inv.settings, state, batch.select(shard),
                                 options, view, fetcher, clock=inv.seams.clock,
                                 sleep=inv.seams.sleep)
            outcome = runner.run()
        if results:
            write_results(results, outcome.results)
        return present_outcome(inv.output, inv.flags.ci, outcome, timeout=options.wait.timeout,
                               max_runs=options.max_runs, results_path=results)


def _origin() -> str | None:
    from spine_cli.commands.run_create import run_origin

    return run_origin()


@command
def batch_status(
    ctx: typer.Context,
    file: FileArg,
    state: StateOpt = None,
    shard: StatusShardOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Show a batch's state: rows, runs, outcomes; no API calls.

    Reads only the state file (beside FILE, or --state) and FILE itself, to
    say what changed in it since the batch last ran. Exit 0 whatever the rows'
    outcomes; exit 2 when the batch has no state yet.

    Examples:

        spine batch status clients.csv

        spine batch status rows.jsonl --shard 2/4 --json | jq '.summary'
    """
    from spine_cli.local.batch_state import BatchState, state_path
    from spine_cli.runs.batch.keys import parse_shard
    from spine_cli.runs.batch.merge import build_results
    from spine_cli.ui.batch_report import show_status

    inv = invocation(ctx, json_=json_)
    chosen = parse_shard(shard) if shard else None
    state_file = state_path(file, state, (chosen.k, chosen.n) if chosen else None)
    with BatchState(state_file, create=False) as st:
        report = build_results(st)
        report["state"] = str(state_file)
        report.update(_changes(st, file, chosen))
    show_status(inv.output, report)


def _changes(state: "BatchState", file: str, shard: "Shard | None") -> dict[str, object]:
    """How FILE differs from what the state last saw (read with the batch's own template)."""
    from dataclasses import asdict

    from spine_cli.errors import SpineError
    from spine_cli.runs.batch.input import read_batch, state_rows
    from spine_cli.runs.batch.template import parse_prompt_template

    meta = state.meta()
    if meta is None or file == "-":
        return {"changes": None}
    try:
        template = parse_prompt_template(meta.prompt_template, source="the batch's template") \
            if meta.prompt_template is not None else None
        batch = read_batch(file, fmt=meta.format, prompt_template=template)
        diff = state.compare(batch.state_meta(shard), state_rows(batch.select(shard)))
    except SpineError as exc:
        return {"changes": None, "changes_error": exc.message.split("\n")[0]}
    return {"changes": asdict(diff)}


@command
def batch_merge(
    ctx: typer.Context,
    results: ResultsArg,
    json_: JsonOpt = False,
) -> None:
    """Merge the results files of a batch's shards into one report.

    Prints the merged results (--json) or a Markdown table of rows, and exits
    with the worst code over the rows; a missing shard counts as unfinished
    (6). Refuses (exit 2) files of different batches, a shard or a row given
    twice, and mixed shard counts. In GitHub Actions the table also goes to
    the step summary.

    Examples:

        spine batch merge results/shard-*.json --json > merged.json

        spine batch merge shard-1.json shard-2.json
    """
    from spine_cli.runs.batch.merge import merge
    from spine_cli.ui.batch_report import show_merge

    inv = invocation(ctx, json_=json_)
    report = merge(results)
    merged = report.to_json()
    show_merge(inv.output, inv.flags.ci, merged, report.markdown())
    raise typer.Exit(report.exit_code)


app.command("run")(batch_run)
app.command("status")(batch_status)
app.command("merge")(batch_merge)
