"""The emulator's live state: config, store, plans, faults, request log, rate limits."""

from __future__ import annotations

import fnmatch
import hashlib
import math
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from spine_cli.emulator.config import EmulatorConfig
from spine_cli.emulator.shelf import Shelf
from spine_cli.emulator.simulation import Plan, build_plan
from spine_cli.emulator.store import RunRecord, Store

KEY_PREFIX = "sk_spine_"
FAULT_KINDS = ("status", "drop_before", "drop_after", "delay")


def fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def tenant_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class Fault:
    method: str
    path: str
    kind: str
    count: int = 1
    status: int = 500
    retry_after: float | None = None
    delay: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and fnmatch.fnmatchcase(path, self.path)


class Faults:
    """Queued faults, consumed by the next matching requests (first queued first)."""

    def __init__(self) -> None:
        self._items: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._items.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._items:
                if fault.matches(method, path):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._items.remove(fault)
                    return fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(vars(f)) for f in self._items]


class RateLimiter:
    """At most `per_minute` /v1 requests per key in any 60 s window (0 = off)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = {}

    def check(self, tenant: str) -> int | None:
        """None when allowed, else the seconds to wait (for Retry-After)."""
        if self.per_minute <= 0:
            return None
        now = time.monotonic()
        hits = self._hits.setdefault(tenant, deque())
        while hits and hits[0] <= now - 60:
            hits.popleft()
        if len(hits) >= self.per_minute:
            return max(1, math.ceil(hits[0] + 60 - now))
        hits.append(now)
        return None


class Emulator:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.store = Store(config.data_dir)
        self.shelf = Shelf(self.store.artifacts_dir, self.store.secret("signing_key"),
                           config.url_ttl)
        self.api_key = self.store.secret("emulator_key", "sk_spine_emulator_", 16)
        self.webhook_secret = config.webhook_secret or self.store.secret(
            "webhook_secret", "whsec_", 24)
        self.faults = Faults()
        self.requests: deque[dict[str, Any]] = deque(maxlen=20000)
        self.limiter = RateLimiter(config.rate_limit)
        self._plans: dict[str, Plan] = {}

    def plan(self, run: RunRecord) -> Plan:
        plan = self._plans.get(run.run_id)
        if plan is None:
            if len(self._plans) > 2000:
                self._plans.clear()
            plan = self._plans[run.run_id] = build_plan(run)
        return plan

    def now(self) -> float:
        return self.store.now()

    def rotate_webhook_secret(self, value: str | None = None) -> str:
        """A new signing secret, in force at once (kept in the data dir)."""
        self.webhook_secret = value or "whsec_" + secrets.token_hex(24)
        self.store.set_meta("webhook_secret", self.webhook_secret)
        return self.webhook_secret
