"""Issue 11 item 9: server text cannot drive the terminal, fake a line, or reorder a name.

Every string a misbehaving server sends — ANSI/OSC sequences (an OSC 52 clipboard write,
a clear-screen), C1 controls, bidi overrides (U+202E), newlines inside one-line fields —
is neutralised before a terminal or a log line sees it, in `run get`, `wait`, `watch`,
`create`, `run list`, `canvas tasks`, errors and `-v` logs; `--json` keeps data as data
(the same value parses back, the dangerous characters \\u-escaped). A run or canvas id
that is not a UUID is refused; downloaded names lose their bidi overrides; a Markdown
link rendered on a terminal shows where it goes.
"""

from __future__ import annotations

import json
import re

import pytest

from support.cli import FakeTime, spine
from support.hostile import (
    CID, CREATED, GET_RUN, POST_RUN, RID, completed, point_at, spine_env,
)
from support.liar import Json, Raw, ok
from support.tty import run_in_pty

EVIL = "\x1b]52;c;ZXZpbA==\x07\x1b[2J\u202eevil\x9b31m\nFAKE LINE"
EVIL_SHOWN = "evil FAKE LINE"  # what is left on one line
RAW = ["\x1b", "\x07", "\x9b", "\u202e"]   # what a terminal would act on
NEVER = [*RAW, "52;c;", "[2J"]               # nor what is left of a sequence


def assert_clean(*texts: str, never: list[str] = NEVER) -> None:
    for text in texts:
        for bad in never:
            assert bad not in text, (bad, text)


def evil_run(url: str) -> dict:
    run = completed(url, name=f"report{EVIL}.html", final_output=f"# Done\n\n{EVIL}\n")
    run["status"] = "partial"
    run["metadata"] = {"template_used": EVIL, "models_used": [EVIL], "credits_consumed": 3}
    run["errors"] = [{"error": EVIL, "block_type": EVIL}]
    return run


@pytest.fixture
def lying(liar, monkeypatch):
    point_at(monkeypatch, liar.base_url)
    return liar


def test_run_get_neutralises_every_server_string(lying):
    lying.always(*GET_RUN, ok(evil_run(lying.url("/dl/a"))))
    out = spine("run", "get", RID)
    assert out.exit_code == 0, out
    assert_clean(out.stdout, out.stderr)
    lines = out.stdout.splitlines()
    assert f"Details: template {EVIL_SHOWN} · models {EVIL_SHOWN} · 3 credits" in lines
    assert f"  - {EVIL_SHOWN} ({EVIL_SHOWN})" in lines           # an error item, one line
    assert f"  html      1000 B  report{EVIL_SHOWN}.html" in lines  # an artifact name
    assert "evil" in lines and "FAKE LINE" in lines               # Markdown keeps its lines


def test_json_keeps_server_strings_as_data(lying):
    run = evil_run(lying.url("/dl/a"))
    lying.always(*GET_RUN, ok(run))
    out = spine("run", "get", RID, "--json")
    assert out.exit_code == 0, out
    assert json.loads(out.stdout) == run  # the same value parses back
    assert_clean(out.stdout, out.stderr, never=RAW)
    assert "\\u202e" in out.stdout and "\\u009b" in out.stdout  # escaped, not dropped


def test_an_unknown_status_with_escapes_is_one_clean_line_in_get_and_wait(lying):
    lying.always(*GET_RUN, ok({"run_id": RID, "status": f"weird{EVIL}", "canvas_id": CID}))
    got = spine("run", "get", RID)
    assert got.exit_code == 0, got
    assert got.stdout.splitlines()[0] == f"Run:     {RID}  weird{EVIL_SHOWN}"
    waited = spine("run", "wait", RID, seams=FakeTime().seams())
    assert waited.exit_code == 8, waited
    assert_clean(got.stdout, got.stderr, waited.stdout, waited.stderr)
    assert waited.stderr.splitlines() == [
        f"run {RID[:8]}: weird{EVIL_SHOWN}",
        f"Error: The API reports run {RID} as 'weird{EVIL_SHOWN}', a status this version of "
        "spine does not know, so it cannot tell whether the run will end.",
        f"See it with `spine run get {RID}`; a newer spine may know it."]


