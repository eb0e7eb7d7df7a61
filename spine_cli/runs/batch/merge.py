"""The results of a batch (`--results PATH`) and merging several shards' results.

The results JSON (version 1), also the shape `batch merge` writes:

    {
      "kind": "spine.batch.results", "version": 1,
      "batch": {
        "input": "rows.csv",                 # FILE as the state recorded it
        "input_sha256": "…", "format": "csv",
        "prompt_template_sha256": "…" | null,
        "shard": {"k": 2, "n": 5} | null,    # this file's shard (null: unsharded or merged)
        "shards": [{"k": 1, "n": 5}, …],     # the shards the rows come from ([] unsharded)
        "missing_shards": [3],               # merged only: shards 1..N with no results
        "generated_at": "2025-01-31T12:00:00.000000Z"
      },
      "summary": {"rows": 40, "exit_code": 3,
                  "states": {"pending": 0, "creating": 0, "created": 0, "uncertain": 0,
                             "not_created": 0, "done": 40},
                  "statuses": {"completed": 37, "failed": 3}},
      "rows": [{"key": "acme", "line": 2, "state": "done", "run_id": "…", "canvas_id": "…",
                "status": "completed", "exit_code": 0, "download_dir": "out/acme",
                "errors": [], "attempts": 1}, …]        # sorted by line
    }

A row's `exit_code` (`row_exit_code`) is its run's, made worse by a failed
download (7); a row not finished is 6 (`pending`: not created yet; `created`:
still running; resume later), an uncertain create 8, a refused create the
refusal's code. `summary.exit_code` is the worst over rows (errors.worst), and
a merge missing shards is at least 6: their rows are not finished as far as
the merge knows.

`merge(paths)` refuses (BatchMergeError, exit 2) files of different batches
(input or prompt template), mixed shard counts, a shard twice and a key
twice; it reports shards 1..N missing. `render_markdown` makes the table.
"""

from __future__ import annotations

import json
import os
import tempfile
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from spine_cli.errors import ExitCode, UsageError, worst
from spine_cli.local.batch_state import STATES, BatchState, RowState
from spine_cli.runs.batch.keys import shard_of

KIND = "spine.batch.results"
VERSION = 1
MAX_RESULTS_BYTES = 256 * 1024 * 1024
CELL_CHARS = 120
_UNFINISHED = {"pending": ExitCode.TIMEOUT, "created": ExitCode.TIMEOUT,
               "creating": ExitCode.UNAVAILABLE, "uncertain": ExitCode.UNAVAILABLE}


class BatchMergeError(UsageError):
    """Results files that cannot be merged into one report."""


def row_exit_code(row: RowState, partial_ok: bool | None = None) -> int:
    """The row's code; `partial_ok` (this invocation's --partial-ok) re-judges a partial run,
    whose stored code is the one of the invocation that saw it end."""
    if row.state in _UNFINISHED:
        return int(_UNFINISHED[row.state])
    code = row.exit_code if row.exit_code is not None else int(ExitCode.UNAVAILABLE)
    if partial_ok is not None and row.state == "done" and row.status == "partial":
        code = int(ExitCode.OK if partial_ok else ExitCode.RUN_PARTIAL)
    return worst([code, ExitCode.DOWNLOAD if row.download_ok is False else 0])


def row_result(row: RowState, partial_ok: bool | None = None) -> dict[str, Any]:
    """One row of the results (and one `batch run --json` line)."""
    return {"key": row.key, "line": row.line, "state": row.state, "run_id": row.run_id,
            "canvas_id": row.canvas_id, "status": row.status,
            "exit_code": row_exit_code(row, partial_ok), "download_dir": row.download_dir,
            "errors": row.errors, "attempts": row.attempts}


def _stamp(now: datetime | None) -> str:
    moment = now or datetime.now(timezone.utc)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def summarize(rows: list[dict[str, Any]], extra_codes: Iterable[int] = ()) -> dict[str, Any]:
    states = dict.fromkeys(STATES, 0)
    statuses: dict[str, int] = {}
    for r in rows:
        states[r["state"]] = states.get(r["state"], 0) + 1
        if r.get("status"):
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    codes = [int(r["exit_code"]) for r in rows] + list(extra_codes)
    return {"rows": len(rows), "exit_code": worst(codes), "states": states, "statuses": statuses}


