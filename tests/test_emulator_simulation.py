"""The emulator's timeline as pure functions: determinism and consistency at any time."""

from __future__ import annotations

import pytest

from spine_cli.emulator.catalog import FILE_TYPES, TEMPLATE_BLOCKS
from spine_cli.emulator.simulation import (
    DirectiveError, build_plan, default_duration, parse_directives, seeded_rng,
)
from spine_cli.emulator.store import RunRecord
from spine_cli.emulator import views


class FakeLinks:
    def size(self, plan, block):
        return 123

    def url(self, plan, block):
        return f"http://x/{block.id}"


def record(prompt="Write a market report", duration=100.0, outcome="completed", tasks=None,
           template="auto", blocks=None, files=(), run_id="6f1c1a52-2f7b-4bd0-9d55-0c0a8e5b7a11"):
    return RunRecord(run_id=run_id, tenant="t", canvas_id="0b8e3a4e-8d1c-4c50-b7a1-5d7d1c4f0a22",
                     prompt=prompt, template=template, blocks=blocks, agent_instructions=None,
                     created_at=1000.0, duration_s=duration, outcome=outcome, tasks=tasks,
                     files=list(files))


def test_directives_are_parsed_from_prompt_and_instructions():
    found = parse_directives("hi [emulate:outcome=partial]", "be brief [emulate:duration=12.5]")
    assert found == {"outcome": "partial", "duration": 12.5}
    assert parse_directives("[emulate:tasks=7]") == {"tasks": 7}
    for bad in ("[emulate:outcome=maybe]", "[emulate:duration=-1]", "[emulate:tasks=x]",
                "[emulate:colour=red]"):
        with pytest.raises(DirectiveError):
            parse_directives(bad)


def test_default_duration_is_10_to_30_seconds_and_scaled_by_speed():
    durations = [default_duration(seeded_rng(str(i), "p", 0.0), 1.0) for i in range(200)]
    assert all(10 <= d <= 30 for d in durations)
    assert default_duration(seeded_rng("a", "p", 0.0), 10.0) == pytest.approx(
        default_duration(seeded_rng("a", "p", 0.0), 1.0) / 10)


def test_plan_is_deterministic():
    a, b = build_plan(record()), build_plan(record())
    for t in (0, 999.0, 1001.0, 1050.0, 1100.0, 2000.0):
        assert views.run_view(a, t, FakeLinks()) == views.run_view(b, t, FakeLinks())
        assert views.tasks_view(a, t) == views.tasks_view(b, t)
        assert views.dag_view(a, t, FakeLinks()) == views.dag_view(b, t, FakeLinks())


def test_progress_grows_and_matches_the_task_tree_at_every_time():
    plan = build_plan(record(tasks=25))
    last_total = last_done = 0
    for step in range(0, 102):
        now = 1000.0 + step
        data = views.run_view(plan, now, FakeLinks())
        tree = views.tasks_view(plan, now)
        nodes = [n for root in tree["completed"] + tree["not_completed"] for n in _walk(root)]
        if data["status"] == "running":
            progress = data["progress"]
            assert progress["tasks_completed"] <= progress["tasks_total"]
            assert progress["tasks_total"] >= last_total and progress["tasks_completed"] >= last_done
            assert progress["tasks_total"] == len(nodes)
            assert progress["tasks_completed"] == sum(n["status"] != "running" for n in nodes)
            assert progress["elapsed_ms"] == step * 1000
            last_total, last_done = progress["tasks_total"], progress["tasks_completed"]
        else:
            assert len(nodes) == 25 and all(n["status"] == "completed" for n in nodes)
    assert 0 < last_total


def _walk(node):
    yield node
    for child in node.get("children") or []:
        yield from _walk(child)


def test_task_tree_is_parent_persona_tool_call():
    plan = build_plan(record(tasks=30))
    tree = views.tasks_view(plan, 5000.0)
    for root in tree["completed"]:
        assert root["task_type"] == "parent-task"
        for persona in root["children"]:
            assert persona["task_type"] == "persona-task"
            assert all(c["task_type"] == "tool-call-task" for c in persona["children"])


