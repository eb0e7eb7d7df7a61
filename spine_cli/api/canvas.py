"""Typed views of the canvas endpoints: the block graph and the task tree.

Parsed as leniently as the run models (`api.models`): statuses outside the
documented, open set are `NodeStatus.UNKNOWN` with the server's word kept in
`status_text`; fields of the wrong type are absent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from spine_cli.api.models import Json, json_dicts, json_object, json_str


class NodeStatus(str, Enum):
    """The status of a task or a canvas block (spine-api.md §3.5, §3.6; an open set)."""

    COMPLETED = "completed"
    RUNNING = "running"
    ERROR = "error"
    FAILED = "failed"
    IDLE = "idle"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> "NodeStatus":
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN


@dataclass(frozen=True)
class DagNode:
    id: str
    name: str | None
    type: str | None
    status: NodeStatus
    status_text: str | None
    content: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Dag:
    """A GET /v1/canvas/{id}/dag answer; edges run from source to target (its dependant)."""

    canvas_id: str | None
    canvas_name: str | None
    nodes: tuple[DagNode, ...]
    edges: tuple[tuple[str, str], ...]
    raw: Json = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def parse(cls, data: object) -> "Dag":
        obj = json_object(data, "canvas graph")
        nodes = tuple(DagNode(str(n.get("id")), json_str(n.get("name")), json_str(n.get("type")),
                              NodeStatus.parse(n.get("status")), json_str(n.get("status")),
                              json_str(n.get("content")), json_str(n.get("url")))
                      for n in json_dicts(obj.get("nodes")) if json_str(n.get("id")))
        edges = tuple((str(e.get("source_id")), str(e.get("target_id")))
                      for e in json_dicts(obj.get("edges")))
        return cls(json_str(obj.get("canvas_id")), json_str(obj.get("canvas_name")), nodes, edges, obj)


@dataclass(frozen=True)
class Task:
    """One node of the task tree: parent-task → persona-task → tool-call-task."""

    task_id: str | None
    name: str | None
    task_type: str | None
    status: NodeStatus
    status_text: str | None
    children: tuple["Task", ...] = ()
    raw: Json = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def parse(cls, data: object, depth: int = 0) -> "Task":
        obj = json_object(data, "task")
        # A hostile tree could nest without end; no real tree is this deep.
        kids = json_dicts(obj.get("children")) if depth < 64 else []
        return cls(json_str(obj.get("task_id")), json_str(obj.get("name")), json_str(obj.get("task_type")),
                   NodeStatus.parse(obj.get("status")), json_str(obj.get("status")),
                   tuple(cls.parse(c, depth + 1) for c in kids), obj)


@dataclass(frozen=True)
class TaskTree:
    """A GET /v1/canvas/{id}/tasks answer: finished subtrees apart from the others."""

    canvas_id: str | None
    completed: tuple[Task, ...]
    not_completed: tuple[Task, ...]
    raw: Json = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def parse(cls, data: object) -> "TaskTree":
        obj = json_object(data, "task tree")
        return cls(json_str(obj.get("canvas_id")),
                   tuple(Task.parse(t) for t in json_dicts(obj.get("completed"))),
                   tuple(Task.parse(t) for t in json_dicts(obj.get("not_completed"))), obj)