def build_results(state: BatchState, *, now: datetime | None = None,
                  partial_ok: bool | None = None) -> dict[str, Any]:
    """The results of the batch whose state this is (rows of the current input)."""
    import hashlib

    meta = state.meta()
    if meta is None:
        raise UsageError(f"The batch state {state.path} has no batch yet.")
    rows = [row_result(r, partial_ok) for r in state.rows()]
    template = meta.prompt_template
    shard = {"k": meta.shard[0], "n": meta.shard[1]} if meta.shard else None
    batch = {"input": meta.input, "input_sha256": meta.input_sha256, "format": meta.format,
             "prompt_template_sha256": hashlib.sha256(template.encode()).hexdigest()
             if template is not None else None,
             "shard": shard, "shards": [shard] if shard else [], "generated_at": _stamp(now)}
    return {"kind": KIND, "version": VERSION, "batch": batch, "summary": summarize(rows),
            "rows": rows}


def write_results(path: str, results: dict[str, Any]) -> None:
    """Write the results JSON atomically (a reader never sees half a file)."""
    target = Path(path).expanduser()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise UsageError(f"Cannot write the results to {path}: {exc.strerror}.") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
        os.replace(tmp, target)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise UsageError(f"Cannot write the results to {path}: {exc.strerror}.") from None
        raise


def read_results(path: str) -> dict[str, Any]:
    """A results file, checked enough to merge; BatchMergeError otherwise."""
    try:
        with open(Path(path).expanduser(), "rb") as fh:
            data = json.loads(fh.read(MAX_RESULTS_BYTES + 1))
    except FileNotFoundError:
        raise BatchMergeError(f"Results file not found: {path}") from None
    except OSError as exc:
        raise BatchMergeError(f"Cannot read results file {path}: {exc.strerror}.") from None
    except ValueError as exc:
        raise BatchMergeError(f"{path} is not JSON ({exc}).") from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise BatchMergeError(f"{path} is not a spine batch results file.",
                              hint="Give files written by `spine batch run --results PATH`.")
    if data.get("version") != VERSION:
        raise BatchMergeError(f"{path} has results version {data.get('version')!r}; this spine "
                              f"reads version {VERSION}.")
    rows, batch = data.get("rows"), data.get("batch")
    if (not isinstance(rows, list) or not isinstance(batch, dict)
            or not all(isinstance(r, dict) and isinstance(r.get("key"), str)
                       and isinstance(r.get("exit_code"), int) for r in rows)):
        raise BatchMergeError(f"{path} is a damaged results file (rows or batch malformed).")
    return data


@dataclass
class MergeReport:
    batch: dict[str, Any]
    rows: list[dict[str, Any]]
    sources: list[str]
    missing_shards: list[int] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return int(self.summary()["exit_code"])

    def summary(self) -> dict[str, Any]:
        return summarize(self.rows, [ExitCode.TIMEOUT] if self.missing_shards else [])

    def to_json(self) -> dict[str, Any]:
        return {"kind": KIND, "version": VERSION,
                "batch": {**self.batch, "missing_shards": self.missing_shards,
                          "sources": self.sources},
                "summary": self.summary(), "rows": self.rows}

    def markdown(self, max_rows: int | None = None) -> str:
        return render_markdown(self.to_json(), max_rows=max_rows)


def merge(paths: list[str], *, now: datetime | None = None) -> MergeReport:
    """Join several shards' results into one report (see the module doc)."""
    if not paths:
        raise BatchMergeError("Give at least one results file to merge.")
    files = [(p, read_results(p)) for p in paths]
    first_path, first = files[0]
    shards: dict[tuple[int, int], str] = {}
    for path, data in files:
        _same_batch(first_path, first["batch"], path, data["batch"])
        for shard in _shards_of(data["batch"]):
            if shard in shards:
                raise BatchMergeError(f"Shard {shard[0]}/{shard[1]} is in both {shards[shard]} "
                                      f"and {path}.")
            shards[shard] = path
    if len({n for _, n in shards}) > 1:
        raise BatchMergeError("The results come from different shard counts: "
                              + ", ".join(f"{k}/{n} ({p})" for (k, n), p in sorted(shards.items())))
    owner: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    for path, data in files:
        _rows_belong(path, data)
        for row in data["rows"]:
            if row["key"] in owner:
                raise BatchMergeError(f"Row {row['key']!r} is in both {owner[row['key']]} and "
                                      f"{path}.", hint="Give each shard's results once.")
            owner[row["key"]] = path
            rows.append(row)
    return _report(first["batch"], shards, rows, paths, now)


