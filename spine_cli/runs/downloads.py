"""Artifact downloads: streamed atomic writes, size and hash checks, manifest.

`download_run` fetches every artifact of a terminal run into one directory,
beside `final_output.md` and `manifest.json`. Names are made safe by
`runs.naming`; bytes are moved by the keyless `api.transfer.Fetcher` the
caller gives (pre-signed URLs live on other hosts and never see the API key).
An expired URL (403/410) is answered by re-polling the run for a fresh one,
once per artifact. Nothing here prints: warnings go to `warn`, and the
caller prints `report.paths` (one per line) or the manifest.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from spine_cli.api.models import Artifact, Run
from spine_cli.api.transfer import Expired, Failed, Fetcher, sha256_file
from spine_cli.errors import DownloadError, ExitCode, SpineError, UsageError
from spine_cli.runs.naming import UnsafeName, inside, safe_name, unique_name

FINAL_OUTPUT = "final_output.md"
MANIFEST = "manifest.json"
Warn = Callable[[str], None]


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
        """The error to report when some file is missing (None when all saved)."""
        if not self.failed:
            return None
        names = ", ".join(n for n, _ in self.failed)
        full = any(_disk_full(why) for _, why in self.failed)
        first = "The disk is full: free some space. " if full else ""
        kept = "The files listed are" if self.paths else "Nothing was"
        return DownloadError(
            f"{len(self.failed)} file(s) of run {self.run_id} could not be downloaded: {names}.",
            hint=f"{first}{kept} saved in {self.directory}; retry with "
            f"`spine run download {self.run_id} -d {self.directory}`.")


def _disk_full(why: str) -> bool:
    text = why.lower()
    return "no space" in text or "disk quota" in text or "file too large" in text


def download_run(run: Run, dest: Path, *, refresh: Callable[[], Run], fetcher: Fetcher,
                 warn: Warn, types: Sequence[str] | None = None,
                 overwrite: bool = False) -> DownloadReport:
    """Fetch the artifacts of a terminal run into `dest`, then final_output.md and manifest.json."""
    directory = _prepare(dest)
    report = DownloadReport(run.run_id, directory)
    job = _Job(directory, refresh, warn, overwrite, fetcher)
    entries = [job.save(art, name) for art, name in _plan(run, types, warn)]
    report.failed = [(e["name"] or e["file"], e["error"]) for e in entries if e.get("error")]
    report.paths = [Path(e["path"]) for e in entries if e.get("path")]
    # A full disk may refuse the last files too: what was saved is still reported.
    final = _saved(report, FINAL_OUTPUT, warn,
                   lambda: _write_final_output(directory, run, overwrite, warn))
    report.manifest = _manifest(run, directory, entries, final)
    _saved(report, MANIFEST, warn,
           lambda: write_atomic(directory / MANIFEST, _dump(report.manifest)))
    return report


def _saved(report: DownloadReport, name: str, warn: Warn,
           write: Callable[[], Path | None]) -> Path | None:
    """Write one of the run's own files; a failure is reported with the others."""
    try:
        path = write()
    except DownloadError as exc:
        report.failed.append((name, exc.message))
        warn(f"could not save {name}: {exc.message}")
        return None
    if path is not None:
        report.paths.append(path)
    return path


def _prepare(dest: Path) -> Path:
    directory = Path(dest).expanduser().absolute()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UsageError(f"{directory} exists and is not a directory.") from None
    except OSError as exc:
        raise UsageError(f"Cannot create {directory}: {exc.strerror}.") from None
    return directory


def _plan(run: Run, types: Sequence[str] | None, warn: Warn) -> list[tuple[Artifact, str]]:
    """The artifacts to fetch, each with its safe, unique local name."""
    wanted = {t.lower().lstrip(".") for t in types or ()}
    chosen = [a for a in run.artifacts if not wanted or (a.type or "").lower() in wanted]
    if wanted and not chosen:
        warn(f"run {run.run_id} has no artifact of type {', '.join(sorted(wanted))}.")
    taken = {FINAL_OUTPUT, MANIFEST}
    plan = []
    for index, art in enumerate(chosen, 1):
        fallback = f"artifact-{(art.id or str(index))[:8]}"
        plan.append((art, unique_name(safe_name(art.name, art.type, fallback), taken)))
    return plan


class _Job:
    """Saves artifacts one by one; remembers fresh URLs after a refresh."""

    def __init__(self, directory: Path, refresh: Callable[[], Run], warn: Warn,
                 overwrite: bool, fetcher: Fetcher) -> None:
        self.directory, self.refresh, self.warn = directory, refresh, warn
        self.overwrite, self.fetcher = overwrite, fetcher
        self.fresh: dict[str, str | None] = {}

    def save(self, art: Artifact, name: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": art.id, "type": art.type, "name": art.name, "file": name,
                                 "size": None, "sha256": None, "path": None}
        try:
            target = inside(self.directory, name)
            entry.update(self._save(art, target))
            entry["path"] = str(target)
        except (Failed, UnsafeName) as exc:
            entry["status"], entry["error"] = "failed", str(exc)
            self.warn(f"could not download {name}: {exc}")
        except OSError as exc:
            entry["status"], entry["error"] = "failed", exc.strerror or str(exc)
            self.warn(f"could not save {name}: {entry['error']}")
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
            self.warn(f"replaced {target.name} (--overwrite).")
        return {"size": size, "sha256": digest, "status": "replaced" if exists else "downloaded"}

    def _keep(self, target: Path) -> dict[str, Any]:
        self.warn(f"kept the existing {target.name}: it differs from the run's copy "
                  "(use --overwrite to replace it).")
        if target.is_symlink() or not target.is_file():
            return {"status": "kept"}
        return {"size": target.stat().st_size, "sha256": sha256_file(target), "status": "kept"}

    def _fetch(self, art: Artifact, part: Path) -> tuple[int, str]:
        label = art.name or art.key
        url = self.fresh.get(art.key, art.download_url)
        try:
            return self.fetcher.fetch(url, part, label, art.size_bytes)
        except Expired:
            pass
        try:
            latest = self.refresh()
        except SpineError as exc:
            raise Failed(f"the download URL expired and the run could not be re-read: "
                         f"{exc.message}") from None
        self.fresh = {a.key: a.download_url for a in latest.artifacts}
        if art.key not in self.fresh:
            raise Failed("the download URL expired and the run no longer lists it")
        try:
            return self.fetcher.fetch(self.fresh[art.key], part, label, art.size_bytes)
        except Expired as exc:
            raise Failed(f"download refused ({exc}) even with a fresh URL") from None


def _write_final_output(directory: Path, run: Run, overwrite: bool, warn: Warn) -> Path | None:
    if run.final_output is None:
        return None
    target = directory / FINAL_OUTPUT
    data = run.final_output.encode("utf-8")
    if target.is_file() and not target.is_symlink() and not overwrite \
            and target.read_bytes() != data:
        warn(f"kept the existing {FINAL_OUTPUT}: it differs from the run's "
             "(use --overwrite to replace it).")
        return target
    return write_atomic(target, data)


def write_atomic(target: Path, data: bytes) -> Path:
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


def _manifest(run: Run, directory: Path, entries: list[dict[str, Any]],
              final: Path | None) -> dict[str, Any]:
    return {
        "run_id": run.run_id, "status": run.status_text, "canvas_id": run.canvas_id,
        "canvas_url": run.canvas_url, "metadata": run.raw.get("metadata") or {},
        "downloaded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "directory": str(directory),
        "final_output": str(final) if final else None,
        "artifacts": entries,
        "errors": run.raw.get("errors") or [],
    }


def _dump(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