@pytest.mark.parametrize("template", sorted(TEMPLATE_BLOCKS))
def test_blocks_respect_the_template_allow_list(template):
    plan = build_plan(record(template=template))
    allowed = set(TEMPLATE_BLOCKS[template])
    assert {b.type for b in plan.blocks} <= allowed
    data = views.run_view(plan, 5000.0, FakeLinks())
    expected = sorted(FILE_TYPES[b.type] for b in plan.blocks if b.type in FILE_TYPES)
    assert sorted(a["type"] for a in data["result"]["artifacts"]) == expected
    assert expected, "every template except a custom list produces a file"


def test_blocks_override_the_template():
    plan = build_plan(record(template="report", blocks=["excel-block", "image-block", "text-block"]))
    assert [b.type for b in plan.blocks] == ["excel-block", "image-block", "text-block"]
    arts = views.run_view(plan, 5000.0, FakeLinks())["result"]["artifacts"]
    assert sorted(a["type"] for a in arts) == ["png", "xlsx"]


def test_uploads_become_image_and_file_blocks():
    files = [{"name": "a.png", "kind": "image", "size": 3, "content_type": "image/png", "path": "0"},
             {"name": "b.pdf", "kind": "document", "size": 4, "content_type": "application/pdf",
              "path": "1"}]
    plan = build_plan(record(files=files))
    inputs = [(b.type, b.name) for b in plan.blocks if b.is_input]
    assert inputs == [("image-block", "a.png"), ("file-block", "b.pdf")]
    dag = views.dag_view(plan, 1000.0, FakeLinks())
    first = plan.blocks[2].id  # the prompt-block depends on the uploads
    assert {(e["source_id"], e["target_id"]) for e in dag["edges"]} >= {
        (plan.blocks[0].id, first), (plan.blocks[1].id, first)}


def test_partial_and_failed_outcomes():
    partial = views.run_view(build_plan(record(outcome="partial")), 5000.0, FakeLinks())
    assert partial["status"] == "partial"
    assert set(partial) >= {"result", "metadata", "errors", "duration_ms"}
    assert partial["errors"][0]["block_type"] == "document-block"
    assert partial["result"]["artifacts"] == []  # the one file block failed
    failed = views.run_view(build_plan(record(outcome="failed")), 5000.0, FakeLinks())
    assert failed["status"] == "failed" and "result" not in failed and "metadata" not in failed
    assert failed["errors"][0]["error"] == "Agent execution failed"
    tree = views.tasks_view(build_plan(record(outcome="failed")), 5000.0)
    assert tree["not_completed"] and tree["not_completed"][-1]["status"] == "error"


def test_canvas_id_absent_at_first_and_estimate_within_30_percent():
    plan = build_plan(record(duration=100.0))
    assert "canvas_id" not in views.run_view(plan, 1000.0, FakeLinks())
    assert views.run_view(plan, 1002.0, FakeLinks())["canvas_id"] == plan.run.canvas_id
    estimate = views.create_view(plan)["estimated_duration_ms"]
    assert 70_000 <= estimate <= 130_000


def test_zero_duration_run_is_terminal_at_once():
    plan = build_plan(record(duration=0.0, tasks=0))
    data = views.run_view(plan, 1000.0, FakeLinks())
    assert data["status"] == "completed" and data["duration_ms"] == 0


def test_the_emulator_and_the_cli_share_the_protocol_vocabulary():
    """Kept as two copies on purpose (the emulator is the CLI's independent test double);
    this catches them drifting apart."""
    from spine_cli.api import catalog as cli
    from spine_cli.emulator import catalog, state
    from spine_cli.local import values

    assert catalog.BLOCK_TYPES == list(cli.BLOCK_TYPES)
    assert catalog.TEMPLATES == list(cli.TEMPLATES)
    assert sorted(set(catalog.FILE_TYPES.values())) == sorted(cli.ARTIFACT_TYPES)
    assert state.KEY_PREFIX == values.KEY_PREFIX
