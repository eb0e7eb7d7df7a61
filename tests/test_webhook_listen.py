"""`spine webhook listen` as a real subprocess: verify, dedupe, filter, print, forward, exec."""

from __future__ import annotations

import json
import re
import signal
import socket
import sys
import time

import pytest
from spine import SpineClient

from support.listener import SECRET, ListenerProcess, encode, make_event, sign
from support.webhooks import Receiver


def _no_secret(listener: ListenerProcess) -> None:
    assert SECRET not in listener.output()


@pytest.fixture(scope="module")
def shared():
    """One default listener for the tests that need no options (each starts ~0.5 s)."""
    with ListenerProcess() as listener:
        yield listener
    _no_secret(listener)


@pytest.fixture
def plain(shared):
    shared.stdout_lines.clear()
    shared.stderr_lines.clear()
    return shared


def test_prints_the_url_and_stops_cleanly_on_sigterm_and_ctrl_c():
    for sig in (signal.SIGTERM, signal.SIGINT):
        listener = ListenerProcess().wait_ready()
        assert re.match(r"^http://127\.0\.0\.1:\d+/$", listener.url)
        assert listener.stop(sig) == 0, listener.output()
        assert "Stopped listening." in listener.stderr_lines
        assert listener.stdout_lines == []
        _no_secret(listener)


def test_verified_events_are_ndjson_when_piped_and_answered_200(plain):
    first, second = make_event("run.started", status="running"), make_event("run.failed")
    for event in (first, second):
        response = plain.deliver(event)
        assert response.status_code == 200 and response.json()["id"] == event["id"]
    lines = plain.wait_stdout(2)
    assert [json.loads(line) for line in lines] == [first, second]
    assert not any(line.startswith("Warning") for line in plain.stderr_lines)


@pytest.mark.parametrize("case,reason", [
    ("unsigned", "missing_signature"), ("bad signature", "signature_mismatch"),
    ("stale", "stale_timestamp"), ("wrong secret", "signature_mismatch"),
])
def test_unsigned_and_badly_signed_deliveries_get_400_and_a_warning(plain, case, reason):
    event = make_event()
    if case == "unsigned":
        response = plain.post(encode(event), {"Content-Type": "application/json"})
    elif case == "bad signature":
        body = encode(event)
        response = plain.post(body, {"Spine-Signature": sign(SECRET, body + b" ")})
    elif case == "stale":
        response = plain.deliver(event, timestamp=int(time.time()) - 301)
    else:
        response = plain.deliver(event, secret="whsec_someone_else_000000")
    assert response.status_code == 400 and response.json()["reason"] == reason
    warning = plain.wait_stderr(lambda line: line.startswith("Warning:"))
    assert f"answered 400, {reason}" in warning and "127.0.0.1" in warning
    assert plain.stdout_lines == []


def test_a_replayed_delivery_gets_400_but_each_event_is_printed_once(plain):
    event = make_event()
    body = encode(event)
    headers = {"Spine-Signature": sign(SECRET, body)}
    assert plain.post(body, headers).status_code == 200
    again = plain.post(body, headers)  # the captured request, replayed
    resigned = plain.deliver(event)  # same id, freshly signed: still a replay
    plain.wait_stdout(1)
    _wait(lambda: sum("replayed" in line for line in plain.stderr_lines) == 2)
    assert again.status_code == resigned.status_code == 400
    assert again.json()["reason"] == "replayed"
    assert len(plain.stdout_lines) == 1


def test_events_filter_acknowledges_but_skips_other_types():
    with ListenerProcess("--events", "run.completed,run.failed") as listener:
        started = listener.deliver(make_event("run.started", status="running"))
        ping = listener.deliver(make_event("webhook.ping"))
        done = make_event("run.completed")
        assert listener.deliver(done).status_code == 200
        listener.wait_stdout(1)
        time.sleep(0.2)
    assert started.status_code == ping.status_code == 200  # so the sender does not retry
    assert listener.events() == [done]
    assert any(line == "Only: run.completed, run.failed" for line in listener.stderr_lines)


