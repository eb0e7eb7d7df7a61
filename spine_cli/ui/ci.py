"""CI integration: GitHub Actions step outputs, step summary and annotations.

Every CI (CI, GITHUB_ACTIONS, GITLAB_CI set) already gets no prompts, no live
display and plain progress lines (`output.live_enabled`). In GitHub Actions
(`--ci auto` with GITHUB_ACTIONS=true, or `--ci github`), `run create`, `run
wait`, `run watch` also:

- append `run_id`, `status`, `canvas_url`, `exit_code` (and `download_dir`
  when used) to $GITHUB_OUTPUT, in the multi-line-safe `name<<DELIMITER`
  form; with several runs each value holds one line per run, in order, and
  `runs` holds them all as JSON;
- append a Markdown summary (status, duration, credits, final output
  excerpt, artifacts) to $GITHUB_STEP_SUMMARY;
- print `::error::` (or `::warning::` for a partial run accepted with
  --partial-ok) naming the run. It goes to stderr, which the runner scans for
  workflow commands like stdout (actions/runner ScriptHandler gives both
  streams an OutputManager), so stdout stays data.

`--ci none` (or SPINE_CI=none) turns all of this off. A file that cannot be
written is a warning, never a failure of the run.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

from spine_cli.api.catalog import canvas_url
from spine_cli.api.models import Run, RunStatus
from spine_cli.errors import ExitCode
from spine_cli.runs.follow import download_dirs
from spine_cli.runs.waiter import Tracked
from spine_cli.ui.render import format_duration, format_size
from spine_cli.ui.styles import run_style
from spine_cli.ui.textsafe import one_line, sanitize

if TYPE_CHECKING:
    from spine_cli.api.models import CreatedRun
    from spine_cli.ui.output import Output

EXCERPT_CHARS = 1500


def github_enabled(ci_mode: str) -> bool:
    """--ci auto|github|none: auto means GITHUB_ACTIONS=true."""
    mode = ci_mode or "auto"
    if mode == "none":
        return False
    if mode == "github":
        return True
    return os.environ.get("GITHUB_ACTIONS", "").lower() == "true"


@dataclass
class _Row:
    """One run as the step outputs see it."""

    run_id: str
    status: str
    canvas_id: str | None
    exit_code: int | None


def report_created(ci_mode: str, output: "Output", created: "CreatedRun") -> None:
    """After `run create` without a wait: the new run's id and status."""
    if not github_enabled(ci_mode):
        return
    _write_outputs(output, _outputs(
        [_Row(created.run_id, created.status.value, created.canvas_id, None)], None))


def report_runs(ci_mode: str, output: "Output", tracked: Iterable[Tracked],
                download: str | None = None) -> None:
    """After a wait: outputs, summary and annotations for each followed run."""
    if not github_enabled(ci_mode):
        return
    tracked = list(tracked)
    rows = [_Row(t.run_id, t.run.status_text if t.run else "", t.run.canvas_id if t.run else None,
                 t.exit_code) for t in tracked]
    _write_outputs(output, _outputs(rows, download))
    _append(output, "GITHUB_STEP_SUMMARY", summary_markdown(tracked, download))
    for t in tracked:
        _annotate(output, t)


# --- step outputs -----------------------------------------------------------

def _outputs(rows: list[_Row], download: str | None) -> dict[str, str]:
    def col(values: Iterable[Any]) -> str:
        return "\n".join("" if v is None else one_line(v) for v in values)

    def url(row: _Row) -> str:
        return canvas_url(row.canvas_id) if row.canvas_id else ""

    out = {
        "run_id": col(r.run_id for r in rows),
        "status": col(r.status for r in rows),
        "canvas_url": col(url(r) for r in rows),
    }
    if any(r.exit_code is not None for r in rows):
        out["exit_code"] = col(r.exit_code for r in rows)
    if download:
        out["download_dir"] = col(download_dirs(download, [r.run_id for r in rows]))
    if len(rows) > 1:
        out["runs"] = json.dumps([
            {"run_id": r.run_id, "status": r.status, "canvas_url": url(r) or None,
             "exit_code": r.exit_code} for r in rows])
    return out


def format_output(name: str, value: str) -> str:
    """`name<<DELIM`, the value, `DELIM`: safe for any value, even multi-line."""
    delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
    while delimiter in value:  # pragma: no cover - 64 random bits
        delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def _write_outputs(output: "Output", outputs: dict[str, str]) -> None:
    _append(output, "GITHUB_OUTPUT", "".join(format_output(k, v) for k, v in outputs.items()))


def _append(output: "Output", var: str, text: str) -> None:
    path = os.environ.get(var)
    if not path or not text:
        return
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        output.warn(f"cannot write ${var} ({path}): {exc.strerror}.")


# --- step summary -------------------------------------------------------------

def summary_markdown(tracked: list[Tracked], download: str | None = None) -> str:
    dirs = download_dirs(download, [t.run_id for t in tracked])
    return "\n".join(_run_summary(t, d) for t, d in zip(tracked, dirs))


