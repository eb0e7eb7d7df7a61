"""Reading a batch FILE's records: JSONL or CSV, with bounds.

`input_format` picks the format from `--format` or FILE's extension
(`.jsonl`/`.ndjson` -> JSONL, `.csv` -> CSV); stdin (`-`) is JSONL unless
`--format csv` says otherwise. `read_input` reads at most `limits.input_bytes`.
`records` yields `(line, columns, problem)`: the line a record starts on,
its columns (None when the record is unusable) and what is wrong with it.

JSONL: one JSON object per line; blank lines are skipped. CSV: RFC 4180 with
a header row (comma-separated, `"` quoting, fields may span lines; a UTF-8
byte-order mark is ignored, header names are stripped). Rows whose cells are
all empty are skipped (spreadsheets export them); a row with more or fewer
cells than the header is an error; columns with an empty header name must
be empty.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from spine_cli.errors import UsageError
from spine_cli.runs.text_input import read_file_bytes

FORMATS = {"jsonl": "jsonl", "ndjson": "jsonl", "csv": "csv"}
EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
STDIN_NAME = "<stdin>"

Record = tuple[int, "dict[str, Any] | None", "str | None"]


@dataclass(frozen=True)
class Limits:
    """The bounds on one batch FILE, its rows and the files they name.

    `read_batch(..., limits=)` takes smaller ones in tests; users get LIMITS.
    """

    input_bytes: int = 64 * 1024 * 1024     # FILE (or stdin) as a whole
    record_chars: int = 1024 * 1024         # one JSONL line or CSV row
    columns: int = 200                      # CSV header
    rows: int = 20_000
    total_text_chars: int = 128 * 1024 * 1024  # prompts + instructions of all rows
    field_chars: int = 128 * 1024           # one cell; longer prompts go in a prompt_file
    text_chars: int = 1024 * 1024           # one prompt or instructions, as `run create`
    text_file_bytes: int = 1024 * 1024      # a prompt_file / instructions_file
    files_per_row: int = 100


LIMITS = Limits()


def display_name(file: str) -> str:
    return STDIN_NAME if file == "-" else file


def input_format(file: str, fmt: str | None = None) -> str:
    """`jsonl` or `csv`, from --format or the extension; UsageError otherwise."""
    if fmt is not None:
        if fmt.lower() not in FORMATS:
            raise UsageError(f"Unknown --format {fmt!r}: use jsonl or csv.")
        return FORMATS[fmt.lower()]
    if file == "-":
        return "jsonl"
    found = EXTENSIONS.get(Path(file).suffix.lower())
    if found is None:
        raise UsageError(f"Cannot tell the format of {file} from its extension.",
                         hint="Name it .jsonl, .ndjson or .csv, or give --format jsonl|csv.")
    return found


def read_input(file: str, stdin: BinaryIO | None = None, limits: Limits = LIMITS) -> bytes:
    """FILE's bytes (stdin for `-`), at most `limits.input_bytes`."""
    if file == "-":
        data = (stdin or sys.stdin.buffer).read(limits.input_bytes + 1)
    else:
        data = read_file_bytes(Path(file).expanduser(), file, "batch", limits.input_bytes)
    if len(data) > limits.input_bytes:
        raise UsageError(f"Batch file {display_name(file)} is larger than "
                         f"{limits.input_bytes // (1024 * 1024)} MiB; split it into several batches.")
    return data


def decode(data: bytes, file: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UsageError(f"{display_name(file)}:{line}: not UTF-8 text.",
                         hint="Save the file as UTF-8.") from None


def records(text: str, fmt: str, display: str, limits: Limits = LIMITS) -> Iterator[Record]:
    return _jsonl(text, limits) if fmt == "jsonl" else _csv(text, display, limits)


def _jsonl(text: str, limits: Limits) -> Iterator[Record]:
    # Split on \n only: str.splitlines would also split inside JSON strings
    # holding U+2028 and similar characters, which JSON allows unescaped.
    for line, raw in enumerate(text.split("\n"), 1):
        if not raw.strip():
            continue
        if len(raw) > limits.record_chars:
            yield line, None, f"the line is longer than {limits.record_chars} characters."
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield line, None, f"not valid JSON: {exc.msg} (column {exc.colno})."
            continue
        if not isinstance(obj, dict):
            yield line, None, f"expected a JSON object {{...}}, got {json_type(obj)}."
            continue
        yield line, obj, None


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def _csv(text: str, display: str, limits: Limits) -> Iterator[Record]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return
    except csv.Error as exc:
        raise UsageError(f"{display}:1: not valid CSV: {exc}.") from None
    _check_header(header, display, limits)
    last = reader.line_num
    while True:
        start = last + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # The reader cannot be trusted past a malformed record: stop here.
            yield start, None, _csv_problem(exc)
            return
        last = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        yield _csv_record(start, header, cells, limits)


def _csv_problem(exc: csv.Error) -> str:
    if "field larger than field limit" in str(exc):
        return (f"a cell is longer than {csv.field_size_limit()} characters; "
                "put a long prompt in a prompt_file.")
    return f"not valid CSV: {exc}."


def _check_header(header: list[str], display: str, limits: Limits) -> None:
    where = f"{display}:1: the header"
    if len(header) > limits.columns:
        raise UsageError(f"{where} has {len(header)} columns; the limit is {limits.columns}.")
    named = [h for h in header if h]
    if not named:
        raise UsageError(f"{where} row names no column.")
    dupes = sorted({h for h in named if named.count(h) > 1})
    if dupes:
        raise UsageError(f"{where} names {', '.join(map(repr, dupes))} more than once.")


def _csv_record(line: int, header: list[str], cells: list[str], limits: Limits) -> Record:
    if len(cells) != len(header):
        return line, None, f"{len(cells)} cells where the header has {len(header)} columns."
    if sum(len(c) for c in cells) > limits.record_chars:
        return line, None, f"the row is longer than {limits.record_chars} characters."
    if any(cell.strip() for name, cell in zip(header, cells) if not name):
        return line, None, "a value in a column without a header name."
    return line, {name: cell for name, cell in zip(header, cells) if name}, None
