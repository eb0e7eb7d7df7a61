"""Run the emulator: bind, announce, serve, stop cleanly.

`serve_forever` runs in the main thread and returns normally on SIGINT or
SIGTERM (uvicorn captures them during serving and re-raises them afterwards;
our own handlers swallow the re-raise so the command exits 0).
`BackgroundServer` runs the same server in a thread for `spine emulator exec`.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sqlite3
import sys
import threading
from typing import Callable

from spine_cli.emulator.config import EmulatorConfig
from spine_cli.emulator.errors import EmulatorError
from spine_cli.emulator.server import build_app
from spine_cli.emulator.state import Emulator


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise EmulatorError(f"Cannot listen on {host}:{port}: {reason}.",
                         hint="Choose another --port, or --port 0 for a free one.") from None
    sock.listen(1024)
    return sock


def public_url(host: str, port: int) -> str:
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class Prepared:
    """A bound socket and a ready app; `run()` serves until told to stop."""

    def __init__(self, config: EmulatorConfig) -> None:
        import uvicorn

        self.sock = bind(config.host, config.port)
        self.port = self.sock.getsockname()[1]
        self.url = public_url(config.host, self.port)
        try:
            self.emulator = Emulator(config)
        except (OSError, sqlite3.Error) as exc:
            self.sock.close()
            raise EmulatorError(f"Cannot use the data directory {config.data_dir}: {exc}.",
                             hint="Choose another --data-dir.") from None
        uv_config = uvicorn.Config(build_app(self.emulator, self.url), log_level="warning",
                                   access_log=False, http="h11", lifespan="on",
                                   proxy_headers=False, timeout_graceful_shutdown=3)
        self.server = uvicorn.Server(uv_config)

    async def _serve(self, on_ready: Callable[[], None]) -> None:
        serving = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        while not self.server.started and not serving.done():
            await asyncio.sleep(0.01)
        if self.server.started:
            on_ready()
        await serving

    def run(self, on_ready: Callable[[], None]) -> None:
        try:
            asyncio.run(self._serve(on_ready))
        finally:
            self.sock.close()
            self.emulator.store.close()

    def stop(self) -> None:
        self.server.should_exit = True


def serve_forever(config: EmulatorConfig, on_ready: Callable[[Prepared], None]) -> None:
    prepared = Prepared(config)
    stop_signals: list[int] = []
    previous = {sig: signal.signal(sig, lambda s, _f: stop_signals.append(s))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        prepared.run(lambda: on_ready(prepared))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class BackgroundServer:
    """The emulator in a daemon thread (for `exec`)."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.prepared = Prepared(config)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="spine-emulator", daemon=True)

    def _main(self) -> None:
        try:
            self.prepared.run(self._ready.set)
        except BaseException as exc:  # reported by start()
            self._error = exc
        finally:
            self._ready.set()

    def start(self, timeout: float = 30.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout) or self._error or not self.prepared.server.started:
            raise RuntimeError(f"emulator did not start: {self._error}")

    def stop(self, timeout: float = 10.0) -> None:
        self.prepared.stop()
        self._thread.join(timeout)
        if self._thread.is_alive():
            sys.stderr.write("spine: the emulator did not stop in time\n")
