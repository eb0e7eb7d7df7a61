"""`/_emulator/` test control (not part of the Spine API) and the outer ASGI layer.

The middleware gives every response an `X-Request-ID`, logs /v1 and artifact
requests (key fingerprint only, never the key), and applies queued faults.
Dropping a connection needs the server's transport: uvicorn's `receive` is a
bound method of its request cycle, which holds it.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from spine_cli.emulator import webhooks
from spine_cli.emulator.state import FAULT_KINDS, Emulator, Fault, fingerprint

_LOGGED_PREFIXES = ("/v1/", "/_artifacts/")
_FAULT_MESSAGES = {
    429: "Rate limit exceeded", 500: "An internal error occurred",
    502: "Bad gateway", 503: "Service unavailable", 504: "Gateway timeout",
}


def _emu(request: Request) -> Emulator:
    return request.app.state.emulator


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body


async def clock(request: Request) -> JSONResponse:
    emu = _emu(request)
    if request.method == "POST":
        try:
            advance = float((await _json_body(request)).get("advance", 0))
        except (ValueError, TypeError):
            return _bad("advance must be a number of seconds")
        if not advance >= 0:
            return _bad("advance must be a non-negative number of seconds")
        emu.store.advance(advance)
        webhooks.wake(request.app)
    return JSONResponse({"now": emu.now(), "offset": emu.store.offset})


def _parse_fault(body: dict[str, Any]) -> Fault:
    kind = body.get("kind")
    if kind not in FAULT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
    method = str(body.get("method", "*")).upper()
    fault = Fault(method=method, path=str(body.get("path", "*")), kind=kind,
                  count=int(body.get("count", 1)), status=int(body.get("status") or 500),
                  retry_after=(float(body["retry_after"]) if body.get("retry_after") is not None
                               else None),
                  delay=float(body.get("delay") or 0))
    if fault.count < 1 or not 100 <= fault.status <= 599 or fault.delay < 0:
        raise ValueError("count must be >= 1, status an HTTP status, delay >= 0")
    return fault


async def faults(request: Request) -> JSONResponse:
    emu = _emu(request)
    if request.method == "POST":
        try:
            emu.faults.add(_parse_fault(await _json_body(request)))
        except (ValueError, TypeError) as exc:
            return _bad(f"Invalid fault: {exc}")
    elif request.method == "DELETE":
        emu.faults.clear()
    return JSONResponse({"faults": emu.faults.pending()})


async def requests_log(request: Request) -> JSONResponse:
    emu = _emu(request)
    if request.method == "DELETE":
        emu.requests.clear()
    wanted = request.query_params.get("key_fingerprint")
    entries = [e for e in emu.requests if wanted is None or e["key_fingerprint"] == wanted]
    return JSONResponse({"requests": entries})


async def webhook_log(request: Request) -> JSONResponse:
    rows = _emu(request).store.deliveries()
    for row in rows:
        row["body"] = json.loads(row["body"])
    return JSONResponse({"deliveries": rows})


async def webhook_ping(request: Request) -> JSONResponse:
    emu = _emu(request)
    if not emu.config.webhooks:
        return JSONResponse({"error": "No webhook endpoints: start the emulator with "
                                      "--webhook URL."}, status_code=409)
    sent = webhooks.queue_ping(emu)
    webhooks.wake(request.app)
    return JSONResponse({"events": sent})


async def received(request: Request) -> JSONResponse:
    """What the emulator stored of one create: the fields and each file part, as received."""
    run = _emu(request).store.get_run(request.path_params["run_id"])
    if run is None:
        return JSONResponse({"error": "no such run"}, status_code=404)
    return JSONResponse({
        "run_id": run.run_id, "prompt": run.prompt,
        "template": run.template, "blocks": run.blocks,
        "agent_instructions": run.agent_instructions,
        "files": [{k: f.get(k) for k in ("name", "content_type", "size")} for f in run.files],
    })


async def rotate_secret(request: Request) -> JSONResponse:
    try:
        wanted = (await _json_body(request)).get("secret")
    except ValueError as exc:
        return _bad(str(exc))
    if wanted is not None and (not isinstance(wanted, str) or not wanted.startswith("whsec_")
                               or len(wanted) <= 6 or not wanted.isprintable()
                               or any(c.isspace() for c in wanted)):
        return _bad("secret must be a whsec_… string without spaces")
    return JSONResponse({"secret": _emu(request).rotate_webhook_secret(wanted)})


async def health(request: Request) -> JSONResponse:
    emu = _emu(request)
    return JSONResponse({"ok": True, "api_key": emu.api_key, "now": emu.now()})


def routes() -> list[Route]:
    return [
        Route("/_emulator/clock", clock, methods=["GET", "POST"]),
        Route("/_emulator/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_emulator/requests", requests_log, methods=["GET", "DELETE"]),
        Route("/_emulator/webhooks", webhook_log, methods=["GET"]),
        Route("/_emulator/webhooks/ping", webhook_ping, methods=["POST"]),
        Route("/_emulator/webhooks/rotate-secret", rotate_secret, methods=["POST"]),
        Route("/_emulator/runs/{run_id}", received, methods=["GET"]),
        Route("/_emulator/health", health, methods=["GET"]),
    ]


def _drop_connection(receive: Any) -> None:
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None or cycle is None:
        raise RuntimeError("cannot drop the connection: not running under uvicorn")
    cycle.disconnected = True  # so uvicorn does not try to answer on a dead socket
    transport.abort()


async def _drain(receive: Any) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


class ControlMiddleware:
    def __init__(self, app: Any, emu: Emulator) -> None:
        self.app, self.emu = app, emu

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = "req_" + uuid.uuid4().hex
        entry = self._log_entry(scope, request_id)

        async def send_with_id(message: dict) -> None:
            if message["type"] == "http.response.start":
                if entry is not None:
                    entry["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        fault = None
        if entry is not None:
            self.emu.requests.append(entry)  # logged at once; the status is filled in below
            fault = self.emu.faults.take(scope["method"], scope["path"])
        await self._serve(fault, scope, receive, send_with_id, entry)

    async def _serve(self, fault: Fault | None, scope: dict, receive: Any, send: Any,
                     entry: dict | None) -> None:
        if fault is None:
            return await self.app(scope, receive, send)
        entry["fault"] = fault.kind  # type: ignore[index]
        if fault.kind == "delay":
            await asyncio.sleep(fault.delay)
            return await self.app(scope, receive, send)
        if fault.kind == "drop_before":
            # Read the body first: closing with part of it unread (or still arriving)
            # resets the connection, which the client sees as a reset, not a disconnect.
            await _drain(receive)
            return _drop_connection(receive)
        if fault.kind == "drop_after":
            async def swallow(message: dict) -> None:
                return None
            await self.app(scope, receive, swallow)
            return _drop_connection(receive)
        await _drain(receive)
        creating = scope["method"] == "POST" and scope["path"] == "/v1/run"
        await self._fault_response(fault, send, creating)

    @staticmethod
    async def _fault_response(fault: Fault, send: Any, creating: bool) -> None:
        message = _FAULT_MESSAGES.get(fault.status, f"Emulated error {fault.status}")
        if creating and fault.status == 500:
            message = "An internal error occurred while creating the run"
        body = json.dumps({"success": False, "error": message, "data": None}).encode()
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode())]
        if fault.retry_after is not None:
            headers.append((b"retry-after", f"{fault.retry_after:g}".encode()))
        await send({"type": "http.response.start", "status": fault.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _log_entry(scope: dict, request_id: str) -> dict[str, Any] | None:
        path = scope["path"]
        if not path.startswith(_LOGGED_PREFIXES):
            return None
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        key = headers.get("x-api-key")
        return {
            "method": scope["method"], "path": path, "status": None, "time": time.time(),
            "request_id": request_id, "has_api_key": key is not None,
            "key_fingerprint": fingerprint(key) if key else None,
            "user_agent": headers.get("user-agent"), "content_type": headers.get("content-type"),
            "fault": None,
        }
