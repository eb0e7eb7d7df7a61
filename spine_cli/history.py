"""Local run history (SQLite under the data dir).

INTERFACE (implemented by the history work; the run commands call these):

    record_run(settings, run_id, *, canvas_id=None, prompt="", template=None,
               blocks=None, files=(), status="running", unconfirmed=False) -> None
    observe_run(settings, run: dict) -> None      # update from any GET /v1/run data
    resolve_run_ref(ref: str, settings) -> str    # full id, unique prefix, @last, @last~N

History is a convenience: every function here warns once on stderr and carries
on when the database is unreadable; none raises except resolve_run_ref, which
raises UsageError for a bad or ambiguous reference.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from spine_cli.errors import UsageError

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def record_run(settings: Any, run_id: str, *, canvas_id: str | None = None, prompt: str = "",
               template: str | None = None, blocks: list[str] | None = None,
               files: Iterable[str] = (), status: str = "running",
               unconfirmed: bool = False) -> None:
    """Record a run this machine created (placeholder until history lands)."""


def observe_run(settings: Any, run: dict[str, Any]) -> None:
    """Update the recorded status/canvas of a run from a GET /v1/run answer."""


def resolve_run_ref(ref: str, settings: Any) -> str:
    """Turn a RUN argument into a full run id."""
    if UUID_RE.match(ref):
        return ref.lower()
    raise UsageError(f"Not a run id: {ref!r} (expected a UUID such as 550e8400-e29b-41d4-a716-446655440000).")
