"""Profile defaults (config.toml) reach run create / wait; flags still win."""

from __future__ import annotations

import json

from support.cli import spine


def test_profile_template_is_used_unless_a_flag_or_blocks_say_otherwise(api):
    assert spine("config", "set", "template", "report").exit_code == 0
    dry = json.loads(spine("run", "create", "--dry-run", "--json", "--prompt", "x").stdout)
    assert dry["fields"]["template"] == "report"
    flag = json.loads(spine("run", "create", "--dry-run", "--json", "--prompt", "x", "-t", "memo").stdout)
    assert flag["fields"]["template"] == "memo"


def test_profile_timeout_and_poll_interval_apply_to_waits(api):
    assert spine("config", "set", "timeout", "1s").exit_code == 0
    assert spine("config", "set", "poll_interval", "0.2").exit_code == 0
    run_id = api.emulator.create_run(api.key, "long [emulate:duration=3600]")["run_id"]
    out = spine("run", "wait", run_id)
    assert out.exit_code == 6, out
    polls = [r for r in api.requests() if r["path"] == f"/v1/run/{run_id}"]
    assert len(polls) >= 3  # 0.2 s apart within the 1 s timeout, not the adaptive schedule
    longer = spine("run", "wait", run_id, "--timeout", "2s")
    assert longer.exit_code == 6


def test_create_after_an_ambiguous_failure_is_recorded_unconfirmed(api):
    api.emulator.fault("drop_after", method="POST", path="/v1/run")
    assert spine("run", "create", "--prompt", "Costly run").exit_code == 8
    rows = json.loads(spine("run", "list", "--json", "--status", "unconfirmed").stdout)
    assert len(rows) == 1 and rows[0]["unconfirmed"] is True


def test_wait_uses_the_estimate_recorded_at_create(api):
    from spine_cli.local import history

    run_id = spine("run", "create", "-q", "--prompt", "x [emulate:duration=300]").stdout.strip()
    est = history.estimates([run_id])[run_id]
    created = api.emulator.get_run(api.key, run_id)
    assert 300 * 0.7 <= est <= 300 * 1.3
    assert created["run_id"] == run_id
    assert history.estimates(["00000000-0000-4000-8000-000000000000"]) == {}
