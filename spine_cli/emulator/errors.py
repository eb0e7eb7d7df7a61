"""The emulator's own error: what it tells whoever runs it (a bad port, an unusable data dir).

The emulator imports nothing of the CLI; `spine_cli.commands.emulator` turns an
`EmulatorError` into the CLI's usage error (exit 2).
"""

from __future__ import annotations


class EmulatorError(Exception):
    """The emulator cannot start as asked; `hint` says what to change."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
