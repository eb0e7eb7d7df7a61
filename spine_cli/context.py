"""The per-invocation context."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class AppState:
    """Global options of one invocation (set by the root callback)."""

    profile: str | None = None
    base_url: str | None = None
    json: bool = False
    quiet: bool = False
    verbose: int = 0
    no_color: bool = False
    ci: str = "auto"  # --ci: auto | github | none
