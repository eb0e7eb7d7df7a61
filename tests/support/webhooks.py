"""A local webhook endpoint for tests: records deliveries, answers with queued statuses."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """A local webhook endpoint: records deliveries; answers with queued statuses, then 200."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.deliveries.append((dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, run_id: str) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for h, b in self.deliveries
                if json.loads(b)["data"]["object"].get("run_id") == run_id]

    def wait_for(self, run_id: str, count: int, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.events(run_id)) >= count:
                return self.events(run_id)
            time.sleep(0.05)
        raise AssertionError(f"got {len(self.events(run_id))} deliveries, wanted {count}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
