"""The one presentation table: a status → its mark, colour and CI icon.

Every view (run views, the live display, run lists, canvas trees, the CI
step summary) asks here; no status word is compared or coloured elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from spine_cli.api.canvas import NodeStatus
from spine_cli.api.models import RunStatus
from spine_cli.local.diagnose import Status as CheckStatus


@dataclass(frozen=True)
class Style:
    mark: str
    colour: str
    icon: str  # for Markdown (the GitHub step summary)


RUN_STYLES: dict[RunStatus, Style] = {
    RunStatus.RUNNING: Style("•", "cyan", "⏳"),
    RunStatus.COMPLETED: Style("✓", "green", "✅"),
    RunStatus.PARTIAL: Style("!", "yellow", "⚠️"),
    RunStatus.FAILED: Style("✗", "red", "❌"),
    RunStatus.UNKNOWN: Style("?", "magenta", "❔"),
}
NODE_STYLES: dict[NodeStatus, Style] = {
    NodeStatus.COMPLETED: Style("✓", "green", "✅"),
    NodeStatus.RUNNING: Style("●", "yellow", "⏳"),
    NodeStatus.ERROR: Style("✗", "red", "❌"),
    NodeStatus.FAILED: Style("✗", "red", "❌"),
    NodeStatus.IDLE: Style("○", "dim", "⚪"),
    NodeStatus.UNKNOWN: Style("?", "magenta", "❔"),
}
# `spine doctor`'s verdicts.
CHECK_STYLES: dict[CheckStatus, Style] = {
    CheckStatus.OK: Style("✓", "green", "✅"),
    CheckStatus.WARN: Style("!", "yellow", "⚠️"),
    CheckStatus.FAIL: Style("✗", "red", "❌"),
    CheckStatus.SKIP: Style("-", "dim", "⚪"),
}
# A create whose outcome is unknown (the history's unconfirmed rows).
UNCONFIRMED = Style("?", "magenta", "❓")


def run_style(status: RunStatus | None) -> Style:
    return RUN_STYLES[status or RunStatus.UNKNOWN]


def node_style(status: NodeStatus) -> Style:
    return NODE_STYLES[status]


def recorded_style(status_text: str, unconfirmed: bool = False) -> Style:
    """The style of a status word kept in the local history."""
    return UNCONFIRMED if unconfirmed else run_style(RunStatus.parse(status_text))
