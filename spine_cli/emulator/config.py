"""Emulator options and their documented defaults (see docs/emulator.md).

The `DEFAULT_*` values are the `spine emulator serve` / `exec` option defaults;
`EmulatorConfig` is what those options resolve to (built by the command only).
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
    webhooks: list[str] = field(default_factory=list)
    webhook_secret: str | None = None