def test_a_tty_gets_a_readable_line_with_time_type_run_status_and_duration():
    app = Receiver()
    try:
        with ListenerProcess("--forward-to", app.url, tty=True) as listener:
            event = make_event("run.completed", duration_ms=10736)
            assert listener.deliver(event).status_code == 200
            [line] = listener.wait_stdout(1)
    finally:
        app.close()
    run_id = event["data"]["object"]["run_id"]
    assert re.match(rf"^\d\d:\d\d:\d\d  run\.completed  {run_id}  completed  +10\.7s  "
                    r"→ 200 \(\d+ ms\)$", line), line
    assert not line.lstrip().startswith("{")


def test_server_text_is_neutralised_on_a_tty():
    with ListenerProcess(tty=True) as listener:
        event = make_event("run.completed", status="comp\x1b[2Jleted\x07")
        event["type"] = "run.\x1b]0;pwned\x07completed"
        assert listener.deliver(event).status_code == 200
        [line] = listener.wait_stdout(1)
    assert "\x1b" not in line and "\x07" not in line
    assert "run.completed" in line and "completed" in line


def test_exec_gets_the_event_on_stdin_and_its_ids_in_env_never_the_secret(tmp_path):
    script = tmp_path / "hook.py"
    out = tmp_path / "seen.json"
    script.write_text(
        "import json, os, sys\n"
        f"out = {str(out)!r}\n"
        "json.dump({'stdin': sys.stdin.read(), 'argv': sys.argv, 'env': dict(os.environ)},"
        " open(out, 'w'))\n"
        "print('handled', os.environ['SPINE_EVENT_TYPE'])\n")
    cmd = f"{sys.executable} {script} --flag"
    event = make_event("run.completed")
    with ListenerProcess("--exec", cmd) as listener:
        response = listener.deliver(event)
        listener.wait_stdout(1)
        listener.wait_stderr(lambda line: "handled run.completed" in line)
    assert response.status_code == 200
    seen = json.loads(out.read_text())
    assert seen["stdin"] == encode(event).decode()  # the raw body, untouched
    assert seen["argv"][1:] == ["--flag"]
    env = seen["env"]
    assert env["SPINE_EVENT_TYPE"] == "run.completed" and env["SPINE_EVENT_ID"] == event["id"]
    assert env["SPINE_RUN_ID"] == event["data"]["object"]["run_id"]
    assert "SPINE_WEBHOOK_SECRET" not in env
    assert SECRET not in json.dumps(seen)
    _no_secret(listener)


def test_exec_runs_without_a_shell_unless_asked(tmp_path):
    marker = tmp_path / "marker"
    with ListenerProcess("--exec", f"echo hi > {marker}") as listener:
        assert listener.deliver(make_event()).status_code == 200
        listener.wait_stdout(1)
    assert not marker.exists()  # `>` was an argument of echo, not a redirection
    with ListenerProcess("--exec", f"echo hi > {marker}", "--shell") as listener:
        assert listener.deliver(make_event()).status_code == 200
        listener.wait_stdout(1)
    assert marker.read_text() == "hi\n"


def test_a_failing_or_slow_exec_answers_5xx_so_the_sender_retries():
    # Real time: the timeout under test is 1 s of wall clock.
    with ListenerProcess("--exec", "sleep 30", "--exec-timeout", "1") as listener:
        started = time.monotonic()
        slow = listener.deliver(make_event())
        elapsed = time.monotonic() - started
        listener.wait_stderr(lambda line: "timed out" in line)
    assert slow.status_code == 500 and elapsed < 5
    with ListenerProcess("--exec", "false") as listener:
        event = make_event()
        assert listener.deliver(event).status_code == 500
        warning = listener.wait_stderr(lambda line: "--exec exited 1" in line)
        assert event["id"] in warning and "answered 500" in warning
    assert listener.stdout_lines == []


def test_a_missing_exec_program_is_a_usage_error():
    listener = ListenerProcess("--exec", "no-such-program-xyz --x")
    assert listener.proc.wait(20) == 2
    time.sleep(0.1)
    assert "Invalid --exec" in listener.output()


def test_bodies_over_the_cap_are_refused_with_413(plain):
    response = plain.post(b"x" * (5 * 1024 * 1024 + 1), {"Spine-Signature": "t=1,v1=2"})
    plain.wait_stderr(lambda line: "too_large" in line)
    assert response.status_code == 413


