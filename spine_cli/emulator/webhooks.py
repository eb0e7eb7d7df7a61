"""Webhook deliveries: `run.started`, `run.completed`, `run.failed`, `webhook.ping`,
signed per spine-api §6.

A background loop (started with the app) turns run transitions into one
delivery per `--webhook` endpoint subscribed to the event type, persisted in
SQLite, and sends due deliveries. `queue_ping` (POST /_emulator/webhooks/ping,
the portal's "Send test event") queues a `webhook.ping` for every endpoint,
whatever it subscribes to. The secret is read at each attempt, so a rotation
(Emulator.rotate_webhook_secret) invalidates the old one at once, retries included.

Retry policy: a delivery succeeds on any 2xx answer within 10 s. Otherwise it
is retried after 1, 2, 4, 8, 16, 32 and 60 s (8 attempts in all), measured on
the emulator clock (so `/_emulator/clock` advances make retries due at once),
then marked `failed`. Each attempt is signed afresh with the current
wall-clock time `t` (receivers check it against their own clock); the event
`id` stays the same across retries of one delivery. Events of one run reach
one endpoint in order (a later event waits while an earlier one is pending).
Pending deliveries survive a restart. A run ending `partial` is announced as `run.completed` with
`status: "partial"` (the API documents no event for it).
"""

from __future__ import annotations

import asyncio
import functools
import contextlib
import hashlib
import hmac
import json
import sys
import time
import uuid
from typing import Any, AsyncIterator

from spine_cli.emulator import views
from spine_cli.emulator.shelf import Links
from spine_cli.emulator.state import Emulator

API_VERSION = "2026-04-01"
PING_OBJECT = {"message": "Test event from Spine (webhook.ping)."}  # shape undocumented
RETRY_DELAYS = [1, 2, 4, 8, 16, 32, 60]
TIMEOUT = 10.0
_TICK = 0.2


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def event_object(emu: Emulator, plan, base: str, at: float) -> dict[str, Any]:
    """data.object: the GET /v1/run shape, plus the flat fields of the docs' example."""
    obj = views.run_view(plan, at, Links(emu.shelf, base, emu.now()))
    obj.setdefault("canvas_id", plan.run.canvas_id)
    if "result" in obj:
        obj["final_output"] = obj["result"]["final_output"]
        obj["artifacts"] = obj["result"]["artifacts"]
    if obj.get("errors"):
        obj["error"] = obj["errors"][0]["error"]
    return obj


def _add(emu: Emulator, url: str, event_type: str, run_id: str, obj: dict[str, Any]) -> str:
    event_id = "evt_" + uuid.uuid4().hex
    body = {"id": event_id, "type": event_type, "created": int(time.time()),
            "livemode": False, "api_version": API_VERSION, "data": {"object": obj}}
    emu.store.add_delivery(event_id, event_type, run_id, url,
                           json.dumps(body, separators=(",", ":")), emu.now())
    return event_id


def _queue(emu: Emulator, run, event_type: str, base: str, at: float) -> None:
    """One delivery per subscribed endpoint; without one nothing is built (no artifact files)."""
    endpoints = [e for e in emu.config.webhooks if e.wants(event_type)]
    if not endpoints:
        return
    obj = event_object(emu, emu.plan(run), base, at)
    for endpoint in endpoints:
        _add(emu, endpoint.url, event_type, run.run_id, obj)


def queue_ping(emu: Emulator) -> list[dict[str, str]]:
    """A `webhook.ping` for every endpoint (its `run_id` column is empty)."""
    return [{"id": _add(emu, e.url, "webhook.ping", "", dict(PING_OBJECT)), "url": e.url}
            for e in emu.config.webhooks]


def scan(emu: Emulator, base: str) -> None:
    """Queue the events of runs that were created or have ended."""
    now = emu.now()
    for run in emu.store.runs_to_notify(0, now):
        _queue(emu, run, "run.started", base, run.created_at)
        emu.store.set_notified(run.run_id, 1)
    for run in emu.store.runs_to_notify(1, now):
        kind = "run.failed" if run.outcome == "failed" else "run.completed"
        _queue(emu, run, kind, base, run.end_at)
        emu.store.set_notified(run.run_id, 2)


async def deliver(emu: Emulator, client: Any, row: Any) -> None:
    body = row["body"].encode()
    headers = {"Content-Type": "application/json", "User-Agent": "Spine-Webhooks/1.0",
               "Spine-Signature": sign(emu.webhook_secret, int(time.time()), body),
               "Spine-Event-Id": row["event_id"], "Spine-Event-Type": row["event_type"]}
    attempts = row["attempts"] + 1
    try:
        response = await client.post(row["url"], content=body, headers=headers)
        status, error = response.status_code, None
    except Exception as exc:  # any transport failure is a failed attempt
        status, error = None, f"{type(exc).__name__}: {exc}"
    if status is not None and 200 <= status < 300:
        emu.store.update_delivery(row["id"], state="delivered", attempts=attempts,
                                  last_status=status, last_error=None)
        return
    done = attempts > len(RETRY_DELAYS)
    delay = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
    emu.store.update_delivery(row["id"], state="failed" if done else "pending",
                              attempts=attempts, last_status=status,
                              last_error=error or f"HTTP {status}", next_at=emu.now() + delay)


def wake(app: Any) -> None:
    event = getattr(app.state, "webhook_wake", None)
    if event is not None:
        event.set()


async def _loop(app: Any) -> None:
    import httpx

    emu: Emulator = app.state.emulator
    base = app.state.public_base
    in_flight: set[int] = set()
    async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as client:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(app.state.webhook_wake.wait(), _TICK)
            app.state.webhook_wake.clear()
            try:
                scan(emu, base)
                rows = emu.store.pending_deliveries()
            except Exception as exc:  # keep the loop alive; the next tick retries
                sys.stderr.write(f"emulator: webhook scan failed: {exc}\n")
                continue
            for row in _sendable(rows, in_flight, emu.now()):
                in_flight.add(row["id"])
                task = asyncio.create_task(deliver(emu, client, row))
                task.add_done_callback(functools.partial(_settled, in_flight, row["id"]))


def _sendable(rows: list[Any], in_flight: set[int], now: float) -> list[Any]:
    """Due deliveries, one at a time per (run, endpoint) so events arrive in order."""
    blocked: set[tuple[str, str]] = set()
    out = []
    for row in rows:  # oldest first
        lane = (row["run_id"], row["url"])
        if lane in blocked:
            continue
        blocked.add(lane)
        if row["id"] not in in_flight and row["next_at"] <= now:
            out.append(row)
    return out


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    app.state.webhook_wake = asyncio.Event()
    task = asyncio.create_task(_loop(app))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _settled(in_flight: set[Any], delivery_id: Any, _task: Any) -> None:
    in_flight.discard(delivery_id)
