"""`spine run rerun`: the same create again, from the spec the history kept."""

from __future__ import annotations

import hashlib
import json
import os
import uuid

from support.cli import spine
from support.history import record
from support.tty import run_in_pty

PROMPT = "Quarterly memo [emulate:duration=5]"


def posts(api) -> list[dict]:
    return [r for r in api.requests() if r["method"] == "POST" and r["path"] == "/v1/run"]


def create(api, tmp_path) -> tuple[str, str]:
    data = tmp_path / "q3.csv"
    data.write_text("region,sales\nEMEA,12\n")
    out = spine("run", "create", "-q", "--prompt", PROMPT, "-t", "memo", "-b", "document",
                "--instructions", "Be brief.", "-f", f"{data};type=text/csv")
    assert out.exit_code == 0, out
    return out.stdout.strip(), str(data)


def specs() -> list[dict]:
    listed = json.loads(spine("run", "list", "--json").stdout)
    return [row["spec"] for row in listed]


def test_rerun_with_yes_sends_the_same_spec_and_records_it(api, tmp_path):
    first, data = create(api, tmp_path)
    spec = specs()[0]
    assert spec["files"][0]["sha256"] == hashlib.sha256(open(data, "rb").read()).hexdigest()
    assert spec["files"][0]["size"] == os.path.getsize(data) and spec["files"][0]["path"] == data
    out = spine("run", "rerun", first[:8], "--yes")
    assert out.exit_code == 0, out
    second = out.stdout.strip()
    assert second != first and uuid.UUID(second)
    assert f"Created run {second}" in out.stderr and "Warning" not in out.stderr
    assert len(posts(api)) == 2
    new, old = specs()
    assert new == old  # prompt, template, blocks, instructions, file path, type, size, sha256
    assert old["blocks"] == ["document-block"] and old["instructions"] == "Be brief."
    sent = api.emulator.get_run(api.key, second)
    assert sent["status"] == "running"


def test_off_a_terminal_rerun_needs_yes(api, tmp_path):
    first, _ = create(api, tmp_path)
    out = spine("run", "rerun", first)
    assert out.exit_code == 2, out
    assert "costs credits; there is no terminal to ask on" in out.stderr
    assert "Add --yes" in out.stderr and out.stdout == ""
    assert len(posts(api)) == 1


def test_a_changed_or_missing_file_is_said(api, tmp_path):
    first, data = create(api, tmp_path)
    with open(data, "r+") as fh:  # same size, other bytes
        fh.write("REGION")
    out = spine("run", "rerun", "@last", "--yes")
    assert out.exit_code == 0, out
    assert f"Warning: {data} changed since the run was created (same size, other content); " \
           "sending it as it is now." in out.stderr
    with open(data, "a") as fh:
        fh.write("APAC,7\n")
    grown = spine("run", "rerun", first, "--yes")
    assert grown.exit_code == 0 and "bytes then," in grown.stderr, grown
    os.unlink(data)
    gone = spine("run", "rerun", first, "--yes")
    assert gone.exit_code == 2, gone
    assert f"Cannot rerun {first}: File not found: {data}" in gone.stderr
    assert len(posts(api)) == 3


def test_runs_without_a_spec_or_not_in_the_history_are_refused(api, tmp_path):
    from spine_cli.local.settings import load_settings

    old = str(uuid.uuid4())
    record(load_settings(), old, prompt="from an older spine")
    out = spine("run", "rerun", old, "--yes")
    assert out.exit_code == 2, out
    assert f"Run {old} was recorded without its create spec" in out.stderr
    unknown = str(uuid.uuid4())
    out = spine("run", "rerun", unknown, "--yes")
    assert out.exit_code == 2 and "is not in the local history" in out.stderr, out
    assert posts(api) == []


def test_on_a_terminal_it_asks_first(api, tmp_path):
    first, _ = create(api, tmp_path)
    env = {**os.environ, "SPINE_API_KEY": api.key, "SPINE_BASE_URL": api.base_url,
           "TERM": "xterm-256color", "COLUMNS": "100"}
    code, screen = run_in_pty(["run", "rerun", first], env, typed=b"n\n")
    assert code == 2, screen
    assert f"Run {first} again:" in screen and "template: memo" in screen
    assert "Create this run again? It costs credits. [y/N]" in screen
    assert "Not confirmed: nothing was sent." in screen
    assert len(posts(api)) == 1
    code, screen = run_in_pty(["run", "rerun", first], env, typed=b"y\n")
    assert code == 0, screen
    assert len(posts(api)) == 2
