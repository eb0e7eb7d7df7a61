"""CI: detection, and the GitHub Actions path with $GITHUB_OUTPUT / $GITHUB_STEP_SUMMARY in tmp files."""

from __future__ import annotations

import io
import json
import re
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from spine_cli.ui import ci
from spine_cli.app import app
from spine_cli.api.models import Run
from spine_cli.errors import NetworkError
from spine_cli.runs.waiter import Tracked
from spine_cli.ui.output import Output, OutputMode, in_ci, resolve_mode

runner = CliRunner()
FAST = ["--poll-interval", "0.2"]


def spine(*args: str):
    return runner.invoke(app, list(args))


def parse_github_output(text: str) -> dict[str, str]:
    """Read $GITHUB_OUTPUT as the runner does: `name=value` or `name<<DELIM ... DELIM`."""
    out: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i)
            out[name] = "\n".join(lines[i:end])
            i = end + 1
        else:
            name, value = line.split("=", 1)
            out[name] = value
    return out


@pytest.fixture
def github(tmp_path, monkeypatch):
    files = SimpleNamespace(output=tmp_path / "github_output", summary=tmp_path / "summary.md")
    files.output.write_text("earlier=kept\n")
    files.summary.write_text("")
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(files.output))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(files.summary))
    files.outputs = lambda: parse_github_output(files.output.read_text())
    return files


# --- detection -------------------------------------------------------------------------------

class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("var,value", [("CI", "true"), ("CI", "1"), ("GITHUB_ACTIONS", "true"),
                                       ("GITLAB_CI", "true")])
def test_ci_variables_turn_off_live_display_even_on_a_terminal(monkeypatch, var, value):
    assert resolve_mode(stderr=_Tty()).live and not in_ci()
    monkeypatch.setenv(var, value)
    assert in_ci() and not resolve_mode(stderr=_Tty()).live


def test_ci_false_is_not_ci(monkeypatch):
    monkeypatch.setenv("CI", "false")
    assert not in_ci()


def test_github_mode_follows_ci_option_and_environment(monkeypatch):
    assert not ci.github_enabled("auto")
    assert ci.github_enabled("github")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert ci.github_enabled("auto") and not ci.github_enabled("none")


def test_output_format_survives_multi_line_values_and_lookalike_delimiters():
    value = "line one\nEOF\nghadelimiter_\nname=value"
    text = ci.format_output("final", value) + ci.format_output("run_id", "abc")
    assert parse_github_output(text) == {"final": value, "run_id": "abc"}


R1 = "11111111-0000-4000-8000-000000000001"


def tracked(status: str, exit_code: int, error=None) -> Tracked:
    return Tracked(R1, run=Run.parse({"run_id": R1, "status": status}), exit_code=exit_code,
                   error=error)


@pytest.mark.parametrize("status", ["completed", "partial"])
def test_a_failed_download_is_annotated_as_such_not_as_an_unfinished_run(status, capsys):
    ci._annotate(Output(OutputMode()), tracked(status, 7))
    assert capsys.readouterr().err == (f"::error title=Spine run {R1}::Spine run {R1} ended "
                                       f"{status} but an artifact could not be downloaded "
                                       "(exit 7).\n")


def test_annotation_escapes_newlines_and_properties(capsys):
    ci._annotate(Output(OutputMode()), tracked("running", 8, NetworkError("API down:\n50%")))
    err = capsys.readouterr().err
    assert err == f"::error title=Spine run {R1}::Spine run {R1} did not finish " \
                  "successfully: API down:%0A50%25.\n"


# --- the GitHub path against the emulator ----------------------------------------------------

def test_create_wait_download_writes_outputs_summary_and_no_error(api, github, tmp_path):
    out_dir = tmp_path / "out"
    result = spine("run", "create", "--prompt", "Quarterly memo [emulate:duration=0]",
                   "-b", "memo-block", "--wait", "--download", str(out_dir), *FAST)
    assert result.exit_code == 0, result.stderr
    run_id = result.stdout.splitlines()[0]
    outputs = github.outputs()
    assert outputs["earlier"] == "kept"  # appended, never truncated
    assert outputs["run_id"] == run_id
    assert outputs["status"] == "completed"
    assert re.fullmatch(r"https://app\.getspine\.ai/canvas/[0-9a-f-]{36}", outputs["canvas_url"])
    assert outputs["download_dir"] == str(out_dir)
    assert outputs["exit_code"] == "0"
    summary = github.summary.read_text()
    assert f"Spine run `{run_id}`: completed" in summary
    for row in ("| Status | completed (exit 0) |", "| Duration |", "| Credits |",
                "**Final output** (excerpt)", "**Artifacts**", f"Downloaded to `{out_dir}`"):
        assert row in summary, row
    assert re.search(r"^\| .+ \| docx \| [\d.]+ (B|KiB|MiB) \|$", summary, re.M)
    assert "::error" not in result.stderr and "::error" not in result.stdout


