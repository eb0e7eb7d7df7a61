"""What a bare `spine` prints: where to start, in one screen (24 lines at most).

The full help (`spine --help`) is 80 lines of options, exit codes and
environment variables; a first-time user needs the five commands to start
with, a way to try them without an account, and where the rest is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spine_cli.ui.output import Output

OVERVIEW = """\
spine: run Spine agents from the command line. A prompt and files go in;
documents, spreadsheets and decks come out, built over 10-20 minutes.

Start with:
  spine auth login                         store your API key (hidden prompt)
  spine run create -p "PROMPT" --watch     create a run and follow it live
  spine run list                           the runs created on this machine
  spine run get @last                      a run's state, output and files
  spine run download @last -d DIR          fetch a run's files
  spine batch run rows.csv --download DIR  a run per row of a file, resumable

Try it offline, no account needed (a local emulator of the API):
  spine emulator exec -- spine run create -p "Write a memo" --watch

Check your setup:  spine doctor
Full help:         spine --help, and spine COMMAND --help (with examples)"""


def show_overview(output: "Output") -> None:
    output.lines(OVERVIEW.splitlines())
