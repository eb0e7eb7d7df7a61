"""/_emulator/ test control: clock, faults, request log."""

from __future__ import annotations

import hashlib
import time

import httpx
import pytest

MISSING = "00000000-0000-4000-8000-000000000000"


def test_clock_advances_and_reports(api):
    emu = api.emulator
    before = httpx.get(emu.base_url + "/_emulator/clock").json()
    after = emu.advance(42.5)
    assert after["offset"] == pytest.approx(before["offset"] + 42.5)
    assert after["now"] - before["now"] >= 42.5
    bad = httpx.post(emu.base_url + "/_emulator/clock", json={"advance": -1})
    assert bad.status_code == 400


def test_status_fault_with_retry_after_then_normal(api):
    emu = api.emulator
    emu.fault("status", method="GET", path="/v1/run/*", status=429, retry_after=7, count=2)
    for _ in range(2):
        response = emu.v1("GET", f"/run/{MISSING}", api.key)
        assert response.status_code == 429 and response.headers["retry-after"] == "7"
        assert response.json() == {"success": False, "error": "Rate limit exceeded", "data": None}
        assert response.headers["x-request-id"]
    assert emu.v1("GET", f"/run/{MISSING}", api.key).status_code == 404


def test_fault_matches_method_and_glob(api):
    emu = api.emulator
    emu.fault("status", method="POST", path="/v1/run", status=500)
    assert emu.v1("GET", f"/run/{MISSING}", api.key).status_code == 404  # not matched
    response = emu.v1("POST", "/run", api.key, data={"prompt": "x"})
    assert response.status_code == 500
    assert response.json()["error"] == "An internal error occurred while creating the run"
    emu.fault("status", path="/v1/canvas/*/dag", status=503)
    assert emu.v1("GET", f"/canvas/{MISSING}/tasks", api.key).status_code == 404
    assert emu.v1("GET", f"/canvas/{MISSING}/dag", api.key).status_code == 503


def test_drop_before_sends_no_response_and_creates_nothing(api):
    emu = api.emulator
    emu.fault("drop_before", method="POST", path="/v1/run")
    with pytest.raises(httpx.RemoteProtocolError):
        emu.v1("POST", "/run", api.key, data={"prompt": "dropped [emulate:duration=0]"})
    [entry] = api.requests()
    assert entry["status"] is None and entry["fault"] == "drop_before"
    assert emu.v1("GET", f"/run/{MISSING}", api.key).status_code == 404  # server still fine


def test_drop_after_really_creates_the_run(api):
    emu = api.emulator
    before = len(emu.webhooks())
    emu.fault("drop_after", method="POST", path="/v1/run")
    with pytest.raises(httpx.RemoteProtocolError):
        emu.v1("POST", "/run", api.key, data={"prompt": "ambiguous [emulate:duration=0]"})
    # /v1 has no list endpoint, so the emulator's own database is the witness.
    import sqlite3

    db = sqlite3.connect(str(emu.data_dir / "emulator.sqlite3"))
    tenant = hashlib.sha256(api.key.encode()).hexdigest()
    rows = db.execute("SELECT run_id FROM runs WHERE tenant = ?", (tenant,)).fetchall()
    db.close()
    assert len(rows) == 1
    assert emu.get_run(api.key, rows[0][0])["status"] == "completed"
    assert len(emu.webhooks()) == before  # no --webhook on the shared emulator


def test_delay_fault_answers_late(api):
    emu = api.emulator
    emu.fault("delay", path="/v1/run/*", delay=0.5)
    start = time.monotonic()
    assert emu.v1("GET", f"/run/{MISSING}", api.key).status_code == 404
    assert time.monotonic() - start >= 0.5


def test_faults_can_be_cleared_and_are_validated(api):
    emu = api.emulator
    emu.fault("status", status=503, count=5)
    emu.clear_faults()
    assert emu.v1("GET", f"/run/{MISSING}", api.key).status_code == 404
    assert httpx.post(emu.base_url + "/_emulator/faults", json={"kind": "boom"}).status_code == 400


def test_request_log_has_fingerprints_never_keys(api):
    emu = api.emulator
    emu.v1("GET", f"/run/{MISSING}", api.key, headers={"User-Agent": "probe/1"})
    emu.v1("GET", f"/run/{MISSING}")
    [mine] = api.requests()
    assert mine["method"] == "GET" and mine["path"] == f"/v1/run/{MISSING}"
    assert mine["status"] == 404 and mine["has_api_key"] is True
    assert mine["key_fingerprint"] == hashlib.sha256(api.key.encode()).hexdigest()[:16]
    assert mine["user_agent"] == "probe/1" and isinstance(mine["time"], float)
    raw = httpx.get(emu.base_url + "/_emulator/requests").text
    assert api.key not in raw
    assert any(r["has_api_key"] is False and r["status"] == 401 for r in emu.requests())
    emu.clear_requests()
    assert emu.requests() == []
