"""`spine doctor`: every check, against the emulator and against a liar (a 401, a skewed
clock, nothing listening), with its exit code and what to run next."""

from __future__ import annotations

import json
import os
import socket
from email.utils import formatdate

import pytest

from support.cli import spine
from support.history import record
from support.liar import fail

KEY = "sk_spine_doctortests_4321"


def checks(out) -> dict[str, dict]:
    doc = json.loads(out.stdout)
    assert doc["exit_code"] == out.exit_code
    return {c["name"]: c for c in doc["checks"]}


def statuses(out) -> dict[str, str]:
    return {name: c["status"] for name, c in checks(out).items()}


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_all_is_well_against_the_emulator(api):
    out = spine("doctor", "--json", env={"SHELL": "/bin/sh"})
    assert out.exit_code == 0, out
    found = checks(out)
    assert list(found) == ["version", "config", "profile", "api_key", "base_url", "key",
                           "clock", "history", "completion"]
    assert {n: c["status"] for n, c in found.items() if n != "completion"} == dict.fromkeys(
        ["version", "config", "profile", "api_key", "base_url", "key", "clock", "history"], "ok")
    assert found["completion"]["status"] == "skip"  # sh: nothing to check
    assert found["api_key"]["summary"] == f"sk_spine_…{api.key[-4:]} (from env SPINE_API_KEY)"
    assert found["base_url"]["detail"]["latency_ms"] >= 0
    assert abs(found["clock"]["detail"]["skew_seconds"]) < 2
    assert api.key not in out.stdout + out.stderr
    (probe,) = [r for r in api.requests() if r["method"] == "GET"]
    assert probe["path"] == "/v1/run/00000000-0000-4000-8000-000000000000"


def test_plain_lines_when_piped_and_a_verdict_on_stderr(api):
    out = spine("doctor", env={"SHELL": "/bin/sh"})
    assert out.exit_code == 0, out
    lines = out.stdout.splitlines()
    assert lines[0].startswith("ok    version    spine ")
    assert any(line.startswith("ok    key        accepted by the API") for line in lines)
    assert out.stderr == "All checks passed.\n"


def test_a_rejected_key_is_exit_4_and_says_how_to_log_in_again(liar, monkeypatch, isolated_env):
    liar.always("GET", "/v1/run/*", fail(401, "Invalid API key"))
    monkeypatch.setenv("SPINE_API_KEY", KEY)
    assert spine("config", "set", "template", "memo", "--profile", "ci").exit_code == 0
    out = spine("--profile", "ci", "--base-url", liar.base_url, "doctor", "--json",
                env={"SHELL": "/bin/sh"})
    assert out.exit_code == 4, out
    key = checks(out)["key"]
    assert key["status"] == "fail" and key["exit_code"] == 4
    assert key["next"] == "spine auth login --profile ci"
    assert statuses(out)["base_url"] == "ok"
    assert liar.requests[0].headers["x-api-key"] == KEY  # sent to the API only, never shown
    assert KEY not in out.stdout + out.stderr


@pytest.mark.parametrize("offset,status,code", [(600, "fail", 10), (-90, "warn", 0),
                                                (1, "ok", 0)])
def test_clock_skew_against_the_servers_date(liar, monkeypatch, offset, status, code):
    import time

    from support.liar import Json

    answer = Json({"success": False, "error": "Run not found", "data": None}, 404,
                  headers={"Date": formatdate(time.time() + offset, usegmt=True)})
    liar.always("GET", "/v1/run/*", answer)
    monkeypatch.setenv("SPINE_API_KEY", KEY)
    out = spine("--base-url", liar.base_url, "doctor", "--json", env={"SHELL": "/bin/sh"})
    assert out.exit_code == code, out
    clock = checks(out)["clock"]
    assert clock["status"] == status, clock
    assert abs(clock["detail"]["skew_seconds"] - offset) <= 2
    if status == "fail":
        assert "webhook signatures will be refused" in clock["summary"]
        assert "behind the server" in clock["summary"] and clock["next"]


def test_an_unreachable_api_is_exit_8_and_skips_what_needs_it(isolated_env, monkeypatch):
    monkeypatch.setenv("SPINE_API_KEY", KEY)
    out = spine("--base-url", dead_url(), "doctor", "--json", env={"SHELL": "/bin/sh"})
    assert out.exit_code == 8, out
    found = checks(out)
    assert found["base_url"]["status"] == "fail" and "Cannot reach" in found["base_url"]["summary"]
    assert found["base_url"]["next"].startswith("Check the network")
    assert found["key"]["status"] == found["clock"]["status"] == "skip"
    assert found["history"]["status"] == "ok"  # the local checks still run


