"""The root Typer app: global options, command groups, main()."""

from __future__ import annotations

import platform
import sys
from typing import Annotated, Optional

import typer

from spine_cli import __version__
from spine_cli.cli import AppState, set_current_state
from spine_cli.commands import auth, canvas, config, emulator, run
from spine_cli.errors import EXIT_CODE_TABLE

ENV_VARS = [
    ("SPINE_API_KEY", "API key (never pass it on the command line)"),
    ("SPINE_BASE_URL", "API base URL (default https://api.getspine.ai; /v1 is appended)"),
    ("SPINE_PROFILE", "profile in config.toml to use"),
    ("SPINE_CONFIG_DIR", "directory holding config.toml"),
    ("SPINE_DATA_DIR", "directory holding the run history and emulator state"),
    ("SPINE_DEBUG", "1 prints tracebacks for internal errors"),
    ("NO_COLOR / FORCE_COLOR", "disable / force colour"),
    ("CI", "true: no prompts, no live display"),
]


def _epilog() -> str:
    codes = "\n\n".join(f"  {code:>3}  {text}" for code, text in EXIT_CODE_TABLE)
    envs = "\n\n".join(f"  {name}: {text}" for name, text in ENV_VARS)
    return f"[b]Exit codes[/b]\n\n{codes}\n\n[b]Environment[/b]\n\n{envs}"


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
app.add_typer(canvas.app, name="canvas")
app.add_typer(auth.app, name="auth")
app.add_typer(config.app, name="config")
app.add_typer(emulator.app, name="emulator")


def _version_callback(value: bool) -> None:
    if value:
        py = platform.python_version()
        plat = f"{platform.system()}-{platform.machine()}"
        typer.echo(f"spine {__version__} (Python {py}, {plat})")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[Optional[str], typer.Option("--profile", help="Profile from config.toml to use.", envvar=None)] = None,
    base_url: Annotated[Optional[str], typer.Option("--base-url", help="API base URL (overrides SPINE_BASE_URL).")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print only essential identifiers.")] = False,
    verbose: Annotated[int, typer.Option("-v", "--verbose", count=True, help="Log HTTP requests on stderr (key masked).")] = 0,
    no_color: Annotated[bool, typer.Option("--no-color", help="Disable colour.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """Run Spine agents from the command line."""
    state = AppState(profile=profile, base_url=base_url, json=json_, quiet=quiet,
                     verbose=verbose, no_color=no_color)
    ctx.obj = state
    set_current_state(state)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # Ctrl-C outside a command body (e.g. during import)
        sys.stderr.write("\nInterrupted.\n")
        sys.exit(130)
