"""Colour and live redraws are separate decisions (README "Environment").

FORCE_COLOR colours piped human output but never turns on live redraws; NO_COLOR,
--no-color and TERM=dumb turn colour off, and TERM=dumb turns live redraws off even on
a terminal."""

from __future__ import annotations

import os
import re

import pytest

from support.cli import spine
from support.tty import run_in_pty

SGR = re.compile(r"\x1b\[[0-9;]*m")                                   # colour / bold
COLOUR = re.compile(r"\x1b\[(?:[0-9]+;)*(?:3[0-7]|9[0-7]|38)[;m]")     # a foreground colour
MOVES = re.compile(r"\r|\x1b\[[0-9;]*[A-HJKSTf]|\x1b\[\?25[lh]")     # cursor, erase, \r
FAST = ["--poll-interval", "0.2"]


def ended_run(api, outcome="completed"):
    run_id = api.emulator.create_run(api.key, f"memo [emulate:outcome={outcome}] "
                                              "[emulate:duration=2]")["run_id"]
    api.emulator.advance(3)
    return run_id


def test_force_color_colours_piped_output_without_live_redraws(api):
    run_id = api.emulator.create_run(api.key, "memo [emulate:duration=1]")["run_id"]
    out = spine("run", "watch", run_id, *FAST, env={"FORCE_COLOR": "1"})
    assert out.exit_code == 0, out
    assert COLOUR.search(out.stdout), out        # the run view in colour
    assert "Run:" in SGR.sub("", out.stdout)
    assert not MOVES.search(out.stdout + out.stderr), out
    assert f"run {run_id[:8]}: completed" in out.stderr  # plain progress lines


def test_piped_output_has_no_colour_by_default(api):
    out = spine("run", "get", ended_run(api, "failed"))
    assert out.exit_code == 0, out
    assert not SGR.search(out.stdout + out.stderr) and "failed" in out.stdout


@pytest.mark.parametrize("env,flags", [({"NO_COLOR": "1"}, []), ({}, ["--no-color"]),
                                       ({"TERM": "dumb"}, [])],
                         ids=["NO_COLOR", "--no-color", "TERM=dumb"])
def test_colour_off_wins_over_force_color(api, env, flags):
    run_id = ended_run(api, "failed")
    out = spine(*flags, "run", "wait", run_id, env={"FORCE_COLOR": "1", **env})
    assert out.exit_code == 3, out
    assert "failed" in out.stdout
    assert not SGR.search(out.stdout + out.stderr), out


def test_empty_no_color_does_not_count(api):
    out = spine("run", "get", ended_run(api), env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    assert out.exit_code == 0, out
    assert COLOUR.search(out.stdout)


def pty_env(api, **extra):
    env = dict(os.environ, SPINE_API_KEY=api.key, SPINE_BASE_URL=api.base_url,
               PYTHONUNBUFFERED="1", COLUMNS="100", LINES="40")
    env.update(extra)
    return env


def test_term_dumb_on_a_terminal_has_no_live_display_and_no_colour(api):
    run_id = api.emulator.create_run(api.key, "memo [emulate:duration=2]")["run_id"]
    code, screen = run_in_pty(["run", "watch", run_id, *FAST], pty_env(api, TERM="dumb"))
    assert code == 0, screen
    assert f"run {run_id[:8]}: completed" in screen   # plain lines, not the live view
    assert not re.search("[━─╸]{8}", screen)  # no bar
    assert not SGR.search(screen) and not re.search(r"\x1b\[[0-9;]*[A-HJK]", screen), screen
