"""The local run history: records, updates, RUN references, concurrency, corruption."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
from typer.testing import CliRunner

from spine_cli.app import app
from spine_cli.errors import UsageError
from spine_cli.local.history import PROMPT_EXCERPT, history_path
from spine_cli.local.run_refs import resolve_run_ref
from spine_cli.local.schema import BUSY_TIMEOUT_S, SCHEMA
from spine_cli.local.settings import Settings
from support.history import WARNINGS, history, observe, record

HERE = Settings("default", None, "http://127.0.0.1:9/v1/")
STAGING = Settings("staging", None, "http://127.0.0.1:9")
OTHER_HOST = Settings("default", None, "https://api.getspine.ai")


def rid(n: int, prefix: str = "5e1f0000") -> str:
    return f"{prefix}-0000-4000-8000-{n:012d}"


def test_record_observe_and_list(isolated_env):
    record(HERE, rid(1).upper(), prompt="x" * 500, template="report",
                       blocks=["document-block"], files=["/tmp/a/data.csv", "notes.md"])
    record(HERE, rid(2), prompt="second")
    record(HERE, None, prompt="ambiguous create", unconfirmed=True)
    observe(HERE, {"run_id": rid(1), "status": "completed", "canvas_id": "c-1"})
    runs = history().recent(HERE)
    assert [r["run_id"] for r in runs] == [None, rid(2), rid(1)]
    first = runs[2]
    assert first["status"] == "completed" and first["canvas_id"] == "c-1"
    assert first["profile"] == "default" and first["base_url"] == "http://127.0.0.1:9"
    assert first["prompt"] == "x" * PROMPT_EXCERPT
    assert first["files"] == ["data.csv", "notes.md"] and first["blocks"] == ["document-block"]
    assert first["updated_at"] > first["created_at"]
    assert runs[0]["unconfirmed"] is True
    assert [r["run_id"] for r in history().recent(HERE, status="completed")] == [rid(1)]
    assert [r["run_id"] for r in history().recent(HERE, status="unconfirmed")] == [None]
    assert len(history().recent(HERE, limit=1)) == 1


def test_database_is_wal_with_a_busy_timeout(isolated_env):
    record(HERE, rid(1))
    conn = sqlite3.connect(history_path())
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert BUSY_TIMEOUT_S >= 5
    conn = history().connect()  # the timeout is per connection
    try:
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_S * 1000
    finally:
        conn.close()


def test_rows_are_scoped_by_profile_and_base_url(isolated_env):
    record(HERE, rid(1))
    record(STAGING, rid(2))
    record(OTHER_HOST, rid(3))
    assert [r["run_id"] for r in history().recent(HERE)] == [rid(1)]
    # /v1 and trailing slashes do not make another host
    assert [r["run_id"] for r in history().recent(Settings("default", None, "http://127.0.0.1:9"))] == [rid(1)]
    assert len(history().recent(HERE, all_profiles=True)) == 3


def test_run_references(isolated_env):
    for n in range(1, 4):
        record(HERE, rid(n, prefix=f"{n}b2c0000"))
    record(STAGING, rid(9, prefix="4b2c0000"))
    full = rid(7, prefix="ABCDEF00")
    assert resolve_run_ref(full, HERE, history()) == full.lower()  # no history needed
    assert resolve_run_ref("@last", HERE, history()) == rid(3, prefix="3b2c0000")
    assert resolve_run_ref("@last~2", HERE, history()) == rid(1, prefix="1b2c0000")
    assert resolve_run_ref("2B2", HERE, history()) == rid(2, prefix="2b2c0000")
    with pytest.raises(UsageError, match="fewer than 4 runs"):
        resolve_run_ref("@last~3", HERE, history())
    with pytest.raises(UsageError, match="starts with '4b2c'"):
        resolve_run_ref("4b2c", HERE, history())  # another profile's run
    with pytest.raises(UsageError, match="Not a run reference"):
        resolve_run_ref("last", HERE, history())
    with pytest.raises(UsageError, match="no runs"):
        resolve_run_ref("@last", OTHER_HOST, history())


def test_ambiguous_prefix_lists_the_candidates(isolated_env):
    record(HERE, rid(1, prefix="abcd0001"))
    record(HERE, rid(2, prefix="abcd0002"))
    with pytest.raises(UsageError) as info:
        resolve_run_ref("abcd", HERE, history())
    assert info.value.exit_code == 2
    assert "ambiguous" in info.value.message
    assert rid(1, prefix="abcd0001") in info.value.message
    assert rid(2, prefix="abcd0002") in info.value.message


_WRITER = textwrap.dedent("""
    import sys, time
    from types import SimpleNamespace
    from spine_cli.local.history import History, RecordedRun, history_path
    from spine_cli.local.settings import Settings
    run_id = sys.argv[1]
    settings = Settings("default", None, "http://127.0.0.1:9")
    h = History(history_path(), warn=lambda m: sys.stderr.write(m))
    t0 = time.monotonic()
    h.record(settings, RecordedRun(run_id, prompt="concurrent " + run_id, files=["a.txt"]))
    print(f"{time.monotonic() - t0:.3f}")
    h.observe(settings, SimpleNamespace(run_id=run_id, status_text="completed", canvas_id="c",
                                        duration_ms=None))
