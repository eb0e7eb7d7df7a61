"""Issue 11, money and privacy on create (items 7-8).

A create is never redirected and never resent after it may have reached the server:
every ambiguous outcome (5xx, a drop after sending, a 200 that is not a create answer, a
3xx, Ctrl-C after sending) exits 8 (130 for Ctrl-C) with a message pointing to the
unconfirmed history row it leaves. A create that certainly never reached the server is
retried, leaves no row and says "No run was created".
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from spine_cli.local.settings import canonical_base_url
from support.cli import FakeTime, spine
from support.hostile import CREATED, POST_RUN, RID, point_at, spine_env, unconfirmed_rows
from support.liar import Delay, Drop, Raw, Redirect, fail, ok

PROMPT = "Secret plans for Q3: merge with Initech"
NO_RESEND = "A run may have been created; the request was not resent, to avoid a duplicate run."


def hint_for(row: int) -> str:
    return (f"Recorded as unconfirmed #{row} (`spine run list --status unconfirmed`): check "
            f"for the run before creating it again, then `spine run forget #{row}`.")


def create(tmp_path, *options: str, **kw):
    attachment = tmp_path / "figures.csv"
    attachment.write_text("q,revenue\nQ3,12\n")
    return spine(*options, "run", "create", "--prompt", PROMPT, "-f", str(attachment), **kw)


def assert_one_unconfirmed_row(base_url: str, started: datetime) -> dict:
    rows = unconfirmed_rows()
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["run_id"] is None and row["unconfirmed"] is True
    assert row["profile"] == "default"
    assert row["base_url"] == canonical_base_url(base_url)
    assert row["prompt"] == PROMPT
    assert row["files"] == ["figures.csv"]
    when = datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
    assert started <= when <= datetime.now(timezone.utc)
    return row


# -- 7. every ambiguous outcome: exit 8, an unconfirmed row, never resent ------------------

AMBIGUOUS = {
    "5xx": (fail(500, "An internal error occurred while creating the run"),
            f"Error: An internal error occurred while creating the run (HTTP 500). {NO_RESEND}"),
    "drop after sending": (Drop(after_body=True),
                           "Error: the connection was dropped while creating the run; the "
                           "request may have reached the server, so a run may have been "
                           "created. It was not resent, to avoid a duplicate run."),
    "200 without run_id": (ok({"status": "running"}),
                           "Error: The API's create answer has no valid run_id (expected a "
                           f"UUID). {NO_RESEND}"),
    "200 not JSON": (Raw("<html>ok</html>", status=200),
                     "Error: The API answered HTTP 200 with a non-JSON page (text/html), not "
                     f"the API's JSON envelope. {NO_RESEND}"),
    "same-origin 302": (Redirect("/v1/run/elsewhere", status=302),
                        "Error: The API answered the create with a redirect (HTTP 302 to "
                        "another address); it was not followed, so the prompt and files went "
                        f"nowhere else. {NO_RESEND}"),
}


@pytest.mark.parametrize("case", list(AMBIGUOUS))
def test_an_ambiguous_create_exits_8_and_points_to_its_unconfirmed_row(
        liar, monkeypatch, tmp_path, case):
    answer, message = AMBIGUOUS[case]
    liar.on(*POST_RUN, answer)
    point_at(monkeypatch, liar.base_url)
    started = datetime.now(timezone.utc)
    out = create(tmp_path, seams=FakeTime().seams())
    assert out.exit_code == 8, out
    assert out.stdout == ""  # no run id: none is known
    row = assert_one_unconfirmed_row(liar.base_url, started)
    assert out.stderr == f"{message}\n{hint_for(row['id'])}\n"
    assert [r.method for r in liar.requests] == ["POST"]  # never resent


def test_a_cross_origin_redirect_is_not_followed_and_the_other_host_gets_nothing(
        liar, make_liar, monkeypatch, tmp_path):
    other = make_liar()
    liar.on(*POST_RUN, Redirect(other.url("/v1/run"), status=307))
    other.always(*POST_RUN, ok(CREATED))
    point_at(monkeypatch, liar.base_url)
    started = datetime.now(timezone.utc)
    out = create(tmp_path)
    assert out.exit_code == 8, out
    assert out.stdout == ""
    row = assert_one_unconfirmed_row(liar.base_url, started)
    assert out.stderr == (
        "Error: The API answered the create with a redirect (HTTP 307 to 127.0.0.1); it was "
        f"not followed, so the prompt and files went nowhere else. {NO_RESEND}\n"
        f"{hint_for(row['id'])}\n")
    time.sleep(0.2)  # anything on its way to the other host would have arrived
    assert other.requests == []
    assert [r.method for r in liar.requests] == ["POST"]


def test_ctrl_c_after_the_body_was_sent_is_ambiguous_and_recorded(liar, monkeypatch):
    # Real signals need a process of its own; the liar holds the answer back meanwhile.
    liar.on(*POST_RUN, Delay(30, ok(CREATED)))
    point_at(monkeypatch, liar.base_url)
    proc = subprocess.Popen([sys.executable, "-m", "spine_cli", "run", "create", "--prompt",
                             PROMPT], env=spine_env(liar.base_url), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    started = datetime.now(timezone.utc)
    seen = liar.wait_for_requests(1, timeout=20)
    assert seen and _body_complete(seen[0])
    time.sleep(0.3)  # spine is now waiting for the answer
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert out == ""
    rows = unconfirmed_rows()
    assert len(rows) == 1 and rows[0]["prompt"] == PROMPT
    assert rows[0]["note"] == "interrupted after the request was sent"
    assert started.isoformat()[:16] <= rows[0]["created_at"][:16]
    assert err == ("Error: Interrupted after the create request was sent: a run may have been "
                   f"created.\n{hint_for(rows[0]['id'])}\n")


def _body_complete(seen, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not seen.body_complete and time.monotonic() < deadline:
        time.sleep(0.02)
    return seen.body_complete


# -- 8. a create that never reached the server: retried, no row, "no run was created" -----

def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("where", ["refused", "dns", "tls"])
def test_a_create_that_never_reached_the_server_is_retried_and_leaves_no_row(
        liar, monkeypatch, tmp_path, where):
    # tls: https to a server that speaks plain HTTP, so the handshake fails before sending.
    url = {"refused": _closed_port_url(), "dns": "http://spine-test-host.invalid",
           "tls": liar.base_url.replace("http://", "https://")}[where]
    point_at(monkeypatch, url)
    ft = FakeTime()
    out = create(tmp_path, "-v", seams=ft.seams())
    assert out.exit_code == 8, out
    assert out.stdout == ""
    assert out.stderr.count("retrying in") == 4  # the policy's retries: it certainly never ran
    assert out.stderr.endswith(
        f"Error: Cannot reach the Spine API at {url}/v1: connection failed. No run was "
        "created.\nCheck the network or SPINE_BASE_URL, then retry.\n")
    assert "may have been created" not in out.stderr
    assert unconfirmed_rows() == []
    assert [r for r in liar.requests if r.method == "POST"] == []
    listed = spine("run", "list", "--json")
    assert listed.exit_code == 0 and listed.stdout.strip() == "[]"


def test_a_429_on_create_is_retried_and_then_says_no_run_was_created(liar, monkeypatch,
                                                                      tmp_path):
    liar.always(*POST_RUN, fail(429, "Too many requests", retry_after="1"))
    point_at(monkeypatch, liar.base_url)
    out = create(tmp_path, seams=FakeTime().seams())
    assert out.exit_code == 8, out
    assert len(liar.requests) == 5
    assert out.stderr == ("Error: Too many requests. No run was created. (HTTP 429)\n"
                          "The API is rate limiting this key; try again later.\n")
    assert out.stdout == "" and unconfirmed_rows() == []
