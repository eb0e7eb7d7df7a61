"""Reading the user's text inputs (prompts, instructions, templates, batch files), bounded.

A text is read up to its limit plus one byte, so `/dev/zero` or a runaway pipe
is refused at once instead of filling memory; a file that cannot be opened
gets one line naming it as the user wrote it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

from spine_cli.errors import UsageError

MAX_TEXT_BYTES = 1024 * 1024


def read_file_bytes(path: Path, shown: str, what: str, limit: int) -> bytes:
    """At most `limit + 1` bytes of the `what` file at `path` (`shown` as the user wrote it)."""
    title = what[:1].upper() + what[1:]
    if path.is_dir():
        raise UsageError(f"{title} file {shown} is a directory.")
    try:
        with open(path, "rb") as fh:
            return fh.read(limit + 1)
    except FileNotFoundError:
        raise UsageError(f"{title} file not found: {shown}") from None
    except IsADirectoryError:
        raise UsageError(f"{title} file {shown} is a directory.") from None
    except OSError as exc:
        raise UsageError(f"Cannot read {what} file {shown}: {exc.strerror}.") from None


def read_capped(stream: IO[bytes], what: str) -> str:
    return capped_text(stream.read(MAX_TEXT_BYTES + 1), what)


def capped_text(data: bytes, what: str) -> str:
    """`data` (read up to MAX_TEXT_BYTES + 1) as text; UsageError when longer or not UTF-8."""
    if len(data) > MAX_TEXT_BYTES:
        raise UsageError(f"The {what} is longer than {MAX_TEXT_BYTES // 1024} KiB; refused.",
                         hint="Attach long material as a file with --file instead.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"The {what} is not UTF-8 text.") from None


def read_stdin_text(what: str) -> str:
    text = read_capped(sys.stdin.buffer, what)
    # A shell's `echo` or heredoc ends with a newline the user did not mean to send.
    return text[:-1] if text.endswith("\n") else text


def read_text_file(path: str, what: str) -> str:
    data = read_file_bytes(Path(path).expanduser(), path, what, MAX_TEXT_BYTES)
    return capped_text(data, f"{what} file {path}")
