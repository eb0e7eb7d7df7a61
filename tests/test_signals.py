"""Issue 11 item 11: pipes and signals, as a good Unix tool handles them.

Real processes, real pipes and real signals (nothing else shows what a shell sees):
a closed stdout ends spine quietly with exit 141 (README); SIGTERM, which CI runners send
on cancel, is handled like Ctrl-C (the run goes on, the resume command is printed, the
GitHub outputs are written, exit 143); Ctrl-C during an upload says no run was created;
Ctrl-C during `--watch` suggests `spine run watch`.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from spine_cli.local.settings import Settings, canonical_base_url
from support.hostile import (
    CID, CREATED, GET_RUN, POST_RUN, RID, RUNNING, point_at, spine_env, unconfirmed_rows,
)
from support.history import record
from support.liar import Stall, ok

SPINE = [sys.executable, "-m", "spine_cli"]


def tasks(n: int) -> dict:
    task = {"task_type": "tool-call-task", "status": "completed", "children": []}
    return {"canvas_id": CID, "not_completed": [],
            "completed": [{**task, "task_id": f"{i:08d}-0000-4000-8000-000000000000",
                           "name": f"step {i}"} for i in range(n)]}


def seed_history(base_url: str, rows: int) -> None:
    settings = Settings("default", None, base_url)
    record(settings, RID, prompt="the first")  # creates the database and its schema
    from spine_cli.local.history import history_path

    with sqlite3.connect(history_path()) as conn:
        conn.executemany(
            "INSERT INTO runs (run_id, profile, base_url, prompt, status, created_at,"
            " updated_at) VALUES (?, 'default', ?, ?, 'completed', ?, ?)",
            [(f"{i:08d}-0000-4000-8000-000000000000", canonical_base_url(base_url),
              f"prompt number {i}", f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z",
              "2026-01-01T00:00:00Z") for i in range(rows)])


@pytest.fixture
def served(liar, monkeypatch):
    """A liar answering a running run and a large task tree."""
    liar.always(*GET_RUN, ok(RUNNING))
    liar.always("GET", f"/v1/canvas/{CID}/tasks", ok(tasks(3000)))
    point_at(monkeypatch, liar.base_url)
    return liar


# -- a closed stdout: exit 141, nothing on stderr ---------------------------------------------

CLOSED_PIPE_CASES = [["--help"], ["run", "--help"], ["--version"], ["run", "list"],
                     ["canvas", "tasks", RID], ["run", "get", RID]]


@pytest.mark.parametrize("args", CLOSED_PIPE_CASES, ids=" ".join)
def test_a_closed_stdout_ends_quietly_with_141(served, args):
    seed_history(served.base_url, 3)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before spine writes a byte
    try:
        proc = subprocess.run([*SPINE, *args], stdout=write_end, stderr=subprocess.PIPE,
                              env=spine_env(served.base_url), timeout=60)
    finally:
        os.close(write_end)
    assert proc.returncode == 141, proc.stderr
    assert proc.stderr == b""


@pytest.mark.parametrize("command", ["spine canvas tasks {rid}", "spine run list -n 0",
                                     "spine --help"])
def test_piped_into_head_ends_quietly(served, command):
    seed_history(served.base_url, 3000)
    script = (f"{command.format(rid=RID)} 2>err | head -1; "
              "echo \"${PIPESTATUS[0]}\" >code")
    env = spine_env(served.base_url)
    env["PATH"] = f"{os.path.dirname(sys.executable)}:{env['PATH']}"
    cwd = os.environ["SPINE_DATA_DIR"] + "-shell"
    os.makedirs(cwd)
    proc = subprocess.run(["bash", "-c", script], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 1
    code = int(open(os.path.join(cwd, "code")).read())
    assert code in (0, 141)  # 0 when spine had written everything before head left
    assert open(os.path.join(cwd, "err")).read() == ""


def test_a_large_output_into_head_is_cut_with_141(served):
    # 3000 tasks do not fit a pipe's buffer: spine is still writing when head exits.
    read_end, write_end = os.pipe()
    proc = subprocess.Popen([*SPINE, "canvas", "tasks", RID], stdout=write_end,
                            stderr=subprocess.PIPE, env=spine_env(served.base_url))
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        first = reader.readline()
    err = proc.stderr.read()
    assert proc.wait(timeout=30) == 141, err
    assert first and err == b""


# -- SIGTERM and Ctrl-C ------------------------------------------------------------------------

def start(args: list[str], base_url: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen([*SPINE, *args], env=spine_env(base_url, **env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigterm_during_a_wait_prints_the_resume_command_and_writes_outputs(served, tmp_path):
    outputs = tmp_path / "github_output"
    outputs.touch()
    proc = start(["run", "wait", RID, "--poll-interval", "0.2"], served.base_url,
                 GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(outputs))
    first = proc.stderr.readline()  # the wait is under way
    assert first == f"run {RID[:8]}: running 1/4 tasks, 1s elapsed\n"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 143, err
    assert out == ""
    assert (
        "\nTerminated; stopped waiting.\n"
        f"Run {RID} goes on server-side (last seen: running 1/4 tasks, 1s elapsed).\n"
        f"Resume with: spine run wait {RID}\n") in err
    last = err.splitlines()[-1]  # the GitHub annotation
    assert last.startswith("::error title=") and "exit 143" in last
    written = outputs.read_text()
    assert f"run_id<<" in written and RID in written
    assert "exit_code<<" in written and "\n143\n" in written
    assert "status<<" in written and "\nrunning\n" in written
    assert "Traceback" not in err


@pytest.mark.parametrize("args", [["run", "watch", RID], ["run", "create", "--prompt", "x",
                                                          "--watch"]], ids=" ".join)
def test_ctrl_c_during_watch_suggests_run_watch(served, args):
    served.on(*POST_RUN, ok(CREATED))
    proc = start([*args, "--poll-interval", "0.2"], served.base_url)
    assert proc.stderr.readline().startswith(f"run {RID[:8]}: running")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert out == ("" if args[1] == "watch" else f"{RID}\n")
    assert err.endswith(f"Resume with: spine run watch {RID}\n")
    assert "\nInterrupted; stopped waiting.\n" in err


def test_ctrl_c_during_an_upload_says_no_run_was_created(liar, monkeypatch, tmp_path):
    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * (64 * 1024 * 1024))  # far more than the socket buffers hold
    liar.on(*POST_RUN, Stall(30, ok(CREATED)))
    point_at(monkeypatch, liar.base_url)
    proc = start(["run", "create", "--prompt", "x", "-f", str(big)], liar.base_url)
    assert liar.wait_for_requests(1, timeout=20)
    time.sleep(0.5)  # the upload is blocked: the server reads nothing
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert out == ""
    assert err == ("Error: Interrupted before the create request was complete: no run was "
                   "created.\n")
    assert unconfirmed_rows() == []
