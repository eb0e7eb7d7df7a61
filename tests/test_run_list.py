"""`spine run list` over the local history (no server needed here)."""

from __future__ import annotations

import json
import re

import httpx
from typer.testing import CliRunner

from spine_cli.app import app
from spine_cli.context import Seams
from spine_cli.local.settings import Settings
from support.history import history, observe, record

DEFAULT = Settings("default", None, "https://api.getspine.ai")
LOCAL = Settings("local", None, "http://127.0.0.1:8765")


def rid(n: int) -> str:
    return f"{n:08d}-0000-4000-8000-000000000000"


def spine(*args: str, input: str | None = None, seams: Seams | None = None):
    return CliRunner().invoke(app, list(args), input=input, obj=seams)


def ok(*args: str):
    result = spine(*args)
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
    return result


def seed() -> None:
    record(DEFAULT, rid(1), prompt="first [bold]not markup[/bold]\nsecond line",
                       template="report", files=["a.csv", "b.pdf"])
    record(DEFAULT, rid(2), prompt="\x1b[31mred\x1b[0m")
    record(DEFAULT, rid(3), prompt="third")
    record(DEFAULT, None, prompt="maybe created", unconfirmed=True)
    record(LOCAL, rid(9), prompt="on the emulator")
    observe(DEFAULT, {"run_id": rid(2), "status": "failed"})
    observe(DEFAULT, {"run_id": rid(3), "status": "completed", "canvas_id": "c3"})


def test_table_of_the_current_profile_newest_first(isolated_env):
    seed()
    result = ok("run", "list")
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["RUN", "STATUS", "CREATED", "TEMPLATE", "FILES", "PROMPT"]
    assert [line.split()[0] for line in lines[1:]] == ["#4", rid(3), rid(2), rid(1)]
    assert lines[1].split()[1] == "unconfirmed"
    assert lines[2].split()[1] == "completed" and lines[3].split()[1] == "failed"
    assert lines[4].split()[4:7] == ["report", "2", "first"]
    assert lines[2].split()[4] == "auto"  # nothing sent: the API's default, not "-"
    assert "[bold]not markup[/bold] second line" in lines[4]  # shown as text, on one line
    assert "\x1b" not in "".join(lines) and "red" in lines[3]
    assert rid(9) not in "".join(lines)
    assert "#4 unconfirmed: " in result.stderr and "spine run forget #4" in result.stderr


def test_quiet_prints_ids_only(isolated_env):
    seed()
    assert ok("run", "list", "-q").stdout == f"{rid(3)}\n{rid(2)}\n{rid(1)}\n"
    assert ok("-q", "run", "list", "--status", "failed").stdout == f"{rid(2)}\n"


def test_json_is_one_array_with_the_history_fields(isolated_env):
    seed()
    rows = json.loads(ok("run", "list", "--json", "--limit", "2").stdout)
    assert [r["run_id"] for r in rows] == [None, rid(3)]
    assert rows[1]["status"] == "completed" and rows[1]["canvas_id"] == "c3"
    assert rows[0]["unconfirmed"] is True
    assert set(rows[1]) == {"id", "run_id", "status", "canvas_id", "profile", "base_url",
                            "prompt", "template", "blocks", "files", "created_at", "updated_at",
                            "unconfirmed", "estimated_duration_ms", "duration_ms", "spec",
                            "origin", "note", "template_used"}
    assert json.loads(ok("--json", "run", "list", "--status", "partial").stdout) == []


def test_status_limit_and_all_profiles(isolated_env):
    seed()
    assert ok("run", "list", "--status", "unconfirmed", "-q").stdout == ""
    assert len(ok("run", "list", "--limit", "1").stdout.splitlines()) == 2
    assert spine("run", "list", "--status", "done").exit_code == 2
    assert spine("run", "list", "--limit", "-1").exit_code == 2
    every = ok("run", "list", "--all-profiles").stdout
    assert every.splitlines()[0].split()[-2:] == ["WHERE", "PROMPT"]
    line = next(line for line in every.splitlines() if rid(9) in line)
    assert "local @ http://127.0.0.1:8765" in line
    assert ok("run", "list", "--all-profiles", "-q", "--limit", "0").stdout.count("\n") == 4


def test_limit_counts_only_the_printed_rows(isolated_env):
    seed()  # the newest row is an unconfirmed create without a run id
    assert ok("run", "list", "-q", "--limit", "1").stdout == f"{rid(3)}\n"
    assert ok("run", "list", "-q", "--limit", "2").stdout == f"{rid(3)}\n{rid(2)}\n"
    assert ok("run", "list", "--limit", "1").stdout.splitlines()[1].startswith("#4 ")


