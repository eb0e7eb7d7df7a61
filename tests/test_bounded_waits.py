"""Issue 11, bounded waits: `--timeout` and `--max-outage` hold whatever the server does.

Items 1-3: a server that trickles its answer or answers late cannot hold a wait past
`--timeout` (real time: only a real socket can trickle, so these take a few seconds
each); `Retry-After` never stretches a wait past `--max-outage` or `--timeout`, and the
messages give the time really spent (FakeTime: no sleeping); a status spine does not
know ends the wait at once, naming it.
"""

from __future__ import annotations

import json
import time

import pytest

from spine_cli.api.client import SpineClient
from spine_cli.errors import CreateUncertainError, DeadlineError
from support.cli import FakeTime, spine
from support.hostile import CID, GET_RUN, KEY, POST_RUN, RID, RUNNING, point_at
from support.liar import Delay, Trickle, fail, ok

RID2 = "0c0ffee0-2fa1-41d2-883f-0016d3cca427"


def timed(*args: str, **kw):
    start = time.monotonic()
    out = spine(*args, **kw)
    return out, time.monotonic() - start


# -- 1. --timeout bounds the whole wait, a request in flight included ------------------

def test_a_trickling_answer_cannot_hold_a_wait_past_its_timeout(liar, monkeypatch):
    # One byte every 2 s satisfies every per-read timeout: only a total deadline ends it.
    liar.always(*GET_RUN, Trickle(ok(RUNNING).body, every=2, limit=20))
    point_at(monkeypatch, liar.base_url)
    out, elapsed = timed("run", "wait", RID, "--timeout", "5")
    assert out.exit_code == 6, out
    assert 4.5 <= elapsed < 8, elapsed
    assert out.stdout == ""
    assert out.stderr == (
        f"Stopped waiting at --timeout (5s): run {RID} is still running (not polled yet); "
        f"it goes on server-side.\nResume with: spine run wait {RID}\n")


def test_a_late_answer_cannot_hold_a_wait_past_its_timeout(liar, monkeypatch):
    liar.always(*GET_RUN, Delay(45, ok(RUNNING)))
    point_at(monkeypatch, liar.base_url)
    out, elapsed = timed("run", "wait", RID, "--timeout", "4")
    assert out.exit_code == 6, out
    assert 3.5 <= elapsed < 7, elapsed
    assert out.stdout == ""
    assert "Stopped waiting at --timeout (4s)" in out.stderr
    assert f"Resume with: spine run wait {RID}" in out.stderr


def test_several_trickling_runs_all_stop_at_the_timeout(liar, monkeypatch):
    liar.always(*GET_RUN, Trickle(ok(RUNNING).body, every=2, limit=20))
    point_at(monkeypatch, liar.base_url)
    out, elapsed = timed("run", "wait", RID, RID2, "--timeout", "4")
    assert out.exit_code == 6, out
    assert elapsed < 7, elapsed
    for rid in (RID, RID2):
        assert f"run {rid} is still running" in out.stderr
    assert "Traceback" not in out.stderr


def test_every_request_has_a_total_deadline(liar):
    # `run get` and the rest: no --timeout, yet a trickle cannot hold a request forever.
    liar.always(*GET_RUN, Trickle(ok(RUNNING).body, every=1, limit=20))
    with SpineClient(liar.base_url, KEY, request_deadline=2.0) as client:
        start = time.monotonic()
        with pytest.raises(DeadlineError, match="still arriving when the time ran out"):
            client.get_run(RID, max_retries=0)
        assert time.monotonic() - start < 4.5


def test_a_create_whose_answer_trickles_is_ambiguous_after_the_deadline(liar):
    # The deadline counts from the end of the upload; the answer is what cannot trickle.
    liar.on(*POST_RUN, Trickle(ok({"run_id": RID, "status": "running"}).body, every=1,
                               limit=20))
    with SpineClient(liar.base_url, KEY, request_deadline=2.0) as client:
        start = time.monotonic()
        with pytest.raises(CreateUncertainError, match="A run may have been created"):
            client.create_run({"prompt": "x", "template": "auto"})
        assert time.monotonic() - start < 4.5
    assert len([r for r in liar.requests if r.method == "POST"]) == 1  # never resent


# -- 2. Retry-After is capped by the policy and by what is left -------------------------

def fake_wait(liar, monkeypatch, *flags: str):
    point_at(monkeypatch, liar.base_url)
    ft = FakeTime()
    start = ft.now
    out = spine("run", "wait", RID, *flags, seams=ft.seams())
    return out, ft, ft.now - start


