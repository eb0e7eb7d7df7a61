"""The API's JSON shapes for a plan at a given emulator time (pure functions).

`Links` supplies what depends on the request: artifact files and fresh URLs.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

from spine_cli.emulator.catalog import FILE_TYPES
from spine_cli.emulator.simulation import Block, Plan, Task
from spine_cli.emulator.shelf import artifact_name


class Links(Protocol):
    def size(self, plan: Plan, block: Block) -> int: ...
    def url(self, plan: Plan, block: Block) -> str: ...


def run_status(plan: Plan, now: float) -> str:
    return "running" if now < plan.run.end_at else plan.run.outcome


def task_state(task: Task, now: float) -> str | None:
    """None before the task is spawned, then running, then completed or error."""
    if now < task.start:
        return None
    if now < task.end:
        return "running"
    return "error" if task.fails else "completed"


def block_state(block: Block, now: float) -> str:
    if block.is_input:
        return "completed"
    if now < block.start:
        return "idle"
    if now < block.end:
        return "running"
    return "error" if block.fails else "completed"


def progress(plan: Plan, now: float) -> dict[str, int]:
    states = [task_state(t, now) for t in plan.all_tasks]
    spawned = [s for s in states if s is not None]
    return {
        "tasks_completed": sum(1 for s in spawned if s != "running"),
        "tasks_total": len(spawned),
        "elapsed_ms": max(0, int((now - plan.run.created_at) * 1000)),
    }


def artifact_blocks(plan: Plan) -> list[Block]:
    return [b for b in plan.blocks if not b.is_input and b.type in FILE_TYPES and not b.fails]


def artifacts_view(plan: Plan, links: Links) -> list[dict[str, Any]]:
    return [{"id": b.id, "type": FILE_TYPES[b.type], "name": artifact_name(plan, b),
             "download_url": links.url(plan, b), "size_bytes": links.size(plan, b)}
            for b in artifact_blocks(plan)]


def final_output(plan: Plan) -> str:
    failed = [b for b in plan.blocks if b.fails]
    names = [artifact_name(plan, b) for b in artifact_blocks(plan)]
    lines = [f"# {plan.topic}", "",
             f"Spine's agents worked through {len(plan.all_tasks)} tasks across "
             f"{len(plan.blocks)} canvas blocks to answer the request.", "",
             "## Key points", "",
             f"- The request was resolved with the `{plan.template_used}` template.",
             f"- Sources were gathered, analysed and summarised for *{plan.topic}*."]
    if names:
        lines += ["", "## Artifacts", ""] + [f"- {name}" for name in names]
    if failed:
        lines += ["", "> Note: some blocks failed: " + ", ".join(b.name for b in failed) + "."]
    return "\n".join(lines) + "\n"


def errors_view(plan: Plan) -> list[dict[str, Any]]:
    failed = [b for b in plan.blocks if b.fails]
    if plan.run.outcome == "failed":
        if not failed:
            return [{"error": "Agent execution failed"}]
        return [{"error": "Agent execution failed", "block_id": b.id, "block_type": b.type,
                 "recoverable": False} for b in failed]
    return [{"error": f"Block failed: {b.name} could not be generated", "block_id": b.id,
             "block_type": b.type, "recoverable": True} for b in failed]


def metadata_view(plan: Plan) -> dict[str, Any]:
    credits = 5 + 2 * len(plan.all_tasks) + 10 * len(artifact_blocks(plan))
    return {"template_used": plan.template_used, "models_used": list(plan.models),
            "credits_consumed": credits}


def run_view(plan: Plan, now: float, links: Links) -> dict[str, Any]:
    status = run_status(plan, now)
    data: dict[str, Any] = {"run_id": plan.run.run_id, "status": status}
    if now >= plan.ready_at:
        data["canvas_id"] = plan.run.canvas_id
    if status == "running":
        data["progress"] = progress(plan, now)
        return data
    if status != "failed":
        data["duration_ms"] = int(round(plan.run.duration_s * 1000))
        data["result"] = {"final_output": final_output(plan),
                          "artifacts": artifacts_view(plan, links)}
        data["metadata"] = metadata_view(plan)
    if status != "completed":
        data["errors"] = errors_view(plan)
    return data


def create_view(plan: Plan) -> dict[str, Any]:
    return {"run_id": plan.run.run_id, "status": "running",
            "poll_url": f"/v1/run/{plan.run.run_id}",
            "estimated_duration_ms": int(plan.run.duration_s * 1000 * plan.estimate_factor)}


def _node_content(plan: Plan, block: Block) -> tuple[str | None, str | None, list[Any]]:
    """(content, url, sources) of a finished block, apart from download URLs."""
    topic = plan.topic
    digest = hashlib.sha256(block.id.encode()).hexdigest()
    if block.is_input and block.file is not None:
        return f"Uploaded file {block.name} ({block.file['size']} bytes)", None, []
    if block.type == "web-block":
        url = f"https://example.com/search/{digest[:12]}"
        return f"Reference page about {topic}.", url, [{"url": url, "title": f"About {topic}"}]
    if block.type == "yt-block":
        return f"Video about {topic}.", f"https://www.youtube.com/watch?v={digest[:11]}", []
    if block.type == "table-block":
        return f"| Item | Value |\n|---|---|\n| {topic} | 42 |\n", None, []
    return f"{block.name}: done.", None, []


def dag_view(plan: Plan, now: float, links: Links) -> dict[str, Any]:
    files = {b.id for b in artifact_blocks(plan)}
    nodes = []
    for block in plan.blocks:
        state = block_state(block, now)
        node: dict[str, Any] = {"id": block.id, "name": block.name, "type": block.type,
                                "status": state, "sources": []}
        if state == "completed":
            content, url, sources = _node_content(plan, block)
            if block.id in files:
                url = links.url(plan, block)
            node.update({"content": content, "sources": sources})
            if url:
                node["url"] = url
        nodes.append(node)
    edges = [{"source_id": s, "target_id": t} for s, t in plan.edges]
    return {"canvas_id": plan.run.canvas_id, "canvas_name": plan.topic,
            "nodes": nodes, "edges": edges}


def task_node(task: Task, now: float, depth: int | None = None) -> dict[str, Any] | None:
    """A TaskNode with spawned children (all levels, or `depth` levels)."""
    state = task_state(task, now)
    if state is None:
        return None
    node: dict[str, Any] = {"task_id": task.id, "name": task.name,
                            "task_type": task.type, "status": state}
    if depth == 0:
        node["children"] = None
        return node
    kids = [task_node(c, now, None if depth is None else depth - 1) for c in task.children]
    node["children"] = [k for k in kids if k is not None]
    return node


def tasks_view(plan: Plan, now: float) -> dict[str, Any]:
    done: list[dict[str, Any]] = []
    not_done: list[dict[str, Any]] = []
    for root in plan.roots:
        node = task_node(root, now)
        if node is not None:
            (done if node["status"] == "completed" else not_done).append(node)
    return {"canvas_id": plan.run.canvas_id, "completed": done, "not_completed": not_done}


def find_task(plan: Plan, task_id: str) -> Task | None:
    return next((t for t in plan.all_tasks if t.id == task_id), None)
