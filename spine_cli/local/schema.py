"""The history database's schema and its in-place migrations.

Version 1 had no estimate; version 2 added `estimated_duration_ms`; version 3
adds the full create spec (`spec`), `duration_ms` (the schedule's prior for
runs without an estimate), `origin` and `note`; version 4 `template_used`
(the API's `metadata.template_used`, for `run list`). Older files are migrated
in place on first use, under the write lock.
"""

from __future__ import annotations

import sqlite3

from spine_cli.local import wal

BUSY_TIMEOUT_S = 30.0
SCHEMA_VERSION = 4

SCHEMA = """
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
    duration_ms INTEGER,
    spec        TEXT,
    origin      TEXT,
    note        TEXT,
    template_used TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_scope ON runs (profile, base_url, created_at);
"""
# Columns added since version 1, in order: (name, type).
ADDED = [("estimated_duration_ms", "INTEGER"), ("duration_ms", "INTEGER"), ("spec", "TEXT"),
         ("origin", "TEXT"), ("note", "TEXT"), ("template_used", "TEXT")]


def prepare(conn: sqlite3.Connection, busy_timeout: float = BUSY_TIMEOUT_S) -> None:
    """Row access by name, the busy timeout, and the current schema (migrating once)."""
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
    if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
        return
    wal.set_up(conn, _migrate, busy_timeout)


def _migrate(conn: sqlite3.Connection) -> None:
    for statement in filter(str.strip, SCHEMA.split(";")):
        conn.execute(statement)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    for name, kind in ADDED:
        if name not in columns:
            conn.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
