"""The root Typer app: global options, command groups, main().

Typer inspects every command it registers, on every invocation, so `main()`
registers only the group the command line names (`spine run get …` builds
the `run` group alone; root help, completion and an unknown name build them
all). `from spine_cli.app import app` gives the whole app, built on first use.
"""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
from enum import Enum
from typing import Annotated, Iterable, Optional

import typer

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
    ("NO_COLOR", "set: no colour (wins over FORCE_COLOR)"),
    ("FORCE_COLOR", "colour even when piped; never live redraws off a terminal"),
    ("TERM=dumb", "no colour, no live redraws, plain text"),
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


# The command groups, in help order, and the module holding each one's Typer app.
GROUPS = [("run", "spine_cli.commands.run"), ("batch", "spine_cli.commands.batch"),
          ("canvas", "spine_cli.commands.canvas"),
          ("auth", "spine_cli.commands.auth"), ("config", "spine_cli.commands.config"),
          ("emulator", "spine_cli.commands.emulator"),
          ("webhook", "spine_cli.commands.webhook")]
# Commands at the top level (no group), each a function of that name in its module.
COMMANDS = [("doctor", "spine_cli.commands.doctor")]
# Global options that take a value (their value is never the group's name).
_VALUE_OPTIONS = ("--profile", "--base-url", "--ci")


def _version_callback(value: bool) -> None:
    if value:
        from spine_cli import version_text

        typer.echo(version_text())
        raise typer.Exit()


def root(
    ctx: typer.Context,
    profile: Annotated[Optional[str], typer.Option(
        "--profile", help="Profile from config.toml to use.", autocompletion=complete_profile)] = None,
    base_url: Annotated[Optional[str], typer.Option("--base-url", help="API base URL (overrides SPINE_BASE_URL).")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print only essential identifiers.")] = False,
    verbose: Annotated[int, typer.Option(
        "-v", "--verbose", count=True, metavar="", show_default=False,
        help="Log each HTTP request and retry on stderr; -vv adds headers (key masked) and "
        "rate-limit waits.")] = 0,
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
    if ctx.invoked_subcommand is None:  # a bare `spine`: where to start, not the full help
        from spine_cli.ui.overview import show_overview

        show_overview(ctx.obj.output)
        raise typer.Exit(0)


def build(names: Iterable[str] | None = None) -> typer.Typer:
    """The root app with the named groups (all of them by default)."""
    wanted = None if names is None else set(names)
    root_app = typer.Typer(
        name="spine",
        help="Run Spine agents from the command line: submit a prompt and files, "
        "follow the run, fetch the artifacts.",
        epilog=_epilog(),
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    root_app.callback(invoke_without_command=True)(root)
    for name, module in GROUPS:
        if wanted is None or name in wanted:
            root_app.add_typer(importlib.import_module(module).app, name=name)
    for name, module in COMMANDS:
        if wanted is None or name in wanted:
            root_app.command(name)(getattr(importlib.import_module(module), name))
    return root_app


def named_group(argv: list[str]) -> str | None:
    """The command group the arguments name, if a known one (else None: build them all)."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            return arg if arg in dict(GROUPS + COMMANDS) else None
    return None


def __getattr__(name: str) -> typer.Typer:
    # PEP 562: the whole app for tests, tools and Typer's own completion, built once.
    if name == "app":
        whole = build()
        globals()["app"] = whole
        return whole
    raise AttributeError(name)


def main() -> None:
    """Run the app (the `spine` entry point, spine_cli.entry, answers <Tab> before this)."""
    from spine_cli.ui.output import StdoutWatch, report_text

    completing = bool(os.environ.get("_SPINE_COMPLETE"))
    group = None if completing else named_group(sys.argv[1:])
    stdout = StdoutWatch()
    try:
        # A fixed program name: usage lines and Typer's completion variable
        # (_SPINE_COMPLETE) stay the same under `python -m spine_cli` or a wrapper.
        build([group] if group else None)(prog_name="spine")
    except SystemExit as exc:
        # rich and Typer answer a closed stdout outside our commands (`spine --help |
        # head -1`) with a quiet exit 1; the documented code is 141.
        if exc.code == 1 and stdout.broken():
            sys.exit(int(ExitCode.BROKEN_PIPE))
        raise
    except KeyboardInterrupt:  # Ctrl-C outside a command body (e.g. during import)
        report_text("\nInterrupted.")
        sys.exit(int(ExitCode.INTERRUPTED))
    except BrokenPipeError:  # `spine --help | head -1`: end quietly
        from spine_cli.ui.output import silence_stdout

        silence_stdout()
        sys.exit(int(ExitCode.BROKEN_PIPE))

