"""The five /v1 endpoints, artifact downloads, and the Starlette app."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from spine_cli.emulator import control, webhooks
from spine_cli.emulator.artifacts import CONTENT_TYPES
from spine_cli.emulator.shelf import Links, artifact_name
from spine_cli.emulator.catalog import BLOCK_TYPES, FILE_TYPES, TEMPLATES
from spine_cli.emulator.formparams import header_params
from spine_cli.emulator.simulation import (
    DirectiveError, default_duration, parse_directives, seeded_rng,
)
from spine_cli.emulator.state import KEY_PREFIX, Emulator, tenant_of
from spine_cli.emulator.store import RunRecord
from spine_cli.emulator.uploads import UploadRejected, parse_multipart, parse_urlencoded
from spine_cli.emulator import views

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


class APIFailure(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


class _NoAnswer(Response):
    """Sends nothing: for a client that is gone (the request log keeps status null)."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        return None


def ok(data: Any) -> JSONResponse:
    return JSONResponse({"success": True, "error": None, "data": data})


def failure(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"success": False, "error": message, "data": None},
                        status_code=status, headers=headers)


def _emu(request: Request) -> Emulator:
    return request.app.state.emulator


def authenticate(request: Request) -> str:
    """The caller's tenant; 401 without a key, 429 over the rate limit."""
    key = request.headers.get("x-api-key", "").strip()
    if not key:
        raise APIFailure(401, "X-API-KEY header required")
    if not key.startswith(KEY_PREFIX) or len(key) <= len(KEY_PREFIX):
        raise APIFailure(401, "Invalid API key")
    tenant = tenant_of(key)
    wait = _emu(request).limiter.check(tenant)
    if wait is not None:
        raise APIFailure(429, f"Rate limit exceeded: at most {_emu(request).limiter.per_minute}"
                              f" requests per minute; retry after {wait} s",
                         {"Retry-After": str(wait)})
    return tenant


def _check_uuid(value: str, what: str) -> str:
    if not _UUID.match(value):
        raise APIFailure(400, f"Invalid {what}: must be a valid UUID")
    return value.lower()


def api_route(handler):
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request, authenticate(request))
        except APIFailure as exc:
            return failure(exc.status, exc.message, exc.headers)
        except UploadRejected as exc:
            return failure(exc.status, exc.message)
    return endpoint


def _links(request: Request) -> Links:
    """Artifact sizes and fresh pre-signed URLs under the URL this request came to."""
    emu = _emu(request)
    return Links(emu.shelf, str(request.base_url).rstrip("/"), emu.now())


def _validate_template(fields: dict[str, str]) -> str:
    template = fields.get("template", "").strip() or "auto"
    if template not in TEMPLATES:
        raise APIFailure(400, f"Invalid template: {template}. Valid templates: "
                              f"{', '.join(TEMPLATES)}")
    return template


def _validate_blocks(fields: dict[str, str]) -> list[str] | None:
    raw = fields.get("blocks")
    if raw is None or raw.strip() == "":
        return None
    try:
        blocks = json.loads(raw)
    except ValueError:
        raise APIFailure(400, "Invalid blocks: must be a JSON array of block type strings") from None
    if not isinstance(blocks, list) or not all(isinstance(b, str) for b in blocks):
        raise APIFailure(400, "Invalid blocks: must be a JSON array of block type strings")
    if not blocks:
        raise APIFailure(400, "Invalid blocks: must be a non-empty JSON array")
    unknown = [b for b in blocks if b not in BLOCK_TYPES]
    if unknown:
        raise APIFailure(400, f"Invalid block types: {', '.join(unknown)}. Valid block types: "
                              f"{', '.join(BLOCK_TYPES)}")
    return list(dict.fromkeys(blocks))


def _new_record(emu: Emulator, run_id: str, tenant: str, fields: dict[str, str],
                files: list[dict[str, Any]]) -> RunRecord:
    prompt = fields.get("prompt")
    if prompt is None:
        raise APIFailure(400, "Missing required field: prompt")
    if not prompt.strip():
        raise APIFailure(400, "Invalid prompt: must not be empty")
    template, blocks = _validate_template(fields), _validate_blocks(fields)
    instructions = fields.get("agent_instructions") or None
    try:
        directives = parse_directives(prompt, instructions)
    except DirectiveError as exc:
        raise APIFailure(400, str(exc)) from None
    created = emu.now()
    rng = seeded_rng(run_id, prompt, created)
    duration = default_duration(rng, emu.config.speed)
    return RunRecord(
        run_id=run_id, tenant=tenant, canvas_id=str(uuid.uuid4()), prompt=prompt,
        template=template, blocks=blocks, agent_instructions=instructions, created_at=created,
        duration_s=float(directives.get("duration", duration)),  # type: ignore[arg-type]
        outcome=str(directives.get("outcome", "completed")),
        tasks=directives.get("tasks"), files=files)  # type: ignore[arg-type]


async def _read_form(request: Request, emu: Emulator, run_id: str):
    ctype = request.headers.get("content-type", "")
    media_type = header_params(ctype)[0]  # media types are case-insensitive (RFC 9110)
    if media_type == "multipart/form-data":
        return await parse_multipart(ctype, request.stream(), emu.store.uploads_dir / run_id,
                                     emu.config.max_file_size, emu.config.max_files)
    if media_type == "application/x-www-form-urlencoded":
        return await parse_urlencoded(request.stream())
    async for _ in request.stream():
        pass
    raise UploadRejected(400, "Unsupported Content-Type: send multipart/form-data or "
                              "application/x-www-form-urlencoded")


