"""Local file names for artifacts: derived from the server's `name`, made safe.

A name cannot leave its directory: no path separators, no `..`, no control
characters or bidi overrides, no Windows device names, a bounded length
(room under the usual 255-byte limit for a `-NN` suffix and `.part`), and a
`-2`, `-3`… suffix on collision (case-insensitively). A name that is empty or
reserved becomes `artifact-<first 8 characters of the artifact id>`, followed
by `_<the name>` when there was one (`artifact-1a2b3c4d_CON.docx`).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

MAX_NAME_BYTES = 150
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f/\\:*?"<>|]')
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")  # reorder how a name displays: dropped
_DEVICE = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)


class UnsafeName(Exception):
    """A name that would leave its directory (never produced by safe_name)."""


def safe_name(name: str | None, art_type: str | None, fallback: str) -> str:
    """A file name derived from a server-given name that cannot leave its directory."""
    text = _UNSAFE.sub("_", _BIDI.sub("", unicodedata.normalize("NFC", name or "")))
    text = re.sub(r"\.{2,}", ".", text).strip(" .")
    if not text or _DEVICE.match(text):
        text = fallback + (f"_{text}" if text else "")
    ext = (art_type or "").lower() if re.fullmatch(r"[A-Za-z0-9]{1,10}", art_type or "") else ""
    if ext and not text.lower().endswith("." + ext):
        text = f"{text}.{ext}"
    return _bound(text)


def _bound(name: str, limit: int = MAX_NAME_BYTES) -> str:
    """Shorten the stem so the UTF-8 name fits `limit` bytes, keeping the extension."""
    if len(name.encode()) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 10:
        stem, ext = name, ""
    suffix = f".{ext}" if ext else ""
    room = limit - len(suffix.encode())
    stem = stem.encode()[:room].decode("utf-8", "ignore").rstrip(" .")
    return (stem or "artifact") + suffix


def unique_name(name: str, taken: set[str]) -> str:
    """`name`, or `stem-2.ext`, `stem-3.ext`… (case-insensitive filesystems too)."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    candidate, n = name, 1
    while candidate.casefold() in taken:
        n += 1
        candidate = f"{stem}-{n}" + (f".{ext}" if ext else "")
    taken.add(candidate.casefold())
    return candidate


def inside(directory: Path, name: str) -> Path:
    target = directory / name
    # Defence in depth: safe_name already removed every separator.
    if target.parent != directory or name in ("", ".", ".."):
        raise UnsafeName(f"refusing unsafe file name {name!r}")
    return target
