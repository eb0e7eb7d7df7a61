"""The batch state's records and row-level logic: metadata, rows, the input diff,
the SQL of transitions and the resume plan.

Split out of batch_state (which owns the rules, see its doc) so each module
stays readable; nothing here opens a transaction: callers pass a connection
inside one.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from spine_cli.local.batch_db import BatchStateError


@dataclass(frozen=True)
class BatchMeta:
    input: str
    input_sha256: str
    format: str
    shard: tuple[int, int] | None = None
    prompt_template: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "BatchMeta":
        shard = data.get("shard")
        return cls(data["input"], data["input_sha256"], data["format"],
                   tuple(shard) if shard else None, data.get("prompt_template"))


@dataclass
class InputDiff:
    """How FILE's rows differ from the rows the state knows."""

    fresh: bool = False
    input_changed: bool = False
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)


@dataclass
class RowState:
    key: str
    line: int
    state: str
    digest: str
    run_digest: str | None
    in_input: bool
    run_id: str | None
    canvas_id: str | None
    status: str | None
    exit_code: int | None
    download_dir: str | None
    download_ok: bool | None
    errors: list[dict[str, Any]]
    note: str | None
    attempts: int
    previous_runs: list[str]
    added_at: str
    created_at: str | None
    finished_at: str | None
    updated_at: str

    @property
    def changed(self) -> bool:
        """The row's content differs from the content its run was created from."""
        return self.run_digest is not None and self.run_digest != self.digest

    @classmethod
    def from_db(cls, row: Any) -> "RowState":
        data = dict(row)
        data["in_input"] = bool(data["in_input"])
        data["download_ok"] = None if data["download_ok"] is None else bool(data["download_ok"])
        data["errors"] = json.loads(data["errors"])
        data["previous_runs"] = json.loads(data["previous_runs"])
        return cls(**data)


# Columns a transition may set; anything else is a bug, never SQL built from input.
_COLUMNS = frozenset({"state", "run_id", "canvas_id", "status", "exit_code", "download_dir",
                      "download_ok", "note", "run_digest", "created_at", "finished_at"})
# What a retry clears: the row starts again as if never sent (the old run id is kept
# in previous_runs, the attempt count goes on).
_RESET = ("run_id", "canvas_id", "status", "exit_code", "download_dir", "download_ok", "note",
          "run_digest", "created_at", "finished_at")
DOWNLOADABLE = ("completed", "partial")


def assignments(fields: Mapping[str, Any], errors_json: str, now: str) -> tuple[str, list[Any]]:
    """`SET` text and parameters for one row's transition.

    `_error` / `_errors` append to the row's errors; `_canvas` sets canvas_id
    only when given (a poll without one keeps the known id).
    """
    parts, params = [], []
    errors = json.loads(errors_json)
    for name, value in fields.items():
        if name == "_error":
            errors.append(value)
        elif name == "_errors":
            errors.extend(value)
        elif name == "_canvas":
            parts.append("canvas_id = COALESCE(?, canvas_id)")
            params.append(value)
        elif name in _COLUMNS:
            parts.append(f"{name} = ?")
            params.append(value)
        else:
            raise ValueError(f"not a batch state column: {name}")
    parts += ["errors = ?", "updated_at = ?"]
    params += [json.dumps(errors), now]
    return ", ".join(parts), params


def move_all(conn: sqlite3.Connection, source: str, target: str, now: str, *,
             reset: bool = False, status: str | None = None, only_input: bool = True,
             note: str | None = None, error: dict[str, Any] | None = None) -> list[str]:
    """Move every row in `source` (with `status`, if given) to `target`; their keys."""
    where, params = "state = ?", [source]
    if status is not None:
        where, params = where + " AND status = ?", params + [status]
    if only_input:
        where += " AND in_input = 1"
    found = conn.execute(f"SELECT key, run_id, errors, previous_runs FROM rows WHERE {where}"
                         " ORDER BY line", params).fetchall()
    updates = []
    for row in found:
        errors = [] if reset else json.loads(row["errors"]) + ([error] if error else [])
        previous = json.loads(row["previous_runs"])
        if reset and row["run_id"]:
            previous.append(row["run_id"])
        updates.append((target, note, json.dumps(errors), json.dumps(previous), now, row["key"]))
    cleared = "".join(f", {c} = NULL" for c in _RESET if c != "note") if reset else ""
    conn.executemany("UPDATE rows SET state = ?, note = ?, errors = ?, previous_runs = ?,"
                     f" updated_at = ?{cleared} WHERE key = ?", updates)
    return [row["key"] for row in found]


def plan(known: Mapping[str, Any], keys: Iterable[str], *,
         download: bool = False) -> dict[str, list[str]]:
    """What a resume does with each key of FILE, from the rows the state knows.

    create    new rows, `pending`, `not_created`
    wait      `created`: waited on, never created again
    download  `done` and downloadable but not (fully) downloaded, with --download
    skip      `done` otherwise
    uncertain `uncertain`, and `creating` (which the resume turns `uncertain`)
    """
    out: dict[str, list[str]] = {k: [] for k in ("create", "wait", "download", "skip", "uncertain")}
    for key in keys:
        row = known.get(key)
        state = row.state if row is not None else "pending"
        if state in ("pending", "not_created"):
            out["create"].append(key)
        elif state == "created":
            out["wait"].append(key)
        elif state in ("uncertain", "creating"):
            out["uncertain"].append(key)
        elif download and row is not None and row.status in DOWNLOADABLE and not row.download_ok:
            out["download"].append(key)
        else:
            out["skip"].append(key)
    return out


def diff_rows(path: Path, stored: BatchMeta | None, meta: BatchMeta, known: dict[str, Any],
          rows: list[tuple[str, int, str]]) -> InputDiff:
    if stored is None:
        return InputDiff(fresh=True, input_changed=True, added=[k for k, _, _ in rows])
    check_compatible(path, stored, meta)
    diff = InputDiff(input_changed=stored.input_sha256 != meta.input_sha256)
    present = set()
    for key, _line, digest in rows:
        present.add(key)
        old = known.get(key)
        if old is None:
            diff.added.append(key)
            continue
        if not old["in_input"]:
            diff.restored.append(key)
        if old["run_digest"] is not None and old["run_digest"] != digest:
            diff.changed.append(key)
    diff.removed = [k for k, r in known.items() if r["in_input"] and k not in present]
    return diff


def check_compatible(path: Path, stored: BatchMeta, meta: BatchMeta) -> None:
    if stored.shard != meta.shard:
        def name(s: tuple[int, int] | None) -> str:
            return f"shard {s[0]}/{s[1]}" if s else "a batch without --shard"

        raise BatchStateError(f"The batch state {path} belongs to {name(stored.shard)}, "
                              f"not {name(meta.shard)}.",
                              hint="Give each shard its own --state (the default path has "
                                   "the shard in its name).")
    if stored.prompt_template != meta.prompt_template:
        raise BatchStateError(f"The prompt template differs from the one the batch state "
                              f"{path} was started with.",
                              hint="A batch keeps one prompt template: go back to it, or start "
                                   "a new batch with another --state.")
