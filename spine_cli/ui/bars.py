"""The upload progress bar (terminal only; imported lazily)."""

from __future__ import annotations

from typing import Any

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


class UploadBar:
    def __init__(self, console: Any, total: int) -> None:
        self._progress = Progress(
            TextColumn("Uploading"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            TimeRemainingColumn(), console=console, transient=True,
        )
        self._task = self._progress.add_task("upload", total=total)

    def __enter__(self) -> "UploadBar":
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def advance(self, n: int) -> None:
        self._progress.advance(self._task, n)
