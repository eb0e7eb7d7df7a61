"""Result views: server text is text (no markup, no escape sequences), in both modes."""

from __future__ import annotations

import re

import pytest

from spine_cli.api.models import Run
from spine_cli.ui.output import Output, OutputMode
from spine_cli.ui.render import format_duration, format_size, render_run, status_line
from spine_cli.ui.textsafe import sanitize

HOSTILE = "[bold red]LOUD[/] \x1b[31mred\x1b[0m \x1b]0;pwned\x07 bell\x07 cr\rX"

RUN = Run.parse({
    "run_id": "550e8400-e29b-41d4-a716-446655440000", "status": "partial",
    "canvas_id": "c0ffee00-0000-4000-8000-000000000000", "duration_ms": 927300,
    "result": {"final_output": f"# Title {HOSTILE}\n\nBody", "artifacts": [
        {"id": "a", "type": "docx", "name": f"Report {HOSTILE}.docx", "download_url": "x",
         "size_bytes": 245000}]},
    "metadata": {"template_used": "report", "models_used": ["anthropic/claude-sonnet-4-6"],
                 "credits_consumed": 45},
    "errors": [{"error": f"Block failed {HOSTILE}", "block_type": "excel-block"}],
})


def test_sanitize_removes_escapes_and_controls_but_keeps_text():
    assert sanitize(HOSTILE) == "[bold red]LOUD[/] red  bell crX"
    assert sanitize("a\nb\tc") == "a\nb\tc"
    assert sanitize("a\nb", keep_newlines=False) == "a b"


@pytest.mark.parametrize("rich_mode", [False, True])
def test_render_run_shows_server_text_literally(capsys, rich_mode):
    output = Output(OutputMode(rich_stdout=rich_mode, color_stdout=rich_mode))
    render_run(output, RUN)
    out = capsys.readouterr().out
    # The one OSC sequence allowed: our own OSC 8 link to the canvas (its id is a UUID).
    url = "https://app.getspine.ai/canvas/c0ffee00-0000-4000-8000-000000000000"
    link = re.compile(r"\x1b\]8;[^;\x1b]*;(%s)?\x1b\\" % re.escape(url))
    assert len(link.findall(out)) == (2 if rich_mode else 0)  # opened and closed once
    out = link.sub("", out)
    assert "\x1b]" not in out and "\x07" not in out and "\r" not in out
    assert "[bold red]LOUD[/]" in out
    assert "partial in 15m27s" in out
    assert "report" in out and "45 credits" in out
    assert "excel-block" in out


def test_plain_view_keeps_markdown_raw(capsys):
    render_run(Output(OutputMode()), RUN)
    out = capsys.readouterr().out
    assert "\n# Title" in out
    assert "\x1b" not in out


def test_status_and_formatting_helpers():
    assert format_duration(5) == "5s" and format_duration(927.3) == "15m27s"
    assert format_duration(7322) == "2h02m"
    assert format_size(245000) == "239.3 KiB" and format_size(12) == "12 B"
    running = Run.parse({"run_id": "550e8400-e29b-41d4-a716-446655440000", "status": "running",
                            "progress": {"tasks_completed": 3, "tasks_total": 8, "elapsed_ms": 480000}})
    assert status_line(running) == "running 3/8 tasks, 8m00s elapsed"
