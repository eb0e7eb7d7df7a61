"""Profile defaults (config.toml) reach run create / wait; flags still win."""

from __future__ import annotations

import json

from support.cli import FakeTime, spine
from support.history import history


def test_profile_template_is_used_unless_a_flag_or_blocks_say_otherwise(api):
    assert spine("config", "set", "template", "report").exit_code == 0
    dry = json.loads(spine("run", "create", "--dry-run", "--json", "--prompt", "x").stdout)
    assert dry["fields"]["template"] == "report"
    flag = json.loads(spine("run", "create", "--dry-run", "--json", "--prompt", "x", "-t", "memo").stdout)
    assert flag["fields"]["template"] == "memo"


def polls_of(api, run_id: str) -> int:
    return sum(r["path"] == f"/v1/run/{run_id}" for r in api.requests())


def test_profile_timeout_and_poll_interval_apply_to_waits(api):
    assert spine("config", "set", "timeout", "1s").exit_code == 0
    assert spine("config", "set", "poll_interval", "0.25").exit_code == 0
    run_id = api.emulator.create_run(api.key, "long [emulate:duration=3600]")["run_id"]
    time = FakeTime()
    out = spine("run", "wait", run_id, seams=time.seams())
    assert out.exit_code == 6, out
    # Polls at 0, 0.25, 0.5 and 0.75 s, then the 1 s timeout: the profile's values, not the
    # adaptive schedule (which would wait 2 s after the first poll).
    assert time.sleeps == [0.25] * 4 and polls_of(api, run_id) == 4
    longer = spine("run", "wait", run_id, "--timeout", "2s", seams=FakeTime().seams())
    assert longer.exit_code == 6
    assert polls_of(api, run_id) == 4 + 8  # the flag wins over the profile's timeout


def test_create_after_an_ambiguous_failure_is_recorded_unconfirmed(api):
    api.emulator.fault("drop_after", method="POST", path="/v1/run")
    assert spine("run", "create", "--prompt", "Costly run").exit_code == 8
    rows = json.loads(spine("run", "list", "--json", "--status", "unconfirmed").stdout)
    assert len(rows) == 1 and rows[0]["unconfirmed"] is True


def test_wait_uses_the_estimate_recorded_at_create(api):
    """A later `run wait` finds the estimate in the history and polls sparsely mid-run
    (a 60 s wait); without it the schedule keeps to the SDK's pace (30 s at most)."""
    with_estimate = spine("run", "create", "-q", "--prompt", "x [emulate:duration=300]")
    run_id = with_estimate.stdout.strip()
    est = history().estimates([run_id])[run_id]
    assert 300 * 0.7 <= est <= 300 * 1.3
    time = FakeTime(emulator=api.emulator)  # the emulator's runs age as spine sleeps
    assert spine("run", "wait", run_id, seams=time.seams()).exit_code == 0
    assert round(max(time.sleeps), 6) == 60.0

    other = api.emulator.create_run(api.key, "y [emulate:duration=300]")["run_id"]
    assert history().estimates([other]) == {}  # created elsewhere: no estimate known
    time = FakeTime(emulator=api.emulator)
    assert spine("run", "wait", other, seams=time.seams()).exit_code == 0
    assert max(time.sleeps) <= 30.0
