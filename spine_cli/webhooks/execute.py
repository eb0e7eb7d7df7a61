"""`webhook listen --exec CMD`: run a command per verified event.

The event's raw JSON body is the child's stdin; `SPINE_EVENT_TYPE`,
`SPINE_EVENT_ID` and `SPINE_RUN_ID` (empty for events without a run) are in its
environment. CMD is split like a shell would (shlex) and run without a shell,
unless `shell=True` asks for `/bin/sh -c CMD`. The signing secret is never
passed on: `SPINE_WEBHOOK_SECRET`, and any variable holding the secret, are
removed from the child's environment, and nothing is added to its argv.

Each child runs in its own session, so a timeout kills the whole tree it
started (a shell's children too), and a listener that stops kills what is
still running. Its stdout and stderr are captured together (the listener's
stdout carries events) and the tail is reported.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

OUTPUT_TAIL = 4000  # characters of the child's output kept for the report


@dataclass(frozen=True)
class ExecSpec:
    command: str
    shell: bool = False
    timeout: float = 8.0

    def argv(self) -> list[str]:
        """The argv to start; ValueError when CMD cannot be split or run."""
        if self.shell:
            return ["/bin/sh", "-c", self.command] if os.name != "nt" else [
                os.environ.get("COMSPEC", "cmd.exe"), "/c", self.command]
        argv = shlex.split(self.command)
        if not argv:
            raise ValueError("--exec needs a command")
        if shutil.which(argv[0]) is None:
            raise ValueError(f"{argv[0]!r} is not an executable file or a command on PATH")
        return argv


@dataclass(frozen=True)
class ExecResult:
    exit_code: int | None  # None when it could not start or was killed at the timeout
    elapsed_ms: float
    timed_out: bool = False
    output: str = ""  # the tail of stdout+stderr, not sanitised
    error: str | None = None  # why it could not start

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def child_env(secret: str, event_type: str, event_id: str, run_id: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k != "SPINE_WEBHOOK_SECRET" and secret not in v}
    env.update(SPINE_EVENT_TYPE=event_type, SPINE_EVENT_ID=event_id, SPINE_RUN_ID=run_id or "")
    return env


class Runner:
    """Starts children and remembers the running ones, so `kill_all` can stop them."""

    def __init__(self, spec: ExecSpec, secret: str) -> None:
        self.spec, self._secret = spec, secret
        self._argv = spec.argv()
        self._running: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()

    def run(self, body: bytes, event_type: str, event_id: str, run_id: str | None) -> ExecResult:
        started = time.monotonic()
        try:
            proc = subprocess.Popen(self._argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    env=child_env(self._secret, event_type, event_id, run_id))
        except OSError as exc:
            return ExecResult(None, _ms(started), error=exc.strerror or str(exc))
        with self._lock:
            self._running.add(proc)
        try:
            return self._wait(proc, body, started)
        finally:
            with self._lock:
                self._running.discard(proc)

    def _wait(self, proc: subprocess.Popen[bytes], body: bytes, started: float) -> ExecResult:
        try:
            out, _ = proc.communicate(body, timeout=self.spec.timeout)
        except subprocess.TimeoutExpired:
            _kill_tree(proc)
            try:
                out, _ = proc.communicate(timeout=2)
            except subprocess.TimeoutExpired:  # a grandchild left the session, pipe open
                out = b""
            return ExecResult(None, _ms(started), timed_out=True, output=_tail(out))
        code = proc.returncode
        return ExecResult(code if code >= 0 else 128 - code, _ms(started), output=_tail(out))

    def kill_all(self) -> None:
        with self._lock:
            running = list(self._running)
        for proc in running:
            _kill_tree(proc)


def _kill_tree(proc: subprocess.Popen[bytes]) -> None:
    try:
        if sys.platform != "win32":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass


def _tail(data: bytes | None) -> str:
    text = (data or b"").decode("utf-8", "replace")
    return text[-OUTPUT_TAIL:]


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
