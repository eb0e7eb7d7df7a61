"""Webhook event types and envelopes (spine-api.md §6.2–6.3).

    {"id": "evt_<32 hex>", "type": "run.completed", "created": <unix s>,
     "livemode": false, "api_version": "2026-04-01", "data": {"object": {...}}}

For `run.*` events `data.object` is the `GET /v1/run/{run_id}` shape plus the
flat fields of the documented example (`final_output`, `artifacts`; `error`,
the first error message, when the run has errors), the same as the emulator
sends. The docs give no shape for `webhook.ping`; ours is `{"message": …}`.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from spine_cli.api.models import RunStatus

API_VERSION = "2026-04-01"
USER_AGENT = "Spine-Webhooks/1.0"
EVENT_TYPES = ("run.started", "run.completed", "run.failed", "webhook.ping")
PING_OBJECT = {"message": "Test event from Spine (webhook.ping)."}

_RUN_ID = "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b"
_CANVAS_ID = "9b8c7d6e-5f4a-4b3c-8d2e-1f0a9b8c7d6e"
_SAMPLES: dict[str, dict[str, Any]] = {
    "run.started": {"run_id": _RUN_ID, "status": "running", "canvas_id": _CANVAS_ID,
                    "progress": {"tasks_completed": 0, "tasks_total": 1, "elapsed_ms": 0}},
    "run.completed": {
        "run_id": _RUN_ID, "status": "completed", "canvas_id": _CANVAS_ID,
        "duration_ms": 10736,
        "result": {"final_output": "2 + 2 equals 4.", "artifacts": []},
        "metadata": {"template_used": "auto", "models_used": ["anthropic/claude-sonnet-4-6"],
                     "credits_consumed": 1},
    },
    "run.failed": {"run_id": _RUN_ID, "status": "failed", "canvas_id": _CANVAS_ID,
                   "errors": [{"error": "Agent execution failed"}]},
}
# The event a run's status announces (a `partial` run is announced as run.completed).
EVENT_FOR_STATUS = {RunStatus.RUNNING.value: "run.started",
                    RunStatus.COMPLETED.value: "run.completed",
                    RunStatus.PARTIAL.value: "run.completed", RunStatus.FAILED.value: "run.failed"}


def run_object(run: dict[str, Any]) -> dict[str, Any]:
    """`data.object` for a run.* event from a GET /v1/run `data`."""
    obj = dict(run)
    result = obj.get("result")
    if isinstance(result, dict):
        obj["final_output"] = result.get("final_output")
        obj["artifacts"] = result.get("artifacts", [])
    errors = obj.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        obj["error"] = errors[0].get("error")
    return obj


def sample_object(event_type: str) -> dict[str, Any]:
    """A realistic `data.object` for `event_type` (a copy: callers may change it)."""
    if event_type == "webhook.ping":
        return dict(PING_OBJECT)
    return run_object(json.loads(json.dumps(_SAMPLES[event_type])))


def envelope(event_type: str, obj: dict[str, Any], created: float | None = None,
             livemode: bool = False) -> dict[str, Any]:
    """A whole event with a fresh id (`evt_` + 32 hex, as documented)."""
    return {"id": "evt_" + uuid.uuid4().hex, "type": event_type,
            "created": int(time.time() if created is None else created),
            "livemode": livemode, "api_version": API_VERSION, "data": {"object": obj}}


def encode(event: dict[str, Any]) -> bytes:
    """The body bytes: compact JSON, as the sender writes it."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def headers(event: dict[str, Any], signature: str) -> dict[str, str]:
    """The documented delivery headers."""
    return {"Content-Type": "application/json", "User-Agent": USER_AGENT,
            "Spine-Signature": signature, "Spine-Event-Id": str(event["id"]),
            "Spine-Event-Type": str(event["type"])}


def summary(event: dict[str, Any]) -> dict[str, Any]:
    """id, type, run id, run status and run duration of an event (None where absent)."""
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    obj = obj if isinstance(obj, dict) else {}
    duration = obj.get("duration_ms")
    return {"id": _text(event.get("id")), "type": _text(event.get("type")),
            "run_id": _text(obj.get("run_id")), "status": _text(obj.get("status")),
            "duration_ms": duration if isinstance(duration, (int, float))
            and not isinstance(duration, bool) else None}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