def test_profile_and_base_url_select_the_history(isolated_env, monkeypatch):
    seed()
    assert ok("--base-url", "http://127.0.0.1:8765/v1", "run", "list", "-q").stdout == ""
    monkeypatch.setenv("SPINE_BASE_URL", "http://127.0.0.1:8765/")
    ok("--profile", "local", "config", "set", "template", "memo")  # makes the profile exist
    assert ok("--profile", "local", "run", "list", "-q").stdout == f"{rid(9)}\n"


def test_empty_history_says_so_on_stderr(isolated_env):
    result = ok("run", "list")
    assert result.stdout == ""
    assert "No runs in the local history for profile 'default'" in result.stderr
    assert "Create one: spine run create" in result.stderr
    assert "spine emulator exec -- spine run create" in result.stderr
    assert json.loads(ok("run", "list", "--json").stdout) == []
    filtered = ok("run", "list", "--status", "failed")
    assert "No failed runs in the local history" in filtered.stderr


def test_runs_elsewhere_are_named_with_how_to_see_them(isolated_env):
    record(LOCAL, rid(9), prompt="on another host")
    record(Settings("default", None, "http://127.0.0.1:40001"), rid(7), prompt="quickstart",
           origin="emulator")
    record(Settings("default", None, "http://127.0.0.1:40002"), rid(8), prompt="again",
           origin="emulator")
    result = ok("run", "list")
    assert result.stdout == ""
    assert ("Elsewhere in the history: 2 runs made under `spine emulator exec`, whose emulator "
            "has stopped (those runs are gone with it); 1 run of profile 'local' at "
            "http://127.0.0.1:8765.") in result.stderr
    assert "See them: spine run list --all-profiles" in result.stderr
    every = ok("run", "list", "--all-profiles")
    emulated = [line for line in every.stdout.splitlines() if "emulator (ended)" in line]
    assert len(emulated) == 2
    assert "emulator (ended): made under `spine emulator exec`" in every.stderr


def test_last_explains_a_run_on_an_emulator_that_is_gone(isolated_env):
    record(Settings("default", None, "http://127.0.0.1:40001"), rid(7), prompt="quickstart",
           origin="emulator")
    result = spine("run", "get", "@last")
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "Cannot resolve @last: the local history has no runs for profile 'default'" \
        in result.stderr
    assert (f"The newest run, {rid(7)[:8]} (") in result.stderr
    assert "was made under `spine emulator exec`; that emulator has stopped" in result.stderr
    assert "spine emulator exec -- spine run create" in result.stderr


def test_last_points_to_the_newest_run_of_another_profile(isolated_env):
    record(LOCAL, rid(9), prompt="on another host")
    result = spine("run", "get", "@last")
    assert result.exit_code == 2, result.output
    assert ("is of profile 'local' at http://127.0.0.1:8765: spine --profile local "
            "--base-url http://127.0.0.1:8765 run get @last") in result.stderr


def test_forget_drops_an_unconfirmed_create_or_a_run(isolated_env):
    seed()
    gone = spine("run", "forget", "#4")
    assert gone.exit_code == 0, gone.output
    assert gone.stdout == ""
    assert gone.stderr.startswith("Forgot #4, the unconfirmed create of ")
    assert '("maybe created")' in gone.stderr and "no run was changed" in gone.stderr
    assert "#4" not in ok("run", "list").stdout
    again = spine("run", "forget", "#4")
    assert again.exit_code == 2 and "#4 is not in the local history." in again.stderr
    by_prefix = spine("run", "forget", rid(3)[:9], "--json")
    assert by_prefix.exit_code == 0, by_prefix.output
    doc = json.loads(by_prefix.stdout)
    assert doc["forgotten"] == rid(3)[:9] and doc["row"]["run_id"] == rid(3)
    assert ok("run", "list", "-q").stdout == f"{rid(2)}\n{rid(1)}\n"
    assert spine("run", "forget", rid(9)).exit_code == 2  # another profile's: not here


# --- --refresh against the emulator --------------------------------------------------

