"""The prompt template of a batch: `{column}` placeholders filled from each row.

`--prompt-template "Write a memo for {client} about {topic}."` (or the text of
`--prompt-template-file`) makes each row's prompt. Placeholders name a column
exactly, spaces included (`{client name}`); there is no attribute or index
access, no `!r` conversion and no `:spec` format. Literal braces are written
`{{` and `}}`. A string value fills as is; a JSON number, boolean, list or
object fills as its JSON text. A column missing from a row (or JSON `null`)
is a validation error naming the row and the column; an empty CSV cell fills
as the empty string.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from string import Formatter
from typing import Any, Mapping

from spine_cli.errors import UsageError
from spine_cli.runs.text_input import read_file_bytes

MAX_TEMPLATE_CHARS = 1024 * 1024


@dataclass(frozen=True)
class PromptTemplate:
    """A parsed prompt template; `source` names it in errors."""

    text: str
    source: str
    pieces: tuple[tuple[str, str | None], ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the template uses, in order of first use."""
        return tuple(dict.fromkeys(name for _, name in self.pieces if name is not None))

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def fill(self, row: Mapping[str, Any]) -> str:
        """The prompt for one row; UsageError naming the first missing column."""
        out = []
        for literal, name in self.pieces:
            out.append(literal)
            if name is None:
                continue
            value = row.get(name)
            if value is None:
                raise UsageError(f"no column {name!r} in this row (used as {{{name}}}).")
            out.append(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
        return "".join(out)


def parse_prompt_template(text: str, source: str = "--prompt-template") -> PromptTemplate:
    """Check a template's syntax once, before any row is read."""
    if len(text) > MAX_TEMPLATE_CHARS:
        raise UsageError(f"The prompt template ({source}) is longer than "
                         f"{MAX_TEMPLATE_CHARS} characters.")
    try:
        parsed = list(Formatter().parse(text))
    except ValueError as exc:
        raise UsageError(f"The prompt template ({source}) is malformed: {exc}.",
                         hint="Write literal braces as {{ and }}.") from None
    pieces: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in parsed:
        if name is not None and not name.strip():
            raise UsageError(f"The prompt template ({source}) has an empty placeholder {{}}; "
                             "name a column, e.g. {client}.", hint="Write literal braces as {{ and }}.")
        if spec or conversion:
            shown = (name or "") + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raise UsageError(f"The prompt template ({source}) has {{{shown}}}: placeholders are "
                             "plain column names, without !conversions or :formats.",
                             hint="Write literal braces as {{ and }}.")
        pieces.append((literal, name))
    return PromptTemplate(text, source, tuple(pieces))


def load_prompt_template(text: str | None, path: str | None,
                         max_bytes: int = MAX_TEMPLATE_CHARS) -> PromptTemplate | None:
    """The template from `--prompt-template TEXT` or `--prompt-template-file PATH`, or None."""
    if text is not None and path is not None:
        raise UsageError("Give --prompt-template or --prompt-template-file, not both.")
    if path is None:
        return None if text is None else parse_prompt_template(text)
    data = read_file_bytes(Path(path).expanduser(), path, "prompt template", max_bytes)
    if len(data) > max_bytes:
        raise UsageError(f"Prompt template file {path} is larger than {max_bytes} bytes.")
    try:
        return parse_prompt_template(data.decode("utf-8-sig"), source=path)
    except UnicodeDecodeError:
        raise UsageError(f"Prompt template file {path} is not UTF-8 text.") from None