@api_route
async def create_run(request: Request, tenant: str) -> Response:
    emu = _emu(request)
    run_id = str(uuid.uuid4())
    try:
        form = await _read_form(request, emu, run_id)
        record = _new_record(emu, run_id, tenant, form.fields, form.files)
    except ClientDisconnect:
        # The client hung up mid-body: no run, no partial files, and no answer to send.
        shutil.rmtree(emu.store.uploads_dir / run_id, ignore_errors=True)
        return _NoAnswer()
    except BaseException:  # rejected, or cancelled at shutdown: nothing may stay behind
        shutil.rmtree(emu.store.uploads_dir / run_id, ignore_errors=True)
        raise
    emu.store.insert_run(record)
    webhooks.wake(request.app)
    return ok(views.create_view(emu.plan(record)))


def _own_run(emu: Emulator, run_id: str, tenant: str) -> RunRecord:
    run = emu.store.get_run(run_id)
    if run is None or run.tenant != tenant:
        raise APIFailure(404, f"Run not found: {run_id}")
    return run


def _own_canvas(emu: Emulator, canvas_id: str, tenant: str) -> RunRecord:
    run = emu.store.get_run_by_canvas(canvas_id)
    if run is None or run.tenant != tenant:
        raise APIFailure(404, f"Canvas not found: {canvas_id}")
    return run


@api_route
async def get_run(request: Request, tenant: str) -> Response:
    emu = _emu(request)
    run_id = _check_uuid(request.path_params["run_id"], "run_id")
    plan = emu.plan(_own_run(emu, run_id, tenant))
    return ok(views.run_view(plan, emu.now(), _links(request)))


@api_route
async def get_dag(request: Request, tenant: str) -> Response:
    emu = _emu(request)
    canvas_id = _check_uuid(request.path_params["canvas_id"], "canvas_id")
    plan = emu.plan(_own_canvas(emu, canvas_id, tenant))
    return ok(views.dag_view(plan, emu.now(), _links(request)))


@api_route
async def get_tasks(request: Request, tenant: str) -> Response:
    emu = _emu(request)
    canvas_id = _check_uuid(request.path_params["canvas_id"], "canvas_id")
    plan = emu.plan(_own_canvas(emu, canvas_id, tenant))
    return ok(views.tasks_view(plan, emu.now()))


@api_route
async def get_task(request: Request, tenant: str) -> Response:
    emu = _emu(request)
    canvas_id = _check_uuid(request.path_params["canvas_id"], "canvas_id")
    task_id = _check_uuid(request.path_params["task_id"], "task_id")
    plan = emu.plan(_own_canvas(emu, canvas_id, tenant))
    task = views.find_task(plan, task_id)
    node = views.task_node(task, emu.now(), depth=1) if task else None
    if node is None:
        raise APIFailure(404, f"Task not found: {task_id}")
    return ok(node)


def _xml_error(status: int, code: str, message: str) -> Response:
    body = f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>" \
           f"<Message>{message}</Message></Error>\n"
    return Response(body, status_code=status, media_type="application/xml")


async def download(request: Request) -> Response:
    """A pre-signed artifact URL: no key, refused (403) once expired."""
    emu = _emu(request)
    run_id, node_id = request.path_params["run_id"], request.path_params["node_id"]
    reason = emu.shelf.check(run_id, node_id, dict(request.query_params), emu.now())
    if reason:
        return _xml_error(403, "AccessDenied", reason)
    run = emu.store.get_run(run_id)
    plan = emu.plan(run) if run else None
    block = next((b for b in views.artifact_blocks(plan) if b.id == node_id), None) if plan else None
    if plan is None or block is None or views.block_state(block, emu.now()) != "completed":
        return _xml_error(404, "NoSuchKey", "The specified key does not exist.")
    emu.shelf.ensure(plan, block)
    return FileResponse(emu.shelf.path(plan, block), filename=artifact_name(plan, block),
                        media_type=CONTENT_TYPES[FILE_TYPES[block.type]])


async def not_found(request: Request, exc: Exception) -> Response:
    return failure(404, f"Not found: {request.method} {request.url.path}")


async def not_allowed(request: Request, exc: Exception) -> Response:
    return failure(405, f"Method not allowed: {request.method} {request.url.path}")


def build_app(emu: Emulator, public_base: str) -> Any:
    """The ASGI app; `public_base` is the URL webhook payloads' download links use."""
    routes = [
        Route("/v1/run", create_run, methods=["POST"]),
        Route("/v1/run/{run_id}", get_run, methods=["GET"]),
        Route("/v1/canvas/{canvas_id}/dag", get_dag, methods=["GET"]),
        Route("/v1/canvas/{canvas_id}/tasks", get_tasks, methods=["GET"]),
        Route("/v1/canvas/{canvas_id}/tasks/{task_id}", get_task, methods=["GET"]),
        Route("/_artifacts/{run_id}/{node_id}/{name}", download, methods=["GET"]),
        *control.routes(),
    ]
    app = Starlette(routes=routes, lifespan=webhooks.lifespan,
                    exception_handlers={404: not_found, 405: not_allowed})
    app.state.emulator = emu
    app.state.public_base = public_base
    return control.ControlMiddleware(app, emu)
