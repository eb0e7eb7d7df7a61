"""The /v1 surface over real HTTP: envelope, statuses, error strings, shapes, tenants."""

from __future__ import annotations

import uuid

import httpx
import pytest

from spine_cli.emulator.catalog import BLOCK_TYPES

MISSING = "00000000-0000-4000-8000-000000000000"
TEMPLATES = "app, auto, deep_research, excel, landing_page, memo, report, slides"


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["data"] is None
    assert response.headers["x-request-id"].startswith("req_")
    return body["error"]


def test_missing_and_malformed_keys_are_401(api):
    emu = api.emulator
    for path in ("/run/" + MISSING, f"/canvas/{MISSING}/dag", f"/canvas/{MISSING}/tasks"):
        assert _error(emu.v1("GET", path), 401) == "X-API-KEY header required"
    assert _error(emu.v1("POST", "/run", data={"prompt": "x"}), 401) == "X-API-KEY header required"
    assert _error(emu.v1("GET", "/run/" + MISSING, "not-a-spine-key"), 401) == "Invalid API key"
    assert _error(emu.v1("GET", "/run/" + MISSING, "sk_spine_"), 401) == "Invalid API key"


def test_path_ids_are_validated_and_unknown_ones_are_404(api):
    emu, key = api.emulator, api.key
    assert _error(emu.v1("GET", "/run/nope", key), 400) == "Invalid run_id: must be a valid UUID"
    assert _error(emu.v1("GET", f"/run/{MISSING}", key), 404) == f"Run not found: {MISSING}"
    assert _error(emu.v1("GET", "/canvas/x/dag", key), 400) == "Invalid canvas_id: must be a valid UUID"
    assert _error(emu.v1("GET", f"/canvas/{MISSING}/tasks", key), 404) == f"Canvas not found: {MISSING}"
    assert _error(emu.v1("GET", "/nothing", key), 404).startswith("Not found")


def test_other_tenants_runs_canvases_and_tasks_are_404(api):
    emu = api.emulator
    run = emu.create_run(api.key, "Tenant test [emulate:duration=0]")
    data = emu.get_run(api.key, run["run_id"])
    canvas = data["canvas_id"]
    task = emu.v1("GET", f"/canvas/{canvas}/tasks", api.key).json()["data"]["completed"][0]
    other = emu.new_key()
    assert _error(emu.v1("GET", f"/run/{run['run_id']}", other), 404).startswith("Run not found")
    for path in (f"/canvas/{canvas}/dag", f"/canvas/{canvas}/tasks",
                 f"/canvas/{canvas}/tasks/{task['task_id']}"):
        assert emu.v1("GET", path, api.key).status_code == 200
        _error(emu.v1("GET", path, other), 404)


def test_create_validation_errors(api):
    emu, key = api.emulator, api.key
    post = lambda **data: emu.v1("POST", "/run", key, data=data)  # noqa: E731
    assert _error(post(template="x"), 400) == "Missing required field: prompt"
    assert _error(post(prompt="   "), 400) == "Invalid prompt: must not be empty"
    assert _error(post(prompt="p", template="foo"), 400) == (
        f"Invalid template: foo. Valid templates: {TEMPLATES}")
    assert _error(post(prompt="p", blocks='["my-block"]'), 400) == (
        f"Invalid block types: my-block. Valid block types: {', '.join(BLOCK_TYPES)}")
    assert _error(post(prompt="p", blocks="[not json"), 400).startswith("Invalid blocks:")
    assert _error(post(prompt="p", blocks="[]"), 400).startswith("Invalid blocks:")
    assert _error(post(prompt="p [emulate:outcome=maybe]"), 400).startswith(
        "Invalid emulator directive")
    bad_type = emu.v1("POST", "/run", key, json={"prompt": "p"})
    assert _error(bad_type, 400).startswith("Unsupported Content-Type")
    assert api.requests() and all(r["status"] in (400,) for r in api.requests())


def test_create_shape_and_running_shape(api):
    emu = api.emulator
    response = emu.v1("POST", "/run", api.key, data={"prompt": "Plan [emulate:duration=400]"})
    body = response.json()
    assert response.status_code == 200 and body["success"] is True and body["error"] is None
    data = body["data"]
    assert set(data) == {"run_id", "status", "poll_url", "estimated_duration_ms"}
    assert uuid.UUID(data["run_id"]) and data["status"] == "running"
    assert data["poll_url"] == f"/v1/run/{data['run_id']}"
    assert 0.7 * 400_000 <= data["estimated_duration_ms"] <= 1.3 * 400_000
    first = emu.get_run(api.key, data["run_id"])
    assert set(first) == {"run_id", "status", "progress"}  # no canvas_id on the first poll
    emu.advance(200)
    later = emu.get_run(api.key, data["run_id"])
    assert set(later) == {"run_id", "status", "canvas_id", "progress"}
    progress = later["progress"]
    assert 0 < progress["tasks_completed"] <= progress["tasks_total"]
    assert progress["elapsed_ms"] >= 200_000


