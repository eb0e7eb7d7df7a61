"""The state of a batch (or of one shard of it), in SQLite: what makes it resumable.

Where: beside FILE (`FILE.spine-batch.sqlite`; `FILE.shard-K-of-N.spine-batch.sqlite`
for a shard, so shards run on one machine never share a file) or `--state PATH`,
which stdin input must give (`state_path`). batch_db holds the SQLite details
(WAL, busy timeout, one `BEGIN IMMEDIATE` transaction per transition,
`synchronous = FULL`, the runner lock).

A row's states:

                mark_creating           mark_created              mark_finished
    pending ─────────────────▶ creating ─────────────▶ created ─────────────────▶ done
      ▲  ▲     (committed                │   │       (observe: status)   record_download
      │  │      before the POST)         │   │                           (done stays done)
      │  │          mark_not_created     │   │ mark_uncertain, or on_resume
      │  │    (certainly no run: 4xx,    ▼   ▼ (found `creating`: the POST may have left)
      │  │     never sent)      not_created   uncertain
      │  │                            │         │
      │  └── mark_creating (a plain ──┘         │  never re-sent automatically
      │      resume: no run exists)             │
      ├──────────── retry_uncertain ────────────┘  (--retry-uncertain: may duplicate)
      └──────────── retry_failed ◀── done whose run ended `failed` (--retry-failed)

`mark_creating` is also the claim: it succeeds for one caller only, even when
several processes share the file, so no row is ever sent twice by accident.
Every other transition names the state it leaves and raises StateConflictError
(a bug, exit 1) from any other.

Binding the input (`bind`): the state records FILE's path, its sha256, the format,
the shard and the prompt template. A different shard or prompt template is
refused (BatchStateError, exit 2): the rows would not be the same rows, or
finished rows would keep prompts the rest of the batch no longer has. A
changed FILE is accepted: new rows start `pending`, rows gone from FILE stay in
the state (`in_input = 0`; their runs are not touched and they are left out of
the work, the counts and the results), rows back in FILE are restored, and a
row whose content changed after its run was made is reported `changed` (its
run is kept; `--retry-failed` re-creates it from the new content if it failed).
The last diff is kept in the state for `batch status`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from spine_cli.errors import ExitCode, SpineError, UsageError
from spine_cli.local.batch_db import BatchStateError, Database, RunnerLock
from spine_cli.local.batch_rows import (BatchMeta, InputDiff, RowState, assignments, diff_rows,
                                        move_all, plan)

STATES = ("pending", "creating", "created", "uncertain", "not_created", "done")
CLAIMABLE = ("pending", "not_created")
STATE_SUFFIX = ".spine-batch.sqlite"
RESUME_NOTE = ("spine stopped after marking this row `creating` and before recording the "
               "answer to its create request: the run may or may not exist")

__all__ = ["BatchMeta", "BatchState", "BatchStateError", "InputDiff", "RowState", "STATES",
           "StateConflictError", "state_path"]


class StateConflictError(SpineError):
    """A transition from a state the row is not in: a bug in the caller."""

    exit_code = ExitCode.INTERNAL


def state_path(file: str, state: str | None, shard: tuple[int, int] | None = None) -> Path:
    """Where the batch's state lives: --state, or beside FILE."""
    if state is not None:
        return Path(state).expanduser()
    if file == "-":
        raise UsageError("A batch read from stdin needs --state PATH to keep its state.",
                         hint="Give the same --state again to resume it.")
    tag = f".shard-{shard[0]}-of-{shard[1]}" if shard else ""
    path = Path(file).expanduser()
    return path.with_name(path.name + tag + STATE_SUFFIX)


