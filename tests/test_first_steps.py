"""First steps: a bare `spine` is a one-screen overview, and -v / -vv mean what --help says."""

from __future__ import annotations

import re

from support.cli import spine


def test_bare_spine_prints_a_short_overview_and_exits_0(isolated_env):
    out = spine()
    assert out.exit_code == 0, out
    assert out.stderr == ""
    lines = out.stdout.splitlines()
    assert len(lines) <= 24 and max(map(len, lines)) <= 80
    for start in ("spine auth login", "spine run create", "spine run list", "spine run get @last",
                  "spine run download @last", "spine emulator exec -- ", "spine --help"):
        assert start in out.stdout, start
    assert "Exit codes" not in out.stdout  # not the full help


def test_verbose_is_shown_as_a_counter_in_the_help(isolated_env):
    out = spine("--help")
    assert out.exit_code == 0
    line = next(l for l in out.stdout.splitlines() if "--verbose" in l)
    assert "<int>" not in line and "default" not in line
    assert "-vv" in out.stdout


def test_v_logs_requests_and_vv_adds_headers_with_the_key_masked(api):
    run_id = api.emulator.create_run(api.key, "x")["run_id"]
    one = spine("-v", "run", "get", run_id, "-q")
    assert one.exit_code == 0, one
    assert one.stdout == "running\n"
    assert re.search(rf"\[spine\] GET \S+/v1/run/{run_id} → 200 \(\d+ ms", one.stderr), one
    assert "x-api-key" not in one.stderr.lower()
    two = spine("-vv", "run", "get", run_id, "-q")
    assert two.exit_code == 0, two
    assert f"[spine]   > x-api-key: sk_spine_…{api.key[-4:]}" in two.stderr
    assert "[spine]   < content-type: application/json" in two.stderr
    assert api.key not in two.stdout + two.stderr