def test_a_request_without_content_length_gets_411_and_get_gets_405(plain):
    host, port = plain.url[len("http://"):-1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"2\r\n{}\r\n0\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.0 411")
    assert plain._http.get(plain.url).status_code == 405


def test_non_loopback_host_is_warned_about():
    with ListenerProcess("--host", "0.0.0.0") as listener:
        warning = listener.wait_stderr(lambda line: line.startswith("Warning:"))
        assert listener.deliver(make_event()).status_code == 200
    assert "not on loopback" in warning
    assert listener.url.startswith("http://127.0.0.1:")


def test_a_port_in_use_is_exit_2():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        listener = ListenerProcess(port=busy.getsockname()[1])
        assert listener.proc.wait(20) == 2
    time.sleep(0.1)
    assert "Cannot listen on 127.0.0.1" in listener.output()


def test_without_a_secret_it_exits_4():
    listener = ListenerProcess(secret=None)
    assert listener.proc.wait(20) == 4
    time.sleep(0.1)
    assert "No webhook signing secret" in listener.output()


# --- the full loop ------------------------------------------------------------------------

def test_emulator_to_listener_to_app_loses_and_duplicates_nothing_when_the_app_fails_once(
        tmp_path):
    from support.emulator import EmulatorHandle

    app = Receiver()
    app.statuses = [500]  # the first delivery the app sees fails
    listener = ListenerProcess("--forward-to", app.url).wait_ready()
    emu = EmulatorHandle(tmp_path / "emu", "--webhook",
                         listener.url + "#run.started,run.completed", "--webhook-secret", SECRET)
    try:
        key = emu.new_key()
        run_id = emu.create_run(key, "Loop [emulate:duration=5]")["run_id"]
        app.wait_for(run_id, 1)
        _wait(lambda: _delivery(emu, "run.started")["last_status"] == 502)
        emu.advance(1.5)  # the emulator's first retry is due 1 s later (its clock)
        app.wait_for(run_id, 2)
        emu.advance(5)  # the run ends: run.completed
        deliveries = app.wait_for(run_id, 3)
        listener.wait_stdout(2)
        _wait(lambda: _delivery(emu, "run.completed")["state"] == "delivered")
        attempts = _delivery(emu, "run.started")["attempts"]
    finally:
        emu.close()
        listener.stop()
        app.close()
    ids = [headers["Spine-Event-Id"] for headers, _ in deliveries]
    assert ids[0] == ids[1] != ids[2]  # the failed delivery was retried, not lost
    sdk = SpineClient(api_key=key)
    types = [sdk.webhooks.construct_event(body, headers["Spine-Signature"], SECRET).type
             for headers, body in deliveries]  # forwarded untouched: the signature still holds
    assert types == ["run.started", "run.started", "run.completed"]
    assert all(h["User-Agent"] == "Spine-Webhooks/1.0" for h, _ in deliveries)
    assert [e["id"] for e in listener.events()] == [ids[0], ids[2]]  # each printed once
    assert attempts == 2
    assert any("answered 502" in line and "HTTP 500" in line for line in listener.stderr_lines)
    shown = [line for line in listener.stderr_lines if re.search(r"→ 200 \(\d+ ms\)$", line)]
    assert len(shown) == 2 and ids[2] in shown[1]  # the app's status and time, on stderr
    _no_secret(listener)


def _delivery(emu, event_type: str) -> dict:
    return next(d for d in emu.webhooks() if d["event_type"] == event_type)


def _wait(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except StopIteration:
            pass
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_replay_guard_forgets_accepted_ids_after_its_window_and_retries_failed_ones():
    from spine_cli.webhooks.listener import ReplayGuard

    now = [1000.0]
    guard = ReplayGuard(window=600, clock=lambda: now[0])
    assert guard.claim("evt_a")
    assert not guard.claim("evt_a")  # being handled: a concurrent duplicate
    guard.release("evt_a", accepted=False)
    assert guard.claim("evt_a")  # the sender's retry of a failed delivery is handled again
    guard.release("evt_a", accepted=True)
    now[0] += 600
    assert not guard.claim("evt_a")  # still inside the window
    now[0] += 1
    assert guard.claim("evt_a")  # a replay this late fails the timestamp check anyway
