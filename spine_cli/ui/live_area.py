"""A block of lines redrawn in place at the bottom of a terminal, surviving resizes.

rich's `Live` remembers only how many lines it drew, and moves the cursor up
that many to redraw. When the window narrows, a terminal that rewraps its lines
(tmux, iTerm2, GNOME Terminal, Windows Terminal, kitty...) turns one old line
into two or three rows, so `Live` redraws too low and the top of the old frame
stays on screen: a stale line. `LiveArea` remembers the width of every line it
drew and, at each redraw, counts the rows those lines take at the terminal's
*current* width before going back up.

Two more rules keep the arithmetic exact:

- every line of a frame is cut to the width it is drawn at, and the frame ends
  with a newline, so the cursor waits at the start of an empty row (where a
  rewrap cannot leave it halfway along a line);
- a frame never has more lines than the window has rows (the cursor cannot go
  back up past the top of the window).

Lines printed above the area (`print_above`, e.g. the canvas link) are written
once, as they are, and never redrawn: a long link soft-wraps as one line and
stays whole when copied.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Callable

from rich.segment import Segment, Segments
from rich.text import Text

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"
ERASE_LINE, CURSOR_UP = "\x1b[2K", "\x1b[1A"


def rows_taken(widths: list[int], columns: int) -> int:
    """Rows that lines of these cell widths take in a window `columns` wide (rewrapped)."""
    columns = max(1, columns)
    return sum(max(1, -(-w // columns)) for w in widths)


class LiveArea:
    """`with LiveArea(console, render):` redraws `render()` `per_second` times a second."""

    def __init__(self, console: "Console", render: Callable[[int], "RenderableType"],
                 per_second: float = 4.0) -> None:
        self._console = console
        self._render = render  # called with the width to draw at
        self._period = 1.0 / per_second
        self._widths: list[int] = []  # of the lines on screen now (none: nothing drawn)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "LiveArea":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._write(HIDE_CURSOR)
        self.refresh()
        self._thread = threading.Thread(target=self._loop, name="spine-live", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop redrawing and take the frame off the screen."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        with self._lock:
            self._write(self._erase() + SHOW_CURSOR)
            self._widths = []

    def _loop(self) -> None:
        while not self._stop.wait(self._period):
            self.refresh()

    def refresh(self) -> None:
        with self._lock:
            if self._stop.is_set() and self._thread is None:
                return
            columns, rows = self._console.size
            frame, widths = self._frame(columns, rows)
            self._write(self._erase() + frame)
            self._widths = widths

    def print_above(self, text: Text) -> None:
        """A line (or more) above the area, printed once; long lines soft-wrap whole."""
        with self._lock:
            self._write(self._erase())
            self._widths = []
            self._console.print(text, soft_wrap=True)
            self.refresh()

    # -- drawing -------------------------------------------------------------------
    def _erase(self) -> str:
        """Back to the first row of the frame on screen, clearing each row on the way.

        Row by row, not "erase below": erasing a whole screen from its top-left corner
        makes some terminals (tmux's scroll-on-clear) push the screen into the scrollback.
        """
        if not self._widths:
            return ""
        up = rows_taken(self._widths, self._console.size[0])
        return "\r" + ERASE_LINE + (CURSOR_UP + ERASE_LINE) * up

    def _frame(self, columns: int, rows: int) -> tuple[str, list[int]]:
        """The frame as text with its escape codes, and each line's width in cells."""
        console = self._console
        options = console.options.update(width=columns, no_wrap=True, overflow="ellipsis")
        lines = console.render_lines(self._render(columns), options, pad=False)
        room = max(1, rows - 1)
        if len(lines) > room:  # the cursor could not go back up past the window's top
            more = Text(f"… {len(lines) - room + 1} more lines", style="dim")
            lines = lines[: room - 1] + console.render_lines(more, options, pad=False)
        segments = [seg for line in lines for seg in (*line, Segment.line())]
        with console.capture() as captured:
            console.print(Segments(segments), end="", soft_wrap=True)
        return captured.get(), [Segment.get_line_length(line) for line in lines]

    def _write(self, text: str) -> None:
        if text:
            self._console.file.write(text)
            self._console.file.flush()

