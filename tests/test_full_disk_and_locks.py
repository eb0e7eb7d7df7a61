"""Issue 11 item 12: a history locked for long, or a full disk, never loses the user's work.

The advice fits the cause (a lock held by another process, a full disk), the new run's id
reaches stdout before the history is touched, and a download that runs out of space lists
the files it did save.

A full disk is a real one where the test may mount a small tmpfs (root, as in CI
containers); otherwise `RLIMIT_FSIZE` in the spine process gives the same write errors
(EFBIG instead of ENOSPC), so the download case runs everywhere.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spine_cli.local.history import History, RecordedRun, history_path
from spine_cli.local.settings import Settings
from support.hostile import CID, CREATED, GET_RUN, POST_RUN, RID, completed, spine_env
from support.liar import Raw, Stream, ok

MiB = 1024 * 1024
LOCKED_ADVICE = ("Another spine process holds it locked; it will be usable again when that one "
                 "finishes.")


def locked_history(path: Path) -> sqlite3.Connection:
    """The history, created, then held under a write lock by another connection."""
    History(path, warn=lambda _: None).record(Settings("default", None, "http://x"),
                                              RecordedRun("0" * 8 + "-0000-4000-8000-" + "0" * 12))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    return conn


def test_a_locked_history_gets_the_lock_advice_once_and_is_then_left_alone(isolated_env):
    path = history_path()
    holder = locked_history(path)
    try:
        warnings: list[str] = []
        history = History(path, warnings.append, busy_timeout=0.3)
        settings = Settings("default", None, "http://x")
        assert history.record(settings, RecordedRun(RID)) is None
        start = time.monotonic()
        assert history.record(settings, RecordedRun(CID)) is None  # no second busy wait
        assert time.monotonic() - start < 0.2
    finally:
        holder.close()
    assert len(warnings) == 1
    assert warnings[0] == (f"the run history {path} is unusable (database is locked); carrying "
                           f"on without it. {LOCKED_ADVICE}")
    assert "move it away" not in warnings[0]


def test_the_run_id_reaches_stdout_while_the_history_is_locked(liar):
    liar.on(*POST_RUN, ok(CREATED))
    holder = locked_history(history_path())
    proc = subprocess.Popen([sys.executable, "-m", "spine_cli", "run", "create", "--prompt",
                             "x"], env=spine_env(liar.base_url), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        assert ready, "no run id while the history was locked"
        assert proc.stdout.readline() == f"{RID}\n"
        assert proc.poll() is None  # still waiting for the lock: the id came first
    finally:
        holder.close()
    out, err = proc.communicate(timeout=40)
    assert proc.returncode == 0, err
    assert out == ""
    assert err == f"Created run {RID}. Follow it with: spine run watch {RID}\n"
    rows = History(history_path(), warn=pytest.fail).recent(
        Settings("default", None, liar.base_url))
    assert [r["run_id"] for r in rows] == [RID]  # recorded once the lock was released


# -- a full disk --------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs, or a skip where this process may not mount one."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root); the RLIMIT_FSIZE case covers it")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_under_the_history_gets_the_disk_advice_and_the_id_is_printed(
        liar, small_disk):
    with open(small_disk / "filler", "wb") as fh:  # leave no room at all
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    liar.on(*POST_RUN, ok(CREATED))
    proc = subprocess.run([sys.executable, "-m", "spine_cli", "run", "create", "--prompt", "x"],
                          env=spine_env(liar.base_url, SPINE_DATA_DIR=str(small_disk / "data")),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{RID}\n"
    created, warning = proc.stderr.splitlines()  # the id first: the history comes after
    assert warning.startswith(f"Warning: the run history {small_disk / 'data'}")
    assert warning.endswith("carrying on without it. The disk is full; free some space.")
    assert created == f"Created run {RID}. Follow it with: spine run watch {RID}"


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (MiB, MiB))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past it fails with EFBIG instead


@pytest.mark.parametrize("disk", ["tmpfs", "rlimit"])
def test_a_full_disk_during_downloads_lists_the_files_already_saved(liar, tmp_path, request,
                                                                     disk):
    if disk == "tmpfs":
        dest, limit, why = request.getfixturevalue("small_disk") / "out", None, \
            "No space left on device"
    else:
        dest, limit, why = tmp_path / "out", _limit_file_size, "File too large"
    run = completed(liar.url("/dl/small"), size=10_000, name="small.html",
                    final_output="x" * (2 * MiB))
    run["result"]["artifacts"].append({"id": RID, "type": "html", "name": "big.html",
                                       "download_url": liar.url("/dl/big"),
                                       "size_bytes": 2 * MiB})
    liar.always(*GET_RUN, ok(run))
    liar.always("GET", "/dl/small", Raw(b"s" * 10_000, content_type="text/html"))
    liar.always("GET", "/dl/big", Stream(size=2 * MiB, content_type="text/html"))
    proc = subprocess.run([sys.executable, "-m", "spine_cli", "run", "download", RID, "-d",
                           str(dest)], env=spine_env(liar.base_url), capture_output=True,
                          text=True, timeout=60, preexec_fn=limit)
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout == f"{dest / 'small.html'}\n{dest / 'manifest.json'}\n"
    assert (dest / "small.html").read_bytes() == b"s" * 10_000
    assert sorted(p.name for p in dest.iterdir()) == ["manifest.json", "small.html"]
    assert proc.stderr == (
        f"Warning: could not save big.html: {why}\n"
        f"Warning: could not save final_output.md: Cannot write {dest / 'final_output.md'}: "
        f"{why}.\n"
        f"Error: 2 file(s) of run {RID} could not be downloaded: big.html, final_output.md.\n"
        f"The disk is full: free some space. The files listed are saved in {dest}; retry with "
        f"`spine run download {RID} -d {dest}`.\n")
    manifest = json.loads((dest / "manifest.json").read_text())
    assert [a["status"] for a in manifest["artifacts"]] == ["downloaded", "failed"]
    assert manifest["final_output"] is None
    assert os.path.exists(dest / "small.html")
