"""Issue 11, answers of the wrong shape (items 4-6): never exit 1, always a clear message.

A misbehaving server (`support.liar`) answers what the API never documents: `data` of the
wrong type, numbers as strings, odd status codes, error text in odd places, a proxy's
HTML page, nulls, bodies far too large. Each is a clear error with a documented exit
code; during a wait it is a failed poll that counts toward `--max-outage`.
"""

from __future__ import annotations

import json
import time

import pytest

from support.cli import FakeTime, spine
from support.hostile import (
    CID, GET_RUN, RID, RUNNING, completed, point_at, run_spine, spine_env,
)
from support.liar import AUTO, Json, Raw, Stream, fail, ok


@pytest.fixture
def lying(liar, monkeypatch):
    point_at(monkeypatch, liar.base_url)
    return liar


# -- 4. wrong shapes: exit 8 for a get, a failed poll during a wait ------------------------

@pytest.mark.parametrize("data,kind", [("oops", "a string"), ([1], "a list"), (None, "null"),
                                       (42, "a number"), (True, "true/false")])
def test_data_that_is_not_an_object_is_a_malformed_answer(lying, data, kind):
    lying.always(*GET_RUN, ok(data))
    out = spine("run", "get", RID)
    assert out.exit_code == 8, out
    assert out.stdout == ""
    assert out.stderr == f"Error: The API answered with {kind} for the run, not an object.\n"


def test_a_wrong_shape_during_a_wait_is_a_failed_poll_within_max_outage(lying):
    lying.always(*GET_RUN, ok("oops"))
    ft = FakeTime()
    start = ft.now
    out = spine("run", "wait", RID, "--max-outage", "10", seams=ft.seams())
    assert out.exit_code == 8, out
    assert ft.now - start == pytest.approx(10, abs=0.01)
    assert len(lying.requests) > 2  # retried, not given up at the first odd answer
    lines = out.stderr.splitlines()
    assert lines[0].startswith(f"run {RID[:8]}: poll failed (The API answered with a string "
                               "for the run, not an object.); retrying in ")
    assert lines[-2:] == [
        f"Error: gave up on run {RID} after 10s of failed polls (--max-outage 10s): The API "
        "answered with a string for the run, not an object.",
        f"The run goes on server-side; resume with: spine run wait {RID}"]
    assert out.stdout == ""


def test_a_wrong_shape_then_a_good_answer_rides_through(lying):
    lying.on(*GET_RUN, ok([1]), ok({"run_id": RID}))  # a list, then a run without status
    lying.always(*GET_RUN, ok(completed(lying.url("/dl/a.html"))))
    out = spine("run", "wait", RID, seams=FakeTime().seams())
    assert out.exit_code == 0, out
    assert "poll failed (The API answered with a list for the run" in out.stderr
    assert "poll failed (The API's run has no status.)" in out.stderr
    assert out.stdout.startswith(f"Run:     {RID}  completed in 5s\n")


@pytest.mark.parametrize("answer,said", [
    (Raw("<html>403 Forbidden</html>", status=403),
     "HTTP 403 with a non-JSON page (text/html), not the API's JSON envelope."),
    (fail(418, "I'm a teapot"), "HTTP 418: I'm a teapot"),
    (fail(200, "quota exhausted"), "HTTP 200: The API refused the request: quota exhausted"),
])
def test_any_other_status_during_a_wait_is_a_failed_poll(lying, answer, said):
    lying.on(*GET_RUN, answer, answer)
    lying.always(*GET_RUN, ok(completed(lying.url("/dl/a.html"))))
    out = spine("run", "wait", RID, seams=FakeTime().seams())
    assert out.exit_code == 0, out
    assert out.stderr.count(f"poll failed (") == 2 and said in out.stderr
    assert out.stdout.startswith(f"Run:     {RID}  completed in 5s\n")


