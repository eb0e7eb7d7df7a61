"""The live view in a real terminal (tmux): it ticks between polls, survives a resize, and
prints the canvas link as one unbroken line even at 40 columns.

These tests need real time, a few seconds each: the display's clock runs in another
process, drawn by a real terminal, so `FakeTime` cannot drive it. Each keeps its waits
to what it checks (a 2 s tick, a resize settling) and is skipped without tmux.
"""

from __future__ import annotations

import os
import re
import time

import pytest

from support.cli import spine
from support.tmux import AVAILABLE, Tmux
from support.tty import run_in_pty

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="tmux is not installed")

BAR = re.compile("[━─╸]{8}")
LONG = "[emulate:duration=900]"  # under an hour: the display counts seconds
ELAPSED_LEFT = re.compile(r"\s(?:(\d+)m)?(\d+)s · ~(?:(\d+)m)?(\d+)s left")


def created(api, prompt: str) -> str:
    """A run made with `spine run create`, so the history has the API's estimate."""
    out = spine("run", "create", "-q", "--prompt", prompt)
    assert out.exit_code == 0, out
    return out.stdout.strip()


def polls(api, run_id: str) -> int:
    return sum(1 for r in api.requests() if r["method"] == "GET"
               and r["path"] == f"/v1/run/{run_id}")


def seconds(minutes: str | None, secs: str) -> int:
    return int(minutes or 0) * 60 + int(secs)


def live_row(screen: list[str], run_id: str) -> list[str]:
    return [line for line in screen if line.startswith(f"{run_id[:8]} • running")]


def test_elapsed_ticks_and_time_left_counts_down_between_polls(api):
    run_id = created(api, f"Board memo {LONG}")
    with Tmux(["run", "watch", run_id, "--poll-interval", "60"], columns=100) as term:
        first = term.wait_for(lambda s: any(ELAPSED_LEFT.search(l) for l in live_row(s, run_id)))
        polled = polls(api, run_id)
        time.sleep(2.0)
        second = term.screen()
        assert polls(api, run_id) == polled  # no answer came in between: one poll interval
    (a,), (b,) = live_row(first, run_id), live_row(second, run_id)
    ea = ELAPSED_LEFT.search(a).groups()
    eb = ELAPSED_LEFT.search(b).groups()
    elapsed_a, left_a = seconds(ea[0], ea[1]), seconds(ea[2], ea[3])
    elapsed_b, left_b = seconds(eb[0], eb[1]), seconds(eb[2], eb[3])
    assert 1 <= elapsed_b - elapsed_a <= 3, (a, b)
    assert 1 <= left_a - left_b <= 3, (a, b)


@pytest.mark.parametrize("lines_before", [0, 40], ids=["at the top", "at the bottom"])
def test_a_resize_leaves_no_stale_line(api, lines_before):
    """At the bottom of a window (a terminal in use), nothing stale is left anywhere, even
    in the scrollback. At the top of a fresh one, a rewrapping terminal pushes the rows that
    no longer fit above the cursor into the scrollback, out of reach: the window is clean."""
    run_id = created(api, f"Board memo {LONG}")
    with Tmux(["run", "watch", run_id], columns=120, lines_before=lines_before) as term:
        term.wait_for(lambda s: len(live_row(s, run_id)) == 1
                      and any(line.startswith("Canvas: https://") for line in s))
        term.resize(40)  # the old 80-odd-column line now takes three rows
        time.sleep(1.0)  # four redraws
        narrow = term.screen(history=bool(lines_before))
        narrow_rows = term.rows()
        term.resize(100)
        time.sleep(1.0)
        back = term.screen(history=bool(lines_before))
    for screen in (narrow, back):
        shown = "\n".join(screen)
        assert len(live_row(screen, run_id)) == 1, shown
        assert sum(bool(BAR.search(line)) for line in screen) == 1, shown  # one bar
        assert sum(line.startswith("Active tasks") for line in screen) == 1, shown
        if lines_before:
            assert sum(line.startswith("Canvas: ") for line in screen) == 1, shown
    assert max(len(row) for row in narrow_rows) <= 40


def test_the_canvas_link_is_one_unbroken_line_at_40_columns(api):
    run_id = created(api, f"Board memo {LONG}")
    with Tmux(["run", "watch", run_id], columns=40) as term:
        screen = term.wait_for(lambda s: any(l.startswith("Canvas: https://") for l in s))
        rows = term.rows()
    (line,) = [l for l in screen if l.startswith("Canvas: ")]
    url = line[len("Canvas: "):]
    assert re.fullmatch(r"https://app\.getspine\.ai/canvas/[0-9a-f-]{36}", url), line
    assert url.endswith(api.emulator.get_run(api.key, run_id)["canvas_id"])
    assert not any(url in row for row in rows)  # longer than the window: soft-wrapped rows
    # The raw bytes: an OSC 8 hyperlink around the unbroken URL.
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="40", LINES="30",
               PYTHONUNBUFFERED="1")
    code, raw = run_in_pty(["run", "watch", run_id, "--timeout", "3s"], env, timeout=20)
    assert code == 6, raw
    assert re.search(r"\x1b\]8;[^;\x1b]*;" + re.escape(url) + r"\x1b\\" + re.escape(url), raw)
