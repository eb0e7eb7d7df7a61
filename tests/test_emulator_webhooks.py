"""Webhooks: signed run.* deliveries, verified by the official SDK; retries with backoff."""

from __future__ import annotations

import json
import time

import pytest
from spine import SpineClient

from support.emulator import EmulatorHandle
from support.webhooks import Receiver

SECRET = "whsec_test_0123456789abcdef"


@pytest.fixture(scope="module")
def hooked(tmp_path_factory):
    receiver = Receiver()
    emu = EmulatorHandle(tmp_path_factory.mktemp("hooked"), "--webhook", receiver.url,
                         "--webhook-secret", SECRET)
    yield emu, receiver
    emu.close()
    receiver.close()


def test_started_and_completed_events_verify_with_the_sdk(hooked):
    emu, receiver = hooked
    key = emu.new_key()
    run = emu.create_run(key, "Hook me [emulate:duration=5]", template="report")
    [(headers, body)] = receiver.wait_for(run["run_id"], 1)
    client = SpineClient(api_key=key, base_url=emu.base_url)
    event = client.webhooks.construct_event(body, headers["Spine-Signature"], SECRET)
    assert event.type == "run.started" and event.id.startswith("evt_") and len(event.id) == 36
    assert headers["Spine-Event-Id"] == event.id and headers["Spine-Event-Type"] == "run.started"
    assert headers["User-Agent"] == "Spine-Webhooks/1.0"
    assert headers["Content-Type"] == "application/json"
    assert event.api_version == "2026-04-01" and event.livemode is False
    emu.advance(6)
    _, (headers, body) = receiver.wait_for(run["run_id"], 2)
    done = client.webhooks.construct_event(body, headers["Spine-Signature"], SECRET)
    obj = done.data["object"]
    assert done.type == "run.completed" and obj["status"] == "completed"
    assert obj["final_output"] == obj["result"]["final_output"]
    assert [a["type"] for a in obj["artifacts"]] == ["docx"]
    with pytest.raises(Exception):
        client.webhooks.construct_event(body, headers["Spine-Signature"], "whsec_wrong")


def test_failed_runs_send_run_failed(hooked):
    emu, receiver = hooked
    key = emu.new_key()
    run = emu.create_run(key, "Doomed [emulate:outcome=failed] [emulate:duration=1]")
    emu.advance(2)
    events = receiver.wait_for(run["run_id"], 2)
    last = json.loads(events[-1][1])
    assert last["type"] == "run.failed"
    assert last["data"]["object"]["error"] == "Agent execution failed"


def test_failed_deliveries_are_retried_with_backoff(hooked):
    emu, receiver = hooked
    receiver.statuses = [500, 503]
    key = emu.new_key()
    run = emu.create_run(key, "Flaky receiver [emulate:duration=1000]")
    first = receiver.wait_for(run["run_id"], 1)
    time.sleep(0.3)
    assert len(receiver.events(run["run_id"])) == 1  # no immediate retry: backoff
    emu.advance(1.5)  # first retry is due 1 s after the first attempt
    receiver.wait_for(run["run_id"], 2)
    emu.advance(2.5)  # then 2 s
    events = receiver.wait_for(run["run_id"], 3)
    ids = {json.loads(b)["id"] for _, b in events}
    assert len(ids) == 1  # one delivery, retried: same event id
    record = [d for d in emu.webhooks() if d["run_id"] == run["run_id"]][0]
    assert record["state"] == "delivered" and record["attempts"] == 3
    assert first[0][0]["Spine-Event-Type"] == "run.started"