def test_a_huge_retry_after_gives_up_at_max_outage(liar, monkeypatch):
    liar.always(*GET_RUN, fail(503, "busy", retry_after="999999999"))
    out, ft, elapsed = fake_wait(liar, monkeypatch, "--max-outage", "20")
    assert out.exit_code == 8, out
    assert elapsed == pytest.approx(20, abs=0.01)
    assert max(ft.sleeps) <= 20
    assert "999999999" not in out.stderr
    assert out.stdout == ""
    assert out.stderr == (
        f"run {RID[:8]}: poll failed (HTTP 503: busy); retrying in 20s\n"
        f"Error: gave up on run {RID} after 20s of failed polls (--max-outage 20s): busy\n"
        f"The run goes on server-side; resume with: spine run wait {RID}\n")


def test_the_last_backoff_never_overshoots_max_outage(liar, monkeypatch):
    liar.always(*GET_RUN, fail(503, "busy"))
    out, ft, elapsed = fake_wait(liar, monkeypatch, "--max-outage", "15")
    assert out.exit_code == 8, out
    assert elapsed == pytest.approx(15, abs=0.01)  # not 30: the last wait is cut to fit
    assert out.stderr.endswith(
        f"Error: gave up on run {RID} after 15s of failed polls (--max-outage 15s): busy\n"
        f"The run goes on server-side; resume with: spine run wait {RID}\n")
    assert out.stdout == ""


def test_a_huge_retry_after_stops_at_the_timeout(liar, monkeypatch):
    liar.always(*GET_RUN, fail(429, "slow down", retry_after="999999999"))
    out, ft, elapsed = fake_wait(liar, monkeypatch, "--timeout", "10")
    assert out.exit_code == 6, out
    assert elapsed == pytest.approx(10, abs=0.01)
    assert "Stopped waiting at --timeout (10s)" in out.stderr
    assert "999999999" not in out.stderr
    assert out.stdout == ""


def test_a_huge_retry_after_is_capped_for_a_single_request(liar, monkeypatch):
    liar.always(*GET_RUN, fail(429, "slow down", retry_after="999999999"))
    point_at(monkeypatch, liar.base_url)
    ft = FakeTime()
    out = spine("-v", "run", "get", RID, seams=ft.seams())
    assert out.exit_code == 8, out
    assert ft.sleeps and max(ft.sleeps) <= 30  # the policy's one cap
    assert "retrying in 30.0s after HTTP 429" in out.stderr
    assert "999999999" not in out.stderr
    assert out.stderr.endswith("Error: slow down (HTTP 429)\n"
                               "The API is rate limiting this key; try again later.\n")
    assert out.stdout == ""


# -- 3. a status spine does not know ends the wait, named --------------------------------

CANCELLED = {"run_id": RID, "status": "cancelled", "canvas_id": CID}


def test_an_unknown_status_ends_the_wait_at_once_naming_it(liar, monkeypatch):
    liar.always(*GET_RUN, ok(CANCELLED))
    out, ft, elapsed = fake_wait(liar, monkeypatch, "--poll-interval", "1")
    assert out.exit_code == 8, out
    assert len(liar.requests) == 1  # no polling on and on
    assert out.stdout == ""
    assert out.stderr == (
        f"run {RID[:8]}: cancelled\n"
        f"Error: The API reports run {RID} as 'cancelled', a status this version of spine "
        "does not know, so it cannot tell whether the run will end.\n"
        f"See it with `spine run get {RID}`; a newer spine may know it.\n")


def test_run_get_shows_an_unknown_status_as_it_is(liar, monkeypatch):
    liar.always(*GET_RUN, ok(CANCELLED))
    point_at(monkeypatch, liar.base_url)
    out = spine("run", "get", RID)
    assert out.exit_code == 0, out
    assert out.stdout.splitlines()[0] == f"Run:     {RID}  cancelled"
    assert out.stderr == ""
    quiet = spine("run", "get", RID, "-q")
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "cancelled\n", "")
    data = spine("run", "get", RID, "--json")
    assert json.loads(data.stdout) == CANCELLED and data.stderr == ""


def test_exit_8_documents_answers_spine_cannot_use():
    from spine_cli.errors import EXIT_CODE_TABLE

    text = dict(EXIT_CODE_TABLE)[8]
    assert "an answer of the wrong shape or an unknown run status" in text
    readme = (__import__("pathlib").Path(__file__).parents[1] / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| 8 |"))
    assert "an answer of the wrong shape or an unknown run status" in row
