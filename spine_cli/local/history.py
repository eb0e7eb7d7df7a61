"""Local run history (SQLite under the data dir).

INTERFACE (the run commands call these):

    record_run(settings, run_id, *, canvas_id=None, prompt="", template=None, blocks=None,
               files=(), status="running", unconfirmed=False, estimated_ms=None) -> None
    record_unconfirmed(settings, *, prompt="", template=None, blocks=None, files=()) -> None
    observe_run(settings, run: dict) -> None      # update from any GET /v1/run data
    estimates(run_ids) -> dict[str, float]        # seconds the API estimated at creation
    resolve_run_ref(ref: str, settings) -> str    # full id, unique prefix, @last, @last~N
    list_runs(settings, *, limit=20, status=None, all_profiles=False) -> list[dict]

History is a convenience: every function here warns once on stderr and carries
on when the database is unreadable; none raises except resolve_run_ref, which
raises UsageError for a bad, unknown or ambiguous reference.

Many `spine` processes write at once (parallel CI jobs), so the database runs
in WAL mode with a generous busy timeout, and every write is one short
`BEGIN IMMEDIATE` transaction (taking the write lock up front, so a writer
never has to upgrade a read snapshot, which SQLite refuses with SQLITE_BUSY
without waiting). `run_id` is NULL for an unconfirmed create whose id the
server never returned.
"""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from spine_cli.errors import UsageError

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_PREFIX_RE = re.compile(r"^[0-9a-fA-F][0-9a-fA-F-]{0,35}$")
_LAST_RE = re.compile(r"^@last(?:~(\d+))?$")
PROMPT_EXCERPT = 200
BUSY_TIMEOUT_S = 30.0
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      TEXT UNIQUE,
    canvas_id   TEXT,
    profile     TEXT NOT NULL,
    base_url    TEXT NOT NULL,
    prompt      TEXT NOT NULL DEFAULT '',
    template    TEXT,
    blocks      TEXT,
    files       TEXT NOT NULL DEFAULT '[]',
    status      TEXT NOT NULL,
    unconfirmed INTEGER NOT NULL DEFAULT 0,
    estimated_duration_ms INTEGER,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_scope ON runs (profile, base_url, created_at);
