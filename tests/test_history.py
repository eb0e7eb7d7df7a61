"""The local run history: records, updates, RUN references, concurrency, corruption."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
from typer.testing import CliRunner

from spine_cli.local import history
from spine_cli.app import app
from spine_cli.errors import UsageError
from spine_cli.local.settings import Settings

HERE = Settings("default", None, "http://127.0.0.1:9/v1/")
STAGING = Settings("staging", None, "http://127.0.0.1:9")
OTHER_HOST = Settings("default", None, "https://api.getspine.ai")


def rid(n: int, prefix: str = "5e1f0000") -> str:
    return f"{prefix}-0000-4000-8000-{n:012d}"


def test_record_observe_and_list(isolated_env):
    history.record_run(HERE, rid(1).upper(), prompt="x" * 500, template="report",
                       blocks=["document-block"], files=["/tmp/a/data.csv", "notes.md"])
    history.record_run(HERE, rid(2), prompt="second")
    history.record_run(HERE, None, prompt="ambiguous create", unconfirmed=True)
    history.observe_run(HERE, {"run_id": rid(1), "status": "completed", "canvas_id": "c-1"})
    runs = history.list_runs(HERE)
    assert [r["run_id"] for r in runs] == [None, rid(2), rid(1)]
    first = runs[2]
    assert first["status"] == "completed" and first["canvas_id"] == "c-1"
    assert first["profile"] == "default" and first["base_url"] == "http://127.0.0.1:9"
    assert first["prompt"] == "x" * history.PROMPT_EXCERPT
    assert first["files"] == ["data.csv", "notes.md"] and first["blocks"] == ["document-block"]
    assert first["updated_at"] > first["created_at"]
    assert runs[0]["unconfirmed"] is True
    assert [r["run_id"] for r in history.list_runs(HERE, status="completed")] == [rid(1)]
    assert [r["run_id"] for r in history.list_runs(HERE, status="unconfirmed")] == [None]
    assert len(history.list_runs(HERE, limit=1)) == 1


def test_database_is_wal_with_a_busy_timeout(isolated_env):
    history.record_run(HERE, rid(1))
    conn = sqlite3.connect(history.history_path())
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert history.BUSY_TIMEOUT_S >= 5
    with history._connect() as conn:  # noqa: SLF001 - the timeout is per connection
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == history.BUSY_TIMEOUT_S * 1000


def test_rows_are_scoped_by_profile_and_base_url(isolated_env):
    history.record_run(HERE, rid(1))
    history.record_run(STAGING, rid(2))
    history.record_run(OTHER_HOST, rid(3))
    assert [r["run_id"] for r in history.list_runs(HERE)] == [rid(1)]
    # /v1 and trailing slashes do not make another host
    assert [r["run_id"] for r in history.list_runs(Settings("default", None, "http://127.0.0.1:9"))] == [rid(1)]
    assert len(history.list_runs(HERE, all_profiles=True)) == 3


def test_run_references(isolated_env):
    for n in range(1, 4):
        history.record_run(HERE, rid(n, prefix=f"{n}b2c0000"))
    history.record_run(STAGING, rid(9, prefix="4b2c0000"))
    full = rid(7, prefix="ABCDEF00")
    assert history.resolve_run_ref(full, HERE) == full.lower()  # no history needed
    assert history.resolve_run_ref("@last", HERE) == rid(3, prefix="3b2c0000")
    assert history.resolve_run_ref("@last~2", HERE) == rid(1, prefix="1b2c0000")
    assert history.resolve_run_ref("2B2", HERE) == rid(2, prefix="2b2c0000")
    with pytest.raises(UsageError, match="fewer than 4 runs"):
        history.resolve_run_ref("@last~3", HERE)
    with pytest.raises(UsageError, match="starts with '4b2c'"):
        history.resolve_run_ref("4b2c", HERE)  # another profile's run
    with pytest.raises(UsageError, match="Not a run reference"):
        history.resolve_run_ref("last", HERE)
    with pytest.raises(UsageError, match="no runs"):
        history.resolve_run_ref("@last", OTHER_HOST)


def test_ambiguous_prefix_lists_the_candidates(isolated_env):
    history.record_run(HERE, rid(1, prefix="abcd0001"))
    history.record_run(HERE, rid(2, prefix="abcd0002"))
    with pytest.raises(UsageError) as info:
        history.resolve_run_ref("abcd", HERE)
    assert info.value.exit_code == 2
    assert "ambiguous" in info.value.message
    assert rid(1, prefix="abcd0001") in info.value.message
    assert rid(2, prefix="abcd0002") in info.value.message


_WRITER = textwrap.dedent("""
    import sys, time
    from spine_cli.local import history
    from spine_cli.local.settings import Settings
    start, run_id = float(sys.argv[1]), sys.argv[2]
    settings = Settings("default", None, "http://127.0.0.1:9")
    time.sleep(max(0.0, start - time.time()))  # all writers hit the database together
    history.record_run(settings, run_id, prompt="concurrent " + run_id, files=["a.txt"])
    history.observe_run(settings, {"run_id": run_id, "status": "completed", "canvas_id": "c"})
