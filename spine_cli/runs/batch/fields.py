"""One batch row's create fields, checked with `spine run create`'s own checks.

`build_spec(columns, ctx, check)` returns the row's CreateSpec and the content
that identifies it (see input.py), or None; every problem is recorded in
`check` under the field's name, so one row can report several. The checks
themselves (template, blocks, files, an empty prompt) are those of
runs/spec.py; only the row-shaped parts (cells, lists, paths relative to
FILE, capped reads of prompt_file/instructions_file) live here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from spine_cli.errors import UsageError
from spine_cli.runs.batch.formats import LIMITS, Limits, json_type
from spine_cli.runs.batch.template import PromptTemplate
from spine_cli.runs.spec import (
    CreateSpec, FileSpec, check_blocks, check_file, check_template, resolve_prompt, unlisted_type_warnings,
)
from spine_cli.runs.text_input import read_file_bytes

KNOWN_FIELDS = ("key", "prompt", "prompt_file", "template", "blocks", "instructions",
                "instructions_file", "files", "webhook_url")

__all__ = ["KNOWN_FIELDS", "RowCheck", "RowContext", "build_spec", "json_type"]


class _Failed:
    """The result of a check that failed (None is a valid field value)."""


FAILED = _Failed()


@dataclass
class RowContext:
    base_dir: Path
    template: PromptTemplate | None
    limits: Limits = LIMITS
    text_chars: int = 0


class RowCheck:
    """Runs field checks, recording each UsageError under its field."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def run(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except UsageError as exc:
            self.fail(name, exc.message)
            return FAILED

    def fail(self, name: str, message: str) -> _Failed:
        if message[:1].isupper() and not message[1:2].isupper():
            message = message[0].lower() + message[1:]
        self.problems.append((name, message))
        return FAILED


def build_spec(cols: dict[str, Any], ctx: RowContext,
               check: RowCheck) -> tuple[CreateSpec | None, dict[str, Any]]:
    limits = ctx.limits
    prompt = _prompt(cols, ctx, check)
    template = check.run("template", lambda: check_template(text(cols, "template", limits)))
    blocks = check.run("blocks", _blocks, cols, limits)
    instructions = _instructions(cols, ctx, check)
    webhook = check.run("webhook_url", _webhook_url, cols, limits)
    raw_files = check.run("files", _file_list, cols, limits)
    files = [] if raw_files is FAILED else [
        check.run("files", _resolve_file, raw, ctx.base_dir) for raw in raw_files]
    values = [prompt, template, blocks, instructions, webhook, raw_files, *files]
    if any(v is FAILED for v in values):
        return None, {}
    ctx.text_chars += len(prompt) + len(instructions or "")
    content = {"prompt": prompt, "template": template, "blocks": blocks,
               "instructions": instructions, "webhook_url": webhook,
               "files": [os.path.normpath(raw) for raw in raw_files]}
    return CreateSpec(prompt, template, blocks, instructions, webhook, files,
                      unlisted_type_warnings(files)), content


def text(cols: dict[str, Any], name: str, limits: Limits, strip: bool = True) -> str | None:
    """A text cell: None when absent or empty; UsageError when not text or too long."""
    value = cols.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise UsageError(f"expected text, got {json_type(value)}.")
    if len(value) > limits.field_chars:
        raise UsageError(f"longer than {limits.field_chars} characters"
                         + ("; put it in a file." if name in ("prompt", "instructions") else "."))
    return (value.strip() if strip else value) or None


def _list(cols: dict[str, Any], name: str, seps: str, limits: Limits) -> list[str] | None:
    value = cols.get(name)
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise UsageError("expected a list of strings.")
        return [v.strip() for v in value if v.strip()]
    found = text(cols, name, limits)
    if found is None:
        return None
    for sep in seps[1:]:
        found = found.replace(sep, seps[0])
    return [part.strip() for part in found.split(seps[0]) if part.strip()]