def test_a_proxy_page_for_longer_than_max_outage_gives_up_with_8(lying):
    lying.always(*GET_RUN, Raw("<html>403 Forbidden</html>", status=403))
    out = spine("run", "wait", RID, "--max-outage", "30", seams=FakeTime().seams())
    assert out.exit_code == 8, out
    assert out.stderr.splitlines()[-2] == (
        f"Error: gave up on run {RID} after 30s of failed polls (--max-outage 30s): The API "
        "answered HTTP 403 with a non-JSON page (text/html), not the API's JSON envelope.")
    assert out.stdout == ""


def test_numbers_as_strings_are_read_as_numbers(lying):
    lying.always(*GET_RUN, ok({**RUNNING, "progress": {"tasks_completed": "1",
                                                       "tasks_total": "4",
                                                       "elapsed_ms": "61000"}}))
    out = spine("run", "get", RID)
    assert out.exit_code == 0, out
    assert out.stdout.splitlines()[0] == f"Run:     {RID}  running 1/4 tasks, 1m01s elapsed"
    assert out.stderr == ""


@pytest.mark.parametrize("progress", ["1 of 4", ["1", "4"], None, {"tasks_total": "many"}])
def test_a_progress_of_the_wrong_shape_is_left_out(lying, progress):
    lying.always(*GET_RUN, ok({**RUNNING, "progress": progress}))
    out = spine("run", "get", RID)
    assert out.exit_code == 0, out
    assert out.stdout.splitlines()[0] == f"Run:     {RID}  running"
    assert out.stderr == ""


@pytest.mark.parametrize("answer,code,message", [
    (Raw(b"", status=204, content_type=None), 8,
     "Error: The API answered HTTP 204 with an empty body, not the API's JSON envelope."),
    (Raw(b"", status=301, content_type=None), 8,
     "Error: The API answered HTTP 301 with an empty body, not the API's JSON envelope."),
    (Json({"success": False, "error": "I'm a teapot"}, status=418), 2,
     "Error: I'm a teapot (HTTP 418)"),
    (Raw("<h1>teapot</h1>", status=418), 2,
     "Error: The API answered HTTP 418 with a non-JSON page (text/html), not the API's JSON "
     "envelope."),
    (Json({"ok": True}, status=200), 8,
     "Error: The API answered HTTP 200 with JSON that is not the API's envelope."),
    (Raw(b"\xff\xfe garbage", status=200, content_type="application/json"), 8,
     "Error: The API answered HTTP 200 with a body that is not JSON (application/json), not "
     "the API's JSON envelope."),
])
def test_any_other_status_or_body_is_a_clear_error_never_exit_1(lying, answer, code, message):
    lying.always(*GET_RUN, answer)
    out = spine("run", "get", RID, seams=FakeTime().seams())
    assert out.exit_code == code, out
    assert out.stderr.splitlines()[0] == message
    assert out.stdout == ""
    assert "internal error" not in out.stderr


# -- 5. messages say what happened ---------------------------------------------------------

def test_success_false_on_200_is_reported_as_a_refusal_not_http_400(lying):
    lying.always(*GET_RUN, fail(200, "quota exhausted"))
    out = spine("run", "get", RID)
    assert out.exit_code == 2, out
    assert out.stderr == "Error: The API refused the request: quota exhausted (HTTP 200)\n"
    assert "400" not in out.stderr and out.stdout == ""


@pytest.mark.parametrize("body", [
    {"success": False, "message": "the text is here"},
    {"success": False, "error": None, "detail": "the text is here"},
    {"success": False, "error": {"message": "the text is here", "code": 7}},
    {"success": False, "errors": [{"message": "the text is here"}]},
])
def test_error_text_not_under_error_is_still_shown(lying, body):
    lying.always(*GET_RUN, Json(body, status=400))
    out = spine("run", "get", RID)
    assert out.exit_code == 2, out
    assert out.stderr == "Error: the text is here (HTTP 400)\n"
    assert out.stdout == ""


