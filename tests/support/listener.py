"""`ListenerProcess`: a real `spine webhook listen` subprocess for tests, and a signer.

    with ListenerProcess("--events", "run.completed") as listener:
        response = listener.deliver(make_event("run.completed"))   # signed with SECRET
        listener.wait_stdout(1)
    assert listener.returncode == 0

The signer here is written from the documented formula, not imported from
spine, so a test that signs with it checks spine's verifier independently.
Every wait is bounded; `stop()` sends SIGTERM and kills after 10 s.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pty
import signal
import subprocess
import sys
import threading
import time
import uuid
from typing import Any, Callable

import httpx

SECRET = "whsec_listener_test_0123456789abcdef"
_READY = "Listening for Spine webhooks on "


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def make_event(event_type: str = "run.completed", **obj: Any) -> dict[str, Any]:
    base = {"run_id": str(uuid.uuid4()), "status": "completed", "duration_ms": 10736}
    return {"id": "evt_" + uuid.uuid4().hex, "type": event_type, "created": int(time.time()),
            "livemode": False, "api_version": "2026-04-01",
            "data": {"object": {**base, **obj}}}


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


class ListenerProcess:
    def __init__(self, *args: str, secret: str | None = SECRET, tty: bool = False,
                 env: dict[str, str] | None = None, port: int = 0) -> None:
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        if secret is not None:
            full_env["SPINE_WEBHOOK_SECRET"] = secret
        cmd = [sys.executable, "-m", "spine_cli", "webhook", "listen", "--port", str(port), *args]
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self._master = None
        if tty:
            self._master, slave = pty.openpty()
            self.proc = subprocess.Popen(cmd, stdout=slave, stderr=subprocess.PIPE,
                                         stdin=subprocess.DEVNULL, env=full_env)
            os.close(slave)
            threading.Thread(target=self._pump_pty, daemon=True).start()
        else:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         stdin=subprocess.DEVNULL, env=full_env)
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout_lines),
                             daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr_lines),
                         daemon=True).start()
        self.url = ""
        self.returncode: int | None = None
        self._http = httpx.Client(timeout=20.0)

    # -- lifecycle ------------------------------------------------------------
    def wait_ready(self, timeout: float = 20.0) -> "ListenerProcess":
        line = self.wait_stderr(lambda l: l.startswith(_READY), timeout)
        self.url = line[len(_READY):].split()[0]
        return self

    def __enter__(self) -> "ListenerProcess":
        return self.wait_ready()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.returncode = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.returncode = self.proc.wait()
        time.sleep(0.1)  # let the pumps read the last lines
        self._http.close()
        return self.returncode

    def _pump(self, stream: Any, into: list[str]) -> None:
        for raw in stream:
            into.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def _pump_pty(self) -> None:
        buffer = b""
        while True:
            try:
                data = os.read(self._master, 65536)
            except OSError:
                break
            if not data:
                break
            buffer += data
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                self.stdout_lines.append(line.decode("utf-8", "replace").rstrip("\r"))

    # -- talking to it --------------------------------------------------------
    def post(self, body: bytes, headers: dict[str, str] | None = None,
             path: str = "hooks") -> httpx.Response:
        return self._http.post(self.url + path, content=body, headers=headers or {})

    def deliver(self, event: dict[str, Any], secret: str = SECRET,
                timestamp: int | None = None) -> httpx.Response:
        body = encode(event)
        return self.post(body, {"Content-Type": "application/json",
                                "Spine-Signature": sign(secret, body, timestamp),
                                "Spine-Event-Id": event["id"],
                                "Spine-Event-Type": event["type"]})

    # -- reading what it printed ------------------------------------------------
    def wait_stderr(self, match: Callable[[str], bool], timeout: float = 10.0) -> str:
        return self._wait(self.stderr_lines, match, timeout)

    def wait_stdout(self, count: int, timeout: float = 10.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.stdout_lines) >= count:
                return list(self.stdout_lines)
            time.sleep(0.02)
        raise AssertionError(f"wanted {count} stdout lines, got {self.output()}")

    def _wait(self, lines: list[str], match: Callable[[str], bool], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in list(lines) if match(line)]
            if found:
                return found[0]
            if self.proc.poll() is not None and not found:
                time.sleep(0.1)
                found = [line for line in list(lines) if match(line)]
                if found:
                    return found[0]
                raise AssertionError(f"listener exited {self.proc.returncode}: {self.output()}")
            time.sleep(0.02)
        raise AssertionError(f"no matching line within {timeout} s: {self.output()}")

    def output(self) -> str:
        return ("--- stdout\n" + "\n".join(self.stdout_lines) + "\n--- stderr\n"
                + "\n".join(self.stderr_lines))

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout_lines]
