"""Portal-style webhook endpoints in the emulator: subscriptions, test pings, secret rotation."""

from __future__ import annotations

import json

import httpx
import pytest
from spine import SpineClient
from spine.exceptions import WebhookSignatureError

from support.cli import spine
from support.emulator import EmulatorHandle
from support.webhooks import Receiver

SECRET = "whsec_portal_test_0123456789abcdef"


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    only_done, everything = Receiver(), Receiver()
    emu = EmulatorHandle(tmp_path_factory.mktemp("portal"),
                         "--webhook", only_done.url + "#run.completed",
                         "--webhook", everything.url + "#*", "--webhook-secret", SECRET)
    yield emu, only_done, everything
    emu.close()
    only_done.close()
    everything.close()


def _sdk():
    return SpineClient(api_key="sk_spine_unused")


def test_each_endpoint_gets_only_the_events_it_subscribes_to(portal):
    emu, only_done, everything = portal
    run_id = emu.create_run(emu.new_key(), "Subscribed [emulate:duration=1]")["run_id"]
    everything.wait_for(run_id, 1)
    emu.advance(2)
    [(headers, body)] = only_done.wait_for(run_id, 1)
    assert json.loads(body)["type"] == "run.completed"
    assert [json.loads(b)["type"] for _, b in everything.wait_for(run_id, 2)] == [
        "run.started", "run.completed"]
    assert _sdk().webhooks.construct_event(body, headers["Spine-Signature"], SECRET)
    assert len(only_done.events(run_id)) == 1


def test_ping_sends_webhook_ping_to_every_endpoint(portal):
    emu, only_done, everything = portal
    before = len(only_done.deliveries), len(everything.deliveries)
    sent = emu.control("POST", "webhooks/ping")["events"]
    assert sorted(e["url"] for e in sent) == sorted([only_done.url, everything.url])
    for receiver, count in zip((only_done, everything), before):
        headers, body = _wait_deliveries(receiver, count + 1)[-1]
        event = _sdk().webhooks.construct_event(body, headers["Spine-Signature"], SECRET)
        assert event.type == "webhook.ping" and headers["Spine-Event-Type"] == "webhook.ping"
        assert event.id in {e["id"] for e in sent}
        assert event.data["object"]["message"]


def test_rotating_the_secret_invalidates_the_old_one_at_once(portal):
    emu, _, everything = portal
    everything.statuses = [500]  # the next delivery fails once and is retried
    run_id = emu.create_run(emu.new_key(), "Rotate [emulate:duration=100]")["run_id"]
    [(old_headers, _)] = everything.wait_for(run_id, 1)
    new = emu.control("POST", "webhooks/rotate-secret")["secret"]
    assert new.startswith("whsec_") and new != SECRET
    emu.advance(1.5)  # the retry is due, and is signed with the new secret
    first, (headers, body) = everything.wait_for(run_id, 2)
    assert _sdk().webhooks.construct_event(body, headers["Spine-Signature"], new)
    with pytest.raises(WebhookSignatureError):
        _sdk().webhooks.construct_event(body, headers["Spine-Signature"], SECRET)
    assert first[0]["Spine-Event-Id"] == headers["Spine-Event-Id"]
    chosen = "whsec_chosen_by_the_test_000000"
    assert emu.control("POST", "webhooks/rotate-secret", {"secret": chosen}) == {"secret": chosen}
    emu.restart()  # --webhook-secret on the command line puts that secret back
    emu.control("POST", "webhooks/ping")
    headers, body = _wait_deliveries(everything, len(everything.deliveries) + 1)[-1]
    assert _sdk().webhooks.construct_event(body, headers["Spine-Signature"], SECRET)
    emu.control("POST", "webhooks/rotate-secret", {"secret": SECRET})


def test_rotate_refuses_a_secret_without_the_prefix(portal):
    emu = portal[0]
    response = httpx.post(f"{emu.base_url}/_emulator/webhooks/rotate-secret",
                          json={"secret": "not-a-secret"})
    assert response.status_code == 400 and "whsec_" in response.json()["error"]


def test_ping_without_endpoints_is_409(api):
    response = httpx.post(f"{api.base_url}/_emulator/webhooks/ping")
    assert response.status_code == 409 and "--webhook" in response.json()["error"]


@pytest.mark.parametrize("spec,why", [
    ("ftp://example.com/hooks", "http(s)://"), ("http://127.0.0.1:9/#", "no event types"),
    ("http://127.0.0.1:9/#run.exploded", "unknown event type 'run.exploded'"),
])
def test_a_bad_webhook_spec_is_exit_2(tmp_path, spec, why):
    result = spine("emulator", "serve", "--data-dir", str(tmp_path), "--port", "0",
                   "--webhook", spec)
    assert result.exit_code == 2, result
    assert "Invalid --webhook" in result.stderr and why in result.stderr


def _wait_deliveries(receiver: Receiver, count: int, timeout: float = 10.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(receiver.deliveries) >= count:
            return list(receiver.deliveries)
        time.sleep(0.05)
    raise AssertionError(f"{len(receiver.deliveries)} deliveries, wanted {count}")