def test_a_run_error_item_without_error_shows_its_text(lying):
    lying.always(*GET_RUN, ok({"run_id": RID, "status": "failed", "canvas_id": CID,
                               "errors": [{"message": "quota of the web block"},
                                          {"detail": "timeout", "block_type": "web-block"},
                                          {"error": None}]}))
    out = spine("run", "get", RID)
    assert out.exit_code == 0, out
    assert "Errors:\n  - quota of the web block\n  - timeout (web-block)\n  - unknown error\n" \
        in out.stdout
    assert "None" not in out.stdout and out.stderr == ""


def test_a_proxys_html_403_gives_one_clear_message(lying):
    lying.always(*GET_RUN, Raw("<html><h1>403 Forbidden</h1> by proxy</html>", status=403))
    out = spine("run", "get", RID)
    assert out.exit_code == 2, out
    assert out.stderr == (
        "Error: The API answered HTTP 403 with a non-JSON page (text/html), not the API's "
        "JSON envelope.\nA proxy may be in the way; check SPINE_BASE_URL.\n")
    assert out.stderr.count("403") == 1 and out.stdout == ""


def test_nulls_show_as_absent_never_as_none(lying):
    run = completed(lying.url("/dl/a.html"), name=None, size=None)
    run["metadata"] = {"template_used": None, "models_used": [None, "m/x"],
                       "credits_consumed": None}
    run["result"]["artifacts"][0]["type"] = None
    lying.always(*GET_RUN, ok(run))
    out = spine("run", "get", RID)
    assert out.exit_code == 0, out
    assert "None" not in out.stdout and "null" not in out.stdout
    assert "Details: models m/x\n" in out.stdout
    assert f"  ?              ?  {CID}\n" in out.stdout  # type, size, then the id as its name
    as_json = spine("run", "get", RID, "--json")
    assert json.loads(as_json.stdout) == run  # --json keeps the nulls as nulls


# -- 6. bodies are capped ----------------------------------------------------------------

BIG = 200 * 1024 * 1024


@pytest.mark.parametrize("length", ["announced", "unannounced"])
def test_a_200_mb_answer_is_refused_without_using_the_memory(liar, length):
    liar.always(*GET_RUN, Stream(size=BIG, prefix=b'{"success":true,"data":"', suffix=b'"}',
                                 content_type="application/json",
                                 content_length=AUTO if length == "announced" else None))
    out = run_spine("run", "get", RID, env=spine_env(liar.base_url), limit=60)
    assert out.exit_code == 8, out
    assert out.stdout == ""
    assert out.stderr.startswith("Error: The API's answer is too large (")
    assert "the limit is 16 MiB); it was not read." in out.stderr
    assert out.peak_rss_mib < 150, out
    assert out.elapsed < 15, out


def test_a_download_larger_than_announced_stops_at_once_and_is_not_refetched(lying, tmp_path):
    lying.always(*GET_RUN, ok(completed(lying.url("/dl/a.html"), size=1000)))
    lying.always("GET", "/dl/*", Stream(size=50 * 1024 * 1024, content_type="text/html"))
    out = spine("run", "download", RID, "-d", str(tmp_path / "out"))
    assert out.exit_code == 7, out
    fetches = [r for r in lying.requests if r.path.startswith("/dl/")]
    assert len(fetches) == 1  # not four times
    deadline = time.monotonic() + 5
    while not fetches[0].client_gone and time.monotonic() < deadline:
        time.sleep(0.02)  # the liar notices the hang-up at its next write
    assert fetches[0].client_gone and fetches[0].sent < 20 * 1024 * 1024
    assert out.stdout == (f"{tmp_path / 'out' / 'final_output.md'}\n"
                          f"{tmp_path / 'out' / 'manifest.json'}\n")
    assert out.stderr.startswith("Warning: could not download a.html: the server sent more "
                                 "than the announced 1000 bytes\n")
    assert not list((tmp_path / "out").glob("*.part")) and not (tmp_path / "out/a.html").exists()
