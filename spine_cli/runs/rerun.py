"""`spine run rerun`: the create spec a history row kept, ready to send again.

`rerun_spec(row)` rebuilds the `CreateSpec` of a run this machine created
(`History` rows keep it since schema version 3: prompt, template, blocks,
instructions, webhook URL, and each file's path, name, type, size and
sha256). Each file must still be a readable regular file at its path; one
whose size or content differs from what was sent is reported in `changes`
(the rerun sends it as it is now). A row without a spec (recorded by an
older spine) or a file attached from stdin cannot be rerun (UsageError).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spine_cli.api.transfer import sha256_file
from spine_cli.errors import UsageError
from spine_cli.runs.spec import CreateSpec, FileSpec, check_file, unlisted_type_warnings


@dataclass
class Rerun:
    spec: CreateSpec
    source: str                                   # the run id, or `#N` for an unconfirmed row
    changes: list[str] = field(default_factory=list)


def rerun_spec(row: dict[str, Any]) -> Rerun:
    """The spec to send again; UsageError when it cannot be rebuilt."""
    source = row.get("run_id") or f"#{row['id']}"
    recorded = row.get("spec")
    if not isinstance(recorded, dict) or not isinstance(recorded.get("prompt"), str):
        raise UsageError(f"Run {source} was recorded without its create spec (by an older "
                         "spine, or created elsewhere), so it cannot be rerun.",
                         hint="Create it again with `spine run create`.")
    rerun = Rerun(CreateSpec(recorded["prompt"], recorded.get("template"),
                             recorded.get("blocks"), recorded.get("instructions"),
                             recorded.get("webhook_url")), source)
    for entry in recorded.get("files") or []:
        spec, change = _file(entry, source)
        rerun.spec.files.append(spec)
        if change:
            rerun.changes.append(change)
    rerun.spec.warnings = unlisted_type_warnings(rerun.spec.files)
    return rerun


def _file(entry: dict[str, Any], source: str) -> tuple[FileSpec, str | None]:
    path = str(entry.get("path") or "")
    if path in ("", "-"):
        raise UsageError(f"Run {source} attached {entry.get('filename') or 'a file'} from stdin, "
                         "which spine did not keep; it cannot be rerun.",
                         hint="Create it again with `spine run create`.")
    try:
        found = check_file(path)
    except UsageError as exc:
        raise UsageError(f"Cannot rerun {source}: {exc.message}",
                         hint="Put the file back, or create the run again with "
                              "`spine run create`.") from None
    spec = FileSpec(found.path, str(entry.get("filename") or found.filename),
                    str(entry.get("content_type") or found.content_type), found.size, path)
    return spec, _changed(path, entry, found.size)


def _changed(path: str, entry: dict[str, Any], size: int) -> str | None:
    """How the file differs from what was sent (None: the same, as far as was recorded)."""
    was = entry.get("size")
    if isinstance(was, int) and was != size:
        return f"{path} changed since the run was created ({was} bytes then, {size} now)"
    digest = entry.get("sha256")
    if isinstance(digest, str) and sha256_file(Path(path)) != digest:
        return f"{path} changed since the run was created (same size, other content)"
    return None
