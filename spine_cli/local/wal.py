"""Setting up a SQLite file in WAL mode: shared by the history and batch states."""

from __future__ import annotations

import sqlite3
import time
from typing import Callable


def set_up(conn: sqlite3.Connection, write_schema: Callable[[sqlite3.Connection], None],
           timeout: float) -> None:
    """Switch to WAL and run `write_schema` in one `BEGIN IMMEDIATE` transaction.

    On first use, switching to WAL needs a moment alone with the file, and the
    busy handler is not always consulted for it, so a "locked" error is
    retried for up to `timeout` seconds; any other error is raised.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("BEGIN IMMEDIATE")
            write_schema(conn)
            conn.execute("COMMIT")
            return
        except sqlite3.OperationalError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
