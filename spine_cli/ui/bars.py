"""Transfer bars on stderr: the upload of a create, the downloads of a run.

Null objects off a terminal: callers never branch on the mode, and rich is
imported only when a bar is drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spine_cli.ui.textsafe import one_line

if TYPE_CHECKING:
    from spine_cli.ui.output import Output

UPLOAD_BAR_THRESHOLD = 1024 * 1024


class UploadBar:
    """`with UploadBar(output, total) as bar: ... bar.advance(n)`; nothing off a terminal."""

    def __init__(self, output: "Output", total: int) -> None:
        self._progress: Any = None
        if output.live and total >= UPLOAD_BAR_THRESHOLD:
            from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                                       TimeRemainingColumn, TransferSpeedColumn)

            self._progress = Progress(
                TextColumn("Uploading"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                TimeRemainingColumn(), console=output.err, transient=True)
            self._task = self._progress.add_task("upload", total=total)

    def __enter__(self) -> "UploadBar":
        if self._progress:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Take the bar down (the upload is over); harmless when done twice."""
        if self._progress:
            self._progress.stop()

    def advance(self, n: int) -> None:
        if self._progress:
            self._progress.advance(self._task, n)


class DownloadBars:
    """Per-file download bars (an `api.transfer.TransferProgress`); nothing off a terminal."""

    def __init__(self, output: "Output") -> None:
        self.progress: Any = None
        if output.live:
            from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                                       TransferSpeedColumn)

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                     DownloadColumn(), TransferSpeedColumn(),
                                     console=output.err)

    def __enter__(self) -> "DownloadBars":
        if self.progress:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress:
            self.progress.stop()

    def start(self, label: str, total: int | None) -> object:
        if self.progress:
            text = one_line(label)
            shown = text if len(text) <= 40 else text[:39] + "…"
            return self.progress.add_task(shown, total=total)
        return None

    def reset(self, task: object, total: int | None) -> None:
        if self.progress and task is not None:
            self.progress.reset(task, total=total)

    def advance(self, task: object, n: int) -> None:
        if self.progress and task is not None:
            self.progress.advance(task, n)
