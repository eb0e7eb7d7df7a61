"""Row keys, their directory names and shards, for `spine batch`.

A row's key is its identity across resumes: the row's `key` column, or without
one `row-<12 hex>`, the start of the sha256 of the row's normalised content
(`content_digest`). A key must be safe to show, so a given key is bounded and
has no control characters.

`safe_dir_name(key)` names the row's download directory `DIR/<name>/`. A key
that is already a plain lowercase name (letters, digits, `.`, `_`, `-`) is used
as is; any other key keeps a readable part and gains `-<10 hex>` of its own
sha256. Plain names never end in `-<10 hex>` (such keys are hashed too), so a
plain name and a hashed one never meet, even on case-insensitive file systems.

`shard_of(key, n)` is a stable hash of the key (sha256, never Python's
per-process `hash`), so shard K of N is the same set of rows on every machine.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from spine_cli.errors import UsageError

KEY_MAX_CHARS = 200
HASH_KEY_PREFIX = "row-"
HASH_KEY_HEX = 12
DIR_NAME_MAX = 80
DIR_HASH_HEX = 10
MAX_SHARDS = 1000

_PLAIN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_HASHED_TAIL = re.compile(rf"-[0-9a-f]{{{DIR_HASH_HEX}}}$")
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")
_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
# Names Windows refuses as a file or directory, whatever the extension.
_WINDOWS_RESERVED = frozenset(
    ["con", "prn", "aux", "nul"] + [f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)])


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_digest(content: dict[str, Any]) -> str:
    """sha256 (hex) of a row's normalised content, as canonical JSON."""
    return _sha256(json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def hash_key(digest: str) -> str:
    """The key of a row without a `key` column: `row-` and 12 hex of its digest."""
    return HASH_KEY_PREFIX + digest[:HASH_KEY_HEX]


def check_key(value: str) -> str:
    """A given key, stripped; UsageError when empty, too long or not printable."""
    key = value.strip()
    if not key:
        raise UsageError("the key is empty; give every row a key, or drop the key column "
                         "to key rows by their content.")
    if len(key) > KEY_MAX_CHARS:
        raise UsageError(f"the key is {len(key)} characters long; the limit is {KEY_MAX_CHARS}.")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in key):
        raise UsageError("the key contains control characters.")
    return key


def safe_dir_name(key: str) -> str:
    """A directory name for `key`: no separators, no `..`, bounded, collision-proof."""
    if (len(key) <= DIR_NAME_MAX and _PLAIN.match(key) and not key.endswith(".")
            and not _HASHED_TAIL.search(key) and key.split(".")[0] not in _WINDOWS_RESERVED):
        return key
    readable = _UNSAFE_RUN.sub("_", key).strip("._-")[:DIR_NAME_MAX - DIR_HASH_HEX - 1]
    return f"{readable.rstrip('.') or 'row'}-{_sha256(key)[:DIR_HASH_HEX]}"


@dataclass(frozen=True)
class Shard:
    """Shard k of n (1-based)."""

    k: int
    n: int

    def __str__(self) -> str:
        return f"{self.k}/{self.n}"

    def contains(self, key: str) -> bool:
        return shard_of(key, self.n) == self.k


def shard_of(key: str, n: int) -> int:
    """The shard (1..n) a key belongs to: sha256 of the key, modulo n."""
    if n < 1:
        raise ValueError(f"shard count must be at least 1, got {n}")
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % n + 1


def parse_shard(text: str) -> Shard:
    """Parse `--shard K/N`; UsageError with the rule broken."""
    match = _SHARD.match(text)
    if not match:
        raise UsageError(f"Invalid --shard {text!r}: give K/N, for example --shard 2/5 "
                         "(this job takes shard 2 of 5).")
    k, n = int(match.group(1)), int(match.group(2))
    if not 1 <= n <= MAX_SHARDS:
        raise UsageError(f"Invalid --shard {text!r}: N must be between 1 and {MAX_SHARDS}.")
    if not 1 <= k <= n:
        raise UsageError(f"Invalid --shard {text!r}: K counts from 1 and is at most N "
                         f"(1 <= K <= {n}).")
    return Shard(k, n)
