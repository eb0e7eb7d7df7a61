"""History with real `spine` commands against the emulator: create records, get updates,
RUN references resolve, and twenty concurrent `spine run create` processes lose nothing."""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
import time

from typer.testing import CliRunner

from support.history import history, observe, record
from spine_cli.app import app
from spine_cli.local.history import history_path
from spine_cli.local.settings import load_settings


def spine(*args: str):
    return CliRunner().invoke(app, list(args))


def ok(*args: str):
    result = spine(*args)
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
    return result


def test_create_records_and_get_updates_the_history(api, tmp_path):
    attachment = tmp_path / "brief.md"
    attachment.write_text("# brief\n")
    run_id = ok("run", "create", "-q", "-t", "memo", "-f", str(attachment),
                "--prompt", "Write a memo [emulate:duration=5]").stdout.strip()
    [row] = history().recent(load_settings())
    assert row["run_id"] == run_id and row["status"] == "running"
    assert row["template"] == "memo" and row["files"] == ["brief.md"]
    assert row["prompt"].startswith("Write a memo") and row["base_url"] == api.base_url
    api.emulator.advance(600)
    assert ok("run", "get", "@last", "-q").stdout.strip() == "completed"
    [row] = history().recent(load_settings())
    assert row["status"] == "completed" and row["canvas_id"]


def test_run_references_on_the_command_line(api):
    ids = [ok("run", "create", "-q", "--prompt", f"run {n}").stdout.strip() for n in range(3)]
    json_id = lambda ref: ok("run", "get", ref, "--json").stdout  # noqa: E731
    assert ids[2] in json_id("@last")
    assert ids[0] in json_id("@last~2")
    assert ids[1] in json_id(ids[1][:13])  # a unique prefix
    assert ids[1] in json_id(ids[1].upper())
    beyond = spine("run", "get", "@last~3")
    assert beyond.exit_code == 2 and "fewer than 4 runs" in beyond.stderr
    # make an ambiguous prefix by recording a twin that shares the first 8 characters
    twin = ids[0][:8] + "-ffff-4fff-8fff-ffffffffffff"
    record(load_settings(), twin, prompt="twin")
    ambiguous = spine("run", "get", ids[0][:8])
    assert ambiguous.exit_code == 2
    assert "ambiguous" in ambiguous.stderr and ids[0] in ambiguous.stderr and twin in ambiguous.stderr
    assert ambiguous.stdout == ""
    unknown = spine("run", "get", "abcdef12")
    assert unknown.exit_code == 2 and "starts with 'abcdef12'" in unknown.stderr


_HOG = ("import sqlite3, sys, time\n"
        "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "conn.execute('BEGIN IMMEDIATE')\n"
        "print('locked', flush=True)\n"
        "sys.stdin.readline()\n"  # held until the test says so
        "print(time.time(), flush=True)\n"
        "conn.execute('COMMIT')\n")


def test_twenty_concurrent_run_create_processes(api):
    """They provably contend: a hog holds the history's write lock while the 20 creates run,
    so each one's history write waits in SQLite's busy handler (none ends before the hog lets
    go), then they race each other for the lock; no row is lost."""
    env = dict(os.environ)
    record(load_settings(), "0" * 8 + "-0000-4000-8000-000000000000")  # the file exists
    hog = subprocess.Popen([sys.executable, "-c", _HOG, str(history_path())],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert hog.stdout.readline().strip() == "locked"
    code = ("import sys; sys.argv = ['spine', 'run', 'create', '-q', '--prompt', sys.argv[1]]; "
            "from spine_cli.app import main; main()")
    procs = [subprocess.Popen([sys.executable, "-c", code, f"concurrent {n}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for n in range(20)]
    ended: list[float] = []

    def reap(proc: subprocess.Popen) -> tuple[str, str]:
        out = proc.communicate(timeout=90)
        ended.append(time.time())
        return out

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        reaped = pool.map(reap, procs)
        deadline = time.monotonic() + 60
        # Hold the lock until at least five creates have had their answer (bounded).
        while sum(r["method"] == "POST" for r in api.requests()) < 5:
            assert time.monotonic() < deadline, "the creates never reached the API"
            time.sleep(0.05)
        time.sleep(0.3)  # their history writes are now queued behind the hog
        assert not ended  # nobody could finish while the hog held the lock
        hog.stdin.write("go\n")
        hog.stdin.flush()
        outputs = list(reaped)
    released = float(hog.stdout.readline())
    hog.wait(timeout=30)
    assert [p.returncode for p in procs] == [0] * 20, outputs
    assert [err for _, err in outputs] == [""] * 20
    # Creates whose POST was answered while the hog held the lock could only finish once it
    # let go: their history write waited (they contended), and none was lost.
    posts = [r["time"] for r in api.requests() if r["method"] == "POST"]
    assert sum(t < released for t in posts) >= 5, (posts, released)
    assert min(ended) >= released - 0.05
    created = {out.strip(): n for n, (out, _) in enumerate(outputs)}
    assert len(created) == 20
    rows = [r for r in history().recent(load_settings(), limit=None)
            if r["prompt"].startswith("concurrent")]
    assert {r["run_id"]: r["prompt"] for r in rows} == {
        run_id: f"concurrent {n}" for run_id, n in created.items()}
    assert {r["status"] for r in rows} == {"running"}
