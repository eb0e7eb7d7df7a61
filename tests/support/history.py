"""The local history as tests use it: record and observe rows without the API."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from spine_cli.local.history import History, RecordedRun, history_path

WARNINGS: list[str] = []


def history() -> History:
    """The history of the test's SPINE_DATA_DIR; warnings go to WARNINGS."""
    return History(history_path(), warn=WARNINGS.append)


def record(settings: Any, run_id: str | None, **fields: Any) -> None:
    history().record(settings, RecordedRun(run_id, **fields))


def observe(settings: Any, data: dict[str, Any]) -> None:
    """Update a row as a GET /v1/run answer would (`data` as the API's)."""
    history().observe(settings, SimpleNamespace(
        run_id=data.get("run_id"), status_text=data.get("status"),
        canvas_id=data.get("canvas_id"), duration_ms=data.get("duration_ms")))