class BatchState:
    """One batch's state file; see the module doc for the states and rules."""

    def __init__(self, path: Path, *, create: bool = True,
                 now: Callable[[], float] = time.time) -> None:
        self.path = path
        self._now = now
        self._db = Database(path, create=create)
        self._lock = RunnerLock(path)

    def close(self) -> None:
        self._lock.release()
        self._db.close()

    def __enter__(self) -> "BatchState":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lock(self) -> None:
        """Take the runner lock; BatchStateError when another process holds it."""
        self._lock.acquire()

    def _stamp(self) -> str:
        moment = datetime.fromtimestamp(self._now(), timezone.utc)
        return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")

    # --- the input ---------------------------------------------------------------

    def meta(self) -> BatchMeta | None:
        found = self._db.read("SELECT value FROM meta WHERE name = 'batch'")
        return BatchMeta.from_json(json.loads(found[0]["value"])) if found else None

    def last_diff(self) -> InputDiff | None:
        found = self._db.read("SELECT value FROM meta WHERE name = 'last_diff'")
        return InputDiff(**json.loads(found[0]["value"])) if found else None

    def compare(self, meta: BatchMeta, rows: Iterable[tuple[str, int, str]]) -> InputDiff:
        """The diff `bind` would make (rows: key, line, digest), without writing."""
        stored = self.meta()
        known = {r["key"]: r for r in self._db.read(
            "SELECT key, in_input, digest, run_digest FROM rows")}
        return diff_rows(self.path, stored, meta, known, list(rows))

    def bind(self, meta: BatchMeta, rows: Iterable[tuple[str, int, str]]) -> InputDiff:
        """Record FILE's rows (key, line, digest) in the state; see the module doc."""
        rows = list(rows)
        now = self._stamp()
        with self._db.write() as conn:
            found = conn.execute("SELECT value FROM meta WHERE name = 'batch'").fetchone()
            stored = BatchMeta.from_json(json.loads(found["value"])) if found else None
            known = {r["key"]: r for r in conn.execute(
                "SELECT key, in_input, digest, run_digest FROM rows")}
            diff = diff_rows(self.path, stored, meta, known, rows)
            conn.executemany(
                "INSERT INTO rows (key, line, digest, added_at, updated_at) VALUES (?,?,?,?,?)"
                " ON CONFLICT(key) DO UPDATE SET line = excluded.line, digest = excluded.digest,"
                " in_input = 1", [(k, line, d, now, now) for k, line, d in rows])
            conn.executemany("UPDATE rows SET in_input = 0 WHERE key = ?",
                             [(k,) for k in diff.removed])
            conn.executemany("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)",
                             [("batch", json.dumps(asdict(meta))),
                              ("last_diff", json.dumps(asdict(diff)))])
        return diff

    # --- transitions ---------------------------------------------------------------

    def on_resume(self) -> list[str]:
        """Turn every `creating` row `uncertain` (needs the runner lock); their keys."""
        if not self._lock.held:
            raise StateConflictError("on_resume needs the runner lock: another process "
                                     "may be between marking a row and sending it.")
        return self._move_all("creating", "uncertain", only_input=False, note=RESUME_NOTE,
                              error={"stage": "create", "message": RESUME_NOTE,
                                     "exit_code": int(ExitCode.UNAVAILABLE)})

    def mark_creating(self, key: str) -> bool:
        """Claim a row before its POST; False when it is not claimable (or claimed)."""
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE rows SET state = 'creating', attempts = attempts + 1, run_digest = digest,"
                " note = NULL, updated_at = ? WHERE key = ? AND in_input = 1 AND state IN"
                f" ({_marks(CLAIMABLE)})", (self._stamp(), key, *CLAIMABLE))
            return cursor.rowcount == 1

    def mark_created(self, key: str, run_id: str, *, canvas_id: str | None = None,
                     status: str = "running") -> None:
        now = self._stamp()
        self._move(key, ("creating",), state="created", run_id=run_id, canvas_id=canvas_id,
                   status=status, created_at=now, exit_code=None)

    def mark_uncertain(self, key: str, why: str) -> None:
        self._move(key, ("creating",), state="uncertain", note=why,
                   _error={"stage": "create", "message": why,
                           "exit_code": int(ExitCode.UNAVAILABLE)})

    def mark_not_created(self, key: str, message: str, exit_code: int) -> None:
        """The create certainly made no run (a 4xx, or the request never left)."""
        self._move(key, ("creating",), state="not_created", exit_code=exit_code, run_digest=None,
                   _error={"stage": "create", "message": message, "exit_code": exit_code})

    def observe(self, key: str, status: str, canvas_id: str | None = None) -> None:
        """The run's latest status while it is waited on."""
        self._move(key, ("created",), status=status, _canvas=canvas_id)

    def mark_finished(self, key: str, status: str | None, exit_code: int, *,
                      canvas_id: str | None = None, errors: Iterable[dict[str, Any]] = ()) -> None:
        """The run reached a terminal status (or cannot be waited on: e.g. 404)."""
        self._move(key, ("created",), state="done", status=status, exit_code=exit_code,
                   finished_at=self._stamp(), _canvas=canvas_id,
                   _errors=[{"stage": "run", **e} for e in errors])

    def record_download(self, key: str, directory: str, ok: bool, error: str | None = None) -> None:
        fields: dict[str, Any] = {"download_dir": directory, "download_ok": int(ok)}
        if error:
            fields["_error"] = {"stage": "download", "message": error,
                                "exit_code": int(ExitCode.DOWNLOAD)}
        self._move(key, ("done",), **fields)

    def retry_uncertain(self) -> list[str]:
        """`uncertain` rows back to `pending` (the caller warns: this may duplicate)."""
        return self._move_all("uncertain", "pending", note=None, reset=True)

    def retry_failed(self) -> list[str]:
        """Rows whose run ended `failed` back to `pending`; the old run id is kept."""
        return self._move_all("done", "pending", reset=True, status="failed")

    # --- reading -------------------------------------------------------------------

    def rows(self, *, include_removed: bool = False) -> list[RowState]:
        where = "" if include_removed else " WHERE in_input = 1"
        return [RowState.from_db(r) for r in self._db.read(
            f"SELECT * FROM rows{where} ORDER BY in_input DESC, line, key")]

    def row(self, key: str) -> RowState | None:
        found = self._db.read("SELECT * FROM rows WHERE key = ?", (key,))
        return RowState.from_db(found[0]) if found else None

    def summary(self) -> dict[str, int]:
        """Rows of the current input per state (every state, zeros included)."""
        counts = dict.fromkeys(STATES, 0)
        for r in self._db.read("SELECT state, count(*) AS n FROM rows WHERE in_input = 1"
                               " GROUP BY state"):
            counts[r["state"]] = r["n"]
        return counts

    def plan(self, keys: Iterable[str], *, download: bool = False) -> dict[str, list[str]]:
        """What a resume would do with each key of FILE, without writing."""
        return plan({r.key: r for r in self.rows(include_removed=True)}, keys, download=download)

    # --- helpers ---------------------------------------------------------------------

    def _move(self, key: str, allowed: tuple[str, ...], **fields: Any) -> None:
        with self._db.write() as conn:
            row = conn.execute("SELECT state, errors FROM rows WHERE key = ?", (key,)).fetchone()
            if row is None:
                raise StateConflictError(f"No row {key!r} in the batch state {self.path}.")
            if row["state"] not in allowed:
                raise StateConflictError(f"Row {key!r} is {row['state']}, not "
                                         f"{' or '.join(allowed)}, in {self.path}.")
            sql, params = assignments(fields, row["errors"], self._stamp())
            conn.execute(f"UPDATE rows SET {sql} WHERE key = ?", (*params, key))

    def _move_all(self, source: str, target: str, *, reset: bool = False,
                  status: str | None = None, **fields: Any) -> list[str]:
        with self._db.write() as conn:
            return move_all(conn, source, target, self._stamp(), reset=reset, status=status,
                            **fields)


def _marks(values: tuple[str, ...]) -> str:
    return ",".join("?" * len(values))
