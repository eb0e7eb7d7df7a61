"""Building and checking a create-run request, before anything is sent.

Everything the user gave is validated locally first (prompt, template, block
types, files), so a bad input costs no request and no credits. Inputs are
bounded: prompt and instruction texts are read up to `MAX_TEXT_BYTES`
(runs/text_input.py), and `--file` takes regular files only (a FIFO, a device
or a socket is refused without being opened, so it cannot hang).

`--file` takes curl's syntax: `PATH`, `PATH;type=MIME`, `PATH;filename=NAME`,
and `-` (with `;filename=NAME`) for bytes on stdin, spooled to a private
temporary file so the upload still streams from disk.
"""

from __future__ import annotations

import json
import mimetypes
import os
import re
import stat
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from spine_cli.api.catalog import BLOCK_TYPES, TEMPLATES, UPLOAD_EXTENSIONS
from spine_cli.api.client import FilePart, normalize_base_url
from spine_cli.errors import UsageError
from spine_cli.runs.text_input import MAX_TEXT_BYTES, read_stdin_text, read_text_file

_FILE_OPTION = re.compile(r";(type|filename)=", re.IGNORECASE)


@dataclass
class FileSpec:
    """One attachment: where its bytes are, and what the server is told."""

    path: Path
    filename: str
    content_type: str
    size: int
    source: str  # what the user typed (a path, or "-" for stdin)

    def part(self) -> FilePart:
        return FilePart(self.path, self.filename, self.content_type)


@dataclass
class CreateSpec:
    prompt: str
    template: str | None = None
    blocks: list[str] | None = None
    instructions: str | None = None
    webhook_url: str | None = None
    files: list[FileSpec] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

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

    def record(self, sha256: list[str | None] | None = None) -> dict[str, Any]:
        """The spec as the history keeps it (for `spine run rerun`); `sha256`: each file's
        digest as it was sent (hashed while streaming, see api.transfer.UploadReader)."""
        digests = sha256 or [None] * len(self.files)
        return {"prompt": self.prompt, "template": self.template, "blocks": self.blocks,
                "instructions": self.instructions, "webhook_url": self.webhook_url,
                "files": [{"path": str(f.path.absolute()) if f.source != "-" else "-",
                           "filename": f.filename, "content_type": f.content_type,
                           "size": f.size, "sha256": digest}
                          for f, digest in zip(self.files, digests)]}


# -- the prompt ------------------------------------------------------------------------

def resolve_prompt(prompt: str | None, prompt_file: str | None) -> str:
    if prompt is not None and prompt_file is not None:
        raise UsageError("Give the prompt once: --prompt or --prompt-file, not both.")
    if prompt is None and prompt_file is None:
        raise UsageError("A prompt is required: --prompt TEXT, --prompt-file PATH or --prompt - "
                         "(stdin).")
    if prompt_file is not None:
        text = read_stdin_text("prompt") if prompt_file == "-" else read_text_file(prompt_file,
                                                                                  "prompt")
    else:
        text = read_stdin_text("prompt") if prompt == "-" else prompt or ""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        raise UsageError(f"The prompt is longer than {MAX_TEXT_BYTES // 1024} KiB; refused.")
    if not text.strip():
        raise UsageError("The prompt is empty.")
    return text


# -- checking choices ------------------------------------------------------------------

def check_template(template: str | None) -> str | None:
    if template is None or template in TEMPLATES:
        return template
    raise UsageError(f"Unknown template {template!r}.{_did_you_mean(template, TEMPLATES)} "
                     f"Valid templates: {', '.join(TEMPLATES)}.")


def check_blocks(blocks: list[str] | None) -> list[str] | None:
    """Accept `document-block`, `document`, and comma-separated lists."""
    if blocks is None:
        return None
    names = [b.strip() for item in blocks for b in item.split(",")]
    names = [b for b in names if b and b not in ("[]",)]
    if not names:
        raise UsageError("--block needs at least one block type (an empty list is refused).")
    out: list[str] = []
    for name in names:
        full = name if name.endswith("-block") else f"{name}-block"
        if full not in BLOCK_TYPES:
            raise UsageError(f"Unknown block type {name!r}.{_did_you_mean(full, BLOCK_TYPES, '-block')} "
                             f"Valid block types: {', '.join(BLOCK_TYPES)}.")
        if full not in out:
            out.append(full)
    return out


def _did_you_mean(word: str, choices: tuple[str, ...], suffix: str = "") -> str:
    import difflib

    # Compared without the shared suffix, which would make every block type look alike.
    short = {c.removesuffix(suffix): c for c in choices}
    close = difflib.get_close_matches(word.removesuffix(suffix), short, n=1, cutoff=0.7)
    return f" Did you mean {short[close[0]]!r}?" if close else ""


# -- files -----------------------------------------------------------------------------

def content_type_for(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name)
    suffix = Path(name).suffix.lower()
    if suffix in (".md", ".yaml", ".yml") and not guessed:
        return "text/markdown" if suffix == ".md" else "application/yaml"
    return guessed or "application/octet-stream"


