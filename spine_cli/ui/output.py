"""Output modes and the two consoles.

Data goes to stdout, everything else (progress, hints, warnings, errors) to
stderr. Mode, highest first: `--json` > `-q` > human. Human output is rich on a
terminal and plain text (no colour, no cursor movement) otherwise.

Colour and live redraw are separate decisions:
- colour: off with NO_COLOR, --no-color or TERM=dumb; FORCE_COLOR turns it on
  even off a terminal;
- live redraw (progress bars, live task tree): only when stderr is a terminal,
  TERM is not dumb and CI is not set — FORCE_COLOR never turns it on.

Consoles are made per invocation (never at import), on first use (so --json
and -q never pay for importing rich), and never interpret markup: server text
is shown as text, after `textsafe.sanitize`.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable

from spine_cli.context import AppState


def _truthy(value: str | None) -> bool:
    return bool(value) and value.lower() not in ("0", "false", "no", "")


def in_ci() -> bool:
    return any(_truthy(os.environ.get(n)) for n in ("CI", "GITHUB_ACTIONS", "GITLAB_CI"))


def color_enabled(state: AppState, stream: Any) -> bool:
    if state.no_color or "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb":
        return False
    if _truthy(os.environ.get("FORCE_COLOR")):
        return True
    return _isatty(stream)


def live_enabled(stream: Any = None) -> bool:
    """Live redraws: a real terminal on stderr, not CI, not TERM=dumb."""
    stream = stream if stream is not None else sys.stderr
    return _isatty(stream) and os.environ.get("TERM") != "dumb" and not in_ci()


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


@dataclass
class Output:
    """The consoles and the mode of one invocation."""

    state: AppState
    make_console: Callable[[bool], Any]  # stderr? → a rich Console

    @functools.cached_property
    def out(self) -> Any:
        """The rich Console on stdout."""
        return self.make_console(False)

    @functools.cached_property
    def err(self) -> Any:
        """The rich Console on stderr."""
        return self.make_console(True)

    @property
    def json(self) -> bool:
        return self.state.json

    @property
    def quiet(self) -> bool:
        return self.state.quiet and not self.state.json

    @property
    def rich_stdout(self) -> bool:
        """Render rich (Markdown, tables) on stdout only to a terminal."""
        return _isatty(sys.stdout) and os.environ.get("TERM") != "dumb"

    @property
    def live(self) -> bool:
        return live_enabled(sys.stderr)

    def data(self, text: str = "") -> None:
        """A plain line of data on stdout."""
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def emit_json(self, obj: Any) -> None:
        sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def info(self, text: str) -> None:
        """A hint on stderr (silenced by -q; kept with --json, whose data is on stdout)."""
        if self.state.quiet:
            return
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def warn(self, text: str) -> None:
        sys.stderr.write(f"Warning: {text}\n")
        sys.stderr.flush()


def make_output(state: AppState) -> Output:
    def console(stderr: bool) -> Any:
        from rich.console import Console

        stream = sys.stderr if stderr else sys.stdout
        colored = color_enabled(state, stream)
        return Console(
            stderr=stderr,
            no_color=not colored,
            force_terminal=True if colored and not _isatty(stream) else None,
            markup=False,
            highlight=False,
            emoji=False,
            soft_wrap=False,
        )

    return Output(state, console)