def _report(base: dict[str, Any], shards: dict[tuple[int, int], str], rows: list[dict[str, Any]],
            paths: list[str], now: datetime | None) -> MergeReport:
    n = next(iter(shards))[1] if shards else None
    missing = [k for k in range(1, n + 1) if (k, n) not in shards] if n else []
    batch = {key: base.get(key) for key in ("input", "input_sha256", "format",
                                            "prompt_template_sha256")}
    batch.update(shard=None, shards=[{"k": k, "n": m} for k, m in sorted(shards)],
                 generated_at=_stamp(now))
    rows.sort(key=lambda r: (r.get("line") or 0, r["key"]))
    return MergeReport(batch, rows, list(paths), missing)


def _shards_of(batch: dict[str, Any]) -> list[tuple[int, int]]:
    listed = batch.get("shards") or ([batch["shard"]] if batch.get("shard") else [])
    return [(int(s["k"]), int(s["n"])) for s in listed]


def _rows_belong(path: str, data: dict[str, Any]) -> None:
    """Every row of a shard's results hashes to that shard (else the file was mislabelled)."""
    shards = set(_shards_of(data["batch"]))
    for row in data["rows"] if shards else []:
        n = next(iter(shards))[1]
        if (shard_of(row["key"], n), n) not in shards:
            raise BatchMergeError(f"Row {row['key']!r} in {path} does not belong to its shard(s) "
                                  + ", ".join(f"{k}/{m}" for k, m in sorted(shards)) + ".")


def _same_batch(first_path: str, first: dict[str, Any], path: str, other: dict[str, Any]) -> None:
    for key, what in (("input_sha256", "input file"), ("prompt_template_sha256", "prompt template")):
        if first.get(key) != other.get(key):
            raise BatchMergeError(f"{path} and {first_path} are results of different batches "
                                  f"(their {what} differs).",
                                  hint="Every shard must run the same FILE and prompt template.")
    if bool(_shards_of(first)) != bool(_shards_of(other)):
        raise BatchMergeError(f"{path} and {first_path} mix a sharded and an unsharded run.")


# --- Markdown -----------------------------------------------------------------------

def _cell(value: Any) -> str:
    """Text inside a table cell: no pipes, newlines, HTML, markup or control characters."""
    text = "" if value is None else str(value)
    text = "".join(" " if ch in "\r\n\t" else ch for ch in text
                   if ch in "\r\n\t" or not unicodedata.category(ch).startswith("C"))
    if len(text) > CELL_CHARS:
        text = text[:CELL_CHARS - 1] + "…"
    for ch in "\\|<>`*_[]":
        text = text.replace(ch, "\\" + ch)
    return text


def _first_error(row: dict[str, Any]) -> str:
    errors = row.get("errors") or []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    return str(first.get("message") or first.get("error") or "")


def render_markdown(results: dict[str, Any], *, max_rows: int | None = None) -> str:
    """A Markdown report: one summary line and a table of rows (failures first kept)."""
    rows, summary, batch = results["rows"], results["summary"], results["batch"]
    shown = rows
    if max_rows is not None and len(rows) > max_rows:
        keep = {id(r) for r in sorted(rows, key=lambda r: r["exit_code"] == 0)[:max_rows]}
        shown = [r for r in rows if id(r) in keep]
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(summary["statuses"].items()))
    lines = [f"**Batch {_cell(batch.get('input'))}**: {summary['rows']} rows"
             + (f" ({statuses})" if statuses else "") + f", exit code {summary['exit_code']}.", ""]
    if batch.get("missing_shards"):
        n = max(s["n"] for s in batch["shards"])
        missing = ", ".join(f"{k}/{n}" for k in batch["missing_shards"])
        lines += [f"**Missing shards:** {missing}; their rows are not in this report.", ""]
    lines += ["| Key | Line | State | Status | Exit | Run | Download | Error |",
              "|---|---:|---|---|---:|---|---|---|"]
    for r in shown:
        lines.append("| " + " | ".join(_cell(v) for v in (
            r["key"], r.get("line"), r.get("state"), r.get("status"), r["exit_code"],
            r.get("run_id"), r.get("download_dir"), _first_error(r))) + " |")
    if len(shown) < len(rows):
        failing = sum(1 for r in rows if r["exit_code"] != 0) - sum(
            1 for r in shown if r["exit_code"] != 0)
        what = "all exit code 0" if not failing else f"{failing} of them with a non-zero exit code"
        lines += ["", f"… and {len(rows) - len(shown)} more rows ({what}): see the results JSON."]
    return "\n".join(lines) + "\n"
