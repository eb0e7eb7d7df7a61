"""Building, checking and sending a create-run request.

Everything the user gave is validated locally first (prompt, template, block
types, files), so a bad input costs no request and no credits.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spine_cli.local import history
from spine_cli.context import AppState
from spine_cli.errors import CreateUncertainError, UsageError
from spine_cli.api.models import BLOCK_TYPES, TEMPLATES, UPLOAD_EXTENSIONS
from spine_cli.ui.output import make_output
from spine_cli.local.settings import Settings, load_settings, mask_key

UPLOAD_BAR_THRESHOLD = 1024 * 1024


@dataclass
class CreateSpec:
    prompt: str
    template: str | None = None
    blocks: list[str] | None = None
    instructions: str | None = None
    webhook_url: str | None = None
    files: list[Path] = field(default_factory=list)

    def fields(self) -> dict[str, str]:
        """The form fields, as the official SDK sends them."""
        out = {"prompt": self.prompt, "template": self.template or "auto"}
        if self.blocks:
            out["blocks"] = json.dumps(self.blocks)
        if self.instructions:
            out["agent_instructions"] = self.instructions
        if self.webhook_url:
            out["webhook_url"] = self.webhook_url
        return out


def _read_text(path: str, what: str) -> str:
    if path == "-":
        return sys.stdin.read()
    p = Path(path).expanduser()
    if p.is_dir():
        raise UsageError(f"{what} file {path} is a directory.")
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{what} file not found: {path}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{what} file {path} is not UTF-8 text.") from None
    except OSError as exc:
        raise UsageError(f"Cannot read {what.lower()} file {path}: {exc.strerror}.") from None


def resolve_prompt(prompt: str | None, prompt_file: str | None) -> str:
    if prompt is not None and prompt_file is not None:
        raise UsageError("Give the prompt once: --prompt or --prompt-file, not both.")
    if prompt is None and prompt_file is None:
        raise UsageError("A prompt is required: --prompt TEXT, --prompt-file PATH or --prompt - (stdin).")
    text = _read_text(prompt_file, "Prompt") if prompt_file is not None else (
        sys.stdin.read() if prompt == "-" else prompt or "")
    if not text.strip():
        raise UsageError("The prompt is empty.")
    return text


def check_template(template: str | None) -> str | None:
    if template is None or template in TEMPLATES:
        return template
    raise UsageError(f"Unknown template {template!r}. Valid templates: {', '.join(TEMPLATES)}.")


def check_blocks(blocks: list[str] | None) -> list[str] | None:
    """Accept `document-block`, `document`, and comma-separated lists."""
    if blocks is None:
        return None
    names = [b.strip() for item in blocks for b in item.split(",")]
    names = [b for b in names if b and b not in ("[]",)]
    if not names:
        raise UsageError("--block needs at least one block type (an empty list is refused).")
    out = []
    for name in names:
        full = name if name.endswith("-block") else f"{name}-block"
        if full not in BLOCK_TYPES:
            raise UsageError(f"Unknown block type {name!r}. Valid block types: {', '.join(BLOCK_TYPES)}.")
        if full not in out:
            out.append(full)
    return out


def check_file(path: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise UsageError(f"File not found: {path}")
    if p.is_dir():
        raise UsageError(f"{path} is a directory; attach files one by one with --file.")
    if p.suffix.lower() not in UPLOAD_EXTENSIONS:
        raise UsageError(f"File {path}: type {p.suffix or '(none)'!s} is not supported. "
                         f"Supported: {' '.join(e.lstrip('.') for e in UPLOAD_EXTENSIONS)}.")
    try:
        with open(p, "rb"):
            pass
    except OSError as exc:
        raise UsageError(f"File {path} is not readable: {exc.strerror}.") from None
    return p


def build_spec(*, prompt: str | None, prompt_file: str | None, template: str | None,
               blocks: list[str] | None, instructions: str | None,
               instructions_file: str | None, files: list[str] | None,
               webhook_url: str | None) -> CreateSpec:
    """Validate every input; raise UsageError naming the first bad one."""
    if instructions is not None and instructions_file is not None:
        raise UsageError("Give --instructions or --instructions-file, not both.")
    if prompt == "-" and instructions_file == "-":
        raise UsageError("Only one of the prompt and the instructions can come from stdin.")
    text = resolve_prompt(prompt, prompt_file)
    if instructions_file is not None:
        instructions = _read_text(instructions_file, "Instructions")
    if webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
        raise UsageError(f"Invalid --webhook-url {webhook_url!r}: it must be an http(s) URL.")
    return CreateSpec(text, check_template(template), check_blocks(blocks),
                      instructions or None, webhook_url, [check_file(f) for f in files or []])


def print_dry_run(state: AppState, settings: Settings, spec: CreateSpec) -> int:
    """Print the request that would be sent; send nothing."""
    from spine_cli.api.client import content_type_for, normalize_base_url

    output = make_output(state)
    request = {
        "method": "POST",
        "url": normalize_base_url(settings.base_url) + "/run",
        "encoding": "multipart/form-data" if spec.files else "application/x-www-form-urlencoded",
        "api_key": mask_key(settings.api_key),
        "fields": spec.fields(),
        "files": [{"field": "files", "filename": p.name, "content_type": content_type_for(p),
                   "size_bytes": p.stat().st_size} for p in spec.files],
    }
    if output.json:
        output.emit_json(request)
        return 0
    output.data(f"POST {request['url']}  ({request['encoding']}, key {request['api_key']})")
    for name, value in request["fields"].items():
        shown = value if len(value) <= 200 else value[:200] + f"… ({len(value)} chars)"
        output.data(f"  {name}: {shown}")
    for f in request["files"]:
        output.data(f"  files: {f['filename']} ({f['content_type']}, {f['size_bytes']} bytes)")
    output.info("Dry run: nothing was sent.")
    return 0


def create(state: AppState, spec: CreateSpec, *, dry_run: bool = False,
           follow_opts: Any = None, watch: bool = False, download: str | None = None) -> int:
    settings = load_settings(state.profile, state.base_url)
    if spec.template is None and not spec.blocks and settings.value("template"):
        spec.template = check_template(str(settings.value("template")))
    if dry_run:
        return print_dry_run(state, settings, spec)
    from spine_cli.api.client import make_client

    output = make_output(state)
    with make_client(settings, state) as client:
        data = _send(client, settings, spec, output)
        run_id = str(data.get("run_id", ""))
        _announce(output, data, watch=watch, follow=follow_opts is not None)
        if follow_opts is None:
            from spine_cli.ui.ci import report_created

            report_created(state, data)
            return 0
        from spine_cli.runs.follow import FollowRequest, follow

        est = data.get("estimated_duration_ms")
        req = FollowRequest([run_id], follow_opts, watch=watch, download=download,
                            estimates={run_id: est / 1000} if isinstance(est, (int, float)) else None)
        return follow(state, settings, client, req)


def _send(client: Any, settings: Settings, spec: CreateSpec, output: Any) -> dict:
    total = sum(p.stat().st_size for p in spec.files)
    names = [p.name for p in spec.files]
    bar = _upload_bar(output, total)
    try:
        with bar:
            data = client.create_run(spec.fields(), spec.files, on_upload=bar.advance)
    except CreateUncertainError:
        history.record_unconfirmed(settings, prompt=spec.prompt, template=spec.template,
                                   blocks=spec.blocks, files=names)
        raise
    history.record_run(settings, str(data.get("run_id", "")), canvas_id=data.get("canvas_id"),
                       prompt=spec.prompt, template=spec.template, blocks=spec.blocks,
                       files=names, status=str(data.get("status", "running")),
                       estimated_ms=_int_or_none(data.get("estimated_duration_ms")))
    return data


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _announce(output: Any, data: dict, *, watch: bool, follow: bool) -> None:
    run_id = str(data.get("run_id", ""))
    if output.json:
        if not follow:
            output.emit_json(data)
        elif watch:
            from spine_cli.ui.reporters import JsonEventReporter

            JsonEventReporter.emit({"event": "created", **data})
        return
    output.data(run_id)
    if not follow:
        output.info(f"Created run {run_id}. Follow it with: spine run watch {run_id}")


class _NoBar:
    def __enter__(self) -> "_NoBar":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def advance(self, n: int) -> None:
        pass


def _upload_bar(output: Any, total: int) -> Any:
    if not output.live or total < UPLOAD_BAR_THRESHOLD or output.state.quiet:
        return _NoBar()
    from spine_cli.ui.bars import UploadBar

    return UploadBar(output.err, total)


