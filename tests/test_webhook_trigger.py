"""`spine webhook trigger`: a signed, documented envelope POSTed to an endpoint (or printed)."""

from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
import time

import pytest
from spine import SpineClient

from support.cli import spine
from support.listener import SECRET, ListenerProcess
from support.webhooks import Receiver

ENV = {"SPINE_WEBHOOK_SECRET": SECRET}


@pytest.fixture
def endpoint():
    receiver = Receiver()
    yield receiver
    receiver.close()


def _verify(headers: dict[str, str], body: bytes):
    return SpineClient(api_key="sk_spine_unused").webhooks.construct_event(
        body, headers["Spine-Signature"], SECRET)


def test_posts_a_signed_documented_envelope_and_reports_the_answer(endpoint):
    result = spine("webhook", "trigger", "--to", endpoint.url, env=ENV)
    assert result.exit_code == 0, result
    [(headers, body)] = endpoint.deliveries
    event = _verify(headers, body)
    assert event.type == "run.completed" and re.fullmatch(r"evt_[0-9a-f]{32}", event.id)
    assert abs(event.created - time.time()) < 60 and event.api_version == "2026-04-01"
    obj = event.data["object"]
    assert obj["status"] == "completed" and obj["final_output"] == obj["result"]["final_output"]
    assert headers["Spine-Event-Id"] == event.id and headers["Spine-Event-Type"] == event.type
    assert headers["User-Agent"] == "Spine-Webhooks/1.0"
    assert headers["Content-Type"] == "application/json"
    assert "X-API-KEY" not in {k.upper() for k in headers}
    assert re.match(rf"^run\.completed {event.id} → {re.escape(endpoint.url)}: HTTP 200 in ",
                    result.stdout), result
    assert SECRET not in result.stdout + result.stderr


@pytest.mark.parametrize("kind", ["run.started", "run.failed", "webhook.ping"])
def test_each_event_type_has_its_shape(endpoint, kind):
    assert spine("webhook", "trigger", "--to", endpoint.url, "--event", kind,
                 env=ENV).exit_code == 0
    event = _verify(*endpoint.deliveries[0])
    obj = event.data["object"]
    assert event.type == kind
    if kind == "run.failed":
        assert obj["status"] == "failed" and obj["error"] == "Agent execution failed"
    elif kind == "run.started":
        assert obj["status"] == "running" and "progress" in obj
    else:
        assert "message" in obj


def test_json_reports_status_time_and_excerpt(endpoint):
    result = spine("webhook", "trigger", "--to", endpoint.url, "--json", env=ENV)
    assert result.exit_code == 0, result
    report = json.loads(result.stdout)
    assert report["status"] == 200 and report["accepted"] is True
    assert report["elapsed_ms"] >= 0 and report["type"] == "run.completed"


def test_a_rejecting_endpoint_is_exit_10_with_its_answer_shown(endpoint):
    endpoint.statuses = [400]
    result = spine("webhook", "trigger", "--to", endpoint.url, env=ENV)
    assert result.exit_code == 10, result
    assert "HTTP 400" in result.stdout
    assert result.stderr.startswith("Error: The endpoint rejected the event: HTTP 400.")


def test_a_listener_with_another_secret_rejects_it():
    with ListenerProcess(secret="whsec_listener_has_another_secret") as listener:
        result = spine("webhook", "trigger", "--to", listener.url, env=ENV)
    assert result.exit_code == 10, result
    assert "signature_mismatch" in result.stdout  # the listener's answer, shown


def test_an_unreachable_endpoint_is_exit_8():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        result = spine("webhook", "trigger", "--to", f"http://127.0.0.1:{port}/", env=ENV)
    assert result.exit_code == 8, result
    assert "Cannot reach" in result.stderr and result.stdout == ""


def test_print_gives_a_curl_command_that_a_listener_accepts():
    with ListenerProcess() as listener:
        result = spine("webhook", "trigger", "--print", "--to", listener.url, env=ENV)
        assert result.exit_code == 0, result
        argv = shlex.split(result.stdout)
        assert argv[:5] == ["curl", "-sS", "-X", "POST", listener.url]
        assert listener.stdout_lines == []  # --print sends nothing
        answer = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        [line] = listener.wait_stdout(1)
    assert json.loads(answer.stdout)["received"] is True
    assert json.loads(line)["type"] == "run.completed"
    assert SECRET not in result.stdout


def test_print_json_gives_headers_and_body():
    result = spine("webhook", "trigger", "--print", "--json", "--event", "webhook.ping", env=ENV)
    assert result.exit_code == 0, result
    request = json.loads(result.stdout)
    assert request["url"] == "http://127.0.0.1:8787/" and request["method"] == "POST"
    body = request["body"].encode()
    assert _verify(request["headers"], body).type == "webhook.ping"


def test_run_takes_the_payload_from_a_real_run(api, endpoint):
    run = api.emulator.create_run(api.key, "Real shapes [emulate:duration=1]", template="memo")
    api.emulator.advance(2)
    result = spine("webhook", "trigger", "--run", run["run_id"], "--to", endpoint.url, env=ENV)
    assert result.exit_code == 0, result
    event = _verify(*endpoint.deliveries[0])
    got = api.emulator.get_run(api.key, run["run_id"])
    obj = event.data["object"]
    assert event.type == "run.completed"  # what a completed run announces
    assert obj["run_id"] == run["run_id"] and obj["result"]["final_output"] == \
        got["result"]["final_output"] and obj["metadata"] == got["metadata"]
    assert obj["final_output"] == got["result"]["final_output"]
    assert [a["type"] for a in obj["artifacts"]] == ["docx"]
    assert api.key not in result.stdout + result.stderr


def test_run_with_a_mismatched_event_warns_but_sends(api, endpoint):
    run = api.emulator.create_run(api.key, "Still going [emulate:duration=600]")
    result = spine("webhook", "trigger", "--run", run["run_id"], "--event", "run.completed",
                   "--to", endpoint.url, env=ENV)
    assert result.exit_code == 0, result
    assert "Warning: the run is running, which Spine announces as run.started" in result.stderr
    assert _verify(*endpoint.deliveries[0]).data["object"]["status"] == "running"


def test_run_that_does_not_exist_is_exit_9(api, endpoint):
    result = spine("webhook", "trigger", "--run", "00000000-0000-4000-8000-000000000000",
                   "--to", endpoint.url, env=ENV)
    assert result.exit_code == 9, result
    assert endpoint.deliveries == []


def test_bad_to_or_event_is_a_usage_error():
    assert spine("webhook", "trigger", "--to", "ftp://x", env=ENV).exit_code == 2
    result = spine("webhook", "trigger", "--event", "run.exploded", env=ENV)
    assert result.exit_code == 2 and "run.exploded" in result.stderr


def test_event_choices_are_the_documented_event_types():
    from spine_cli.commands.webhook_shared import EventType
    from spine_cli.emulator.config import WEBHOOK_EVENTS
    from spine_cli.webhooks.events import EVENT_TYPES

    from spine_cli.commands.webhook_shared import EVENT_TYPES as CLI_EVENT_TYPES

    assert [e.value for e in EventType] == list(EVENT_TYPES) == list(WEBHOOK_EVENTS)
    assert CLI_EVENT_TYPES == EVENT_TYPES
