"""Issue 14, point 3: SIGKILL `spine batch run` at random moments, many times; resume each time.

The process is a real `python -m spine_cli` child killed with SIGKILL (no handler runs,
no `finally`), so only what the state committed survives. Real time is needed: the
kill lands while the child is busy, which a fake clock inside it cannot arrange; the
runs are 1 s long and polled every 0.2 s, and the whole test stays under a minute.

Afterwards, from the emulator's side (its request log and its own database):
- no row was sent twice: POSTs ≤ rows, and every run the server made belongs to one row;
- exactly one POST per row that got a run id, and that run is the one the state names;
- no row is lost: every row ends `done` or `uncertain` (killed between claim and answer).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

from spine_cli.local.batch_state import BatchState

ROWS = 32
KILLS = 15


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "spine_cli", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)


def server_runs(api) -> dict[str, str]:
    """run id -> row key, from the emulator's own database (this test's tenant only)."""
    tenant = hashlib.sha256(api.key.encode()).hexdigest()
    db = sqlite3.connect(f"file:{api.emulator.data_dir / 'emulator.sqlite3'}?mode=ro", uri=True)
    try:
        found = db.execute("SELECT run_id, prompt FROM runs WHERE tenant = ?", (tenant,))
        return {rid: prompt.split("row=")[1].split()[0] for rid, prompt in found}
    finally:
        db.close()


def test_sigkill_at_random_moments_never_duplicates_nor_loses_a_row(api, tmp_path, isolated_env):
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"key": f"r{i:02d}", "prompt": f"Memo row=r{i:02d} "
                                        "[emulate:duration=1.5]"}) + "\n" for i in range(ROWS)))
    state = tmp_path / "state.sqlite"
    args = ["batch", "run", str(rows), "--state", str(state), "--concurrency", "4",
            "--poll-interval", "0.2"]
    env = {**os.environ, "SPINE_API_KEY": api.key, "SPINE_BASE_URL": api.base_url}
    rng = random.Random(14)
    started = time.monotonic()
    kills = 0
    for _ in range(KILLS):
        proc = spawn(args, env)
        time.sleep(rng.uniform(0.3, 1.6))  # start-up is ~0.4 s: kills land before and during work
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
        assert b"Traceback" not in proc.stderr.read()  # type: ignore[union-attr]
    final = spawn(args, env)
    _, err = final.communicate(timeout=60)
    assert final.returncode in (0, 8), err.decode()
    assert kills >= KILLS // 2 and time.monotonic() - started < 90

    with BatchState(state, create=False) as st:
        states = {r.key: r for r in st.rows()}
    assert set(states) == {f"r{i:02d}" for i in range(ROWS)}
    assert {r.state for r in states.values()} <= {"done", "uncertain"}, states  # none lost
    made = server_runs(api)
    per_row: dict[str, list[str]] = {}
    for run_id, key in made.items():
        per_row.setdefault(key, []).append(run_id)
    assert all(len(ids) == 1 for ids in per_row.values()), per_row  # never two runs for a row
    posts = [r for r in api.requests() if r["method"] == "POST" and r["path"] == "/v1/run"]
    assert len(posts) <= ROWS  # no row was sent twice
    assert sum(1 for r in posts if r["status"] == 200) == len(made)
    for key, row in states.items():
        if row.state == "done":
            assert per_row.get(key) == [row.run_id] and row.status == "completed", row
        else:  # uncertain: killed between the claim and the answer; the run may exist
            assert len(per_row.get(key, [])) <= 1 and row.attempts == 1
    uncertain = [k for k, r in states.items() if r.state == "uncertain"]
    assert (final.returncode == 8) == bool(uncertain)
