"""Persistent emulator state: SQLite (WAL) plus uploaded files under the data dir.

Every write is committed at once, so a SIGKILL loses nothing that was
acknowledged. The clock is `time.time() + offset`; the offset is persisted,
so runs carry on across restarts (time the server was down counts as run time).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    canvas_id TEXT NOT NULL UNIQUE,
    prompt TEXT NOT NULL,
    template TEXT NOT NULL,
    blocks TEXT,
    agent_instructions TEXT,
    created_at REAL NOT NULL,
    duration_s REAL NOT NULL,
    outcome TEXT NOT NULL,
    tasks INTEGER,
    files TEXT NOT NULL,
    notified INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_pending ON runs (notified, created_at);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    run_id TEXT NOT NULL,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (state, id);
"""


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    tenant: str
    canvas_id: str
    prompt: str
    template: str
    blocks: list[str] | None
    agent_instructions: str | None
    created_at: float
    duration_s: float
    outcome: str
    tasks: int | None
    files: list[dict[str, Any]]

    @property
    def end_at(self) -> float:
        return self.created_at + self.duration_s


DB_NAME = "emulator.sqlite3"


def _make_private(data_dir: Path) -> None:
    """The data dir 0700 and the database 0600, even when they already existed.

    The database holds the emulator's key, the URL-signing key and the webhook secret.
    SQLite gives its -wal and -shm files the database file's mode, so the database is
    created 0600 before SQLite opens it; files left by an earlier run are fixed too.
    """
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(data_dir, 0o700)
    db = data_dir / DB_NAME
    os.close(os.open(db, os.O_WRONLY | os.O_CREAT, 0o600))
    for path in (db, *(db.with_name(db.name + s) for s in ("-wal", "-shm", "-journal"))):
        try:
            os.chmod(path, 0o600)
        except FileNotFoundError:
            pass


_RUN_COLUMNS = ("run_id, tenant, canvas_id, prompt, template, blocks, agent_instructions, "
                "created_at, duration_s, outcome, tasks, files")


def _row_to_run(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        run_id=row["run_id"], tenant=row["tenant"], canvas_id=row["canvas_id"],
        prompt=row["prompt"], template=row["template"],
        blocks=json.loads(row["blocks"]) if row["blocks"] is not None else None,
        agent_instructions=row["agent_instructions"], created_at=row["created_at"],
        duration_s=row["duration_s"], outcome=row["outcome"], tasks=row["tasks"],
        files=json.loads(row["files"]),
    )


class Store:
    """All persistent state. Used from the event loop thread only."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        _make_private(data_dir)
        self.uploads_dir = data_dir / "uploads"
        self.artifacts_dir = data_dir / "artifacts"
        self.uploads_dir.mkdir(exist_ok=True)
        self.artifacts_dir.mkdir(exist_ok=True)
        self.db = sqlite3.connect(str(data_dir / DB_NAME), isolation_level=None,
                                  check_same_thread=False, timeout=10)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        self._offset = float(self.meta("clock_offset", "0") or 0)
        self._sweep_uploads()

    def _sweep_uploads(self) -> None:
        """Remove uploads no run owns: bodies cut off when the server was killed mid-upload."""
        for entry in self.uploads_dir.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                if self.get_run(entry.name) is None:
                    shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    def close(self) -> None:
        self.db.close()

    # -- meta and clock -------------------------------------------------
    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def secret(self, key: str, prefix: str = "", nbytes: int = 24) -> str:
        """A random secret created once per data dir and kept across restarts."""
        value = self.meta(key)
        if value is None:
            value = prefix + secrets.token_hex(nbytes)
            self.set_meta(key, value)
        return value

    @property
    def offset(self) -> float:
        return self._offset

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds
        self.set_meta("clock_offset", repr(self._offset))

    # -- runs -------------------------------------------------------------
    def insert_run(self, run: RunRecord) -> None:
        self.db.execute(
            f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (run.run_id, run.tenant, run.canvas_id, run.prompt, run.template,
             json.dumps(run.blocks) if run.blocks is not None else None,
             run.agent_instructions, run.created_at, run.duration_s, run.outcome,
             run.tasks, json.dumps(run.files)),
        )

    def get_run(self, run_id: str) -> RunRecord | None:
        row = self.db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?",
                              (run_id,)).fetchone()
        return _row_to_run(row) if row else None

    def get_run_by_canvas(self, canvas_id: str) -> RunRecord | None:
        row = self.db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE canvas_id = ?",
                              (canvas_id,)).fetchone()
        return _row_to_run(row) if row else None

    def runs_to_notify(self, stage: int, before: float) -> list[RunRecord]:
        """Runs whose webhook stage (0 = started pending, 1 = end pending) is due."""
        if stage == 0:
            sql = f"SELECT {_RUN_COLUMNS} FROM runs WHERE notified = 0"
            args: tuple[Any, ...] = ()
        else:
            sql = (f"SELECT {_RUN_COLUMNS} FROM runs WHERE notified = 1 "
                   "AND created_at + duration_s <= ?")
            args = (before,)
        return [_row_to_run(r) for r in self.db.execute(sql, args).fetchall()]

    def set_notified(self, run_id: str, stage: int) -> None:
        self.db.execute("UPDATE runs SET notified = ? WHERE run_id = ?", (stage, run_id))

    # -- webhook deliveries ---------------------------------------------
    def add_delivery(self, event_id: str, event_type: str, run_id: str, url: str,
                     body: str, created: float) -> None:
        self.db.execute(
            "INSERT INTO deliveries (event_id, event_type, run_id, url, body, next_at, created)"
            " VALUES (?,?,?,?,?,?,?)", (event_id, event_type, run_id, url, body, 0.0, created))

    def pending_deliveries(self) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT * FROM deliveries WHERE state = 'pending' ORDER BY id").fetchall()

    def update_delivery(self, delivery_id: int, **fields: Any) -> None:
        cols = ", ".join(f"{name} = ?" for name in fields)
        self.db.execute(f"UPDATE deliveries SET {cols} WHERE id = ?",
                        (*fields.values(), delivery_id))

    def deliveries(self) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM deliveries ORDER BY id").fetchall()
        return [dict(r) for r in rows]
