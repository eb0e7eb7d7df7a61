"""The `spine` console entry point: answer a <Tab> (and a bare `spine --version`)
before importing anything heavy.

Completion requests (`_SPINE_COMPLETE=complete_<shell>`) are answered from the
static spec by `completion_fast`, which imports neither Typer nor the app; every
other invocation, and any completion request the spec cannot answer, goes to
the Typer app.
"""

from __future__ import annotations

import os
import sys


def main(spec_path: str | None = None) -> None:
    """The `spine` command (`spec_path`: another completion spec, for tests)."""
    if sys.argv[1:] == ["--version"]:
        # Answered before Typer builds the whole command tree: ~3x faster (bench/startup.py).
        from spine_cli import version_text

        try:
            sys.stdout.write(version_text() + "\n")
            sys.stdout.flush()
        except BrokenPipeError:  # `spine --version | true`: end quietly, as a Unix tool
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(141)  # ExitCode.BROKEN_PIPE, without importing the error module
        return
    if os.environ.get("_SPINE_COMPLETE", "").startswith("complete_"):
        code = _fast_complete(spec_path)
        if code is not None:
            sys.exit(code)
    from spine_cli.app import main as app_main

    app_main()


def _fast_complete(spec_path: str | None) -> int | None:
    try:
        from spine_cli.completion.fast import fast_complete
    except ImportError:  # a broken install: Typer's own completion may still work
        return None
    return fast_complete(spec_path=spec_path)
