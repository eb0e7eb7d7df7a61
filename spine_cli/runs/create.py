"""Sending a create-run request and recording it in the history.

The request is built and checked by runs/spec.py first. A create is never
resent: an ambiguous outcome (the request may have reached the API) is
recorded in the history as an unconfirmed row, and the error's hint points
to it.
"""

from __future__ import annotations

from typing import Any, Callable

from spine_cli.api.client import FilePart, SpineClient
from spine_cli.api.models import CreatedRun, RunStatus
from spine_cli.errors import CreateInterruptedError, CreateUncertainError
from spine_cli.local.history import History, RecordedRun
from spine_cli.runs.spec import CreateSpec


def send(client: SpineClient, history: History, settings: Any, spec: CreateSpec, *,
         on_upload: Callable[[int], None] | None = None,
         on_created: Callable[[CreatedRun], None] | None = None,
         origin: str | None = None) -> CreatedRun:
    """POST the run and record it; an ambiguous outcome is recorded as unconfirmed.

    `on_created` hears of the new run before the history is written to, so the run id
    reaches the user (stdout) even while the history is locked by another process; the
    run is recorded even when `on_created` fails (a closed stdout). The history keeps
    each file's sha256, hashed while it was sent (`FilePart.sha256`).
    """
    parts = [f.part() for f in spec.files]
    try:
        created = client.create_run(spec.fields(), parts, on_upload=on_upload)
    except CreateUncertainError as exc:
        exc.hint = _unconfirmed(history, settings, spec, parts, origin, exc.message)
        raise
    except CreateInterruptedError as exc:
        if exc.ambiguous:
            exc.hint = _unconfirmed(history, settings, spec, parts, origin,
                                    "interrupted after the request was sent")
        raise
    try:
        if on_created is not None:
            on_created(created)
    finally:
        history.record(settings, RecordedRun(
            created.run_id, created.status.value, created.canvas_id, spec.prompt,
            spec.template, spec.blocks, [f.filename for f in spec.files],
            spec.record([p.sha256 for p in parts]),
            estimated_ms=created.estimated_duration_ms, origin=origin))
    return created


def _unconfirmed(history: History, settings: Any, spec: CreateSpec, parts: list[FilePart],
                 origin: str | None, why: str) -> str:
    """Record an attempt that may have made a run; return the hint that points to its row."""
    row = history.record(settings, RecordedRun(
        None, RunStatus.UNKNOWN.value, prompt=spec.prompt, template=spec.template,
        blocks=spec.blocks, files=[f.filename for f in spec.files],
        spec=spec.record([p.sha256 for p in parts]), unconfirmed=True, origin=origin, note=why))
    if row is None:
        return ("The attempt could not be recorded in the run history: check for the run "
                "before creating it again.")
    return (f"Recorded as unconfirmed #{row} (`spine run list --status unconfirmed`): check "
            f"for the run before creating it again, then `spine run forget #{row}`.")
