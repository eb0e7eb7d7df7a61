"""The SQLite file under a batch's state: opening, schema, transactions, runner lock.

Conventions of local/history.py: WAL mode, a generous busy timeout, and every
write one short `BEGIN IMMEDIATE` transaction (the write lock taken up front,
so a writer never has to upgrade a read snapshot, which SQLite refuses with
SQLITE_BUSY without waiting). Unlike the history, the state is not a
convenience: a state file that cannot be used is an error (BatchStateError,
exit 2), never skipped, because running a batch without it could create runs
twice.

Durability: a committed transaction is in the WAL before COMMIT returns, so a
SIGKILL of the process never loses it (the OS holds the written pages).
`synchronous = FULL` also fsyncs the WAL at each commit, so a machine crash or
power loss does not lose it either: a row must never forget it was `creating`
when its POST may have left.

The runner lock (`RunnerLock`) is an advisory `flock` on a hidden file beside
the state (`.NAME.lock`, like config.toml's), held by the one process that runs
the batch; the kernel drops it when that process dies, even by SIGKILL, so
there is no stale lock to clean up. Without `fcntl` (Windows) there is no
runner lock; the per-row claim in `mark_creating` still never sends a row twice.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterator

from spine_cli.errors import UsageError
from spine_cli.local import wal

BUSY_TIMEOUT_S = 30.0
SCHEMA_VERSION = 1
APPLICATION_ID = 0x5350424E  # "SPBN": marks the file as a spine batch state

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value TEXT
);
CREATE TABLE IF NOT EXISTS rows (
    key           TEXT PRIMARY KEY,
    line          INTEGER NOT NULL,
    digest        TEXT NOT NULL,
    run_digest    TEXT,
    in_input      INTEGER NOT NULL DEFAULT 1,
    state         TEXT NOT NULL DEFAULT 'pending',
    run_id        TEXT,
    canvas_id     TEXT,
    status        TEXT,
    exit_code     INTEGER,
    download_dir  TEXT,
    download_ok   INTEGER,
    errors        TEXT NOT NULL DEFAULT '[]',
    note          TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    previous_runs TEXT NOT NULL DEFAULT '[]',
    added_at      TEXT NOT NULL,
    created_at    TEXT,
    finished_at   TEXT,
    updated_at    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rows_state ON rows (state, in_input)
"""


class BatchStateError(UsageError):
    """The state file cannot be used, or does not belong to this batch."""


def connect(path: Path, *, create: bool) -> sqlite3.Connection:
    """An open connection to a prepared state file; BatchStateError otherwise."""
    if not create and not path.exists():
        raise BatchStateError(f"No batch state at {path}: this batch has not run yet.",
                              hint="Start it with `spine batch run FILE`.")
    try:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                               check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise BatchStateError(f"Cannot open the batch state {path}: "
                              f"{getattr(exc, 'strerror', None) or exc}.") from None
    try:
        _prepare(conn, path)
    except sqlite3.Error as exc:
        conn.close()
        raise unusable(path, exc) from None
    except BaseException:
        conn.close()
        raise
    return conn


def unusable(path: Path, exc: BaseException) -> BatchStateError:
    return BatchStateError(f"The batch state {path} is unusable: {exc}.",
                           hint="Move it away only if no run of this batch was created: "
                                "a new state forgets which rows already have runs.")


def _prepare(conn: sqlite3.Connection, path: Path) -> None:
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    conn.execute("PRAGMA synchronous = FULL")
    # One snapshot: another process may be writing the schema of a new file meanwhile
    # (its tables seen, but not yet its application id, would make it a stranger's).
    conn.execute("BEGIN")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    finally:
        conn.execute("COMMIT")
    if (app_id != APPLICATION_ID and tables) or (app_id not in (0, APPLICATION_ID)):
        raise BatchStateError(f"{path} is not a spine batch state file.",
                              hint="Give another --state path.")
    if version > SCHEMA_VERSION:
        raise BatchStateError(f"The batch state {path} was written by a newer spine.",
                              hint="Upgrade spine-cli to resume this batch.")
    if version == SCHEMA_VERSION:
        return
    wal.set_up(conn, _write_schema, BUSY_TIMEOUT_S)


def _write_schema(conn: sqlite3.Connection) -> None:
    for statement in filter(str.strip, _SCHEMA.split(";")):
        conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


class Database:
    """One connection, shared by the threads of one process, one transaction at a time."""

    def __init__(self, path: Path, *, create: bool) -> None:
        self.path = path
        self.conn = connect(path, create=create)
        self._mutex = threading.Lock()

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One `BEGIN IMMEDIATE` transaction, committed on exit, rolled back on error."""
        with self._mutex:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self.conn
                    self.conn.execute("COMMIT")
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise unusable(self.path, exc) from None

    def read(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._mutex:
            try:
                return self.conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise unusable(self.path, exc) from None

    def close(self) -> None:
        with self._mutex:
            self.conn.close()


class RunnerLock:
    """The exclusive right to run a batch from this state file (see the module doc)."""

    def __init__(self, path: Path) -> None:
        self.state = path
        self.path = path.with_name(f".{path.name}.lock")
        self._fd: int | None = None
        self._held = False

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: the row claims still hold
            self._held = True
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise BatchStateError(
                f"Another `spine batch run` (pid {holder}) is using {self.state}.",
                hint="Wait for it to end, or give this one its own --state.") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        self._fd, self._held = fd, True

    @property
    def held(self) -> bool:
        return self._held

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
        self._fd, self._held = None, False