def test_refresh_polls_only_runs_not_yet_finished(api):
    from spine_cli.local.settings import load_settings

    here = load_settings()
    fast = api.emulator.create_run(api.key, "quick [emulate:duration=5]")["run_id"]
    doomed = api.emulator.create_run(api.key, "doomed [emulate:outcome=failed] [emulate:duration=5]")["run_id"]
    slow = api.emulator.create_run(api.key, "slow [emulate:duration=7200]")["run_id"]
    for run_id in (fast, doomed, slow):
        record(here, run_id, prompt="seeded")
    api.emulator.advance(600)
    stale = ok("run", "list", "--status", "running", "-q").stdout.split()
    assert sorted(stale) == sorted([fast, doomed, slow])  # no network without --refresh
    assert api.requests() == [e for e in api.requests() if e["method"] == "POST"]

    fresh = json.loads(ok("run", "list", "--refresh", "--json").stdout)
    assert {r["run_id"]: r["status"] for r in fresh} == {
        fast: "completed", doomed: "failed", slow: "running"}
    polled = [e["path"] for e in api.requests() if e["method"] == "GET"]
    assert sorted(polled) == sorted(f"/v1/run/{r}" for r in (fast, doomed, slow))

    again = ok("run", "list", "--refresh", "-q", "--status", "running").stdout.split()
    assert again == [slow]
    polled = [e["path"] for e in api.requests() if e["method"] == "GET"]
    assert polled.count(f"/v1/run/{slow}") == 2 and polled.count(f"/v1/run/{fast}") == 1


def test_refresh_without_a_key_is_exit_4_for_the_current_profile(isolated_env):
    record(DEFAULT, rid(1))
    record(LOCAL, rid(2))
    result = spine("run", "list", "--refresh")
    assert result.exit_code == 4 and "No API key configured" in result.stderr
    assert spine("run", "list", "--refresh", "--status", "completed").exit_code == 0  # none to poll
    # another profile's runs without a key: a warning, the rest goes on
    spine("auth", "login", "--with-key", "--no-verify", input="sk_spine_only_for_default_0000")
    ok("--profile", "local", "--base-url", "http://127.0.0.1:8765", "config", "set", "template", "memo")
    def api(request: httpx.Request) -> httpx.Response:
        run_id = request.url.path.rsplit("/", 1)[1]
        return httpx.Response(200, json={"success": True, "data": {"run_id": run_id,
                                                                   "status": "completed"}})

    every = spine("run", "list", "--refresh", "--all-profiles", "--json",
                  seams=Seams(transport=httpx.MockTransport(api)))
    assert every.exit_code == 0, every.output
    assert "no API key for profile 'local'" in every.stderr
    assert {r["run_id"]: r["status"] for r in json.loads(every.stdout)} == {
        rid(1): "completed", rid(2): "running"}


def test_on_an_80_column_terminal_ids_are_short_and_statuses_readable(isolated_env):
    import os

    from support.tty import run_in_pty

    seed()
    record(DEFAULT, "00000003-1111-4000-8000-000000000000", prompt="shares a prefix",
           template="memo")
    env = dict(os.environ, TERM="xterm-256color", COLUMNS="80", LINES="30")
    code, screen = run_in_pty(["run", "list"], env)
    assert code == 0, screen
    lines = [line for line in screen.replace("\x1b[0m", "").split("\r\n") if line.strip()]
    plain = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in lines]
    assert all(len(line) <= 80 for line in plain[:6]), plain  # the table; notes may wrap
    assert plain[0].split() == ["RUN", "STATUS", "CREATED", "TEMPLATE", "FILES", "PROMPT"]
    body = {line.split()[0]: line for line in plain[1:6]}
    assert set(body) == {"#4", "00000003-1", "00000003-0", "00000002", "00000001"}
    assert "✓ completed" in body["00000003-0"] and "✗ failed" in body["00000002"]
    assert "? unconfirmed" in body["#4"] and " memo " in body["00000003-1"]
    assert re.search(r"\x1b\[[0-9;]*32m✓ completed", screen)  # in colour
    assert "--wide" not in screen
    wide = run_in_pty(["run", "list", "--wide"], env)[1]
    assert rid(3) in wide and rid(1) in wide


def test_template_column_shows_what_the_api_used_once_known(api):
    created = spine("run", "create", "-q", "--prompt", "Q4 memo [emulate:duration=1]")
    assert created.exit_code == 0, created.output
    run_id = created.stdout.strip()
    assert ok("run", "list").stdout.splitlines()[1].split()[4] == "auto"  # what was sent
    waited = spine("run", "wait", run_id, "--poll-interval", "0.2", "-q")
    assert waited.exit_code == 0, waited.output
    used = api.emulator.get_run(api.key, run_id)["metadata"]["template_used"]
    assert used != "auto"
    assert ok("run", "list").stdout.splitlines()[1].split()[4] == used
    assert json.loads(ok("run", "list", "--json").stdout)[0]["template_used"] == used
