"""`spine run create` against the emulator: ids on stdout, local validation, no resends."""

from __future__ import annotations

import json
import os
import re

import pytest

from support.cli import spine

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def posts(api):
    return [r for r in api.requests() if r["method"] == "POST" and r["path"] == "/v1/run"]


def test_create_prints_only_the_run_id_on_stdout(api):
    out = spine("run", "create", "--prompt", "Draft a memo")
    assert out.exit_code == 0, out
    assert UUID.match(out.stdout.strip())
    assert "spine run watch" in out.stderr
    data = api.emulator.get_run(api.key, out.stdout.strip())
    assert data["status"] == "running"


def test_create_quiet_and_json(api):
    quiet = spine("run", "create", "-q", "--prompt", "Draft a memo")
    assert quiet.exit_code == 0 and UUID.match(quiet.stdout.strip()) and quiet.stderr == ""
    js = spine("run", "create", "--json", "--prompt", "Draft a memo")
    data = json.loads(js.stdout)
    assert UUID.match(data["run_id"]) and data["status"] == "running"
    assert data["poll_url"] == f"/v1/run/{data['run_id']}"


def test_create_sends_fields_and_files_as_the_api_expects(api, tmp_path):
    f = tmp_path / "data.csv"
    f.write_text("region,revenue\nEU,10\n")
    img = tmp_path / "logo.png"
    img.write_bytes(b"\x89PNG\r\n\x1a\n")
    notes = tmp_path / "raw.bin"
    notes.write_bytes(b"\x00\x01payload")
    out = spine("run", "create", "-q", "--prompt", "Report on EU", "-t", "report",
                "-b", "document", "-b", "table-block", "--instructions", "Be brief",
                "-f", str(f), "-f", str(img), "-f", f"{notes};type=application/x-custom;filename=n.dat")
    assert out.exit_code == 0, out
    (entry,) = posts(api)
    assert entry["content_type"].startswith("multipart/form-data")
    assert entry["user_agent"].startswith("spine-cli/")
    got = api.emulator.received(out.stdout.strip())
    assert (got["prompt"], got["template"], got["blocks"], got["agent_instructions"]) == (
        "Report on EU", "report", ["document-block", "table-block"], "Be brief")
    assert got["files"] == [
        {"name": "data.csv", "content_type": "text/csv", "size": f.stat().st_size},
        {"name": "logo.png", "content_type": "image/png", "size": 8},
        {"name": "n.dat", "content_type": "application/x-custom", "size": 9},
    ]
    assert "n.dat: the API documents only these file types" in out.stderr  # sent, with a warning


def test_without_files_the_create_is_url_encoded_with_the_sdks_fields(api):
    out = spine("run", "create", "-q", "--prompt", "Plain", "--webhook-url", "https://h.example/x")
    assert out.exit_code == 0, out
    (entry,) = posts(api)
    assert entry["content_type"] == "application/x-www-form-urlencoded"
    got = api.emulator.received(out.stdout.strip())
    assert (got["prompt"], got["template"], got["blocks"], got["files"]) == (
        "Plain", "auto", None, [])


def test_file_bytes_from_stdin_need_a_name_and_are_sent(api):
    out = spine("run", "create", "-q", "--prompt", "Notes", "-f", "-;filename=notes.md",
                input="# from a pipe\n")
    assert out.exit_code == 0, out
    got = api.emulator.received(out.stdout.strip())
    assert got["files"] == [{"name": "notes.md", "content_type": "text/markdown", "size": 14}]


def test_prompt_from_stdin_and_file(api, tmp_path):
    out = spine("run", "create", "-q", "--prompt", "-", input="Summarise the notes\n")
    assert out.exit_code == 0, out
    p = tmp_path / "brief.md"
    p.write_text("A brief")
    out = spine("run", "create", "-q", "--prompt-file", str(p))
    assert out.exit_code == 0, out
    assert len(posts(api)) == 2


def test_blocks_short_names_are_expanded(api):
    out = spine("run", "create", "--dry-run", "--json", "--prompt", "x", "-b", "memo", "-b", "text-block")
    assert out.exit_code == 0, out
    assert json.loads(out.stdout)["fields"]["blocks"] == '["memo-block", "text-block"]'


