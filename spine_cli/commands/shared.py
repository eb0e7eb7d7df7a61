"""Command plumbing: the invocation context of a command, and the error wrapper.

Every command is decorated with `@command`, which turns

- a `SpineError` into its one- or two-line message on stderr and its exit code;
- Ctrl-C into exit 130 and SIGTERM (what CI runners send on cancel) into 143,
  both with the message of the code that was interrupted;
- a closed stdout (`| head`) into a quiet exit 141;
- any other exception into exit 1 (a traceback only with SPINE_DEBUG=1).

It runs inside command execution, so `typer.testing.CliRunner` sees exactly
what a user sees.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import threading
from typing import Any, Callable, Iterator, TypeVar

import typer

from spine_cli.context import Invocation
from spine_cli.errors import ExitCode, SpineError, Terminated, interrupt_code

F = TypeVar("F", bound=Callable[..., Any])


def invocation(ctx: typer.Context, *, json_: bool = False, quiet: bool = False,
               stream: bool = False) -> Invocation:
    """The invocation of the running command, its own --json/-q merged in (once)."""
    root = ctx.find_root()
    if not isinstance(root.obj, Invocation):
        root.obj = Invocation()
    inv: Invocation = root.obj
    return inv.use(json_=json_, quiet=quiet, stream=stream)


def command(func: F) -> F:
    """Decorate a command: map exceptions to messages and exit codes."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # Typer hands its bundled Click's Context, not a typer.Context: match by behaviour.
        ctx = next((a for a in [*args, *kwargs.values()] if hasattr(a, "find_root")), None)
        try:
            with _sigterm_as_interrupt():
                return func(*args, **kwargs)
        except typer.Exit:
            raise
        except SpineError as exc:
            if os.environ.get("SPINE_DEBUG") == "1":
                import traceback

                traceback.print_exc()
            _keep_flags_in_hint(ctx, exc)
            _output(ctx).error(exc)
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt as exc:
            _output(ctx).note("\nTerminated." if isinstance(exc, Terminated) else "\nInterrupted.")
            raise typer.Exit(interrupt_code(exc)) from None
        except BrokenPipeError:
            from spine_cli.ui.output import silence_stdout

            silence_stdout()
            raise typer.Exit(int(ExitCode.BROKEN_PIPE)) from None
        except Exception as exc:  # a bug: say so, briefly
            if os.environ.get("SPINE_DEBUG") == "1":
                raise
            _output(ctx).note(f"Error: internal error: {type(exc).__name__}: {exc}\n"
                              "This is a bug in spine; rerun with SPINE_DEBUG=1 for a traceback.")
            raise typer.Exit(int(ExitCode.INTERNAL)) from None

    return wrapper  # type: ignore[return-value]


def _keep_flags_in_hint(ctx: typer.Context | None, exc: SpineError) -> None:
    """A suggested `spine auth …` keeps the --profile/--base-url this invocation used."""
    from spine_cli.errors import hint_with_flags

    inv = ctx.find_root().obj if ctx is not None else None
    if not exc.hint or not isinstance(inv, Invocation):
        return
    settings = inv.__dict__.get("settings")
    profile = settings.profile if settings is not None else inv.flags.profile
    exc.hint = hint_with_flags(exc.hint, profile, inv.flags.base_url)


def _output(ctx: typer.Context | None) -> Any:
    from spine_cli.ui.output import Output, OutputMode

    inv = ctx.find_root().obj if ctx is not None else None
    if isinstance(inv, Invocation) and "mode" in inv.__dict__:
        return inv.output
    return Output(OutputMode())


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises `Terminated` (a KeyboardInterrupt) for the duration of the command."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
