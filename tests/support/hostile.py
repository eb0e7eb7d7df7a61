"""Helpers for the hardening tests (issue 11): canned answers and `spine` in a subprocess.

`run_spine(...)` runs `python -m spine_cli` as a user would, in its own process, and
returns its exit code, both streams, the wall time it took and its peak resident memory
(measured by a tiny parent process, so the figure is spine's alone). Use it where the
process itself is under test (signals, pipes, memory, real trickling sockets); the
in-process `support.cli.spine` everywhere else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

RID = "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
CID = "2c5f39cb-3fb2-42e3-994f-1127e4ddb538"
KEY = "sk_spine_hostile_test_0001"
RUNNING = {"run_id": RID, "status": "running", "canvas_id": CID,
           "progress": {"tasks_completed": 1, "tasks_total": 4, "elapsed_ms": 1000}}
CREATED = {"run_id": RID, "status": "running", "poll_url": f"/v1/run/{RID}",
           "estimated_duration_ms": 1000}
GET_RUN = ("GET", "/v1/run/*")
POST_RUN = ("POST", "/v1/run")


def completed(url: str, size: int | None = 1000, name: str | None = "a.html",
              final_output: str = "done") -> dict[str, Any]:
    """A completed run with one html artifact at `url`."""
    artifact = {"id": CID, "type": "html", "name": name, "download_url": url,
                "size_bytes": size}
    return {"run_id": RID, "status": "completed", "canvas_id": CID, "duration_ms": 5000,
            "result": {"final_output": final_output, "artifacts": [artifact]},
            "metadata": {"template_used": "auto", "models_used": [], "credits_consumed": 1}}


def point_at(monkeypatch: Any, base_url: str) -> None:
    """Point the in-process `spine` at a liar (or any URL) with a test key."""
    monkeypatch.setenv("SPINE_BASE_URL", base_url)
    monkeypatch.setenv("SPINE_API_KEY", KEY)


@dataclass
class Proc:
    exit_code: int
    stdout: str
    stderr: str
    elapsed: float
    peak_rss_mib: float

    def __str__(self) -> str:
        return (f"exit {self.exit_code} after {self.elapsed:.1f}s "
                f"(peak {self.peak_rss_mib:.0f} MiB)\n--- stdout\n{self.stdout}\n"
                f"--- stderr\n{self.stderr}")


# The parent that measures: it runs spine as its only child, then reports the child's
# exit code and peak RSS (ru_maxrss of RUSAGE_CHILDREN, KiB on Linux) on the fd it is given.
_MEASURE = """
import os, resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
os.write(int(sys.argv[1]), f"{code} {rss}".encode())
"""


def spine_env(base_url: str | None = None, **extra: str) -> dict[str, str]:
    """The test's environment (isolated dirs from the autouse fixture) plus the API."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    if base_url is not None:
        env.update(SPINE_BASE_URL=base_url, SPINE_API_KEY=KEY)
    env.update(extra)
    return env


def run_spine(*args: str, env: dict[str, str], limit: float = 60.0,
              input: bytes | None = None) -> Proc:
    """`spine ARGS` in a subprocess: exit code, streams, wall time and peak memory."""
    read_fd, write_fd = os.pipe()
    cmd = [sys.executable, "-c", _MEASURE, str(write_fd), sys.executable, "-m", "spine_cli",
           *args]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, timeout=limit, input=input,
                              pass_fds=(write_fd,))
    finally:
        os.close(write_fd)
    elapsed = time.monotonic() - start
    with os.fdopen(read_fd, "rb") as fh:
        code, rss = (int(x) for x in fh.read().split())
    assert proc.returncode == 0, proc.stderr
    return Proc(code if code >= 0 else 128 - code, proc.stdout.decode(errors="replace"),
                proc.stderr.decode(errors="replace"), elapsed, rss / 1024)


def unconfirmed_rows() -> list[dict[str, Any]]:
    """The unconfirmed rows `spine run list --json --status unconfirmed` shows."""
    from support.cli import spine

    out = spine("run", "list", "--json", "--status", "unconfirmed")
    assert out.exit_code == 0, out
    return json.loads(out.stdout)
