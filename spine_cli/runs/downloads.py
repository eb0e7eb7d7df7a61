"""Artifact downloads: safe names, streamed atomic writes, size and hash checks.

`download_run` fetches every artifact of a terminal run into one directory,
beside `final_output.md` and `manifest.json`. Download URLs are pre-signed and
live on other hosts, so they are fetched with a client of our own that has no
API key at all (never `SpineClient`). An expired URL (403/410) is answered by
re-polling the run for a fresh one, once per artifact; connection errors,
timeouts, 429 and 5xx are retried with backoff. This module never prints a
path: callers print `report.paths` (see `emit_report`).
"""

from __future__ import annotations

import os
import re
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import httpx

from spine_cli.api.client import USER_AGENT
from spine_cli.errors import DownloadError, ExitCode, SpineError, UsageError
from spine_cli.api.models import Artifact, Run
from spine_cli.ui.output import Output
from spine_cli.api.transfer import Bars, Expired, Failed, Fetcher, sha256_file
from spine_cli.api.retry import RetryPolicy
from spine_cli.ui.textsafe import sanitize

FINAL_OUTPUT = "final_output.md"
MANIFEST = "manifest.json"
# Room under the usual 255-byte limit for a "-NN" suffix and ".part".
MAX_NAME_BYTES = 150
TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=60.0)
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f/\\:*?"<>|]')
_DEVICE = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)


@dataclass
class DownloadReport:
    """What a download did: files written or kept, and what failed."""

    run_id: str
    directory: Path
    paths: list[Path] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return int(ExitCode.DOWNLOAD) if self.failed else int(ExitCode.OK)

    def error(self) -> DownloadError | None:
        """The error to report when some artifact is missing (None when all saved)."""
        if not self.failed:
            return None
        names = ", ".join(sanitize(n, keep_newlines=False) for n, _ in self.failed)
        return DownloadError(
            f"{len(self.failed)} artifact(s) of run {self.run_id} could not be downloaded: "
            f"{names}.",
            hint=f"The other files are in {self.directory}; retry with "
            f"`spine run download {self.run_id} -d {self.directory}`.")


# -- names -----------------------------------------------------------------
def safe_name(name: str, art_type: str, fallback: str) -> str:
    """A file name derived from a server-given name that cannot leave its directory."""
    text = _UNSAFE.sub("_", unicodedata.normalize("NFC", name))
    text = re.sub(r"\.{2,}", ".", text).strip(" .")
    if not text or _DEVICE.match(text):
        text = fallback + (f"_{text}" if text else "")
    ext = art_type.lower() if re.fullmatch(r"[A-Za-z0-9]{1,10}", art_type or "") else ""
    if ext and not text.lower().endswith("." + ext):
        text = f"{text}.{ext}"
    return _bound(text)


def _bound(name: str, limit: int = MAX_NAME_BYTES) -> str:
    """Shorten the stem so the UTF-8 name fits `limit` bytes, keeping the extension."""
    if len(name.encode()) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 10:
        stem, ext = name, ""
    suffix = f".{ext}" if ext else ""
    room = limit - len(suffix.encode())
    stem = stem.encode()[:room].decode("utf-8", "ignore").rstrip(" .")
    return (stem or "artifact") + suffix


