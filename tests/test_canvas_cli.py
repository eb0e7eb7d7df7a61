"""`spine canvas dag | tasks | task` against the emulator: piped, JSON, quiet and TTY."""

from __future__ import annotations

import json
import os
import re

import httpx
from typer.testing import CliRunner

from support.tty import run_in_pty as pty_run

runner = CliRunner()
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def spine(*args: str):
    from spine_cli.app import app

    return runner.invoke(app, list(args))


def api_url(api) -> str:
    return str(api.base_url).rstrip("/").removesuffix("/v1") + "/v1"


def finished_run(api, outcome: str = "completed", advance: float = 40) -> dict:
    prompt = f"Market map [emulate:outcome={outcome}] [emulate:duration=30]"
    resp = httpx.post(api_url(api) + "/run", data={"prompt": prompt},
                      headers={"X-API-KEY": api.key})
    run_id = resp.json()["data"]["run_id"]
    if advance:
        api.emulator.advance(advance)
    return httpx.get(f"{api_url(api)}/run/{run_id}", headers={"X-API-KEY": api.key}).json()["data"]


def test_dag_piped_json_and_quiet_by_run_and_by_canvas(api):
    run = finished_run(api)
    piped = spine("canvas", "dag", run["run_id"])
    assert piped.exit_code == 0, piped.stderr
    lines = piped.stdout.splitlines()
    assert lines[0].startswith("Canvas ") and lines[0].endswith(run["canvas_id"])
    assert re.match(r"^  \[completed\] prompt-block  ", lines[1])
    assert any(line.startswith("    [") for line in lines)  # a child, indented
    assert "\x1b" not in piped.stdout and "├" not in piped.stdout

    by_canvas = spine("canvas", "dag", run["canvas_id"])
    assert by_canvas.exit_code == 0 and by_canvas.stdout == piped.stdout
    assert spine("canvas", "dag", "--canvas", run["canvas_id"]).stdout == piped.stdout

    data = json.loads(spine("canvas", "dag", run["run_id"], "--json").stdout)
    assert data["canvas_id"] == run["canvas_id"] and {"nodes", "edges"} <= set(data)
    ids = spine("canvas", "dag", run["run_id"], "-q").stdout.split()
    assert sorted(ids) == sorted(n["id"] for n in data["nodes"])

    content = spine("canvas", "dag", run["run_id"], "--content").stdout
    assert "      | " in content


def test_tasks_and_task_piped_and_json(api):
    run = finished_run(api, outcome="partial")
    result = spine("canvas", "tasks", run["run_id"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.startswith("Completed (") and "\nNot completed (" in out
    assert re.search(r"^  \[\w+\] parent  ", out, re.M)
    assert re.search(r"^    \[\w+\] persona  ", out, re.M)
    assert re.search(r"^      \[\w+\] tool-call  ", out, re.M)
    assert "[error]" in out.split("Not completed")[1]

    data = json.loads(spine("canvas", "tasks", run["canvas_id"], "--json").stdout)
    assert set(data) >= {"canvas_id", "completed", "not_completed"}
    root = (data["completed"] + data["not_completed"])[0]
    result = spine("canvas", "task", run["run_id"], root["task_id"])
    assert result.exit_code == 0, result.stderr
    first, *rest = result.stdout.splitlines()
    assert first.startswith(f"[{root['status']}] parent  ") and first.endswith(root["task_id"])
    assert len(rest) == len(root["children"] or [])
    one = json.loads(spine("canvas", "task", run["canvas_id"], root["task_id"], "--json").stdout)
    assert one["task_id"] == root["task_id"]
    ids = spine("canvas", "tasks", run["run_id"], "-q").stdout.split()
    assert root["task_id"] in ids


def test_not_found_and_no_canvas_yet_exit_9(api):
    result = spine("canvas", "dag", UNKNOWN)
    assert result.exit_code == 9 and UNKNOWN in result.stderr and result.stdout == ""
    run = finished_run(api)
    result = spine("canvas", "task", run["run_id"], UNKNOWN)
    assert result.exit_code == 9 and UNKNOWN in result.stderr
    fresh = finished_run(api, advance=0)  # the canvas appears a moment after creation
    result = spine("canvas", "tasks", fresh["run_id"])
    assert result.exit_code == 9 and "has no canvas yet" in result.stderr
    assert spine("canvas", "dag", "not-a-ref!").exit_code == 2


def run_in_pty(args: list[str], env: dict[str, str], timeout: float = 20.0) -> str:
    code, screen = pty_run(args, env, timeout)
    assert code == 0, screen
    return screen


def test_trees_in_a_real_terminal(api):
    run = finished_run(api, outcome="partial")
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "CI")}
    env.update(TERM="xterm-256color", COLUMNS="120", SPINE_BASE_URL=str(api.base_url),
               SPINE_API_KEY=api.key, PYTHONIOENCODING="utf-8")
    dag = run_in_pty(["canvas", "dag", run["run_id"]], env)
    assert "\x1b[" in dag  # coloured
    plain = re.sub(r"\x1b\[[0-9;]*m", "", dag)
    assert "├── " in plain or "└── " in plain
    assert "✓ completed  prompt-block" in plain
    tasks = re.sub(r"\x1b\[[0-9;]*m", "", run_in_pty(["canvas", "tasks", run["run_id"]], env))
    assert "Completed (" in tasks and "Not completed (" in tasks and "✗ error" in tasks
    assert "[completed]" not in tasks  # the plain format is for pipes only
