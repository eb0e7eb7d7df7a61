"""Neutralise terminal control sequences in text that came from the server."""

from __future__ import annotations

import re

# CSI / OSC / other ESC sequences, then any remaining C0/C1 control except \n and \t.
_ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def sanitize(text: str, keep_newlines: bool = True) -> str:
    """Strip escape sequences and control characters (keeps \\n and \\t)."""
    text = _ESCAPES.sub("", text)
    text = text.replace("\r\n", "\n")
    text = _CONTROLS.sub("", text)
    if not keep_newlines:
        text = text.replace("\n", " ").replace("\t", " ")
    return text
