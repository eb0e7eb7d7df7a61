"""Emulator options and their documented defaults (see docs/emulator.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_SPEED = 1.0
DEFAULT_MAX_FILE_SIZE = 100 * 1024 * 1024  # 100 MiB per file
DEFAULT_MAX_FILES = 20
DEFAULT_RATE_LIMIT = 0  # requests per minute per key on /v1; 0 = unlimited
DEFAULT_URL_TTL = 600.0  # seconds of emulator clock a download URL stays valid
MAX_FORM_BYTES = 10 * 1024 * 1024  # url-encoded bodies and non-file multipart fields


@dataclass
class EmulatorConfig:
    data_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    speed: float = DEFAULT_SPEED
    webhooks: list[str] = field(default_factory=list)
    webhook_secret: str | None = None
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    max_files: int = DEFAULT_MAX_FILES
    rate_limit: int = DEFAULT_RATE_LIMIT
    url_ttl: float = DEFAULT_URL_TTL