def test_completed_shape_and_directives_in_agent_instructions(api):
    emu = api.emulator
    run = emu.create_run(api.key, "Quarterly sales deck", template="slides",
                         agent_instructions="Be brief. [emulate:duration=30] [emulate:tasks=6]")
    assert emu.get_run(api.key, run["run_id"])["status"] == "running"
    emu.advance(31)
    data = emu.get_run(api.key, run["run_id"])
    assert data["status"] == "completed"
    assert set(data) == {"run_id", "status", "canvas_id", "duration_ms", "result", "metadata"}
    assert data["duration_ms"] == 30_000
    assert data["metadata"]["template_used"] == "slides"
    assert data["metadata"]["models_used"][0] == "anthropic/claude-sonnet-4-6"
    assert data["metadata"]["credits_consumed"] > 0
    assert data["result"]["final_output"].startswith("# Quarterly sales deck")
    assert [a["type"] for a in data["result"]["artifacts"]] == ["pptx"]
    tree = emu.v1("GET", f"/canvas/{data['canvas_id']}/tasks", api.key).json()["data"]
    count = sum(1 + sum(1 + len(p["children"]) for p in r["children"]) for r in tree["completed"])
    assert count == 6 and tree["not_completed"] == []


def test_partial_and_failed_shapes(api):
    emu = api.emulator
    partial = emu.create_run(api.key, "Report [emulate:outcome=partial] [emulate:duration=5]")
    failed = emu.create_run(api.key, "Report [emulate:outcome=failed] [emulate:duration=5]")
    emu.advance(6)
    p = emu.get_run(api.key, partial["run_id"])
    assert p["status"] == "partial"
    assert {"result", "metadata", "errors", "duration_ms"} <= set(p)
    assert p["errors"][0]["error"] and p["errors"][0]["recoverable"] is True
    f = emu.get_run(api.key, failed["run_id"])
    assert f["status"] == "failed" and "result" not in f
    assert f["errors"][0]["error"] == "Agent execution failed"


def test_same_time_same_answer_and_dag_matches_run(api):
    emu = api.emulator
    run = emu.create_run(api.key, "Budget spreadsheet [emulate:duration=10]")
    emu.advance(11)
    first, second = emu.get_run(api.key, run["run_id"]), emu.get_run(api.key, run["run_id"])
    assert first["result"]["artifacts"][0]["download_url"] != (
        second["result"]["artifacts"][0]["download_url"])  # a fresh URL on each poll
    second["result"]["artifacts"][0]["download_url"] = first["result"]["artifacts"][0]["download_url"]
    assert first == second
    dag = emu.v1("GET", f"/canvas/{first['canvas_id']}/dag", api.key).json()["data"]
    assert dag["canvas_id"] == first["canvas_id"] and dag["canvas_name"]
    files = [n for n in dag["nodes"] if n["type"] == "excel-block"]
    assert [n["id"] for n in files] == [a["id"] for a in first["result"]["artifacts"]]
    assert all(n["status"] == "completed" and n["url"].startswith(emu.base_url) for n in files)
    ids = {n["id"] for n in dag["nodes"]}
    assert all(e["source_id"] in ids and e["target_id"] in ids for e in dag["edges"])


def test_single_task_has_its_direct_children(api):
    emu = api.emulator
    run = emu.create_run(api.key, "Memo [emulate:duration=0] [emulate:tasks=9]", template="memo")
    canvas = emu.get_run(api.key, run["run_id"])["canvas_id"]
    root = emu.v1("GET", f"/canvas/{canvas}/tasks", api.key).json()["data"]["completed"][0]
    one = emu.v1("GET", f"/canvas/{canvas}/tasks/{root['task_id']}", api.key).json()["data"]
    assert one["task_id"] == root["task_id"] and one["task_type"] == "parent-task"
    assert [c["task_id"] for c in one["children"]] == [c["task_id"] for c in root["children"]]
    assert all(c["children"] is None for c in one["children"])
    assert _error(emu.v1("GET", f"/canvas/{canvas}/tasks/{MISSING}", api.key), 404) == (
        f"Task not found: {MISSING}")


@pytest.mark.parametrize("path", ["/_emulator/clock", "/_emulator/requests", "/nope"])
def test_every_response_has_a_request_id(api, path):
    response = httpx.get(api.base_url + path)
    assert response.headers["x-request-id"].startswith("req_")
