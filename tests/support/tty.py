"""Run `spine` on a pseudo-terminal, as a person at a terminal would."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time


def run_in_pty(args: list[str], env: dict[str, str], timeout: float = 30.0,
               typed: bytes | None = None) -> tuple[int, str]:
    """`python -m spine_cli ARGS` with stdin/stdout/stderr on a pty; (exit code, screen text).

    `typed` is what the person types (the terminal's line discipline holds it until read;
    end it with b"\\x04", Ctrl-D, to close stdin).
    """
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "spine_cli", *args], stdin=slave,
                            stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    if typed:
        os.write(master, typed)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=5)
    os.close(master)
    return proc.returncode, b"".join(chunks).decode("utf-8", errors="replace")
