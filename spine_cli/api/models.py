"""Typed views of the API's answers, parsed once per response.

Each model keeps the `data` object it came from in `raw` (what `--json`
prints, unchanged). Parsing is strict about identity and lenient about
decoration:

- the fields a decision depends on (`run_id`, `status`, `canvas_id`) must have
  the documented shape — a run or canvas id that is not a UUID, or `data` that
  is not an object, raises `MalformedResponseError` (exit 8; a failed poll
  during a wait);
- a status outside the documented set parses as `RunStatus.UNKNOWN`, keeping
  the server's word in `status_text`;
- decorative fields of the wrong type (a `progress` string, a `name: null`)
  become absent (None), never the text "None"; integers sent as strings are
  accepted, as the official SDK's models accept them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping

from spine_cli.api.catalog import canvas_url
from spine_cli.errors import MalformedResponseError

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
Json = dict[str, Any]


class RunStatus(str, Enum):
    """A run's status (spine-api.md §3.1), with an explicit case for anything else."""

    RUNNING = "running"
    COMPLETED = "completed"
    PARTIAL = "partial"
    FAILED = "failed"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> "RunStatus":
        try:
            status = cls(value)
        except ValueError:
            return cls.UNKNOWN
        return status

    @property
    def terminal(self) -> bool:
        return self in (RunStatus.COMPLETED, RunStatus.PARTIAL, RunStatus.FAILED)

    @property
    def has_output(self) -> bool:
        """A terminal status that comes with a result and artifacts."""
        return self in (RunStatus.COMPLETED, RunStatus.PARTIAL)


def is_uuid(value: object) -> bool:
    return isinstance(value, str) and bool(UUID_RE.match(value))


def json_int(value: object) -> int | None:
    """An integer, or an integer sent as a string; anything else is absent."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def json_str(value: object) -> str | None:
    """A string; numbers become their text; null and containers are absent."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def json_dicts(value: object) -> list[Json]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def json_object(data: object, what: str) -> Json:
    if not isinstance(data, dict):
        raise MalformedResponseError(f"The API answered with {json_kind(data)} for the {what}, "
                                     "not an object.")
    return data


def json_kind(value: object) -> str:
    """A JSON value's type in words (`a string`, `null`, ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def json_uuid(data: Mapping[str, Any], key: str, what: str, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not is_uuid(value):
        raise MalformedResponseError(f"The API's {what} has no valid {key} (expected a UUID).")
    return str(value).lower()


@dataclass(frozen=True)
class Progress:
    tasks_completed: int = 0
    tasks_total: int = 0
    elapsed_ms: int = 0

    @property
    def fraction(self) -> float | None:
        if self.tasks_total <= 0:
            return None
        return min(1.0, max(0.0, self.tasks_completed / self.tasks_total))

    @classmethod
    def parse(cls, data: object) -> "Progress | None":
        if not isinstance(data, dict):
            return None
        return cls(max(0, json_int(data.get("tasks_completed")) or 0),
                   max(0, json_int(data.get("tasks_total")) or 0),
                   max(0, json_int(data.get("elapsed_ms")) or 0))


@dataclass(frozen=True)
class Artifact:
    id: str | None
    type: str | None
    name: str | None
    download_url: str | None
    size_bytes: int | None = None

    @classmethod
    def parse(cls, data: Json) -> "Artifact":
        size = json_int(data.get("size_bytes"))
        return cls(json_str(data.get("id")), json_str(data.get("type")), json_str(data.get("name")),
                   json_str(data.get("download_url")), size if size is None or size >= 0 else None)

    @property
    def key(self) -> str:
        """What identifies this artifact across polls (fresh URLs are matched by it)."""
        return self.id or f"{self.type}:{self.name}"


@dataclass(frozen=True)
class RunError:
    """One item of a run's `errors`; `text` falls back to any message-like field."""

    text: str
    block_id: str | None = None
    block_type: str | None = None

    @classmethod
    def parse(cls, data: object) -> "RunError":
        if not isinstance(data, dict):
            return cls(json_str(data) or "unknown error")
        text = json_str(data.get("error"))
        for key in ("message", "detail", "reason", "msg"):
            text = text or json_str(data.get(key))
        if not text:
            extra = {k: v for k, v in data.items() if k not in ("block_id", "block_type")}
            text = next((v for v in extra.values() if isinstance(v, str) and v), None) \
                or "unknown error"
        return cls(text, json_str(data.get("block_id")), json_str(data.get("block_type")))


@dataclass(frozen=True)
class RunMetadata:
    template_used: str | None = None
    models_used: tuple[str, ...] = ()
    credits_consumed: int | None = None

    @classmethod
    def parse(cls, data: object) -> "RunMetadata":
        if not isinstance(data, dict):
            return cls()
        models = data.get("models_used")
        names = tuple(m for m in (json_str(x) for x in models) if m) if isinstance(models, list) else ()
        return cls(json_str(data.get("template_used")), names, json_int(data.get("credits_consumed")))


@dataclass(frozen=True)
class Run:
    """A GET /v1/run answer."""

    run_id: str
    status: RunStatus
    status_text: str
    canvas_id: str | None = None
    progress: Progress | None = None
    duration_ms: int | None = None
    final_output: str | None = None
    artifacts: tuple[Artifact, ...] = ()
    metadata: RunMetadata = field(default_factory=RunMetadata)
    errors: tuple[RunError, ...] = ()
    raw: Json = field(default_factory=dict, compare=False, repr=False)

    @property
    def terminal(self) -> bool:
        return self.status.terminal

    @property
    def canvas_url(self) -> str | None:
        return canvas_url(self.canvas_id) if self.canvas_id else None

    @classmethod
    def parse(cls, data: object) -> "Run":
        obj = json_object(data, "run")
        run_id = json_uuid(obj, "run_id", "run") or ""
        status_text = json_str(obj.get("status"))
        if not status_text:
            raise MalformedResponseError("The API's run has no status.")
        raw_result = obj.get("result")
        result: Json = raw_result if isinstance(raw_result, dict) else {}
        duration = json_int(obj.get("duration_ms"))
        return cls(
            run_id=run_id,
            status=RunStatus.parse(status_text),
            status_text=status_text,
            canvas_id=json_uuid(obj, "canvas_id", "run", required=False),
            progress=Progress.parse(obj.get("progress")),
            duration_ms=duration if duration is None or duration >= 0 else None,
            final_output=json_str(result.get("final_output")),
            artifacts=tuple(Artifact.parse(a) for a in json_dicts(result.get("artifacts"))),
            metadata=RunMetadata.parse(obj.get("metadata")),
            errors=tuple(RunError.parse(e) for e in obj.get("errors") or []
                         if isinstance(obj.get("errors"), list)),
            raw=obj,
        )


@dataclass(frozen=True)
class CreatedRun:
    """A POST /v1/run answer."""

    run_id: str
    status: RunStatus
    estimated_duration_ms: int | None = None
    canvas_id: str | None = None
    raw: Json = field(default_factory=dict, compare=False, repr=False)

    @property
    def estimated_seconds(self) -> float | None:
        ms = self.estimated_duration_ms
        return ms / 1000.0 if ms is not None and ms > 0 else None

    @classmethod
    def parse(cls, data: object) -> "CreatedRun":
        obj = json_object(data, "create answer")
        run_id = json_uuid(obj, "run_id", "create answer") or ""
        estimate = json_int(obj.get("estimated_duration_ms"))
        return cls(run_id, RunStatus.parse(obj.get("status", "running")),
                   estimate if estimate is None or estimate >= 0 else None,
                   json_uuid(obj, "canvas_id", "create answer", required=False), obj)
