"""Artifact files on disk and their pre-signed, expiring download URLs.

Files are generated on first need (deterministic bytes, written atomically) and
kept under `<data-dir>/artifacts/<run_id>/`. A URL carries `expires` (emulator
clock, ms), a random `nonce` (so every poll gets a fresh URL) and an HMAC
signature over both with a per-data-dir secret; no API key is involved.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path
from urllib.parse import quote

from spine_cli.emulator import artifacts
from spine_cli.emulator.catalog import FILE_TYPES
from spine_cli.emulator.simulation import Block, Plan

_LABELS = {
    "document-block": "Report", "memo-block": "Memo", "excel-block": "Workbook",
    "presentation-block": "Deck", "app-block": "App", "landing-page-block": "Landing_Page",
    "prototype-block": "Prototype", "image-block": "Image",
}


def artifact_name(plan: Plan, block: Block) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", plan.topic).strip("_")[:48] or "Spine"
    return f"{slug}_{_LABELS[block.type]}.{FILE_TYPES[block.type]}"


def artifact_lines(plan: Plan, block: Block) -> list[str]:
    topic = plan.topic
    return [
        f"Prepared by Spine agents for: {topic}.",
        f"Scope: {block.type.removesuffix('-block').replace('-', ' ')} built from "
        f"{len(plan.blocks)} canvas blocks.",
        "Key finding: the emulator produced this file deterministically.",
        "Next step: review, edit and share.",
    ]


class Shelf:
    def __init__(self, root: Path, key: str, ttl: float) -> None:
        self.root = root
        self.key = key.encode()
        self.ttl = ttl

    def path(self, plan: Plan, block: Block) -> Path:
        return self.root / plan.run.run_id / f"{block.id}.{FILE_TYPES[block.type]}"

    def ensure(self, plan: Plan, block: Block) -> int:
        """Make sure the file exists on disk; return its size in bytes."""
        path = self.path(plan, block)
        try:
            return path.stat().st_size
        except FileNotFoundError:
            pass
        data = artifacts.build(FILE_TYPES[block.type], block.name, artifact_lines(plan, block))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return len(data)

    def _sign(self, run_id: str, node_id: str, expires: int, nonce: str) -> str:
        msg = f"{run_id}/{node_id}/{expires}/{nonce}".encode()
        return hmac.new(self.key, msg, hashlib.sha256).hexdigest()[:40]

    def url(self, base: str, plan: Plan, block: Block, now: float) -> str:
        expires = int((now + self.ttl) * 1000)
        nonce = secrets.token_hex(6)
        sig = self._sign(plan.run.run_id, block.id, expires, nonce)
        name = quote(artifact_name(plan, block))
        return (f"{base}/_artifacts/{plan.run.run_id}/{block.id}/{name}"
                f"?expires={expires}&nonce={nonce}&signature={sig}")

    def check(self, run_id: str, node_id: str, query: dict[str, str], now: float) -> str | None:
        """None when the URL is valid now, else the reason it is refused."""
        try:
            expires = int(query.get("expires", ""))
        except ValueError:
            return "Invalid signature"
        expected = self._sign(run_id, node_id, expires, query.get("nonce", ""))
        if not hmac.compare_digest(expected, query.get("signature", "")):
            return "Invalid signature"
        if now * 1000 > expires:
            return "Request has expired"
        return None


class Links:
    """`views.Links` for one answer: files on the shelf, URLs under `base` signed at `now`."""

    def __init__(self, shelf: Shelf, base: str, now: float) -> None:
        self.shelf, self.base, self.now = shelf, base, now

    def size(self, plan: Plan, block: Block) -> int:
        return self.shelf.ensure(plan, block)

    def url(self, plan: Plan, block: Block) -> str:
        return self.shelf.url(self.base, plan, block, self.now)