def test_watch_json_events_keep_the_status_as_data(lying):
    lying.on(*GET_RUN, ok({"run_id": RID, "status": "running", "canvas_id": CID,
                           "progress": {"tasks_completed": 0, "tasks_total": 2,
                                        "elapsed_ms": 1}}))
    lying.always(*GET_RUN, ok({"run_id": RID, "status": EVIL, "canvas_id": CID}))
    out = spine("run", "watch", RID, "--json", seams=FakeTime().seams())
    assert out.exit_code == 8, out
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert [e["event"] for e in events] == ["state", "progress", "state", "result"]
    assert events[2]["status"] == EVIL and events[3]["run"]["status"] == EVIL
    assert_clean(out.stdout, never=RAW)
    assert_clean(out.stderr)


def test_errors_and_verbose_logs_are_neutralised(lying):
    # Header values travel as bytes: U+202E and U+009B arrive UTF-8 encoded.
    rid = "req\u202e-1\x9b31m".encode().decode("latin-1")
    lying.always(*GET_RUN, Json({"success": False, "error": EVIL}, status=400,
                                headers={"X-Request-ID": rid}))
    out = spine("-v", "run", "get", RID)
    assert out.exit_code == 2, out
    assert_clean(out.stdout, out.stderr)
    assert out.stderr.splitlines() == [
        f"[spine] GET {lying.base_url}/v1/run/{RID} → 400 (" + out.stderr.split(" (", 1)[1]
        .split("\n")[0],
        f"Error: {EVIL_SHOWN} (HTTP 400, request id req-1)"]
    assert out.stderr.splitlines()[0].endswith(" ms, request id req-1)")


@pytest.mark.parametrize("field,value", [("run_id", f"{RID}\x1b[2J"), ("run_id", "42"),
                                         ("canvas_id", "x\nFAKE"), ("canvas_id", EVIL)])
def test_an_id_that_is_not_a_uuid_is_a_malformed_answer(lying, field, value):
    lying.always(*GET_RUN, ok({"run_id": RID, "status": "running", "canvas_id": CID,
                               field: value}))
    out = spine("run", "get", RID)
    assert out.exit_code == 8, out
    assert out.stderr == f"Error: The API's run has no valid {field} (expected a UUID).\n"
    assert out.stdout == ""


def test_create_prints_only_the_validated_id_whatever_else_comes(lying):
    lying.on(*POST_RUN, ok({**CREATED, "status": EVIL, "poll_url": EVIL}))
    out = spine("run", "create", "--prompt", "x")
    assert out.exit_code == 0, out
    assert out.stdout == f"{RID}\n"
    assert_clean(out.stderr)
    assert out.stderr == (f"Created run {RID}. Follow it with: spine run watch {RID}\n")


def test_a_create_answer_with_an_escaped_run_id_is_refused(lying):
    lying.on(*POST_RUN, ok({**CREATED, "run_id": EVIL}))
    out = spine("run", "create", "--prompt", "x")
    assert out.exit_code == 8, out
    assert out.stdout == ""
    assert out.stderr.startswith("Error: The API's create answer has no valid run_id (expected "
                                 "a UUID).")


def test_run_list_shows_a_recorded_status_neutralised(lying):
    lying.on(*POST_RUN, ok(CREATED))
    lying.always(*GET_RUN, ok({"run_id": RID, "status": f"odd{EVIL}", "canvas_id": CID}))
    assert spine("run", "create", "--prompt", "x").exit_code == 0
    assert spine("run", "get", RID).exit_code == 0  # records the odd status
    listed = spine("run", "list")
    assert listed.exit_code == 0, listed
    assert_clean(listed.stdout, listed.stderr)
    assert f"odd{EVIL_SHOWN}" in listed.stdout.splitlines()[1]
    code, screen = run_in_pty(["run", "list"], {**spine_env(lying.base_url), "TERM": "xterm",
                                                "COLUMNS": "200"})
    assert code == 0, screen
    for bad in ["\u202e", "52;c;", "[2J", "\x9b", "\x07"]:
        assert bad not in screen, (bad, screen)
    assert f"odd{EVIL_SHOWN}" in screen