""")
_HOG = textwrap.dedent("""
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    conn.execute("COMMIT")
""")


def test_twenty_concurrent_writer_processes_lose_nothing(isolated_env):
    """The writers provably contend: a hog holds the write lock while all 20 start, so each
    one has to wait in SQLite's busy handler; then they race each other for it."""
    record(HERE, rid(0))  # the database exists, in WAL mode
    hog = subprocess.Popen([sys.executable, "-c", _HOG, str(history_path()), "2.0"],
                           stdout=subprocess.PIPE, text=True)
    assert hog.stdout.readline().strip() == "locked"
    run_ids = [str(uuid.uuid4()) for _ in range(20)]
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, r],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in run_ids]
    outputs = [p.communicate(timeout=60) for p in procs]
    hog.wait(timeout=30)
    assert [p.returncode for p in procs] == [0] * 20, outputs
    assert all(err == "" for _, err in outputs), outputs
    waited = sorted(float(out) for out, _ in outputs)
    # Writers that started while the hog held the lock waited for it: lock waits, not luck.
    assert sum(w > 0.2 for w in waited) >= 10, waited
    runs = [r for r in history().recent(HERE, limit=None) if r["run_id"] != rid(0)]
    assert sorted(r["run_id"] for r in runs) == sorted(run_ids)
    assert {(r["status"], r["canvas_id"], r["files"][0]) for r in runs} == {("completed", "c", "a.txt")}
    assert all(r["prompt"] == f"concurrent {r['run_id']}" for r in runs)


def test_corrupt_history_warns_once_and_spine_carries_on(isolated_env):
    isolated_env["data_dir"].mkdir()
    history_path().write_bytes(b"this is not a database" * 100)
    record(HERE, rid(1))  # must not raise
    observe(HERE, {"run_id": rid(1), "status": "failed"})
    assert resolve_run_ref(rid(1), HERE, history()) == rid(1)
    result = CliRunner().invoke(app, ["run", "list"])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("Warning: the run history") <= 1
    # a fresh process (the usual case) prints exactly one warning
    proc = subprocess.run([sys.executable, "-m", "spine_cli", "run", "list"], capture_output=True,
                          text=True, env=dict(os.environ), timeout=30)
    assert proc.returncode == 0
    assert proc.stderr.count("Warning:") == 1 and "unusable" in proc.stderr
    assert str(history_path()) in proc.stderr
    ref = subprocess.run([sys.executable, "-c",
                          "from spine_cli.local.history import History, history_path\n"
                          "from spine_cli.local.run_refs import resolve_run_ref\n"
                          "from spine_cli.local.settings import load_settings\n"
                          "resolve_run_ref('@last', load_settings(), "
                          "History(history_path(), print))"],
                         capture_output=True, text=True, env=dict(os.environ), timeout=30)
    assert "UsageError" in ref.stderr and "history is unusable" in ref.stderr


def test_unreadable_history_path_warns_and_carries_on(isolated_env):
    history_path().mkdir(parents=True)  # a directory where the file should be
    record(HERE, rid(1))
    assert history().recent(HERE) == []


def test_a_version_1_history_gains_the_estimate_column(isolated_env):
    import sqlite3

    from spine_cli.local.settings import load_settings

    path = history_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    version_1 = SCHEMA
    for column in ("estimated_duration_ms", "duration_ms", "spec", "origin", "note"):
        version_1 = re.sub(rf"\n    {column} +\w+,", "", version_1)
    assert "spec" not in version_1
    conn.executescript(version_1 + "; PRAGMA user_version = 1;")
    conn.close()
    rid = "550e8400-e29b-41d4-a716-446655440000"
    record(load_settings(), rid, estimated_ms=90000, spec={"prompt": "p"})
    assert history().estimates([rid]) == {rid: 90.0}
    assert history().recent(load_settings())[0]["spec"] == {"prompt": "p"}
