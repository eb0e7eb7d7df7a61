"""`spine run create`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from spine_cli.context import Invocation
from spine_cli.errors import UsageError

if TYPE_CHECKING:
    from spine_cli.api.models import CreatedRun
    from spine_cli.runs.spec import CreateSpec

from spine_cli.commands.shared import command, invocation
from spine_cli.commands.options import (
    DownloadOpt,
    JsonOpt,
    MaxOutageOpt,
    PartialOkOpt,
    PollIntervalOpt,
    QuietOpt,
    TimeoutOpt,
    complete_block,
    complete_template,
)

PromptOpt = Annotated[Optional[str], typer.Option(
    "--prompt", "-p", help="What the agents should do; `-` reads it from stdin.")]
PromptFileOpt = Annotated[Optional[str], typer.Option(
    "--prompt-file", metavar="PATH", help="Read the prompt from a file.")]
TemplateOpt = Annotated[Optional[str], typer.Option(
    "--template", "-t", metavar="T", autocompletion=complete_template,
    help="Template: app, auto, deep_research, excel, landing_page, memo, report, slides.")]
BlockOpt = Annotated[Optional[list[str]], typer.Option(
    "--block", "-b", metavar="B", autocompletion=complete_block,
    help="Block type to allow (repeatable; overrides --template), e.g. document-block or document.")]
InstructionsOpt = Annotated[Optional[str], typer.Option(
    "--instructions", help="Guidance for every agent (tone, audience, citation rules).")]
InstructionsFileOpt = Annotated[Optional[str], typer.Option(
    "--instructions-file", metavar="PATH", help="Read the agent instructions from a file.")]
FileOpt = Annotated[Optional[list[str]], typer.Option(
    "--file", "-f", metavar="PATH",
    help="Attach a file (repeatable): PATH, PATH;type=MIME, PATH;filename=NAME, or "
    "'-;filename=NAME' for stdin.")]
WebhookOpt = Annotated[Optional[str], typer.Option(
    "--webhook-url", metavar="URL", help="Per-run webhook URL (reserved by the API; not honoured today).")]
WaitFlag = Annotated[bool, typer.Option("--wait", help="Wait for the run to end (as `spine run wait`).")]
WatchFlag = Annotated[bool, typer.Option("--watch", help="Follow the run live (as `spine run watch`).")]
DryRunFlag = Annotated[bool, typer.Option(
    "--dry-run", help="Validate and print the request without sending it.")]


@command
def run_create(
    ctx: typer.Context,
    prompt: PromptOpt = None,
    prompt_file: PromptFileOpt = None,
    template: TemplateOpt = None,
    block: BlockOpt = None,
    instructions: InstructionsOpt = None,
    instructions_file: InstructionsFileOpt = None,
    file: FileOpt = None,
    webhook_url: WebhookOpt = None,
    wait: WaitFlag = False,
    watch: WatchFlag = False,
    timeout: TimeoutOpt = None,
    poll_interval: PollIntervalOpt = None,
    max_outage: MaxOutageOpt = None,
    partial_ok: PartialOkOpt = False,
    download: DownloadOpt = None,
    dry_run: DryRunFlag = False,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Create a run from a prompt and files; print its id.

    The run id goes to stdout in every mode, so RUN=$(spine run create ...)
    works. Files are checked before anything is sent and uploaded streamed.
    With --wait or --watch, follows the run and exits with its outcome (see
    `spine run wait`). A create that fails ambiguously (5xx, dropped
    connection) is never resent: a duplicate run would cost credits.

    Examples:

        spine run create --prompt "Write a Q4 market memo" --file data.csv --watch

        RUN=$(spine run create -q -t report --prompt-file brief.md)

        echo "Summarise this" | spine run create --prompt - -f notes.pdf --wait --download ./out

        spine run create --prompt "Build a pricing page" -b landing-page -b image --dry-run
    """
    from spine_cli.context import require_one_of
    from spine_cli.runs import spec as create_spec

    # Following prints NDJSON with --json, as `run wait`/`run watch` do.
    inv = invocation(ctx, json_=json_, quiet=quiet, stream=wait or watch)
    require_one_of(wait=wait, watch=watch)
    if download and not (wait or watch):
        raise UsageError("--download needs --wait or --watch.")
    _say_when_reading_a_terminal(inv, prompt=prompt, prompt_file=prompt_file,
                                 instructions_file=instructions_file, files=file or [])
    with tempfile.TemporaryDirectory(prefix="spine-create-") as spool_dir:
        spec = create_spec.build_spec(
            prompt=prompt, prompt_file=prompt_file, template=template, blocks=block,
            instructions=instructions, instructions_file=instructions_file, files=file,
            webhook_url=webhook_url, spool=create_spec.spool_stdin(Path(spool_dir)))
        for warning in spec.warnings:
            inv.output.warn(warning)
        code = _create(inv, spec, dry_run=dry_run, follow=wait or watch, watch=watch,
                       download=download, timeout=timeout, poll_interval=poll_interval,
                       max_outage=max_outage, partial_ok=partial_ok)
    raise typer.Exit(code)


