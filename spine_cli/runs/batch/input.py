"""Reading and validating a batch FILE into rows ready to create.

    read_batch(file, *, fmt=None, prompt_template=None, stdin=None, limits=LIMITS) -> Batch

Each record (formats.py: JSONL or CSV) has the create fields:

    prompt | prompt_file    the prompt, or a UTF-8 file holding it
    template                as `run create -t`
    blocks                  a JSON list, or a string split on `;` and `,`
    instructions | instructions_file
    files                   a JSON list, or a string split on `;`
    webhook_url             an http(s) URL
    key                     the row's identity across resumes (optional)

Relative paths are relative to FILE's directory (the current directory for
stdin). Other columns are data for the prompt template (template.py);
those it does not use are listed in `Batch.extra_columns` so the caller can
warn. An empty cell is an absent field.

Every row of the whole FILE (not only the rows of one shard, so every shard
reports the same mistakes) is validated with the checks `spine run create`
uses, before anything is sent. Problems are collected and raised as one
BatchInputError (a UsageError: exit 2) naming FILE, the line and the field:
`batch.csv:14: files: file not found: data/q3.xlsx`.

Keys (keys.py): a row without a key is keyed `row-<12 hex>` by the sha256 of
its normalised content, which is also `BatchRow.digest` (the state compares it
to see a row change). Hashed, as canonical JSON: the prompt text after
templating and reading prompt_file, template, blocks after normalising
(`document` -> `document-block`), the instructions text, webhook_url, and each
file's path as written, normalised (`./data/a.csv` -> `data/a.csv`). Not the
files' contents: reading every attachment on every resume and on `batch
status` would be slow, and editing a data file must not turn a row that
already has a run into a new row (a second paid run). Not absolute paths:
CI checkouts move, keys must not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from spine_cli.errors import UsageError
from spine_cli.local.batch_state import BatchMeta
from spine_cli.runs.batch import fields
from spine_cli.runs.batch.formats import LIMITS, Limits, decode, display_name, input_format, read_input, records
from spine_cli.runs.batch.keys import Shard, check_key, content_digest, hash_key, safe_dir_name
from spine_cli.runs.batch.template import PromptTemplate
from spine_cli.runs.spec import CreateSpec

MAX_REPORTED_ERRORS = 20


@dataclass(frozen=True)
class RowError:
    line: int
    field: str | None
    message: str

    def format(self, display: str) -> str:
        where = f"{display}:{self.line}: " + (f"{self.field}: " if self.field else "")
        return where + self.message


class BatchInputError(UsageError):
    """Rows of a batch FILE are invalid; `.errors` holds every problem found."""

    def __init__(self, display: str, errors: list[RowError]) -> None:
        shown = [e.format(display) for e in errors[:MAX_REPORTED_ERRORS]]
        if len(errors) > MAX_REPORTED_ERRORS:
            shown.append(f"… and {len(errors) - MAX_REPORTED_ERRORS} more.")
        message = shown[0] if len(errors) == 1 else (
            f"{len(errors)} problems in {display}:\n" + "\n".join("  " + s for s in shown))
        super().__init__(message, hint="Nothing was sent: every row is checked before "
                                       "the first run is created.")
        self.errors = errors


@dataclass
class BatchRow:
    line: int
    key: str
    spec: CreateSpec
    columns: dict[str, Any]
    digest: str
    key_given: bool

    @property
    def dir_name(self) -> str:
        return safe_dir_name(self.key)

    def upload_bytes(self) -> int:
        return sum(f.size for f in self.spec.files)


@dataclass
class Batch:
    file: str
    format: str
    base_dir: Path
    sha256: str
    rows: list[BatchRow]
    prompt_template: PromptTemplate | None = None
    extra_columns: list[str] = field(default_factory=list)

    @property
    def display(self) -> str:
        return display_name(self.file)

    def select(self, shard: Shard | None) -> list[BatchRow]:
        """The rows of one shard (all rows without one), in file order."""
        return list(self.rows) if shard is None else [r for r in self.rows if shard.contains(r.key)]

    def state_meta(self, shard: Shard | None) -> BatchMeta:
        """What the state records about this batch (see local/batch_state)."""
        return BatchMeta(self.file if self.file == "-" else os.path.abspath(self.file),
                         self.sha256, self.format, (shard.k, shard.n) if shard else None,
                         self.prompt_template.text if self.prompt_template else None)


def state_rows(rows: list[BatchRow]) -> list[tuple[str, int, str]]:
    """Rows as the state binds them: key, line, content digest."""
    return [(r.key, r.line, r.digest) for r in rows]


def read_batch(file: str, *, fmt: str | None = None, prompt_template: PromptTemplate | None = None,
               stdin: BinaryIO | None = None, limits: Limits = LIMITS) -> Batch:
    """Read and validate FILE; BatchInputError (exit 2) listing every problem."""
    import hashlib

    kind = input_format(file, fmt)
    data = read_input(file, stdin, limits)
    base = Path.cwd() if file == "-" else Path(os.path.abspath(os.path.expanduser(file))).parent
    ctx = fields.RowContext(base, prompt_template, limits)
    rows, errors = _read_rows(decode(data, file), kind, display_name(file), ctx)
    errors += _duplicates(rows)
    if errors:
        raise BatchInputError(display_name(file), sorted(errors, key=lambda e: e.line))
    if not rows:
        raise UsageError(f"{display_name(file)} has no rows.")
    return Batch(file, kind, base, hashlib.sha256(data).hexdigest(), rows, prompt_template,
                 _extra_columns(rows, prompt_template))


def _read_rows(text: str, kind: str, display: str,
               ctx: fields.RowContext) -> tuple[list[BatchRow], list[RowError]]:
    rows: list[BatchRow] = []
    errors: list[RowError] = []
    count = 0
    limits = ctx.limits
    for line, columns, problem in records(text, kind, display, limits):
        count += 1
        if count > limits.rows:
            raise UsageError(f"{display} has more than {limits.rows} rows; split it into "
                             "several batches.")
        if columns is None:
            errors.append(RowError(line, None, problem or "unreadable."))
            continue
        row = _build_row(line, columns, ctx, errors)
        if row is not None:
            rows.append(row)
        if ctx.text_chars > limits.total_text_chars:
            raise UsageError(f"The prompts and instructions of {display} total more than "
                             f"{limits.total_text_chars // (1024 * 1024)} Mi characters; "
                             "split it into several batches.")
    return rows, errors


def _build_row(line: int, columns: dict[str, Any], ctx: fields.RowContext,
               errors: list[RowError]) -> BatchRow | None:
    check = fields.RowCheck()
    spec, content = fields.build_spec(columns, ctx, check)
    key = check.run("key", _given_key, columns.get("key"))
    errors += [RowError(line, name, message) for name, message in check.problems]
    if check.problems or spec is None:
        return None
    digest = content_digest(content)
    return BatchRow(line, key or hash_key(digest), spec, columns, digest, key is not None)


def _given_key(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise UsageError(f"expected text or an integer, got {fields.json_type(value)}.")
    return check_key(str(value))


def _duplicates(rows: list[BatchRow]) -> list[RowError]:
    """Duplicate keys, and (astronomically unlikely) clashing directory names."""
    errors = []
    by_key: dict[str, int] = {}
    by_dir: dict[str, BatchRow] = {}
    for row in rows:
        first = by_key.setdefault(row.key, row.line)
        if first != row.line:
            what = (f"duplicate key {row.key!r} (also on line {first})" if row.key_given else
                    f"this row is identical to line {first} (both are keyed {row.key}); "
                    "add a key column to run both")
            errors.append(RowError(row.line, "key", what + "."))
            continue
        other = by_dir.setdefault(row.dir_name.casefold(), row)
        if other is not row:
            errors.append(RowError(row.line, "key", f"keys {other.key!r} (line {other.line}) "
                                   f"and {row.key!r} share a directory name; rename one."))
    return errors


def _extra_columns(rows: list[BatchRow], template: PromptTemplate | None) -> list[str]:
    used = set(fields.KNOWN_FIELDS) | set(template.columns if template else ())
    seen: dict[str, None] = {}
    for row in rows:
        seen.update((name, None) for name in row.columns if name not in used)
    return list(seen)
