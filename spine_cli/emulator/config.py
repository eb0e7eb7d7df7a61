"""Emulator options and their documented defaults (see docs/emulator.md).

The `DEFAULT_*` values are the `spine emulator serve` / `exec` option defaults;
`EmulatorConfig` is what those options resolve to (built by the command only).
A `--webhook URL[#event,event]` becomes a `WebhookEndpoint`, like an endpoint
registered in the portal: its URL and the event types it subscribes to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765  # `exec` picks a free port (0) instead
DEFAULT_SPEED = 1.0
DEFAULT_MAX_FILE_SIZE = "100MiB"  # per file; K/M/G/T are powers of 1024
DEFAULT_MAX_FILES = 20
DEFAULT_RATE_LIMIT = 0  # requests per minute per key on /v1; 0 = unlimited
DEFAULT_URL_TTL = 600.0  # seconds of emulator clock a download URL stays valid
MAX_FORM_BYTES = 10 * 1024 * 1024  # url-encoded bodies and non-file multipart fields


WEBHOOK_EVENTS = ("run.started", "run.completed", "run.failed", "webhook.ping")


@dataclass(frozen=True)
class WebhookEndpoint:
    url: str  # without the #fragment (a fragment is never sent over HTTP anyway)
    events: frozenset[str] | None = None  # None: every event type ("*")

    def wants(self, event_type: str) -> bool:
        return self.events is None or event_type in self.events

    @classmethod
    def parse(cls, spec: str) -> "WebhookEndpoint":
        """`URL`, `URL#*` or `URL#run.completed,run.failed`; ValueError when invalid."""
        url, hashed, fragment = spec.partition("#")
        if not url.startswith(("http://", "https://")) or len(url) <= len("https://"):
            raise ValueError("expected an http(s):// URL")
        if not hashed:
            return cls(url)
        names = {n.strip() for n in fragment.split(",") if n.strip()}
        if not names:
            raise ValueError("no event types after #; use #* for all")
        unknown = sorted(names - {"*", *WEBHOOK_EVENTS})
        if unknown:
            raise ValueError(f"unknown event type {unknown[0]!r}; known: "
                             f"{', '.join(WEBHOOK_EVENTS)} or *")
        return cls(url, None if "*" in names else frozenset(names))

    def describe(self) -> str:
        return self.url + ("" if self.events is None else "#" + ",".join(sorted(self.events)))


@dataclass
class EmulatorConfig:
    data_dir: Path
    host: str
    port: int
    speed: float
    max_file_size: int  # bytes
    max_files: int
    rate_limit: int
    url_ttl: float
    webhooks: list[WebhookEndpoint] = field(default_factory=list)
    webhook_secret: str | None = None