def _create(inv: Invocation, spec: "CreateSpec", *, dry_run: bool, follow: bool,
            watch: bool, download: str | None, timeout: float | None,
            poll_interval: float | None, max_outage: float | None, partial_ok: bool) -> int:
    from spine_cli.commands.following import follow_runs
    from spine_cli.local.settings import mask_key
    from spine_cli.runs import create as create_flow
    from spine_cli.runs import spec as create_spec
    from spine_cli.runs.follow import wait_options
    from spine_cli.ui import ci
    from spine_cli.ui.bars import UploadBar
    from spine_cli.ui.create_view import announce, show_dry_run

    settings = inv.settings
    if spec.template is None and not spec.blocks and settings.value("template"):
        spec.template = create_spec.check_template(str(settings.value("template")))
    if dry_run:
        show_dry_run(inv.output, create_spec.dry_run_request(
            settings.base_url, mask_key(settings.api_key), spec))
        return 0
    options = wait_options(settings, timeout=timeout, poll_interval=poll_interval,
                           max_outage=max_outage, partial_ok=partial_ok) if follow else None
    with inv.client() as client:
        with UploadBar(inv.output, sum(f.size for f in spec.files)) as bar:
            def created_now(created: "CreatedRun") -> None:
                bar.stop()
                announce(inv.output, created, follow=follow, watch=watch)

            created = create_flow.send(client, inv.history, settings, spec,
                                       on_upload=bar.advance, on_created=created_now,
                                       origin=run_origin())
        if options is None:
            ci.report_created(inv.flags.ci, inv.output, created)
            return 0
        estimate = created.estimated_seconds
        return follow_runs(inv, client, [created.run_id], options, watch=watch,
                           download=download,
                           estimates={created.run_id: (estimate, None)} if estimate else None)


def _say_when_reading_a_terminal(inv: Invocation, *, prompt: str | None,
                                 prompt_file: str | None, instructions_file: str | None,
                                 files: list[str]) -> None:
    """`--prompt -` typed at a terminal waits for input: say so, and how to end it."""
    import sys

    from spine_cli.ui.output import isatty

    if not isatty(sys.stdin):
        return
    what = ("the prompt" if "-" in (prompt, prompt_file) else
            "the instructions" if instructions_file == "-" else
            "the file" if any(f == "-" or f.startswith("-;") for f in files) else None)
    if what:
        end = "Ctrl-Z then Enter" if sys.platform == "win32" else "Ctrl-D"
        inv.output.note(f"Reading {what} from stdin; end with {end}.")


def run_origin() -> str | None:
    """"emulator" for runs made under `spine emulator exec` (marked so in `run list`)."""
    return "emulator" if os.environ.get("SPINE_EMULATOR_EXEC") == "1" else None


def register(app: typer.Typer) -> None:
    """Add create to the `spine run` group."""
    app.command("create")(run_create)