def test_no_key_is_exit_4_and_the_api_is_still_checked(api, monkeypatch):
    monkeypatch.delenv("SPINE_API_KEY")
    out = spine("doctor", "--json", env={"SHELL": "/bin/sh"})
    assert out.exit_code == 4, out
    found = checks(out)
    assert found["api_key"]["status"] == "fail" and found["api_key"]["next"] == "spine auth login"
    assert found["base_url"]["status"] == "ok" and found["key"]["status"] == "skip"
    keyless = [r for r in api.emulator.requests() if r["key_fingerprint"] is None
               and r["path"] == "/v1/run/00000000-0000-4000-8000-000000000000"]
    assert keyless and keyless[-1]["status"] == 401  # reachable; no key was sent


def test_worst_failure_wins(liar, monkeypatch):
    """A rejected key (4) and a clock 10 minutes off (10): 4 is the more severe."""
    import time

    from support.liar import Json

    liar.always("GET", "/v1/run/*", Json({"success": False, "error": "nope", "data": None}, 401,
                headers={"Date": formatdate(time.time() - 600, usegmt=True)}))
    monkeypatch.setenv("SPINE_API_KEY", KEY)
    out = spine("--base-url", liar.base_url, "doctor", "--json", env={"SHELL": "/bin/sh"})
    assert out.exit_code == 4, out
    assert statuses(out)["clock"] == "fail" and statuses(out)["key"] == "fail"


@pytest.mark.skipif(os.name != "posix", reason="file modes")
def test_a_config_file_others_can_read_is_exit_4_with_the_chmod(isolated_env, monkeypatch):
    monkeypatch.setenv("SPINE_API_KEY", KEY)
    monkeypatch.setenv("SPINE_BASE_URL", dead_url())
    assert spine("config", "set", "template", "memo").exit_code == 0
    path = isolated_env["config_dir"] / "config.toml"
    path.chmod(0o644)
    out = spine("doctor", "--json", env={"SHELL": "/bin/sh"})
    config = checks(out)["config"]
    assert config["status"] == "fail" and config["exit_code"] == 4
    assert config["next"] == f"chmod 600 {path}"
    assert out.exit_code == 4  # 4 (config) is worse than 8 (unreachable)


def test_an_unusable_history_is_a_warning(isolated_env, monkeypatch):
    monkeypatch.setenv("SPINE_API_KEY", KEY)
    monkeypatch.setenv("SPINE_BASE_URL", dead_url())
    data = isolated_env["data_dir"]
    data.mkdir(parents=True)
    (data / "history.sqlite3").write_bytes(b"this is not a database" * 100)
    out = spine("doctor", "--json", env={"SHELL": "/bin/sh"})
    history = checks(out)["history"]
    assert history["status"] == "warn" and history["next"].startswith("Move it away")
    assert out.exit_code == 8  # the warning does not count; the dead URL does


def test_completion_is_found_where_the_shell_loads_it(isolated_env, monkeypatch, tmp_path):
    monkeypatch.setenv("SPINE_BASE_URL", dead_url())
    home = tmp_path / "home"
    home.mkdir()
    missing = checks(spine("doctor", "--json", env={"SHELL": "/bin/bash", "HOME": str(home),
                                                   "XDG_DATA_HOME": ""}))["completion"]
    assert missing["status"] == "warn" and missing["next"] == "spine --install-completion"
    (home / ".bash_completions").mkdir()
    (home / ".bash_completions" / "spine.sh").write_text("# completion\n")
    found = checks(spine("doctor", "--json", env={"SHELL": "/bin/bash", "HOME": str(home)}))
    assert found["completion"]["status"] == "ok"
    assert found["completion"]["summary"] == f"bash: {home}/.bash_completions/spine.sh"


def test_quiet_prints_only_the_failures_on_stderr(isolated_env, monkeypatch):
    monkeypatch.setenv("SPINE_API_KEY", KEY)
    url = dead_url()
    out = spine("-q", "--base-url", url, "doctor", env={"SHELL": "/bin/sh"})
    assert out.exit_code == 8, out
    assert out.stdout == ""
    assert out.stderr.startswith("base_url: Cannot reach the Spine API")
    assert out.stderr.count("\n") == 1


def test_history_counts_the_runs(isolated_env, monkeypatch):
    from spine_cli.local.settings import Settings

    monkeypatch.setenv("SPINE_BASE_URL", dead_url())
    record(Settings("default", None, "https://api.getspine.ai"),
           "00000001-0000-4000-8000-000000000000")
    out = spine("doctor", "--json", env={"SHELL": "/bin/sh"})
    assert checks(out)["history"]["summary"].endswith("(1 run)")