def test_a_failed_run_gets_an_error_annotation_naming_it(api, github):
    result = spine("run", "create", "--prompt", "Doomed [emulate:outcome=failed] "
                   "[emulate:duration=0]", "--wait", *FAST)
    assert result.exit_code == 3, result.stderr
    run_id = result.stdout.splitlines()[0]
    # The annotation says why: the run's errors (message and block).
    assert f"::error title=Spine run {run_id}::Spine run {run_id} ended failed (exit 3): " \
        "Agent execution failed (" in result.stderr
    assert "::" not in result.stdout  # stdout stays data
    outputs = github.outputs()
    assert outputs["status"] == "failed" and outputs["exit_code"] == "3"
    summary = github.summary.read_text()
    assert "❌ Spine run" in summary and "**Errors**" in summary
    assert f"`spine canvas tasks {run_id}`" in summary  # the next step


def test_partial_ok_is_a_warning_not_an_error(api, github):
    result = spine("run", "create", "--prompt", "Half [emulate:outcome=partial] "
                   "[emulate:duration=0]", "--wait", "--partial-ok", *FAST)
    assert result.exit_code == 0, result.stderr
    assert "::warning title=Spine run " in result.stderr and "::error" not in result.stderr


def test_create_without_wait_writes_the_run_id(api, github):
    result = spine("run", "create", "--prompt", "Later [emulate:duration=600]")
    assert result.exit_code == 0, result.stderr
    outputs = github.outputs()
    assert outputs["run_id"] == result.stdout.strip()
    assert outputs["status"] == "running"
    assert github.summary.read_text() == ""


def test_wait_on_several_runs_writes_one_line_per_run(api, github):
    ids = []
    for outcome in ("completed", "failed"):
        r = spine("run", "create", "-q", "--prompt",
                  f"Batch [emulate:outcome={outcome}] [emulate:duration=0]")
        ids.append(r.stdout.strip())
    github.output.write_text("")
    result = spine("run", "wait", *ids, *FAST)
    assert result.exit_code == 3
    outputs = github.outputs()
    assert outputs["run_id"].split("\n") == ids
    assert outputs["status"].split("\n") == ["completed", "failed"]
    assert [r["exit_code"] for r in json.loads(outputs["runs"])] == [0, 3]
    assert github.summary.read_text().count("Spine run `") == 2
    assert result.stderr.count("::error ") == 1


def test_watch_in_github_actions_writes_outputs_and_plain_progress(api, github):
    r = spine("run", "create", "-q", "--prompt", "Watched [emulate:duration=0]")
    run_id = r.stdout.strip()
    result = spine("run", "watch", run_id, *FAST)
    assert result.exit_code == 0, result.stderr
    assert github.outputs()["run_id"] == run_id
    assert "\r" not in result.stderr and "\x1b" not in result.stderr


@pytest.mark.parametrize("how", [["--ci", "none"], ["--ci", "NONE"]])
def test_ci_none_turns_the_github_path_off(api, github, how):
    result = spine(*how, "run", "create", "--prompt", "Quiet [emulate:outcome=failed] "
                   "[emulate:duration=0]", "--wait", *FAST)
    assert result.exit_code == 3
    assert github.outputs() == {"earlier": "kept"}
    assert github.summary.read_text() == ""
    assert "::error" not in result.stderr


def test_spine_ci_none_in_the_environment_also_turns_it_off(api, github, monkeypatch):
    monkeypatch.setenv("SPINE_CI", "none")
    result = spine("run", "create", "--prompt", "Quiet [emulate:duration=0]")
    assert result.exit_code == 0
    assert github.outputs() == {"earlier": "kept"}


def test_outside_github_nothing_is_written(api, tmp_path, monkeypatch):
    target = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(target))  # set, but not in GitHub Actions
    result = spine("run", "create", "--prompt", "Local [emulate:duration=0]", "--wait", *FAST)
    assert result.exit_code == 0
    assert not target.exists()


def test_an_unwritable_output_file_is_a_warning_not_a_failure(api, github, tmp_path,
                                                              monkeypatch):
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "missing-dir" / "out"))
    result = spine("run", "create", "--prompt", "Fine [emulate:duration=0]", "--wait", *FAST)
    assert result.exit_code == 0
    assert "Warning: cannot write $GITHUB_OUTPUT" in result.stderr
