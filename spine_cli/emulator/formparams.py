"""Header parameters (`Content-Type`, a part's `Content-Disposition`) as clients send them.

RFC 7578 §4.2 has a multipart/form-data `filename` sent as raw UTF-8 inside the quoted
string; httpx (so the official SDK), curl and browsers all do so, and percent-encode
`"`, CR and LF the HTML way (`%22`, `%0D`, `%0A`). Those escapes are kept as sent, as
python-multipart (Starlette's parser) keeps them: the encoding is lossy (a name holding
a literal `%22` looks the same), so a server cannot undo it safely. Older clients
(urllib3 1.x's RFC 2231 formatter, so older `requests`) send `filename*=UTF-8''…`
instead; when present it wins, as RFC 6266 has recipients do.

python-multipart's own `parse_options_header` cannot serve here: it encodes the header
to latin-1, which raises on CJK or emoji and turns `ï` into a replacement character.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

# One `; key=value` pair: a quoted string (backslash escapes allowed) or a bare token.
_PARAM = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)', re.S)
_QUOTED_PAIR = re.compile(r'\\([\\"])')


def header_text(raw: bytes) -> str:
    """A header value as text: UTF-8 when it is valid UTF-8, else latin-1 (legacy clients)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def header_params(value: str) -> tuple[str, dict[str, str]]:
    """(lower-cased main value, {lower-cased parameter name: value}) of a header value."""
    main, _, rest = value.partition(";")
    params: dict[str, str] = {}
    extended: dict[str, str] = {}
    for match in _PARAM.finditer(";" + rest):
        key, raw = match.group(1).lower(), match.group(2).strip()
        if key.endswith("*"):
            decoded = _rfc5987(raw.strip('"'))
            if decoded is not None:
                extended[key[:-1]] = decoded
        elif key not in params:
            params[key] = _unquote(raw)
    params.update(extended)
    if "filename" in params:
        params["filename"] = _without_windows_path(params["filename"])
    return main.strip().lower(), params


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return _QUOTED_PAIR.sub(r"\1", raw[1:-1])
    return raw


def _rfc5987(raw: str) -> str | None:
    """`UTF-8''na%C3%AFve.txt` -> `naïve.txt`; None when malformed (the plain value stays)."""
    parts = raw.split("'", 2)
    if len(parts) != 3:
        return None
    charset = parts[0] or "utf-8"
    try:
        return unquote(parts[2], encoding=charset, errors="strict")
    except (LookupError, UnicodeDecodeError):
        return None


def _without_windows_path(name: str) -> str:
    # Old browsers (IE6) sent the full client path; keep the last component, as
    # python-multipart does.
    if name[1:3] == ":\\" or name[:2] == "\\\\":
        return name.rsplit("\\", 1)[-1]
    return name
