"""What a person at a terminal sees: Ctrl-C, the live display in a pseudo-terminal,
and a start-up that imports nothing heavy."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from support.tty import run_in_pty

RUNNING = "[emulate:duration=3600]"


def spine_env(api):
    env = {k: v for k, v in os.environ.items()}
    env.update(SPINE_API_KEY=api.key, SPINE_BASE_URL=api.base_url, PYTHONUNBUFFERED="1")
    return env


def test_ctrl_c_during_wait_is_exit_130_with_a_resume_hint(api):
    run_id = api.emulator.create_run(api.key, f"long {RUNNING}")["run_id"]
    proc = subprocess.Popen([sys.executable, "-m", "spine_cli", "run", "wait", run_id,
                             "--poll-interval", "0.2"], env=spine_env(api),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()  # the first progress line: the wait is under way
    assert run_id[:8] in line
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert f"Resume with: spine run wait {run_id}" in err
    assert "goes on server-side" in err
    assert "Traceback" not in err
    assert out == ""


def tty_env(api):
    env = spine_env(api)
    env.update(TERM="xterm-256color", COLUMNS="100", LINES="40")
    return env


def test_watch_on_a_terminal_draws_a_live_display_then_the_result(api):
    run_id = api.emulator.create_run(api.key, "Board memo [emulate:duration=3] [emulate:tasks=12]")["run_id"]
    code, screen = run_in_pty(["run", "watch", run_id, "--poll-interval", "0.3"], tty_env(api))
    assert code == 0, screen
    assert re.search("[━─╸]{8}", screen)      # the progress bar
    assert "\x1b[" in screen                  # drawn with cursor movement / colour
    assert f"run {run_id[:8]}: " not in screen  # not the plain line format
    assert "Files" in screen and "Run:" in screen


def test_create_upload_bar_appears_on_a_terminal_for_large_files(api, tmp_path):
    big = tmp_path / "big.csv"
    big.write_bytes(b"a,b\n" * (8 * 1024 * 1024 // 4))
    code, screen = run_in_pty(["run", "create", "--prompt", "x", "-f", str(big)], tty_env(api))
    assert code == 0, screen
    assert "Uploading" in screen


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["run", "--help"]])
def test_startup_imports_nothing_heavy(args):
    probe = ("import sys, runpy; sys.argv = ['spine'] + %r\n"
             "try:\n    runpy.run_module('spine_cli', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             "heavy = [m for m in ('httpx', 'rich.live', 'rich.progress', 'starlette', 'uvicorn',"
             " 'multipart', 'sqlite3') if m in sys.modules]\n"
             "sys.stderr.write('HEAVY=' + ','.join(heavy))") % (args,)
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=30)
    assert "HEAVY=" in proc.stderr
    assert proc.stderr.rsplit("HEAVY=", 1)[1].strip() == ""


@pytest.mark.parametrize("module", ["client", "session", "envelope", "retry", "exchange",
                                    "transfer", "outbound"])
def test_no_api_module_lets_httpx_import_its_own_cli(module):
    # Whichever module imports httpx first, httpx must not import its command-line
    # tool (click, rich, pygments): ~0.1 s and 6 MiB on every API call when click is there.
    probe = (f"import sys, spine_cli.api.{module}\n"
             "assert 'httpx' in sys.modules\n"
             "print(sorted(m for m in ('click', 'pygments', 'rich') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=30, check=True)
    assert proc.stdout.strip() == "[]"


def test_prompt_dash_at_a_terminal_says_how_to_end_it(api):
    code, screen = run_in_pty(["run", "create", "--prompt", "-", "--dry-run"], tty_env(api),
                              typed=b"Draft a memo\n\x04")
    assert code == 0, screen
    assert "Reading the prompt from stdin; end with Ctrl-D." in screen
    assert "prompt: Draft a memo\r\n" in screen  # one trailing newline dropped


def test_prompt_dash_from_a_pipe_says_nothing(api):
    from support.cli import spine

    out = spine("run", "create", "--prompt", "-", "--dry-run", input="Draft a memo\n")
    assert out.exit_code == 0, out
    assert "Reading" not in out.stderr and "prompt: Draft a memo\n" in out.stdout