""")


def test_twenty_concurrent_writer_processes_lose_nothing(isolated_env):
    run_ids = [str(uuid.uuid4()) for _ in range(20)]
    start = time.time() + 1.5  # interpreter start-up of all 20 must fit in this
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(start), r],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in run_ids]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 20, outputs
    assert all(err == "" for _, err in outputs), outputs
    runs = history.list_runs(HERE, limit=None)
    assert sorted(r["run_id"] for r in runs) == sorted(run_ids)
    assert {(r["status"], r["canvas_id"], r["files"][0]) for r in runs} == {("completed", "c", "a.txt")}
    assert all(r["prompt"] == f"concurrent {r['run_id']}" for r in runs)


def test_corrupt_history_warns_once_and_spine_carries_on(isolated_env):
    isolated_env["data_dir"].mkdir()
    history.history_path().write_bytes(b"this is not a database" * 100)
    history.record_run(HERE, rid(1))  # must not raise
    history.observe_run(HERE, {"run_id": rid(1), "status": "failed"})
    assert history.resolve_run_ref(rid(1), HERE) == rid(1)
    result = CliRunner().invoke(app, ["run", "list"])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("Warning: the run history") <= 1
    # a fresh process (the usual case) prints exactly one warning
    proc = subprocess.run([sys.executable, "-m", "spine_cli", "run", "list"], capture_output=True,
                          text=True, env=dict(os.environ), timeout=30)
    assert proc.returncode == 0
    assert proc.stderr.count("Warning:") == 1 and "unusable" in proc.stderr
    assert str(history.history_path()) in proc.stderr
    ref = subprocess.run([sys.executable, "-c", "from spine_cli.local import history; from spine_cli.local.settings "
                          "import load_settings; history.resolve_run_ref('@last', load_settings())"],
                         capture_output=True, text=True, env=dict(os.environ), timeout=30)
    assert "UsageError" in ref.stderr and "history is unusable" in ref.stderr


def test_unreadable_history_path_warns_and_carries_on(isolated_env):
    history.history_path().mkdir(parents=True)  # a directory where the file should be
    history.record_run(HERE, rid(1))
    assert history.list_runs(HERE) == []


def test_a_version_1_history_gains_the_estimate_column(isolated_env):
    import sqlite3

    from spine_cli.local import history
    from spine_cli.local.settings import load_settings

    path = history.history_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(history._SCHEMA.replace("    estimated_duration_ms INTEGER,\n", "")
                       + "; PRAGMA user_version = 1;")
    conn.close()
    rid = "550e8400-e29b-41d4-a716-446655440000"
    history.record_run(load_settings(), rid, estimated_ms=90000)
    assert history.estimates([rid]) == {rid: 90.0}