@pytest.mark.parametrize("args,needle", [
    (["--prompt", "x", "-f", "missing.csv"], "File not found: missing.csv"),
    (["--prompt", "x", "-f", "."], "is a directory"),
    (["--prompt", "x", "-f", "{exe};type=not a type"], "is not a MIME type"),
    (["--prompt", "x", "-f", "-"], "--file - needs a name"),
    (["--prompt", "-", "-f", "-;filename=a.txt"], "Only one input can come from stdin"),
    (["--prompt", "x", "--timeout", "nan", "--wait"], "positive and finite"),
    (["--prompt", "x", "--max-outage=-5", "--wait"], "positive and finite"),
    (["--prompt", "x", "-t", "essay"], "Valid templates: app, auto, deep_research"),
    (["--prompt", "x", "-b", "essay"], "Valid block types: app-block"),
    (["--prompt", "x", "-b", "[]"], "empty list is refused"),
    (["--prompt", "   "], "The prompt is empty"),
    ([], "A prompt is required"),
    (["--prompt", "x", "--prompt-file", "y"], "not both"),
    (["--prompt-file", "nope.md"], "Prompt file not found: nope.md"),
    (["--prompt", "x", "--webhook-url", "ftp://x"], "must be an http(s) URL"),
    (["--prompt", "x", "--wait", "--watch"], "not both"),
    (["--prompt", "x", "--download", "out"], "--download needs --wait or --watch"),
    (["--prompt", "x", "--wait", "--timeout", "soon"], "invalid duration"),
])
def test_bad_input_is_exit_2_before_any_request(api, tmp_path, args, needle):
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ")
    args = [a.replace("{exe}", str(exe)) for a in args]
    out = spine("run", "create", *args)
    assert out.exit_code == 2, out
    assert needle in out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) <= 6
    assert api.requests() == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file_is_refused(api, tmp_path):
    f = tmp_path / "secret.csv"
    f.write_text("x")
    f.chmod(0)
    out = spine("run", "create", "--prompt", "x", "-f", str(f))
    assert out.exit_code == 2 and "not readable" in out.stderr


def test_dry_run_sends_nothing_and_shows_the_request(api, tmp_path):
    f = tmp_path / "notes.md"
    f.write_text("# notes\n")
    out = spine("run", "create", "--dry-run", "--prompt", "Plan", "-t", "memo", "-f", str(f))
    assert out.exit_code == 0, out
    assert f"POST {api.base_url}/v1/run" in out.stdout
    assert "template: memo" in out.stdout
    assert "files: notes.md (text/markdown, 8 bytes)" in out.stdout
    assert api.key not in out.stdout + out.stderr
    assert api.requests() == []


def test_no_key_is_exit_4_naming_the_fixes(api, monkeypatch):
    monkeypatch.delenv("SPINE_API_KEY")
    out = spine("run", "create", "--prompt", "x")
    assert out.exit_code == 4
    assert "SPINE_API_KEY" in out.stderr and "spine auth login" in out.stderr
    assert api.requests() == []


def test_rejected_key_is_exit_4(api, monkeypatch):
    monkeypatch.setenv("SPINE_API_KEY", "not-a-spine-key")
    out = spine("run", "create", "--prompt", "x")
    assert out.exit_code == 4, out
    assert "HTTP 401" in out.stderr and "not-a-spine-key" not in out.stderr


def test_api_validation_error_is_exit_2_with_request_id(api):
    # Bypass local checks with the emulator's own validation of directives.
    out = spine("run", "create", "--prompt", "x [emulate:outcome=sideways]")
    assert out.exit_code == 2, out
    assert "HTTP 400" in out.stderr and "request id" in out.stderr


@pytest.mark.parametrize("kind", ["drop_after", "drop_before"])
def test_create_is_never_resent_after_a_dropped_connection(api, kind):
    api.emulator.fault(kind, method="POST", path="/v1/run")
    out = spine("run", "create", "--prompt", "Costly run")
    assert out.exit_code == 8, out
    assert "may have been created" in out.stderr
    assert out.stdout == ""
    # The request was sent before the connection died: never a second POST.
    assert len(posts(api)) == 1


def test_create_is_never_resent_after_a_5xx(api):
    api.emulator.fault("status", method="POST", path="/v1/run", status=500)
    out = spine("run", "create", "--prompt", "Costly run")
    assert out.exit_code == 8, out
    assert "may have been created" in out.stderr and "HTTP 500" in out.stderr
    assert len(posts(api)) == 1


def test_create_is_retried_after_a_429_with_retry_after(api):
    api.emulator.fault("status", method="POST", path="/v1/run", status=429, retry_after=1)
    out = spine("run", "create", "-q", "--prompt", "Run once")
    assert out.exit_code == 0, out
    first, second = posts(api)
    assert first["status"] == 429 and second["status"] == 200
    assert second["time"] - first["time"] >= 0.9


def test_verbose_logs_requests_without_the_key(api):
    out = spine("-v", "run", "create", "--prompt", "x")
    assert out.exit_code == 0
    assert f"POST {api.base_url}/v1/run → 200" in out.stderr
    assert api.key not in out.stderr and api.key not in out.stdout