def _prompt(cols: dict[str, Any], ctx: RowContext, check: RowCheck) -> Any:
    if ctx.template is not None:
        if cols.get("prompt_file") not in (None, ""):
            return check.fail("prompt_file", "cannot be used with a prompt template, "
                                             "which makes the prompt.")
        body = check.run("prompt template", ctx.template.fill, cols)
        return body if body is FAILED else check.run("prompt", _checked_prompt, body, ctx.limits)
    field, body = _text_or_file(cols, ctx, check, "prompt")
    if body is FAILED:
        return FAILED
    if body is not None:
        return check.run(field, _checked_prompt, body, ctx.limits)
    if "prompt" in cols:
        return check.run("prompt", _checked_prompt, cols.get("prompt") or "", ctx.limits)
    return check.fail("prompt", "a prompt is required: a prompt or prompt_file column, "
                                "or --prompt-template.")


def _text_or_file(cols: dict[str, Any], ctx: RowContext, check: RowCheck,
                  name: str) -> tuple[str, Any]:
    """The text of column `name` or of the file `name_file` names (not both), with the
    field it came from: None when neither is given, FAILED when a check failed."""
    given = check.run(name, text, cols, name, ctx.limits, False)
    path = check.run(f"{name}_file", text, cols, f"{name}_file", ctx.limits)
    if given is FAILED or path is FAILED:
        return name, FAILED
    if given is not None and path is not None:
        return name, check.fail(name, f"give {name} or {name}_file, not both.")
    if path is None:
        return name, given
    return f"{name}_file", check.run(f"{name}_file", read_text_file, path, ctx.base_dir, name,
                                     ctx.limits)


def _checked_prompt(body: str, limits: Limits) -> str:
    if len(body) > limits.text_chars:
        raise UsageError(f"the prompt is longer than {limits.text_chars} characters.")
    # `-` means stdin to `run create`; in a row it is just a one-character prompt.
    return body if body == "-" else resolve_prompt(body, None)


def _instructions(cols: dict[str, Any], ctx: RowContext, check: RowCheck) -> Any:
    field, body = _text_or_file(cols, ctx, check, "instructions")
    if body is FAILED or body is None:
        return body
    if len(body) > ctx.limits.text_chars:
        return check.fail(field, f"longer than {ctx.limits.text_chars} characters.")
    return body if body.strip() else None


def _blocks(cols: dict[str, Any], limits: Limits) -> list[str] | None:
    names = _list(cols, "blocks", ";,", limits)
    if names == []:
        raise UsageError("an empty list is refused; leave blocks out to let the template choose.")
    return check_blocks(names)


def _webhook_url(cols: dict[str, Any], limits: Limits) -> str | None:
    url = text(cols, "webhook_url", limits)
    if url is not None and not url.startswith(("http://", "https://")):
        raise UsageError(f"invalid URL {url!r}: it must be an http(s) URL.")
    return url


def _file_list(cols: dict[str, Any], limits: Limits) -> list[str]:
    names = _list(cols, "files", ";", limits) or []
    if len(names) > limits.files_per_row:
        raise UsageError(f"{len(names)} files; the limit is {limits.files_per_row} per row.")
    return names


def _resolve(raw: str, base_dir: Path) -> Path:
    path = Path(raw).expanduser()
    return path if path.is_absolute() else base_dir / path


def _resolve_file(raw: str, base_dir: Path) -> FileSpec:
    full = _resolve(raw, base_dir)
    try:
        return check_file(str(full))
    except UsageError as exc:
        # Name the file as the row wrote it, not its absolute path.
        raise UsageError(exc.message.replace(str(full), raw), exc.hint) from None


def read_text_file(raw: str, base_dir: Path, what: str, limits: Limits) -> str:
    """A UTF-8 text file named in a row, read up to `limits.text_file_bytes`."""
    data = read_file_bytes(_resolve(raw, base_dir), raw, what, limits.text_file_bytes)
    if len(data) > limits.text_file_bytes:
        raise UsageError(f"{what} file {raw} is larger than {limits.text_file_bytes} bytes.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{what} file {raw} is not UTF-8 text.") from None