def unique_name(name: str, taken: set[str]) -> str:
    """`name`, or `stem-2.ext`, `stem-3.ext`… (case-insensitive filesystems too)."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    candidate, n = name, 1
    while candidate.casefold() in taken:
        n += 1
        candidate = f"{stem}-{n}" + (f".{ext}" if ext else "")
    taken.add(candidate.casefold())
    return candidate


def _inside(directory: Path, name: str) -> Path:
    target = directory / name
    # Defence in depth: safe_name already removed every separator.
    if target.parent != directory or name in ("", ".", ".."):
        raise Failed(f"refusing unsafe file name {name!r}")
    return target


# -- orchestration ---------------------------------------------------------
def download_run(run: dict[str, Any], dest: Path, *, refresh: Callable[[], dict[str, Any]],
                 output: Output, types: Sequence[str] | None = None, overwrite: bool = False,
                 http: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 policy: RetryPolicy = RetryPolicy(max_retries=3)) -> DownloadReport:
    """Fetch the artifacts of a terminal run into `dest`, then final_output.md and manifest.json."""
    info = Run.from_api(run)
    directory = _prepare(dest)
    report = DownloadReport(info.run_id, directory)
    own_http = http is None
    http = http or httpx.Client(timeout=TIMEOUT, follow_redirects=True,
                                headers={"User-Agent": USER_AGENT})
    try:
        with Bars(output) as bars:
            job = _Job(directory, refresh, output, overwrite, Fetcher(http, bars, sleep, policy))
            entries = [job.save(art, name) for art, name in _plan(info, types, output)]
    finally:
        if own_http:
            http.close()
    report.failed = [(e["name"], e["error"]) for e in entries if e.get("error")]
    report.paths = [Path(e["path"]) for e in entries if e.get("path")]
    final = _write_final_output(directory, info, overwrite, output)
    report.manifest = _manifest(info, directory, entries, final)
    if final:
        report.paths.append(final)
    report.paths.append(_write_atomic(directory / MANIFEST, _dump(report.manifest)))
    return report


def _prepare(dest: Path) -> Path:
    directory = Path(dest).expanduser().absolute()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UsageError(f"{directory} exists and is not a directory.") from None
    except OSError as exc:
        raise UsageError(f"Cannot create {directory}: {exc.strerror}.") from None
    return directory


def _plan(info: Run, types: Sequence[str] | None,
          output: Output) -> list[tuple[Artifact, str]]:
    """The artifacts to fetch, each with its safe, unique local name."""
    wanted = {t.lower().lstrip(".") for t in types or ()}
    chosen = [a for a in info.artifacts if not wanted or a.type.lower() in wanted]
    if wanted and not chosen:
        output.warn(f"run {info.run_id} has no artifact of type {', '.join(sorted(wanted))}.")
    taken = {FINAL_OUTPUT, MANIFEST}
    plan = []
    for index, art in enumerate(chosen, 1):
        fallback = f"artifact-{(art.id or str(index))[:8]}"
        plan.append((art, unique_name(safe_name(art.name, art.type, fallback), taken)))
    return plan


class _Job:
    """Saves artifacts one by one; remembers fresh URLs after a refresh."""

    def __init__(self, directory: Path, refresh: Callable[[], dict[str, Any]], output: Output,
                 overwrite: bool, fetcher: Fetcher) -> None:
        self.directory, self.refresh, self.output = directory, refresh, output
        self.overwrite, self.fetcher = overwrite, fetcher
        self.fresh: dict[str, str] = {}

    def save(self, art: Artifact, name: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": art.id, "type": art.type, "name": art.name, "file": name,
                                 "size": None, "sha256": None, "path": None}
        try:
            target = _inside(self.directory, name)
            entry.update(self._save(art, target))
            entry["path"] = str(target)
        except Failed as exc:
            entry["status"], entry["error"] = "failed", str(exc)
            self.output.warn(f"could not download {_show(art.name)}: {exc}")
        except OSError as exc:
            entry["status"], entry["error"] = "failed", exc.strerror or str(exc)
            self.output.warn(f"could not save {_show(art.name)}: {entry['error']}")
        return entry

    def _save(self, art: Artifact, target: Path) -> dict[str, Any]:
        if target.is_dir() and not target.is_symlink():  # before fetching: nothing could go there
            raise Failed(f"{target.name} exists and is a directory")
        exists = os.path.lexists(target)
        if (exists and not self.overwrite and art.size_bytes is not None
                and not target.is_symlink() and target.stat().st_size != art.size_bytes):
            return self._keep(target)  # differs for sure: no need to fetch it
        part = target.with_name(target.name + ".part")
        size, digest = self._fetch(art, part)
        if exists and not target.is_symlink() and target.is_file() \
                and target.stat().st_size == size and sha256_file(target) == digest:
            part.unlink()
            return {"size": size, "sha256": digest, "status": "unchanged"}
        if exists and not self.overwrite:
            part.unlink()
            return self._keep(target)
        os.replace(part, target)
        if exists:
            self.output.warn(f"replaced {target.name} (--overwrite).")
        return {"size": size, "sha256": digest, "status": "replaced" if exists else "downloaded"}

    def _keep(self, target: Path) -> dict[str, Any]:
        self.output.warn(f"kept the existing {target.name}: it differs from the run's copy "
                         "(use --overwrite to replace it).")
        if target.is_symlink() or not target.is_file():
            return {"status": "kept"}
        return {"size": target.stat().st_size, "sha256": sha256_file(target), "status": "kept"}

    def _fetch(self, art: Artifact, part: Path) -> tuple[int, str]:
        url = self.fresh.get(_key(art), art.download_url)
        try:
            return self.fetcher.fetch(url, part, art.name, art.size_bytes)
        except Expired:
            pass
        try:
            latest = Run.from_api(self.refresh())
        except SpineError as exc:
            raise Failed(f"the download URL expired and the run could not be re-read: "
                          f"{exc.message}") from None
        self.fresh = {_key(a): a.download_url for a in latest.artifacts}
        if _key(art) not in self.fresh:
            raise Failed("the download URL expired and the run no longer lists it")
        try:
            return self.fetcher.fetch(self.fresh[_key(art)], part, art.name, art.size_bytes)
        except Expired as exc:
            raise Failed(f"download refused ({exc}) even with a fresh URL") from None


def _key(art: Artifact) -> str:
    return art.id or f"{art.type}:{art.name}"


def _show(name: str) -> str:
    return repr(sanitize(name, keep_newlines=False))


def _write_final_output(directory: Path, info: Run, overwrite: bool,
                        output: Output) -> Path | None:
    if not isinstance(info.final_output, str):
        return None
    target = directory / FINAL_OUTPUT
    data = info.final_output.encode("utf-8")
    if target.is_file() and not target.is_symlink() and not overwrite \
            and target.read_bytes() != data:
        output.warn(f"kept the existing {FINAL_OUTPUT}: it differs from the run's "
                    "(use --overwrite to replace it).")
        return target
    return _write_atomic(target, data)


def _write_atomic(target: Path, data: bytes) -> Path:
    part = target.with_name(target.name + ".part")
    try:
        part.unlink(missing_ok=True)
        with open(part, "xb") as fh:
            fh.write(data)
        os.replace(part, target)
    except OSError as exc:  # disk full, a directory in the way, permissions
        try:
            part.unlink(missing_ok=True)
        except OSError:
            pass
        raise DownloadError(f"Cannot write {target}: {exc.strerror or exc}.",
                            hint=f"Free space or fix {target.parent}, then rerun "
                            "`spine run download`.") from None
    return target


def _manifest(info: Run, directory: Path, entries: list[dict[str, Any]],
              final: Path | None) -> dict[str, Any]:
    return {
        "run_id": info.run_id, "status": info.status, "canvas_id": info.canvas_id,
        "canvas_url": info.canvas_url, "metadata": info.metadata,
        "downloaded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "directory": str(directory),
        "final_output": str(final) if final else None,
        "artifacts": entries,
    }


def _dump(obj: Any) -> bytes:
    import json

    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def emit_report(report: DownloadReport, output: Output) -> None:
    """Print a report as the output contract says: the manifest with --json, else paths."""
    if output.json:
        output.emit_json(report.manifest)
        return
    for path in report.paths:
        output.data(str(path))