def _run_summary(t: Tracked, download_dir: str | None) -> str:
    run = t.run
    status = one_line(run.status_text) if run else RunStatus.UNKNOWN.value
    icon = run_style(run.status if run else None).icon
    lines = [f"### {icon} Spine run `{t.run_id}`: {_md(status)}", "",
             "| | |", "|---|---|", f"| Status | {_md(status)} (exit {t.exit_code}) |"]
    if run is not None:
        lines += _detail_rows(run)
    lines.append("")
    if run is not None and run.final_output:
        lines += ["**Final output** (excerpt)", "", _fenced(_excerpt(run.final_output)), ""]
    if run is not None and run.errors:
        lines += ["**Errors**", ""] + [f"- {_md(_error(e))}" for e in run.errors] + [""]
    if run is not None and run.artifacts:
        lines += ["**Artifacts**", "", "| Name | Type | Size |", "|---|---|---|"]
        lines += [f"| {_md(a.name or a.id or '')} | {_md(a.type or '')} | "
                  f"{format_size(a.size_bytes)} |" for a in run.artifacts]
        if download_dir:
            lines += ["", f"Downloaded to `{download_dir.replace('`', '')}`."]
        lines.append("")
    step = _next_step(t)
    if step:
        lines += [step, ""]
    return "\n".join(lines) + "\n"


def _detail_rows(run: Run) -> list[str]:
    rows = []
    if run.duration_ms is not None:
        rows.append(f"| Duration | {format_duration(run.duration_ms / 1000)} |")
    if run.metadata.credits_consumed is not None:
        rows.append(f"| Credits | {run.metadata.credits_consumed} |")
    if run.metadata.template_used:
        rows.append(f"| Template | {_md(run.metadata.template_used)} |")
    if run.canvas_url:
        rows.append(f"| Canvas | {run.canvas_url} |")
    return rows


def _error(err: Any) -> str:
    where = err.block_type or err.block_id
    return f"{err.text} ({where})" if where else str(err.text)


def _next_step(t: Tracked) -> str | None:
    """What to run next, for a run that did not simply succeed."""
    rid = t.run_id
    if t.exit_code == ExitCode.TIMEOUT:
        return (f"Timed out waiting; the run goes on. Resume with: `spine run wait {rid}`")
    if t.status is RunStatus.FAILED:
        return f"See what failed: `spine canvas tasks {rid}`"
    if t.status is RunStatus.PARTIAL:
        return f"Some blocks failed; fetch what was made: `spine run download {rid} -d DIR`"
    if t.exit_code == ExitCode.DOWNLOAD:
        return f"Retry the download: `spine run download {rid} -d DIR`"
    return None


def _excerpt(text: str) -> str:
    text = sanitize(text).strip()
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS].rstrip() + "\n…"


def _fenced(text: str) -> str:
    """A code fence longer than any backtick run in the text: server text stays text."""
    longest, run = 0, 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return f"{fence}markdown\n{text}\n{fence}"


def _md(text: str) -> str:
    """Server text inside a table cell: no pipes, newlines, HTML or control characters."""
    text = one_line(text)
    for ch in "\\|<>`*_[]":
        text = text.replace(ch, "\\" + ch)
    return text


# --- annotations ------------------------------------------------------------------

def _annotate(output: "Output", t: Tracked) -> None:
    code = t.exit_code or 0
    status = t.status
    word = one_line(t.run.status_text) if t.run else RunStatus.UNKNOWN.value
    if code == 0 and status is RunStatus.PARTIAL:
        kind, what = "warning", "ended partial (accepted by --partial-ok)"
    elif code == 0:
        return
    elif code == ExitCode.DOWNLOAD:  # the run's own outcome was accepted; its files were not
        kind, what = "error", f"ended {word} but an artifact could not be downloaded (exit {code})"
    elif code == ExitCode.TIMEOUT:
        kind, what = "error", (f"is still running: timed out waiting (exit 6); the run goes on. "
                               f"Resume with: spine run wait {t.run_id}")
    elif status in (RunStatus.FAILED, RunStatus.PARTIAL):
        kind, what = "error", f"ended {word} (exit {code})"
        if t.run and t.run.errors:
            what += ": " + "; ".join(_error(e) for e in t.run.errors[:3])
    else:
        why = t.error.message if t.error else f"exit {code}"
        kind, what = "error", f"did not finish successfully: {why}"
    title = f"Spine run {t.run_id}"
    message = f"Spine run {t.run_id} {what}."
    if t.run and t.run.canvas_url:
        message += f" Canvas: {t.run.canvas_url}"
    output.note(f"::{kind} title={_escape_property(title)}::{_escape_data(message)}")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


# --- for other reports (batches) ---------------------------------------------------

def write_outputs(output: "Output", outputs: dict[str, str]) -> None:
    """Append step outputs to $GITHUB_OUTPUT (values made one-line-safe by the delimiter)."""
    _write_outputs(output, outputs)


def append_summary(output: "Output", markdown: str) -> None:
    """Append Markdown to $GITHUB_STEP_SUMMARY."""
    _append(output, "GITHUB_STEP_SUMMARY", markdown)


def annotate(output: "Output", kind: str, title: str, message: str) -> None:
    """One `::error::`/`::warning::` workflow command on stderr (server text made inert)."""
    output.note(f"::{kind} title={_escape_property(one_line(title))}::"
                f"{_escape_data(one_line(message))}")
