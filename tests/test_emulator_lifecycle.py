"""Starting, stopping, killing and restarting the emulator; `exec`; import hygiene."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest

from support.emulator import EmulatorHandle

SPINE = [sys.executable, "-m", "spine_cli"]


def test_sigkill_loses_nothing_and_runs_carry_on(tmp_path):
    emu = EmulatorHandle(tmp_path / "emu")
    try:
        key = emu.new_key()
        files = [("files", ("notes.txt", b"keep me", "text/plain"))]
        run = emu.create_run(key, "Survive [emulate:duration=60]", files=files)
        emu.advance(30)
        running = emu.get_run(key, run["run_id"])
        assert running["status"] == "running"
        port = emu.port
        emu.kill()
        emu.restart()
        assert emu.port == port
        again = emu.get_run(key, run["run_id"])
        assert again["status"] == "running" and again["canvas_id"] == running["canvas_id"]
        assert again["progress"]["elapsed_ms"] >= running["progress"]["elapsed_ms"]
        assert again["progress"]["tasks_total"] >= running["progress"]["tasks_total"]
        emu.advance(31)  # the advance before the kill was persisted too
        done = emu.get_run(key, run["run_id"])
        assert done["status"] == "completed"
        stored = list((emu.data_dir / "uploads" / run["run_id"]).iterdir())
        assert [p.read_bytes() for p in stored] == [b"keep me"]
    finally:
        emu.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly_on_signals(tmp_path, sig):
    emu = EmulatorHandle(tmp_path / "emu")
    emu.proc.send_signal(sig)
    assert emu.proc.wait(15) == 0
    err = (emu.data_dir / "emulator.stderr.log").read_text()
    assert "Traceback" not in err


def test_banner_lines_and_default_data_dir(tmp_path):
    env = {**os.environ, "SPINE_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen([*SPINE, "emulator", "serve", "--port", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first, second = proc.stdout.readline(), proc.stdout.readline()
        assert first.startswith("Spine emulator listening on http://127.0.0.1:")
        url = first.split()[-1]
        assert int(url.rsplit(":", 1)[1]) > 0
        assert second.strip().startswith(f"export SPINE_BASE_URL={url} SPINE_API_KEY=sk_spine_emulator_")
        assert (tmp_path / "data" / "emulator" / "emulator.sqlite3").exists()
    finally:
        proc.terminate()
        proc.wait(15)


def test_port_in_use_is_a_one_line_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([*SPINE, "emulator", "serve", "--port", str(port),
                                 "--data-dir", str(tmp_path)], capture_output=True, text=True,
                                timeout=30)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: Cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 2


def test_bad_options_are_usage_errors(tmp_path):
    (tmp_path / "a-file").write_text("")
    for args in (["--speed", "0"], ["--webhook-secret", "nope"], ["--max-file-size", "lots"],
                 ["--data-dir", str(tmp_path / "a-file")]):
        result = subprocess.run([*SPINE, "emulator", "serve", "--port", "0",
                                 "--data-dir", str(tmp_path), *args],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_exec_runs_the_command_against_a_fresh_emulator(tmp_path):
    script = textwrap.dedent("""
        import os, sys, httpx
        base, key = os.environ["SPINE_BASE_URL"], os.environ["SPINE_API_KEY"]
        r = httpx.post(base + "/v1/run", data={"prompt": "hi"}, headers={"X-API-KEY": key})
        assert r.status_code == 200, r.text
        print("created", r.json()["data"]["status"])
        sys.exit(7)
    """)
    result = subprocess.run([*SPINE, "emulator", "exec", "--", sys.executable, "-c", script],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 7, result.stderr
    assert result.stdout == "created running\n"


def test_exec_passes_on_success_and_missing_commands(tmp_path):
    ok = subprocess.run([*SPINE, "emulator", "exec", "--data-dir", str(tmp_path), "--",
                         sys.executable, "-c", "pass"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and (tmp_path / "emulator.sqlite3").exists()
    missing = subprocess.run([*SPINE, "emulator", "exec", "--", "no-such-command-xyz"],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_version_does_not_import_the_server_stack():
    probe = ("import sys, runpy; sys.argv = ['spine', '--version']\n"
             "try:\n    runpy.run_module('spine_cli', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             "heavy = [m for m in ('starlette', 'uvicorn', 'python_multipart', "
             "'spine_cli.emulator.server') if m in sys.modules]\n"
             "print('HEAVY', heavy)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=30)
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr
    assert result.stdout.startswith("spine ")


def test_help_lists_the_emulator_commands():
    result = subprocess.run([*SPINE, "emulator", "--help"], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0
    assert "serve" in result.stdout and "exec" in result.stdout


def test_speed_scales_runs_without_a_duration_directive(tmp_path):
    import time

    emu = EmulatorHandle(tmp_path / "emu", "--speed", "50")  # a 10–30 s run takes 0.2–0.6 s
    try:
        key = emu.new_key()
        fast = emu.create_run(key, "No directive")
        fixed = emu.create_run(key, "Pinned [emulate:duration=5]")  # --speed leaves it alone
        assert fast["estimated_duration_ms"] <= 0.6 * 1.3 * 1000
        time.sleep(0.8)
        assert emu.get_run(key, fast["run_id"])["status"] == "completed"
        assert emu.get_run(key, fixed["run_id"])["status"] == "running"
    finally:
        emu.close()
