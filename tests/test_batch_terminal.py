"""`spine batch run` as a person and a CI log see it: the live view, heartbeats, Ctrl-C,
one runner per state file, and a backoff when the API rate limits the key."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

from spine_cli.local.batch_state import BatchState
from support.cli import FakeTime, spine
from support.tty import run_in_pty

ROWS = "".join(json.dumps({"key": f"row-{i}", "prompt": f"Memo {i} [emulate:duration={d}]"})
               + "\n" for i, d in enumerate([2, 3, 3, 4]))


def env_for(api, **extra: str) -> dict[str, str]:
    return {**os.environ, "SPINE_API_KEY": api.key, "SPINE_BASE_URL": api.base_url,
            "PYTHONUNBUFFERED": "1", **extra}


def posts(api) -> list[dict]:
    return [r for r in api.requests() if r["method"] == "POST" and r["path"] == "/v1/run"]


def test_on_a_terminal_a_live_view_with_an_overall_bar_and_a_line_per_finished_row(api, tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(ROWS)
    env = env_for(api, TERM="xterm-256color", COLUMNS="100", LINES="40")
    code, screen = run_in_pty(["batch", "run", str(rows), "-c", "2", "--poll-interval", "0.3"],
                              env, timeout=60)
    assert code == 0, screen
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)
    assert "\x1b[" in screen and "━" in plain           # drawn live, with bars
    assert re.search(r"Batch\s+━+.*\d/4 done · \d running", plain), plain
    assert re.search(r"row-\d running\s+━", plain)      # an active run with its progress
    for i in range(4):
        assert f"✓ row-{i}  completed (run " in plain    # the rolling lines of finished rows
    assert "row row-0: created run" not in plain        # not the plain log format
    assert "Batch: 4 rows (4 done); runs: 4 completed; exit 0." in plain


def test_off_a_terminal_a_heartbeat_each_quiet_minute(api, tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"key": "slow", "prompt": "Memo [emulate:duration=200]"}) + "\n")
    out = spine("batch", "run", str(rows), seams=FakeTime(emulator=api.emulator).seams())
    assert out.exit_code == 0, out
    beats = [line for line in out.stderr.splitlines() if line.startswith("batch: ")]
    assert 2 <= len(beats) <= 4, out.stderr
    assert beats[0] == "batch: 0/1 done · 1 running"
    assert "\x1b" not in out.stderr and "\r" not in out.stderr


def test_ctrl_c_stops_at_once_and_the_same_command_resumes(api, tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"key": f"k{i}", "prompt": f"Memo {i} "
                                        "[emulate:duration=3600]"}) + "\n" for i in range(3)))
    args = [sys.executable, "-m", "spine_cli", "batch", "run", str(rows), "--poll-interval", "0.2"]
    proc = subprocess.Popen(args, env=env_for(api), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    created = 0
    while created < 3:
        line = proc.stderr.readline()
        assert line, proc.communicate(timeout=10)
        created += "created run" in line
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "Interrupted: 3 run(s) go on server-side, 0 row(s) not created yet." in err
    assert "Run the same command again to resume." in err and "Traceback" not in err
    for run in (r for r in posts(api)):
        assert run["status"] == 200
    api.emulator.advance(3600)
    resumed = spine("batch", "run", str(rows), "--poll-interval", "0.2")
    assert resumed.exit_code == 0, resumed
    assert "Resuming the batch: 3 created." in resumed.stderr
    assert len(posts(api)) == 3  # waited on, never created again


def test_one_runner_per_state_file(api, tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(ROWS)
    with BatchState(tmp_path / "rows.jsonl.spine-batch.sqlite") as held:
        held.lock()
        out = spine("batch", "run", str(rows))
    assert out.exit_code == 2, out
    assert f"Another `spine batch run` (pid {os.getpid()}) is using" in out.stderr
    assert posts(api) == []


def test_repeated_429s_lower_the_concurrency_for_a_while(api, tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"key": f"k{i}", "prompt": f"Memo {i} "
                                        "[emulate:duration=60]"}) + "\n" for i in range(8)))
    # Two waves of 429s, a pause apart: the second lowers the concurrency.
    api.emulator.fault("status", method="GET", path="/v1/run/*", status=429, retry_after=3,
                       count=6)
    out = spine("batch", "run", str(rows), "-c", "4",
                seams=FakeTime(emulator=api.emulator).seams())
    assert out.exit_code == 0, out
    assert "batch: the API is rate limiting this key: at most 2 runs in flight for now" \
        in out.stderr
    assert len(posts(api)) == 8


def render_view(width: int) -> str:
    """The live view's frame at `width` columns, as plain text (no terminal needed)."""
    import io
    import threading

    from rich.console import Console

    from spine_cli.api.models import Run
    from spine_cli.runs.batch.events import Snapshot
    from spine_cli.runs.waiter import Tracked
    from spine_cli.ui.batch_view import LiveProgress

    view = LiveProgress.__new__(LiveProgress)  # the frame only: no LiveArea, no terminal
    view.clock, view.lock, view.note = (lambda: 100.0), threading.Lock(), ""
    view.polled_at = {"memo-acme-emea": 100.0}
    run = Run.parse({"run_id": "4f1c0a9e-0000-4000-8000-000000000001", "status": "running",
                     "progress": {"tasks_completed": 3, "tasks_total": 6, "elapsed_ms": 12_000}})
    view.snapshot = Snapshot(6, {"done": 3, "created": 1, "pending": 2},
                             [("memo-acme-emea", Tracked(run.run_id, run=run, estimated=30.0))], 4)
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, legacy_windows=False).print(
        view._render(width))
    return out.getvalue()


def test_the_live_view_keeps_counts_and_times_and_drops_bars_when_narrow():
    wide = render_view(100).splitlines()
    assert re.fullmatch(r"Batch\s+[━╸]+─+ 3/6 done · 1 running · 2 pending\s*", wide[0]), wide
    assert re.fullmatch(r"  memo-acme-emea running [━╸]+─+ 3/6 tasks · 12s · ~14s left\s*",
                        wide[1]), wide
    narrow = render_view(40).splitlines()
    assert narrow == ["Batch            3/6 done · 1 running ·…",
                      "  memo-acme-emea 3/6 tasks · 12s · ~14s…"], narrow
    for width in (20, 30, 50, 71, 72, 80, 120):
        frame = render_view(width).splitlines()
        assert len(frame) == 2 and all(len(line) <= width for line in frame), (width, frame)
        assert ("━" in frame[0]) == (width >= 72), (width, frame)