def parse_file_arg(arg: str) -> tuple[str, str | None, str | None]:
    """`PATH[;type=MIME][;filename=NAME]` → (path, type, filename)."""
    pieces = _FILE_OPTION.split(arg)
    path, ctype, name = pieces[0], None, None
    for key, value in zip(pieces[1::2], pieces[2::2]):
        if not value:
            raise UsageError(f"--file {arg!r}: {key.lower()}= needs a value.")
        if key.lower() == "type":
            if not re.fullmatch(r"[\w.+-]+/[\w.+-]+", value):
                raise UsageError(f"--file {arg!r}: {value!r} is not a MIME type.")
            ctype = value
        else:
            if "/" in value or "\\" in value or value in (".", ".."):
                raise UsageError(f"--file {arg!r}: filename= is a name, not a path.")
            name = value
    if not path:
        raise UsageError(f"--file {arg!r}: no path.")
    return path, ctype, name


def check_file(arg: str, spool: Callable[[], Path] | None = None) -> FileSpec:
    """One --file argument → a FileSpec (stdin `-` needs `spool`, which saves it to disk)."""
    path_text, ctype, name = parse_file_arg(arg)
    if path_text == "-":
        if spool is None:
            raise UsageError("--file - (stdin) is not available here.")
        if not name:
            raise UsageError("--file - needs a name for the server: --file '-;filename=notes.md'.")
        path = spool()
    else:
        path = Path(path_text).expanduser()
        _check_regular(path, path_text)
    filename = name or path.name
    return FileSpec(path, filename, ctype or content_type_for(filename), path.stat().st_size,
                    path_text)


def _check_regular(path: Path, shown: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise UsageError(f"File not found: {shown}") from None
    except OSError as exc:
        raise UsageError(f"Cannot read {shown}: {exc.strerror}.") from None
    if stat.S_ISDIR(mode):
        raise UsageError(f"{shown} is a directory; attach files one by one with --file.")
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) \
            else "a device"
        raise UsageError(f"{shown} is {kind}, not a regular file; --file takes regular files "
                         "(for piped bytes use --file '-;filename=NAME').")
    if not os.access(path, os.R_OK):
        raise UsageError(f"File {shown} is not readable: permission denied.")


def unlisted_type_warnings(files: list[FileSpec]) -> list[str]:
    return [f"{f.filename}: the API documents only these file types: "
            f"{' '.join(e.lstrip('.') for e in UPLOAD_EXTENSIONS)}; sending it anyway."
            for f in files if Path(f.filename).suffix.lower() not in UPLOAD_EXTENSIONS]


def spool_stdin(directory: Path) -> Callable[[], Path]:
    """A function that copies stdin's bytes into a private file under `directory`, once."""
    def spool() -> Path:
        fd, name = tempfile.mkstemp(prefix="stdin-", dir=directory)
        with os.fdopen(fd, "wb") as out:
            for chunk in iter(lambda: sys.stdin.buffer.read(1024 * 1024), b""):
                out.write(chunk)
        return Path(name)
    return spool


# -- the whole spec ----------------------------------------------------------------------

def build_spec(*, prompt: str | None, prompt_file: str | None, template: str | None,
               blocks: list[str] | None, instructions: str | None,
               instructions_file: str | None, files: list[str] | None,
               webhook_url: str | None, spool: Callable[[], Path] | None = None) -> CreateSpec:
    """Validate every input; raise UsageError naming the first bad one."""
    if instructions is not None and instructions_file is not None:
        raise UsageError("Give --instructions or --instructions-file, not both.")
    from_stdin = [w for w, used in (("the prompt", "-" in (prompt, prompt_file)),
                                    ("the instructions", instructions_file == "-"),
                                    ("a file", any(parse_file_arg(f)[0] == "-"
                                                   for f in files or [])))
                  if used]
    if len(from_stdin) > 1:
        raise UsageError(f"Only one input can come from stdin; here {' and '.join(from_stdin)}.")
    text = resolve_prompt(prompt, prompt_file)
    if instructions_file is not None:
        instructions = (read_stdin_text("instructions") if instructions_file == "-"
                        else read_text_file(instructions_file, "instructions"))
    if webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
        raise UsageError(f"Invalid --webhook-url {webhook_url!r}: it must be an http(s) URL.")
    specs = [check_file(f, spool) for f in files or []]
    return CreateSpec(text, check_template(template), check_blocks(blocks), instructions or None,
                      webhook_url, specs, unlisted_type_warnings(specs))


def dry_run_request(base_url: str, masked_key: str, spec: CreateSpec) -> dict[str, Any]:
    """The request `send` would make, as data (nothing is sent)."""
    return {
        "method": "POST",
        "url": normalize_base_url(base_url) + "/run",
        "encoding": "multipart/form-data" if spec.files else "application/x-www-form-urlencoded",
        "api_key": masked_key,
        "fields": spec.fields(),
        "files": [{"field": "files", "filename": f.filename, "content_type": f.content_type,
                   "size_bytes": f.size} for f in spec.files],
    }
