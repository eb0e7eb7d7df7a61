"""Shared command plumbing: per-invocation state and the error wrapper.

Every command is decorated with `@command`, which turns `SpineError` into a
one- or two-line message on stderr and its exit code, Ctrl-C into exit 130,
and any other exception into exit 1 (traceback only with SPINE_DEBUG=1).
It runs inside command execution so `typer.testing.CliRunner` sees exactly
what a user sees.
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import typer

from spine_cli.context import AppState
from spine_cli.errors import APIError, ExitCode, SpineError

F = TypeVar("F", bound=Callable[..., Any])


def get_state(ctx: typer.Context) -> AppState:
    """The AppState of the running invocation (set by the root callback)."""
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState()
    return root.obj


def apply_local_flags(ctx: typer.Context, json_: bool = False, quiet: bool = False) -> AppState:
    """Merge a command's own --json/-q with the global ones and return the state."""
    state = get_state(ctx)
    state.json = state.json or json_
    state.quiet = state.quiet or quiet
    return state


@dataclass
class Setup:
    """What an API command starts from."""

    state: AppState
    settings: Any
    output: Any
    run_ids: list[str]
    client: Any


def setup(ctx: typer.Context, json_: bool = False, quiet: bool = False,
          refs: tuple[str, ...] | list[str] = ()) -> Setup:
    """Flags, settings, output, run references and a client: the start of every API command.

    Run references are resolved (and bad ones refused) before the key is
    needed or any request is made.
    """
    from spine_cli.local import history
    from spine_cli.api.client import make_client
    from spine_cli.ui.output import make_output
    from spine_cli.local.settings import load_settings

    state = apply_local_flags(ctx, json_, quiet)
    settings = load_settings(state.profile, state.base_url)
    run_ids = list(dict.fromkeys(history.resolve_run_ref(r, settings) for r in refs))
    return Setup(state, settings, make_output(state), run_ids, make_client(settings, state))


def format_error(exc: SpineError) -> list[str]:
    """The one or two lines printed for an error."""
    first = f"Error: {exc.message}"
    if isinstance(exc, APIError):
        detail = f"HTTP {exc.status_code}"
        if exc.request_id:
            detail += f", request id {exc.request_id}"
        first += f" ({detail})"
    lines = [first]
    if exc.hint:
        lines.append(exc.hint)
    return lines


def print_error(exc: SpineError) -> None:
    from spine_cli.ui.textsafe import sanitize

    for line in format_error(exc):
        sys.stderr.write(sanitize(line) + "\n")
    sys.stderr.flush()


def command(func: F) -> F:
    """Decorate a command: map exceptions to messages and exit codes."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except SpineError as exc:
            if os.environ.get("SPINE_DEBUG") == "1":
                import traceback

                traceback.print_exc()
            print_error(exc)
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            sys.stderr.write("\nInterrupted.\n")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except Exception as exc:  # a bug: say so, briefly
            if os.environ.get("SPINE_DEBUG") == "1":
                raise
            sys.stderr.write(
                f"Error: internal error: {type(exc).__name__}: {exc}\n"
                "This is a bug in spine; rerun with SPINE_DEBUG=1 for a traceback.\n"
            )
            raise typer.Exit(int(ExitCode.INTERNAL)) from None

    return wrapper  # type: ignore[return-value]
