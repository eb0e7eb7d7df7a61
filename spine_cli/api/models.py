"""Typed views of API payloads. Parsing is lenient: unknown fields are kept in
`raw` (what `--json` prints) and missing optional fields become None."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TERMINAL_STATUSES = frozenset({"completed", "partial", "failed"})
RUN_STATUSES = ("running", "completed", "partial", "failed")

TEMPLATES = ("app", "auto", "deep_research", "excel", "landing_page", "memo", "report", "slides")
BLOCK_TYPES = (
    "app-block", "deep-research-block", "document-block", "excel-block", "file-block",
    "image-block", "landing-page-block", "list-block", "memo-block", "presentation-block",
    "prompt-block", "prototype-block", "table-block", "text-block", "web-block",
    "web-research-block", "yt-block",
)
ARTIFACT_TYPES = ("docx", "xlsx", "pptx", "html", "png")
# spine-api.md §4.1: images become image-blocks, documents indexed file-blocks.
UPLOAD_EXTENSIONS = (
    ".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg",
    ".pdf", ".docx", ".xlsx", ".csv", ".txt", ".md", ".yaml", ".yml", ".json", ".zip",
)

CANVAS_URL = "https://app.getspine.ai/canvas/{canvas_id}"


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


@dataclass
class Progress:
    tasks_completed: int = 0
    tasks_total: int = 0
    elapsed_ms: int = 0

    @classmethod
    def from_api(cls, data: Any) -> "Progress | None":
        if not isinstance(data, dict):
            return None
        return cls(_int(data.get("tasks_completed")) or 0, _int(data.get("tasks_total")) or 0,
                   _int(data.get("elapsed_ms")) or 0)


@dataclass
class Artifact:
    id: str
    type: str
    name: str
    download_url: str
    size_bytes: int | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> "Artifact":
        return cls(str(data.get("id", "")), str(data.get("type", "")), str(data.get("name", "")),
                   str(data.get("download_url", "")), _int(data.get("size_bytes")))


@dataclass
class Run:
    run_id: str
    status: str
    canvas_id: str | None = None
    progress: Progress | None = None
    duration_ms: int | None = None
    final_output: str | None = None
    artifacts: list[Artifact] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def canvas_url(self) -> str | None:
        return CANVAS_URL.format(canvas_id=self.canvas_id) if self.canvas_id else None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> "Run":
        result = data.get("result") if isinstance(data.get("result"), dict) else {}
        arts = result.get("artifacts") if isinstance(result.get("artifacts"), list) else []
        errors = data.get("errors") if isinstance(data.get("errors"), list) else []
        return cls(
            run_id=str(data.get("run_id", "")),
            status=str(data.get("status", "")),
            canvas_id=data.get("canvas_id") or None,
            progress=Progress.from_api(data.get("progress")),
            duration_ms=_int(data.get("duration_ms")),
            final_output=result.get("final_output"),
            artifacts=[Artifact.from_api(a) for a in arts if isinstance(a, dict)],
            metadata=data.get("metadata") if isinstance(data.get("metadata"), dict) else {},
            errors=[e for e in errors if isinstance(e, dict)],
            raw=data,
        )
