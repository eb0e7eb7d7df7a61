"""A real terminal for tests: `spine` in a tmux pane, its screen read as a person sees it.

    with Tmux(["run", "watch", RUN], columns=80) as term:
        term.wait_for(lambda screen: "running" in screen)
        term.screen()            # all lines (history too), wrapped lines joined (tmux -J)
        term.screen(history=False)   # the visible ones
        term.rows()              # the visible rows as drawn (a long line: several rows)
        term.resize(40)          # the window narrows; tmux rewraps its lines, as most do

Each `Tmux` runs its own tmux server on a private socket in a temporary directory,
without the user's tmux configuration, and stops it and removes the socket on exit.
tmux keeps the pane open after `spine` exits.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Callable

AVAILABLE = shutil.which("tmux") is not None


class Tmux:
    def __init__(self, args: list[str], columns: int = 80, rows: int = 30,
                 env: dict[str, str] | None = None, lines_before: int = 0) -> None:
        """`lines_before`: lines printed first, so spine starts at the bottom of the window
        (as in a terminal in use) rather than at the top of a fresh one."""
        self._dir = tempfile.mkdtemp(prefix="spine-tmux-")
        self.socket = os.path.join(self._dir, "socket")
        self._env = dict(os.environ if env is None else env)
        self._env.pop("TMUX", None)  # a test run inside tmux still starts its own server
        command = [sys.executable, "-m", "spine_cli", *args]
        if lines_before:
            command = ["sh", "-c", f'seq {lines_before}; exec "$0" "$@"', *command]
        self._tmux("new-session", "-d", "-s", "t", "-x", str(columns), "-y", str(rows),
                   *command)
        self._tmux("set-option", "-t", "t", "remain-on-exit", "on")

    def _tmux(self, *args: str) -> str:
        proc = subprocess.run(["tmux", "-f", os.devnull, "-S", self.socket, *args],
                              env=self._env, capture_output=True, text=True, timeout=10)
        if proc.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    def screen(self, history: bool = True) -> list[str]:
        """The lines, each wrapped line joined into one (trailing blanks cut, blank lines
        at the end dropped): all of them, or (history=False) the visible ones only."""
        start = ["-S", "-"] if history else []
        lines = [line.rstrip() for line in self._tmux("capture-pane", "-p", "-J", *start,
                                                      "-t", "t").splitlines()]
        while lines and not lines[-1]:
            lines.pop()
        return lines

    def rows(self) -> list[str]:
        """The visible rows as drawn."""
        return [line.rstrip() for line in self._tmux("capture-pane", "-p", "-t",
                                                     "t").splitlines()]

    def resize(self, columns: int) -> None:
        self._tmux("resize-window", "-t", "t", "-x", str(columns))

    def wait_for(self, check: Callable[[list[str]], bool], timeout: float = 15.0) -> list[str]:
        """The screen once `check(screen)` holds; AssertionError with the screen after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if check(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError("screen never matched:\n" + "\n".join(screen))
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], env=self._env,
                       capture_output=True, timeout=10)
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> "Tmux":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
