"""The root Typer app: global options, command groups, main()."""

from __future__ import annotations

import sys
import textwrap
from enum import Enum
from typing import Annotated, Optional

import typer

from spine_cli.commands import auth, batch, canvas, config, emulator, run, webhook
from spine_cli.commands.options import complete_profile
from spine_cli.context import Flags, Invocation, Seams
from spine_cli.errors import EXIT_CODE_TABLE, ExitCode

ENV_VARS = [
    ("SPINE_API_KEY", "API key (never pass it on the command line)"),
    ("SPINE_BASE_URL", "API base URL (default https://api.getspine.ai; /v1 is appended)"),
    ("SPINE_PROFILE", "profile in config.toml to use"),
    ("SPINE_WEBHOOK_SECRET", "whsec_… secret for spine webhook (as --secret)"),
    ("SPINE_CONFIG_DIR", "directory holding config.toml"),
    ("SPINE_DATA_DIR", "directory holding the run history and emulator state"),
    ("SPINE_DEBUG", "1 prints tracebacks for internal errors"),
    ("NO_COLOR / FORCE_COLOR", "disable / force colour"),
    ("CI, GITLAB_CI", "set: no prompts, no live display, plain progress lines"),
    ("GITHUB_ACTIONS", "true: also write step outputs, a step summary and error annotations"),
    ("SPINE_CI", "auto, github or none (as --ci)"),
]
EPILOG_WIDTH = 76  # Typer pads help by one column each side of an 80-column terminal


def _table(rows: list[tuple[str, str]], key_width: int) -> str:
    """Two columns with a hanging indent, wrapped before rich gets to reflow them."""
    lines = []
    for key, text in rows:
        wrapped = textwrap.wrap(text, EPILOG_WIDTH - key_width - 4) or [""]
        lines.append(f"  {key:<{key_width}}  {wrapped[0]}")
        lines.extend(" " * (key_width + 4) + more for more in wrapped[1:])
    return "\n".join(lines).replace("[", "\\[")


def _epilog() -> str:
    codes = _table([(f"{code:>3}", text) for code, text in EXIT_CODE_TABLE], 3)
    envs = _table(ENV_VARS, max(len(name) for name, _ in ENV_VARS))
    return f"[b]Exit codes[/b]\n{codes}\n\n[b]Environment[/b]\n{envs}"


class CIMode(str, Enum):
    auto = "auto"
    github = "github"
    none = "none"


app = typer.Typer(
    name="spine",
    help="Run Spine agents from the command line: submit a prompt and files, "
    "follow the run, fetch the artifacts.",
    epilog=_epilog(),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(run.app, name="run")
app.add_typer(batch.app, name="batch")
app.add_typer(canvas.app, name="canvas")
app.add_typer(auth.app, name="auth")
app.add_typer(config.app, name="config")
app.add_typer(emulator.app, name="emulator")
app.add_typer(webhook.app, name="webhook")


def _version_callback(value: bool) -> None:
    if value:
        from spine_cli import version_text

        typer.echo(version_text())
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[Optional[str], typer.Option(
        "--profile", help="Profile from config.toml to use.", autocompletion=complete_profile)] = None,
    base_url: Annotated[Optional[str], typer.Option("--base-url", help="API base URL (overrides SPINE_BASE_URL).")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print only essential identifiers.")] = False,
    verbose: Annotated[int, typer.Option("-v", "--verbose", count=True, help="Log HTTP requests on stderr (key masked).")] = 0,
    no_color: Annotated[bool, typer.Option("--no-color", help="Disable colour.")] = False,
    ci: Annotated[CIMode, typer.Option(
        "--ci", envvar="SPINE_CI", case_sensitive=False,
        help="CI integration: auto (GitHub Actions when GITHUB_ACTIONS=true), github, or none.",
    )] = CIMode.auto,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """Run Spine agents from the command line."""
    # Tests hand their own seams (clock, sleep, transports) in as the context object.
    seams = ctx.obj if isinstance(ctx.obj, Seams) else Seams()
    ctx.obj = Invocation(Flags(profile=profile, base_url=base_url, json=json_, quiet=quiet,
                               verbose=verbose, no_color=no_color, ci=ci.value), seams)


def main() -> None:
    """Run the app (the `spine` entry point, spine_cli.entry, answers <Tab> before this)."""
    from spine_cli.ui.output import report_text

    try:
        # A fixed program name: usage lines and Typer's completion variable
        # (_SPINE_COMPLETE) stay the same under `python -m spine_cli` or a wrapper.
        app(prog_name="spine")
    except KeyboardInterrupt:  # Ctrl-C outside a command body (e.g. during import)
        report_text("\nInterrupted.")
        sys.exit(int(ExitCode.INTERRUPTED))
    except BrokenPipeError:  # `spine --help | head -1`: end quietly
        from spine_cli.commands.shared import silence_stdout

        silence_stdout()
        sys.exit(int(ExitCode.BROKEN_PIPE))
