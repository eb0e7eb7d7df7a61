"""Local run history (SQLite under the data dir).

`History(path, warn)` is made once per invocation (`context.Invocation.history`):

    record(settings, RecordedRun)        # a run this machine created (or tried to)
    observe(settings, run)               # update from any GET /v1/run answer
    estimates(run_ids) -> {id: seconds}  # what the API estimated at creation
    priors(run_ids) -> {id: (seconds, spread)}  # else: the durations of like runs
    recent(settings, limit=, status=, all_profiles=) -> [Row]
    forget(settings, row) -> bool        # drop a row (an unconfirmed create, once checked)
    lookup(...)                          # used by local.run_refs to resolve RUN arguments

History is a convenience: when the database is unusable, the first method
to find out warns (through `warn`) and every later one returns at once
without it, so a history locked for minutes or on a full disk costs one busy
timeout, not one per poll; the warning says what to do for the cause at hand
(a lock held by another process, a full disk, a damaged file). Many `spine` processes write at once (parallel CI jobs), so the
database runs in WAL mode with a generous busy timeout, and every write is
one short `BEGIN IMMEDIATE` transaction (taking the write lock up front, so a
writer never has to upgrade a read snapshot, which SQLite refuses with
SQLITE_BUSY without waiting). `run_id` is NULL for an unconfirmed create
whose id the server never returned; such a row is named `#<row id>`.

Each row keeps the full create spec (`spec`, JSON: prompt, template, blocks,
instructions, webhook_url, and each file's path, name, content type, size and
sha256) so `spine run rerun` can send it again; `origin` marks runs created
under `spine emulator exec`.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, TypeVar

from spine_cli.local.schema import BUSY_TIMEOUT_S, prepare

from spine_cli.api.models import RunStatus

if TYPE_CHECKING:
    from spine_cli.api.models import Run
    from spine_cli.local.settings import Settings

PROMPT_EXCERPT = 200
PRIOR_MIN_RUNS = 3  # completed runs a template needs before its median is trusted
# The status word of a create whose outcome is unknown (its row has no run id).
UNCONFIRMED = "unconfirmed"
T = TypeVar("T")
Row = dict[str, Any]


@dataclass
class RecordedRun:
    """What the history keeps of a create."""

    run_id: str | None
    status: str = RunStatus.RUNNING.value
    canvas_id: str | None = None
    prompt: str = ""
    template: str | None = None
    blocks: list[str] | None = None
    files: list[str] = field(default_factory=list)   # names, for the list view
    spec: dict[str, Any] | None = None                # the full create spec
    unconfirmed: bool = False
    estimated_ms: int | None = None
    origin: str | None = None
    note: str | None = None                           # why a create is unconfirmed


def history_path() -> Path:
    from spine_cli.local.settings import data_dir

    return data_dir() / "history.sqlite3"


def now_text() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def advice(why: str) -> str:
    """What to do about an unusable history, by cause."""
    text = why.lower()
    if "locked" in text or "busy" in text:
        return ("Another spine process holds it locked; it will be usable again when that one "
                "finishes.")
    if "disk" in text and "full" in text or "no space" in text:
        return "The disk is full; free some space."
    if "readonly" in text or "read-only" in text or "permission" in text:
        return "Check the permissions of the file and its directory."
    return "If the file is damaged, move it away to start a new history."


class History:
    def __init__(self, path: Path, warn: Callable[[str], None],
                 busy_timeout: float = BUSY_TIMEOUT_S) -> None:
        self.path = path
        self._warn_sink = warn
        self._warned = False
        self.busy_timeout = busy_timeout
        # One connection for the invocation, opened on first use and shared by its threads
        # (a batch records from its workers) one call at a time. Opening one per call cost
        # a WAL checkpoint, fsyncs and the WAL file's removal at every close.
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    # -- plumbing ----------------------------------------------------------------
    def _warn(self, why: str) -> None:
        if self._warned:
            return
        self._warned = True
        self._warn_sink(f"the run history {self.path} is unusable ({why}); carrying on "
                        f"without it. {advice(why)}")

    def connect(self) -> sqlite3.Connection:
        from spine_cli.local.config_file import ensure_private_dir

        ensure_private_dir(self.path.parent)
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                               check_same_thread=False)
        try:
            prepare(conn, self.busy_timeout)
        except BaseException:
            conn.close()
            raise
        return conn

    def run(self, fn: Callable[[sqlite3.Connection], T], default: T) -> T:
        """fn(conn); on any database or file error warn once and return default (then and
        for the rest of the invocation)."""
        with self._lock:
            if self._warned:
                return default
            if self._conn is None:
                try:
                    self._conn = self.connect()
                except (OSError, sqlite3.Error) as exc:
                    self._warn(str(getattr(exc, "strerror", None) or exc))
                    return default
            try:
                return fn(self._conn)
            except (sqlite3.Error, OSError) as exc:
                self._warn(str(exc))
                self._close()
                return default

    def _close(self) -> None:
        """Drop the connection (after an error; the process's end closes it otherwise)."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    @staticmethod
    def write(conn: sqlite3.Connection, sql: str, params: Iterable[Any]) -> int:
        return History.execute(conn, sql, params).rowcount

    @staticmethod
    def execute(conn: sqlite3.Connection, sql: str, params: Iterable[Any]) -> sqlite3.Cursor:
        """One statement in its own write transaction."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            cursor = conn.execute(sql, tuple(params))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return cursor

    # -- writes --------------------------------------------------------------------
    def record(self, settings: "Settings", rec: RecordedRun) -> int | None:
        """Record a run this machine created (run_id None: an unconfirmed create); return
        the row number (`#N` names an unconfirmed row), None when the history is unusable."""
        from spine_cli.local.settings import canonical_base_url

        now = now_text()
        row = (rec.run_id.lower() if rec.run_id else None, rec.canvas_id, settings.profile,
               canonical_base_url(settings.base_url), (rec.prompt or "")[:PROMPT_EXCERPT],
               rec.template, json.dumps(rec.blocks) if rec.blocks is not None else None,
               json.dumps([Path(str(f)).name for f in rec.files]), rec.status,
               int(rec.unconfirmed), rec.estimated_ms,
               json.dumps(rec.spec, ensure_ascii=False) if rec.spec is not None else None,
               rec.origin, rec.note, now, now)
        # A run recorded twice (a retried record after a crash) keeps its first creation time.
        sql = ("INSERT INTO runs (run_id, canvas_id, profile, base_url, prompt, template, blocks,"
               " files, status, unconfirmed, estimated_duration_ms, spec, origin, note,"
               " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
               " ON CONFLICT(run_id) DO UPDATE SET status = excluded.status,"
               " canvas_id = COALESCE(excluded.canvas_id, canvas_id),"
               " unconfirmed = excluded.unconfirmed, updated_at = excluded.updated_at")
        return self.run(lambda conn: self.execute(conn, sql, row).lastrowid, None)

    def observe(self, settings: "Settings", run: "Run") -> None:
        """Update the recorded status/canvas of a run from a GET /v1/run answer (a `Run`)."""
        run_id, status, canvas = run.run_id, run.status_text, run.canvas_id
        if not run_id or not status:
            return
        used = getattr(getattr(run, "metadata", None), "template_used", None)
        used = used if isinstance(used, str) and used else None
        sql = ("UPDATE runs SET status = ?, canvas_id = COALESCE(?, canvas_id), unconfirmed = 0,"
               " duration_ms = COALESCE(?, duration_ms), template_used = COALESCE(?,"
               " template_used), updated_at = ? WHERE run_id = ? AND (status != ? OR canvas_id"
               " IS NOT ? OR unconfirmed != 0 OR (? IS NOT NULL AND template_used IS NOT ?))")
        params = (status, canvas, run.duration_ms, used, now_text(), str(run_id).lower(), status,
                  canvas, used, used)
        self.run(lambda conn: self.write(conn, sql, params), None)

    def forget(self, row_key: int | str) -> bool:
        """Drop one row, by run id or by row number (an unconfirmed create)."""
        column = "id" if isinstance(row_key, int) else "run_id"
        return self.run(lambda conn: self.write(
            conn, f"DELETE FROM runs WHERE {column} = ?", (row_key,)) > 0, False)

    # -- reads -----------------------------------------------------------------------
    def estimates(self, run_ids: Iterable[str]) -> dict[str, float]:
        """Seconds the API estimated at creation, for the runs this machine created."""
        ids = [r.lower() for r in run_ids]
        if not ids:
            return {}

        def read(conn: sqlite3.Connection) -> dict[str, float]:
            marks = ",".join("?" * len(ids))
            rows = conn.execute("SELECT run_id, estimated_duration_ms FROM runs WHERE"
                                " estimated_duration_ms IS NOT NULL AND run_id IN"
                                f" ({marks})", ids)
            return {row[0]: row[1] / 1000.0 for row in rows}

        return self.run(read, {})

    def recent(self, settings: "Settings | None", *, limit: int | None = 20,
               status: str | None = None, all_profiles: bool = False,
               with_ids: bool = False) -> list[Row]:
        """Recent runs, newest first, for the current profile and base URL.

        `with_ids` leaves out unconfirmed creates that have no run id (for `-q`), so
        `limit` counts only the rows printed.
        """
        where, params = self.scope(settings, all_profiles)
        if with_ids:
            where += " AND run_id IS NOT NULL"
        if status == UNCONFIRMED:
            where += " AND unconfirmed = 1"
        elif status:
            where += " AND status = ? AND unconfirmed = 0"
            params.append(status)
        sql = f"SELECT * FROM runs WHERE {where} ORDER BY created_at DESC, id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        rows: list[sqlite3.Row] = self.run(lambda conn: conn.execute(sql, params).fetchall(), [])
        return [_row_dict(r) for r in rows]

    def counts_elsewhere(self, settings: "Settings") -> dict[tuple[str, str, str | None], int]:
        """Runs of other profiles / base URLs: (profile, base_url, origin) → count, newest first."""
        where, params = self.scope(settings, False)
        sql = (f"SELECT profile, base_url, origin, COUNT(*) FROM runs WHERE NOT ({where})"
               " GROUP BY profile, base_url, origin ORDER BY MAX(created_at) DESC")
        rows: list[sqlite3.Row] = self.run(lambda conn: conn.execute(sql, params).fetchall(), [])
        return {(r[0], r[1], r[2]): r[3] for r in rows}

    def newest_elsewhere(self, settings: "Settings") -> Row | None:
        """The newest run with an id outside the current profile and base URL."""
        where, params = self.scope(settings, False)
        sql = (f"SELECT * FROM runs WHERE NOT ({where}) AND run_id IS NOT NULL"
               " ORDER BY created_at DESC, id DESC LIMIT 1")
        rows: list[sqlite3.Row] = self.run(lambda conn: conn.execute(sql, params).fetchall(), [])
        return _row_dict(rows[0]) if rows else None

    def row(self, row_id: int) -> Row | None:
        rows: list[sqlite3.Row] = self.run(
            lambda conn: conn.execute("SELECT * FROM runs WHERE id = ?", (row_id,)).fetchall(), [])
        return _row_dict(rows[0]) if rows else None

    def lookup(self, settings: "Settings", condition: str, params: list[Any],
               page: str) -> list[Row] | None:
        """Rows of the current scope, newest first; None when the history is unusable."""
        where, scope = self.scope(settings, False)
        sql = (f"SELECT * FROM runs WHERE {where} AND {condition}"
               f" ORDER BY created_at DESC, id DESC {page}")
        rows = self.run(lambda conn: conn.execute(sql, [*scope, *params]).fetchall(), None)
        return None if rows is None else [_row_dict(r) for r in rows]

    @staticmethod
    def scope(settings: "Settings | None", all_profiles: bool) -> tuple[str, list[Any]]:
        if all_profiles or settings is None:
            return "1=1", []
        from spine_cli.local.settings import canonical_base_url

        return ("profile = ? AND base_url = ?",
                [settings.profile, canonical_base_url(settings.base_url)])

    def priors(self, run_ids: Iterable[str],
               min_runs: int = PRIOR_MIN_RUNS) -> dict[str, tuple[float, float]]:
        """A schedule prior for runs without an estimate (`prior_of`): the durations of the
        completed runs of the run's template (of all templates when the history does not
        know the run), from at least `min_runs` of them."""
        ids = [r.lower() for r in run_ids]
        if not ids:
            return {}

        def read(conn: sqlite3.Connection) -> dict[str, tuple[float, float]]:
            groups = _durations(conn)
            everything = [ms for values in groups.values() for ms in values]
            marks = ",".join("?" * len(ids))
            known = dict(conn.execute(f"SELECT run_id, template FROM runs WHERE run_id IN"
                                      f" ({marks})", ids).fetchall())
            out = {}
            for rid in ids:
                sample = groups.get(known[rid], []) if rid in known else everything
                if len(sample) >= min_runs:
                    out[rid] = prior_of(sample)
            return out

        return self.run(read, {})


def _durations(conn: sqlite3.Connection) -> dict[str | None, list[int]]:
    rows = conn.execute("SELECT template, duration_ms FROM runs WHERE status = ?"
                        " AND duration_ms IS NOT NULL", (RunStatus.COMPLETED.value,)).fetchall()
    groups: dict[str | None, list[int]] = {}
    for template, ms in rows:
        groups.setdefault(template, []).append(ms)
    return groups


def prior_of(durations_ms: list[int]) -> tuple[float, float]:
    """The median of the durations in seconds, and their spread: the standard deviation
    of their logarithms (0 for fewer than two)."""
    logs = [math.log(ms) for ms in durations_ms if ms > 0]
    if len(logs) < 2:
        return _median(durations_ms), 0.0
    mean = sum(logs) / len(logs)
    return _median(durations_ms), math.sqrt(sum((x - mean) ** 2 for x in logs) / (len(logs) - 1))


def _median(values: list[int]) -> float:
    return sorted(values)[len(values) // 2] / 1000.0


def _row_dict(row: sqlite3.Row) -> Row:
    out = dict(row)
    out["blocks"] = json.loads(out["blocks"]) if out.get("blocks") else None
    out["files"] = json.loads(out.get("files") or "[]")
    out["spec"] = json.loads(out["spec"]) if out.get("spec") else None
    out["unconfirmed"] = bool(out["unconfirmed"])
    return out
