"""Contract paths the other tests do not reach: exit 1 with and without SPINE_DEBUG, and
the live display riding out an outage at a terminal."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx

from spine_cli.context import Seams
from support.cli import spine
from support.tty import run_in_pty

RUN = "550e8400-e29b-41d4-a716-446655440000"
KEY = "sk_spine_contract_0123456789abcd"


def broken(request: httpx.Request) -> httpx.Response:
    """A transport with a bug in it: something spine does not expect at all."""
    raise ZeroDivisionError("a bug")


def test_an_unexpected_exception_is_exit_1_with_a_short_message(monkeypatch):
    monkeypatch.setenv("SPINE_API_KEY", KEY)
    out = spine("run", "get", RUN, seams=Seams(transport=httpx.MockTransport(broken)))
    assert out.exit_code == 1
    assert out.stdout == ""
    assert out.stderr == ("Error: internal error: ZeroDivisionError: a bug\n"
                          "This is a bug in spine; rerun with SPINE_DEBUG=1 for a traceback.\n")


def test_spine_debug_shows_the_traceback(monkeypatch):
    """In a child process, as a user would run it: the traceback, and still exit 1."""
    code = ("import httpx, sys\n"
            "from typer.testing import CliRunner\n"
            "from spine_cli.app import main\n"
            "from spine_cli.context import Seams\n"
            "import spine_cli.app as app\n"
            "def broken(request):\n"
            "    raise ZeroDivisionError('a bug')\n"
            f"sys.argv = ['spine', 'run', 'get', {RUN!r}]\n"
            "app.app(prog_name='spine', obj=Seams(transport=httpx.MockTransport(broken)))\n")
    env = {**os.environ, "SPINE_API_KEY": KEY}
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=60, env=env)
    assert quiet.returncode == 1 and "Traceback" not in quiet.stderr
    loud = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env={**env, "SPINE_DEBUG": "1"})
    assert loud.returncode == 1
    assert "Traceback (most recent call last)" in loud.stderr
    assert "ZeroDivisionError: a bug" in loud.stderr


def test_the_live_display_rides_out_an_outage_and_says_so(api):
    """Real time: the child process at a terminal cannot take an injected clock. The run
    lasts a few seconds; two failed polls cost 2 + 4 s of backoff at most."""
    run_id = api.emulator.create_run(api.key, "Memo [emulate:duration=4] [emulate:tasks=6]")[
        "run_id"]
    api.emulator.fault("status", method="GET", path=f"/v1/run/{run_id}", status=503, count=2)
    env = {**os.environ, "SPINE_API_KEY": api.key, "SPINE_BASE_URL": api.base_url,
           "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "40", "PYTHONUNBUFFERED": "1"}
    code, screen = run_in_pty(["run", "watch", run_id], env, timeout=60)
    assert code == 0, screen
    assert "poll failed (HTTP 503" in screen and "retrying in" in screen  # shown live
    assert "\x1b[" in screen                    # drawn in place, not plain lines
    assert "Run:" in screen and "completed" in screen  # then the result
    statuses = [r["status"] for r in api.requests() if r["path"] == f"/v1/run/{run_id}"]
    assert statuses[:2] == [503, 503] and statuses[-1] == 200


def test_only_the_named_group_is_built_for_a_command(tmp_path):
    """Typer inspects every registered command on every call: `spine run …` builds `run` only
    (bench/startup.py measures what that saves); root help still lists every group."""
    from spine_cli.app import GROUPS, named_group

    assert named_group(["run", "get", "x"]) == "run"
    assert named_group(["--profile", "run", "-v", "canvas", "dag"]) == "canvas"
    assert named_group(["--json", "--ci", "none", "webhook", "verify"]) == "webhook"
    assert named_group(["--help"]) is None and named_group(["runn"]) is None
    probe = ("import sys\nsys.argv = ['spine', 'run', '--help']\n"
             "from spine_cli.app import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in sys.modules if m.startswith('spine_cli.commands.')))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60)
    loaded = out.stdout.strip().splitlines()[-1]
    assert "spine_cli.commands.run" in loaded and "spine_cli.commands.webhook" not in loaded
    assert "spine_cli.commands.auth'" not in loaded
    whole = subprocess.run([sys.executable, "-m", "spine_cli", "--help"], capture_output=True,
                           text=True, timeout=60)
    assert whole.returncode == 0
    assert all(f" {name} " in whole.stdout for name, _ in GROUPS)
