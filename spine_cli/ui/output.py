"""The output mode and the one output sink of an invocation.

Data goes to stdout, everything else (progress, hints, warnings, errors) to
stderr. The mode is resolved once per invocation (`resolve_mode`), from the
flags and the environment:

- format, highest first: `--json` (NDJSON for commands that report a stream
  of things) > `-q` > human;
- colour: off with NO_COLOR (set and not empty), --no-color or TERM=dumb, which
  win over FORCE_COLOR; FORCE_COLOR (not 0/false/no/off/empty) turns it on
  even off a terminal (piped human output is then rendered as on a terminal,
  in colour, but never redrawn);
- live redraw (progress bars, live task tree): only when stderr is a
  terminal, TERM is not dumb and CI is not set — FORCE_COLOR never turns it on.

`Output` is a sink commands and renderers write through; nothing else in
the package writes to sys.stdout or sys.stderr. Rich consoles are made on
first use (so --json and -q never pay for importing rich) and never interpret
markup. Every line written to stderr, and every human line on stdout, is
neutralised (`textsafe`): server text cannot drive the terminal. JSON keeps
data as data; only characters a terminal would act on are \\u-escaped, which
leaves the parsed value unchanged.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from dataclasses import dataclass
from enum import Enum
from typing import IO, TYPE_CHECKING, Any, Callable, Mapping

from spine_cli.ui.textsafe import escape_json_text, sanitize

if TYPE_CHECKING:
    from rich.console import Console

    from spine_cli.errors import SpineError


class Format(Enum):
    HUMAN = "human"
    QUIET = "quiet"
    JSON = "json"      # one indented document
    NDJSON = "ndjson"  # one compact object per line, whatever their number


def truthy(value: str | None) -> bool:
    return bool(value) and str(value).strip().lower() not in ("0", "false", "no", "off", "")


def in_ci(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return any(truthy(env.get(n)) for n in ("CI", "GITHUB_ACTIONS", "GITLAB_CI"))


def isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


@dataclass(frozen=True)
class OutputMode:
    format: Format = Format.HUMAN
    color_stdout: bool = False
    color_stderr: bool = False
    rich_stdout: bool = False  # render Markdown, tables and trees on stdout
    live: bool = False         # redraw progress in place on stderr
    ci: bool = False
    interactive: bool = False  # a person can answer a prompt (stdin is a terminal, not CI)
    stdout_tty: bool = False

    @property
    def json(self) -> bool:
        return self.format in (Format.JSON, Format.NDJSON)

    @property
    def quiet(self) -> bool:
        return self.format is Format.QUIET


def resolve_mode(*, json_: bool = False, quiet: bool = False, stream: bool = False,
                 no_color: bool = False, env: Mapping[str, str] | None = None,
                 stdin: Any = None, stdout: Any = None, stderr: Any = None) -> OutputMode:
    """The mode of one invocation (see the module docstring for the rules)."""
    env = os.environ if env is None else env
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    stderr = stderr or sys.stderr
    if json_:
        fmt = Format.NDJSON if stream else Format.JSON
    else:
        fmt = Format.QUIET if quiet else Format.HUMAN
    dumb = env.get("TERM") == "dumb"
    # no-color.org: NO_COLOR counts when present and not empty.
    colour_off = no_color or bool(env.get("NO_COLOR")) or dumb
    forced = truthy(env.get("FORCE_COLOR")) and not colour_off
    ci = in_ci(env)
    return OutputMode(
        format=fmt,
        color_stdout=not colour_off and (forced or isatty(stdout)),
        color_stderr=not colour_off and (forced or isatty(stderr)),
        rich_stdout=not dumb and (isatty(stdout) or forced),
        live=isatty(stderr) and not dumb and not ci,
        ci=ci,
        interactive=isatty(stdin) and not ci,
        stdout_tty=isatty(stdout),
    )


class Output:
    """Where every line of an invocation goes, by mode."""

    def __init__(self, mode: OutputMode, stdout: IO[str] | None = None,
                 stderr: IO[str] | None = None) -> None:
        self.mode = mode
        self._stdout, self._stderr = stdout, stderr

    # -- streams (looked up at write time: tests swap sys.stdout) ----------------
    @property
    def stdout(self) -> IO[str]:
        return self._stdout or sys.stdout

    @property
    def stderr(self) -> IO[str]:
        return self._stderr or sys.stderr

    @property
    def json(self) -> bool:
        return self.mode.json

    @property
    def quiet(self) -> bool:
        return self.mode.quiet

    @property
    def live(self) -> bool:
        """Live redraws on stderr (not with -q, whose stderr keeps to what matters)."""
        return self.mode.live and not self.mode.quiet

    @functools.cached_property
    def out(self) -> "Console":
        """The rich Console on stdout."""
        return self._console(self.stdout, self.mode.color_stdout)

    @functools.cached_property
    def err(self) -> "Console":
        """The rich Console on stderr."""
        return self._console(self.stderr, self.mode.color_stderr)

    @staticmethod
    def _console(stream: IO[str], colored: bool) -> "Console":
        from rich.console import Console

        return Console(file=stream, no_color=not colored,
                       force_terminal=True if colored and not isatty(stream) else None,
                       markup=False, highlight=False, emoji=False, soft_wrap=False)

    # -- stdout --------------------------------------------------------------------
    def data(self, text: str = "") -> None:
        """A line of data on stdout (neutralised: it may hold server text)."""
        self._write(self.stdout, sanitize(text) + "\n")

    def lines(self, texts: list[str]) -> None:
        for text in texts:
            self.data(text)

    def document(self, obj: Any) -> None:
        """One JSON value on stdout: indented, or one compact line in NDJSON mode."""
        if self.mode.format is Format.NDJSON:
            self.record(obj)
            return
        self._write(self.stdout, escape_json_text(json.dumps(obj, indent=2, ensure_ascii=False))
                    + "\n")

    def record(self, obj: Any) -> None:
        """One compact JSON object on its own line (NDJSON)."""
        self._write(self.stdout, escape_json_text(json.dumps(obj, ensure_ascii=False)) + "\n")

    def show(self, *, json: Any = None, quiet: list[str] | None = None,
             human: Callable[[], None] | None = None) -> None:
        """The one place a result is printed by mode: a document, identifiers, or a view."""
        if self.json:
            self.document(json)
        elif self.quiet:
            for line in quiet or []:
                self.data(line)
        elif human is not None:
            human()

    # -- stderr ----------------------------------------------------------------------
    def info(self, text: str) -> None:
        """A hint on stderr (silenced by -q; kept with --json, whose data is on stdout)."""
        if not self.quiet:
            self.note(text)

    def note(self, text: str) -> None:
        """A line on stderr in every mode (progress lines, heartbeats, resume hints)."""
        self._write(self.stderr, sanitize(text) + "\n")

    def warn(self, text: str) -> None:
        self._write(self.stderr, self._styled(f"Warning: {sanitize(text)}", "yellow") + "\n")

    def error(self, exc: "SpineError") -> None:
        lines = format_error(exc)
        lines[0] = self._styled(lines[0], "red")
        self._write(self.stderr, "\n".join(lines) + "\n")

    def _styled(self, text: str, colour: str) -> str:
        if not self.mode.color_stderr:
            return text
        codes = {"red": "31", "yellow": "33"}
        return f"\x1b[{codes[colour]}m{text}\x1b[0m"

    @staticmethod
    def _write(stream: IO[str], text: str) -> None:
        stream.write(text)
        stream.flush()


def format_error(exc: "SpineError") -> list[str]:
    """The one or two lines printed for an error (server text neutralised)."""
    first = f"Error: {exc.message}"
    detail = []
    if exc.status_code is not None and f"HTTP {exc.status_code}" not in exc.message:
        detail.append(f"HTTP {exc.status_code}")
    if exc.request_id:
        detail.append(f"request id {exc.request_id}")
    if detail:
        first += f" ({', '.join(detail)})"
    lines = [sanitize(first)]
    if exc.hint:
        lines.append(sanitize(exc.hint))
    return lines


def report_error(exc: "SpineError", output: Output | None = None) -> None:
    """Print an error where no invocation's Output exists yet (the command wrapper)."""
    (output or Output(OutputMode())).error(exc)


def silence_stdout() -> None:
    """After EPIPE (`| head`): point stdout at /dev/null so the final flush is quiet."""
    import contextlib

    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


class StdoutWatch:
    """Tells, after the fact, whether stdout was found closed (EPIPE) and put aside.

    rich points file descriptor 1 at /dev/null on EPIPE; Typer swaps sys.stdout for a
    wrapper that ignores the error. Either leaves a trace this compares against.
    """

    def __init__(self) -> None:
        self._stream = sys.stdout
        self._before = self._identity()

    def _identity(self) -> tuple[int, int] | None:
        try:
            st = os.fstat(self._stream.fileno())
        except (AttributeError, OSError, ValueError):
            return None
        return (st.st_dev, st.st_ino)

    def broken(self) -> bool:
        if sys.stdout is not self._stream:
            return True
        now = self._identity()
        try:
            devnull = os.stat(os.devnull)
        except OSError:
            return False
        return now != self._before and now == (devnull.st_dev, devnull.st_ino)


def report_text(text: str) -> None:
    """A plain line on stderr from the command wrapper (internal errors, interrupts)."""
    Output(OutputMode()).note(text)