"""

# Databases already reported unreadable in this process: one warning is enough.
_warned: set[str] = set()


class HistoryUnavailable(Exception):
    """The history database cannot be used; the message says why."""


def history_path() -> Path:
    from spine_cli.local.settings import data_dir

    return data_dir() / "history.sqlite3"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _warn(path: Path, why: str) -> None:
    if str(path) in _warned:
        return
    _warned.add(str(path))
    sys.stderr.write(
        f"Warning: the run history {path} is unusable ({why}); carrying on without it.\n"
        f"Move the file away to start a new history.\n"
    )


def _connect() -> Any:
    """An open connection with the schema in place, or HistoryUnavailable."""
    import sqlite3

    path = history_path()
    try:
        from spine_cli.local.config_file import ensure_private_dir

        ensure_private_dir(path.parent)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise HistoryUnavailable(str(getattr(exc, "strerror", None) or exc)) from None
    try:
        _prepare(conn)
    except sqlite3.Error as exc:
        conn.close()
        raise HistoryUnavailable(str(exc)) from None
    return conn


def _prepare(conn: Any) -> None:
    import sqlite3

    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
        return
    # First use: switching to WAL needs a moment alone with the file, and the
    # busy handler is not always consulted for it, so retry briefly.
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("BEGIN IMMEDIATE")
            for statement in filter(str.strip, _SCHEMA.split(";")):
                conn.execute(statement)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
            if "estimated_duration_ms" not in columns:  # a version-1 history
                conn.execute("ALTER TABLE runs ADD COLUMN estimated_duration_ms INTEGER")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
            return
        except sqlite3.OperationalError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _with_db(fn: Any, default: Any = None) -> Any:
    """Run fn(conn); on any database or file error warn once and return default."""
    import sqlite3

    try:
        conn = _connect()
    except HistoryUnavailable as exc:
        _warn(history_path(), str(exc))
        return default
    try:
        return fn(conn)
    except (sqlite3.Error, OSError) as exc:
        _warn(history_path(), str(exc))
        return default
    finally:
        conn.close()


def _write(conn: Any, sql: str, params: Iterable[Any]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(sql, tuple(params))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def record_run(settings: Any, run_id: str | None, *, canvas_id: str | None = None,
               prompt: str = "", template: str | None = None, blocks: list[str] | None = None,
               files: Iterable[str] = (), status: str = "running",
               unconfirmed: bool = False, estimated_ms: int | None = None) -> None:
    """Record a run this machine created (run_id None: an unconfirmed create)."""
    from spine_cli.local.settings import canonical_base_url

    now = _now()
    names = [Path(str(f)).name for f in files]
    row = (run_id.lower() if run_id else None, canvas_id, settings.profile,
           canonical_base_url(settings.base_url), (prompt or "")[:PROMPT_EXCERPT], template,
           json.dumps(blocks) if blocks is not None else None, json.dumps(names), status,
           int(bool(unconfirmed)), estimated_ms, now, now)
    # A run recorded twice (a retried record after a crash) keeps its first creation time.
    sql = ("INSERT INTO runs (run_id, canvas_id, profile, base_url, prompt, template, blocks,"
           " files, status, unconfirmed, estimated_duration_ms, created_at, updated_at)"
           " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
           " ON CONFLICT(run_id) DO UPDATE SET status = excluded.status,"
           " canvas_id = COALESCE(excluded.canvas_id, canvas_id),"
           " unconfirmed = excluded.unconfirmed, updated_at = excluded.updated_at")
    _with_db(lambda conn: _write(conn, sql, row))


def record_unconfirmed(settings: Any, *, prompt: str = "", template: str | None = None,
                       blocks: list[str] | None = None, files: Iterable[str] = ()) -> None:
    """Record a create whose outcome is unknown (the server may or may not have a run)."""
    record_run(settings, None, prompt=prompt, template=template, blocks=blocks, files=files,
               unconfirmed=True)


def observe_run(settings: Any, run: dict[str, Any]) -> None:
    """Update the recorded status/canvas of a run from a GET /v1/run answer."""
    if not isinstance(run, dict) or not run.get("run_id") or not isinstance(run.get("status"), str):
        return
    run_id, status = run["run_id"], run["status"]
    sql = ("UPDATE runs SET status = ?, canvas_id = COALESCE(?, canvas_id), unconfirmed = 0,"
           " updated_at = ? WHERE run_id = ? AND (status != ? OR canvas_id IS NOT ?"
           " OR unconfirmed != 0)")
    canvas = run.get("canvas_id")
    params = (status, canvas, _now(), str(run_id).lower(), status, canvas)
    _with_db(lambda conn: _write(conn, sql, params))


def estimates(run_ids: Iterable[str]) -> dict[str, float]:
    """Seconds the API estimated at creation, for the runs this machine created."""
    ids = [r.lower() for r in run_ids]

    def read(conn: Any) -> dict[str, float]:
        marks = ",".join("?" * len(ids))
        rows = conn.execute("SELECT run_id, estimated_duration_ms FROM runs WHERE"
                            " estimated_duration_ms IS NOT"
                            f" NULL AND run_id IN ({marks})", ids)
        return {row[0]: row[1] / 1000.0 for row in rows}

    return _with_db(read, default={}) if ids else {}


def _row_dict(row: Any) -> dict[str, Any]:
    out = dict(row)
    out.pop("id", None)
    out["blocks"] = json.loads(out["blocks"]) if out["blocks"] else None
    out["files"] = json.loads(out["files"] or "[]")
    out["unconfirmed"] = bool(out["unconfirmed"])
    return out


def _scope(settings: Any, all_profiles: bool) -> tuple[str, list[Any]]:
    if all_profiles:
        return "1=1", []
    from spine_cli.local.settings import canonical_base_url

    return "profile = ? AND base_url = ?", [settings.profile, canonical_base_url(settings.base_url)]


def list_runs(settings: Any, *, limit: int | None = 20, status: str | None = None,
              all_profiles: bool = False) -> list[dict[str, Any]]:
    """Recent runs, newest first, for the current profile and base URL."""
    where, params = _scope(settings, all_profiles)
    if status == "unconfirmed":
        where += " AND unconfirmed = 1"
    elif status:
        where += " AND status = ? AND unconfirmed = 0"
        params.append(status)
    sql = f"SELECT * FROM runs WHERE {where} ORDER BY created_at DESC, id DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    rows = _with_db(lambda conn: conn.execute(sql, params).fetchall(), default=[])
    return [_row_dict(r) for r in rows]


def resolve_run_ref(ref: str, settings: Any) -> str:
    """Turn a RUN argument into a full run id."""
    ref = ref.strip()
    if UUID_RE.match(ref):
        return ref.lower()
    last = _LAST_RE.match(ref)
    if last:
        return _nth_last(settings, int(last.group(1) or 0), ref)
    if _PREFIX_RE.match(ref):
        return _by_prefix(settings, ref.lower())
    raise UsageError(
        f"Not a run reference: {ref!r}.",
        hint="Give a run id (550e8400-e29b-41d4-a716-446655440000), a unique prefix of "
        "one from `spine run list`, @last or @last~N.",
    )


def _lookup(settings: Any, what: str, condition: str, params: list[Any], page: str) -> list[Any]:
    """Rows of the current scope, newest first; UsageError when the history is unusable."""
    where, scope = _scope(settings, False)
    sql = (f"SELECT run_id, status, created_at FROM runs WHERE {where} AND {condition}"
           f" ORDER BY created_at DESC, id DESC {page}")
    rows = _with_db(lambda conn: conn.execute(sql, [*scope, *params]).fetchall())
    if rows is None:
        raise UsageError(f"Cannot resolve {what}: the run history is unusable.",
                         hint="Give the full run id.")
    return rows


def _where(settings: Any) -> str:
    from spine_cli.local.settings import canonical_base_url

    return f"profile '{settings.profile}' at {canonical_base_url(settings.base_url)}"


def _nth_last(settings: Any, n: int, ref: str) -> str:
    rows = _lookup(settings, ref, "run_id IS NOT NULL", [], f"LIMIT 1 OFFSET {n}")
    if not rows:
        count = "no runs" if n == 0 else f"fewer than {n + 1} runs"
        raise UsageError(f"Cannot resolve {ref}: the local history has {count} for "
                         f"{_where(settings)}.", hint="See `spine run list --all-profiles`.")
    return rows[0]["run_id"]


def _by_prefix(settings: Any, prefix: str) -> str:
    # LIKE treats _ and % as wildcards; the prefix regex admits neither.
    rows = _lookup(settings, f"the prefix {prefix!r}", "run_id LIKE ?", [prefix + "%"], "LIMIT 11")
    if not rows:
        raise UsageError(f"No run in the local history for {_where(settings)} starts with "
                         f"{prefix!r}.", hint="See `spine run list`, or give the full run id.")
    if len(rows) > 1:
        shown = [f"  {r['run_id']}  {r['status']:<9}  {r['created_at'][:19]}" for r in rows[:10]]
        more = "\n  …" if len(rows) > 10 else ""
        raise UsageError(f"The prefix {prefix!r} is ambiguous; it matches:\n"
                         + "\n".join(shown) + more,
                         hint="Give more characters of the run id.")
    return rows[0]["run_id"]
