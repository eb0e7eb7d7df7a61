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
import sys
from typing import Any, Iterable

from spine_cli.errors import ExitCode
from spine_cli.api.models import CANVAS_URL

EXCERPT_CHARS = 1500


def github_enabled(state: Any) -> bool:
    mode = getattr(state, "ci", "auto") or "auto"
    if mode == "none":
        return False
    if mode == "github":
        return True
    return os.environ.get("GITHUB_ACTIONS", "").lower() == "true"


def report_created(state: Any, data: dict[str, Any]) -> None:
    """After `run create` without a wait: the new run's id and status."""
    if not github_enabled(state):
        return
    _write_outputs(_outputs([data], [None], None))


def report_runs(state: Any, tracked: Iterable[Any], download: str | None = None) -> None:
    """After a wait: outputs, summary and annotations for each followed run."""
    if not github_enabled(state):
        return
    tracked = list(tracked)
    datas = [t.data or {"run_id": t.run_id} for t in tracked]
    codes = [t.exit_code for t in tracked]
    _write_outputs(_outputs(datas, codes, download))
    _append("GITHUB_STEP_SUMMARY", summary_markdown(tracked, download))
    for t in tracked:
        _annotate(t)


def download_dirs(download: str | None, run_ids: list[str]) -> list[str | None]:
    """Where `--download DIR` put each run: DIR itself for one run, DIR/spine-<id> for several."""
    if not download:
        return [None] * len(run_ids)
    if len(run_ids) == 1:
        return [download]
    return [os.path.join(download, f"spine-{rid}") for rid in run_ids]


# --- step outputs -----------------------------------------------------------

def _canvas_url(data: dict[str, Any]) -> str:
    canvas = data.get("canvas_id")
    return CANVAS_URL.format(canvas_id=canvas) if canvas else ""


def _outputs(datas: list[dict[str, Any]], codes: list[int | None],
             download: str | None) -> dict[str, str]:
    def col(values: Iterable[Any]) -> str:
        return "\n".join("" if v is None else str(v) for v in values)

    out = {
        "run_id": col(d.get("run_id") for d in datas),
        "status": col(d.get("status") for d in datas),
        "canvas_url": col(_canvas_url(d) for d in datas),
    }
    if any(c is not None for c in codes):
        out["exit_code"] = col(codes)
    if download:
        out["download_dir"] = col(download_dirs(download, [str(d.get("run_id")) for d in datas]))
    if len(datas) > 1:
        out["runs"] = json.dumps([
            {"run_id": d.get("run_id"), "status": d.get("status"),
             "canvas_url": _canvas_url(d) or None, "exit_code": c}
            for d, c in zip(datas, codes)])
    return out


def format_output(name: str, value: str) -> str:
    """`name<<DELIM`, the value, `DELIM`: safe for any value, even multi-line."""
    delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
    while delimiter in value:  # pragma: no cover - 64 random bits
        delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def _write_outputs(outputs: dict[str, str]) -> None:
    _append("GITHUB_OUTPUT", "".join(format_output(k, v) for k, v in outputs.items()))


def _append(var: str, text: str) -> None:
    path = os.environ.get(var)
    if not path or not text:
        return
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        sys.stderr.write(f"Warning: cannot write ${var} ({path}): {exc.strerror}.\n")


# --- step summary -------------------------------------------------------------

_ICON = {"completed": "✅", "partial": "⚠️", "failed": "❌", "running": "⏳"}


def summary_markdown(tracked: list[Any], download: str | None = None) -> str:
    dirs = download_dirs(download, [t.run_id for t in tracked])
    return "\n".join(_run_summary(t, d) for t, d in zip(tracked, dirs))


def _run_summary(t: Any, download_dir: str | None) -> str:
    from spine_cli.api.models import Run
    from spine_cli.ui.render import format_duration, format_size

    run = Run.from_api(t.data or {"run_id": t.run_id, "status": t.status or "unknown"})
    status = run.status or "unknown"
    lines = [f"### {_ICON.get(status, '•')} Spine run `{t.run_id}`: {_md(status)}", "",
             "| | |", "|---|---|", f"| Status | {_md(status)} (exit {t.exit_code}) |"]
    if run.duration_ms is not None:
        lines.append(f"| Duration | {format_duration(run.duration_ms / 1000)} |")
    credits = run.metadata.get("credits_consumed")
    if credits is not None:
        lines.append(f"| Credits | {_md(str(credits))} |")
    if run.metadata.get("template_used"):
        lines.append(f"| Template | {_md(str(run.metadata['template_used']))} |")
    if run.canvas_url:
        lines.append(f"| Canvas | {run.canvas_url} |")
    lines.append("")
    if run.final_output:
        lines += ["**Final output** (excerpt)", "", _fenced(_excerpt(run.final_output)), ""]
    if run.artifacts:
        lines += ["**Artifacts**", "", "| Name | Type | Size |", "|---|---|---|"]
        lines += [f"| {_md(a.name)} | {_md(a.type)} | {format_size(a.size_bytes)} |"
                  for a in run.artifacts]
        if download_dir:
            lines += ["", f"Downloaded to `{download_dir.replace('`', '')}`."]
        lines.append("")
    return "\n".join(lines) + "\n"


def _excerpt(text: str) -> str:
    from spine_cli.ui.textsafe import sanitize

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
    from spine_cli.ui.textsafe import sanitize

    text = sanitize(str(text), keep_newlines=False).replace("\n", " ")
    for ch in "\\|<>`*_[]":
        text = text.replace(ch, "\\" + ch)
    return text


# --- annotations ------------------------------------------------------------------

def _annotate(t: Any) -> None:
    code = t.exit_code or 0
    status = t.status or "unknown"
    if code == 0 and status == "partial":
        kind, what = "warning", "ended partial (accepted by --partial-ok)"
    elif code == 0:
        return
    elif code == ExitCode.DOWNLOAD:  # the run's own outcome was accepted; its files were not
        kind, what = "error", f"ended {status} but an artifact could not be downloaded (exit {code})"
    elif status in ("failed", "partial"):
        kind, what = "error", f"ended {status} (exit {code})"
    else:
        why = t.error.message if getattr(t, "error", None) else f"exit {code}"
        kind, what = "error", f"did not finish successfully: {why}"
    title = f"Spine run {t.run_id}"
    message = f"Spine run {t.run_id} {what}."
    url = _canvas_url(t.data or {})
    if url:
        message += f" Canvas: {url}"
    sys.stderr.write(f"::{kind} title={_escape_property(title)}::{_escape_data(message)}\n")
    sys.stderr.flush()


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")
