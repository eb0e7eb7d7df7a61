"""Neutralise text that came from the server before a terminal or a log sees it.

`sanitize` removes escape sequences (CSI colours and cursor moves, OSC titles,
hyperlinks and OSC 52 clipboard writes, and their 8-bit C1 forms), every other
control character but newline and tab, and the Unicode bidi overrides and
isolates that make text display in another order than it reads (U+202A–U+202E,
U+2066–U+2069). `one_line` also folds newlines and tabs into spaces, for text
shown inside one line (a status, a name, an error message).

`escape_json_text` is for JSON on stdout: the same characters are written as
`\\uXXXX` escapes, so the parsed value is unchanged but a terminal showing the
raw JSON is not driven by it.
"""

from __future__ import annotations

import re

# CSI / OSC / DCS-like strings / other ESC sequences, in their 7-bit and 8-bit (C1) forms.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"                     # CSI
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC, DCS...
    r"|\x1b[ -/]*[0-~]"                                     # other ESC sequences
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def sanitize(text: str, keep_newlines: bool = True) -> str:
    """Strip escape sequences, control characters and bidi overrides (keeps \\n and \\t)."""
    text = _ESCAPES.sub("", text)
    text = text.replace("\r\n", "\n")
    text = _CONTROLS.sub("", text)
    text = _BIDI.sub("", text)
    if not keep_newlines:
        text = text.replace("\n", " ").replace("\t", " ")
    return text


def one_line(value: object) -> str:
    """Server text for one line of output: neutralised, newlines folded, "" for None."""
    if value is None:
        return ""
    return sanitize(str(value), keep_newlines=False)


def escape_json_text(text: str) -> str:
    """\\u-escape, inside serialised JSON, the characters a terminal would act on."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
