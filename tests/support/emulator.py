"""`EmulatorHandle`: a real `spine emulator serve` subprocess for tests.

    emu = EmulatorHandle(tmp_path / "emu")       # started; emu.base_url has no /v1
    key = emu.new_key()                           # a fresh tenant
    emu.advance(30)                               # move the emulator clock
    emu.fault("status", method="GET", path="/v1/run/*", status=503, retry_after=1)
    emu.requests(key)                             # this key's logged requests
    emu.kill(); emu.restart()                     # SIGKILL, then same data dir and port
"""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

_READY_PREFIX = "Spine emulator listening on "


def key_fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class EmulatorHandle:
    def __init__(self, data_dir: Path | str, *extra_args: str, port: int = 0,
                 start: bool = True, startup_timeout: float = 30.0) -> None:
        self.data_dir = Path(data_dir)
        self.extra_args = list(extra_args)
        self.port = port
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.api_key = ""
        self.stdout_lines: list[str] = []
        self._client = httpx.Client(timeout=30.0)
        if start:
            self.start()

    # -- lifecycle --------------------------------------------------------
    def start(self, port: int | None = None) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        port = self.port if port is None else port
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("SPINE_") or k == "SPINE_DEBUG"}
        env["PYTHONUNBUFFERED"] = "1"
        self._stderr = open(self.data_dir / "emulator.stderr.log", "ab")
        cmd = [sys.executable, "-m", "spine_cli", "emulator", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--data-dir", str(self.data_dir), *self.extra_args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._stderr,
                                     stdin=subprocess.DEVNULL, text=True, env=env)
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        lines: list[str] = []
        ready = threading.Event()

        def pump() -> None:
            for line in self.proc.stdout:  # type: ignore[union-attr]
                lines.append(line.rstrip("\n"))
                if line.startswith("export "):
                    ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(self.startup_timeout) or self.proc.poll() is not None:
            self.proc.kill()
            err = (self.data_dir / "emulator.stderr.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"emulator did not start: {lines!r}\n{err}")
        self.stdout_lines = lines
        self.base_url = next(l for l in lines if l.startswith(_READY_PREFIX))[len(_READY_PREFIX):]
        self.port = int(self.base_url.rsplit(":", 1)[1])
        self.api_key = next(l for l in lines if l.startswith("export ")).split("SPINE_API_KEY=")[1]

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def kill(self) -> None:
        """SIGKILL: no chance to clean up (tests persistence)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> None:
        """Stop (if running) and start again on the same data dir, same port if possible."""
        self.stop()
        old_port = self.port
        for _ in range(20):
            try:
                self.start(port=old_port)
                return
            except RuntimeError:
                time.sleep(0.25)
        self.start(port=0)

    def close(self) -> None:
        self.stop()
        self._client.close()

    # -- API helpers ------------------------------------------------------
    @staticmethod
    def new_key() -> str:
        return "sk_spine_test_" + secrets.token_hex(12)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self._client.request(method, f"{self.base_url}/_emulator/{path}", json=body)
        response.raise_for_status()
        return response.json()

    def now(self) -> float:
        return self.control("GET", "clock")["now"]

    def advance(self, seconds: float) -> dict[str, float]:
        return self.control("POST", "clock", {"advance": seconds})

    def fault(self, kind: str, method: str = "*", path: str = "*", count: int = 1,
              status: int | None = None, retry_after: float | None = None,
              delay: float | None = None) -> None:
        body = {"kind": kind, "method": method, "path": path, "count": count, "status": status,
                "retry_after": retry_after, "delay": delay}
        self.control("POST", "faults", {k: v for k, v in body.items() if v is not None})

    def clear_faults(self) -> None:
        self.control("DELETE", "faults")

    def requests(self, key: str | None = None) -> list[dict[str, Any]]:
        if key is None:
            return self.control("GET", "requests")["requests"]
        return self.control("GET", f"requests?key_fingerprint={key_fingerprint(key)}")["requests"]

    def clear_requests(self) -> None:
        self.control("DELETE", "requests")

    def v1(self, method: str, path: str, key: str | None = None, **kwargs: Any) -> httpx.Response:
        """A raw /v1 request (`path` after /v1), with X-API-KEY when `key` is given."""
        headers = dict(kwargs.pop("headers", {}) or {})
        if key is not None:
            headers["X-API-KEY"] = key
        return self._client.request(method, f"{self.base_url}/v1{path}", headers=headers,
                                    **kwargs)

    def create_run(self, key: str, prompt: str, **fields: Any) -> dict[str, Any]:
        """POST /v1/run (url-encoded, or multipart with files=[...]); returns `data`."""
        files = fields.pop("files", None)
        response = self.v1("POST", "/run", key, data={"prompt": prompt, **fields}, files=files)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def get_run(self, key: str, run_id: str) -> dict[str, Any]:
        response = self.v1("GET", f"/run/{run_id}", key)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def received(self, run_id: str) -> dict[str, Any]:
        """The create fields and file parts the emulator received for a run."""
        return self.control("GET", f"runs/{run_id}")

    def webhooks(self) -> list[dict[str, Any]]:
        return self.control("GET", "webhooks")["deliveries"]
