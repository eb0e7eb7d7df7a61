"""`spine run create`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from spine_cli.commands.shared import apply_local_flags, command
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
    "--file", "-f", metavar="PATH", help="Attach a file (repeatable).")]
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
    from spine_cli.runs import create as create_flow

    state = apply_local_flags(ctx, json_, quiet)
    spec = create_flow.build_spec(
        prompt=prompt, prompt_file=prompt_file, template=template, blocks=block,
        instructions=instructions, instructions_file=instructions_file, files=file,
        webhook_url=webhook_url,
    )
    if wait and watch:
        from spine_cli.errors import UsageError

        raise UsageError("Use either --wait or --watch, not both.")
    follow_opts = None
    if wait or watch:
        from spine_cli.runs.follow import wait_options
        from spine_cli.local.settings import load_settings

        follow_opts = wait_options(load_settings(state.profile, state.base_url), timeout=timeout,
                                   poll_interval=poll_interval, max_outage=max_outage,
                                   partial_ok=partial_ok)
    elif download:
        from spine_cli.errors import UsageError

        raise UsageError("--download needs --wait or --watch.")
    code = create_flow.create(state, spec, dry_run=dry_run, follow_opts=follow_opts,
                              watch=watch, download=download)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add create to the `spine run` group."""
    app.command("create")(run_create)