def test_canvas_tasks_neutralise_task_names(lying):
    lying.always(*GET_RUN, ok({"run_id": RID, "status": "running", "canvas_id": CID}))
    task = {"task_id": EVIL, "name": EVIL, "task_type": EVIL, "status": EVIL, "children": []}
    lying.always("GET", f"/v1/canvas/{CID}/tasks",
                 ok({"canvas_id": CID, "completed": [], "not_completed": [task]}))
    out = spine("canvas", "tasks", RID)
    assert out.exit_code == 0, out
    assert_clean(out.stdout, out.stderr)
    assert EVIL_SHOWN in out.stdout
    quiet = spine("canvas", "tasks", RID, "-q")
    assert quiet.exit_code == 0 and quiet.stdout == f"{EVIL_SHOWN}\n"


def test_downloaded_file_names_lose_their_bidi_overrides(lying, tmp_path):
    # "invoice<RLO>lmth.exe" displays as "invoiceexe.html": the override must go.
    lying.always(*GET_RUN, ok(completed(lying.url("/dl/a"), size=4,
                                        name="invoice\u202elmth.exe")))
    lying.always("GET", "/dl/*", Raw(b"<p/>", content_type="text/html"))
    out = spine("run", "download", RID, "-d", str(tmp_path))
    assert out.exit_code == 0, out
    assert (tmp_path / "invoicelmth.exe.html").read_bytes() == b"<p/>"
    assert out.stdout.splitlines()[0] == str(tmp_path / "invoicelmth.exe.html")
    assert_clean(out.stdout, out.stderr, *(p.name for p in tmp_path.iterdir()))


def test_a_markdown_link_on_a_terminal_shows_its_target(lying):
    run = completed(lying.url("/dl/a"),
                    final_output="Read [the summary](https://evil.example/steal) first.")
    lying.always(*GET_RUN, ok(run))
    code, screen = run_in_pty(["run", "get", RID], {**spine_env(lying.base_url),
                                                    "TERM": "xterm-256color", "COLUMNS": "120"})
    assert code == 0, screen
    assert "the summary" in screen
    assert "https://evil.example/steal" in screen  # the target, in plain sight
    assert not re.search(r"\x1b\]8;[^\x07\x1b]*;https://evil", screen)  # no hidden OSC 8 link


def test_the_live_watch_display_neutralises_status_and_task_names(lying):
    running = {"run_id": RID, "status": "running", "canvas_id": CID,
               "progress": {"tasks_completed": 1, "tasks_total": 3, "elapsed_ms": 2000}}
    lying.on(*GET_RUN, ok(running), ok(running))
    lying.always(*GET_RUN, ok({**running, "status": f"odd{EVIL}"}))
    task = {"task_id": CID, "name": f"task{EVIL}", "task_type": f"type{EVIL}",
            "status": "running", "children": []}
    lying.always("GET", f"/v1/canvas/{CID}/tasks",
                 ok({"canvas_id": CID, "completed": [], "not_completed": [task]}))
    code, screen = run_in_pty(["run", "watch", RID, "--poll-interval", "0.3"],
                              {**spine_env(lying.base_url), "TERM": "xterm-256color",
                               "COLUMNS": "120", "LINES": "40"})
    assert code == 8, screen  # a status spine does not know ends the watch
    assert f"task{EVIL_SHOWN}" in screen and f"as 'odd{EVIL_SHOWN}'" in screen
    for bad in ["\u202e", "52;c;", "[2J", "\x9b", "\x07"]:
        assert bad not in screen, (bad, screen)
