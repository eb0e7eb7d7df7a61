"""What the `spine webhook` commands share: the secret, its options, the event types.

The signing secret comes from --secret > SPINE_WEBHOOK_SECRET > the profile's
`webhook_secret`, and is never printed: errors name where it came from.
"""

from __future__ import annotations

import os
from enum import Enum
from typing import Annotated, Optional

import typer

from spine_cli.context import Invocation
from spine_cli.errors import ConfigError, SpineError, UsageError

# The event types, as webhooks.events.EVENT_TYPES (kept apart so --help imports nothing of
# the webhooks package; a test keeps the two equal).
EVENT_TYPES = ("run.started", "run.completed", "run.failed", "webhook.ping")

__all__ = ["EVENT_TYPES", "EventType", "SecretOpt", "ToleranceOpt", "parse_duration_option",
           "resolve_secret"]


class EventType(str, Enum):
    """--event choices (EVENT_TYPES; a test keeps the two equal)."""

    run_started = "run.started"
    run_completed = "run.completed"
    run_failed = "run.failed"
    webhook_ping = "webhook.ping"


SecretOpt = Annotated[Optional[str], typer.Option(
    "--secret", metavar="WHSEC", show_default=False,
    help="whsec_… signing secret (default: SPINE_WEBHOOK_SECRET, then the profile's "
         "webhook_secret; prefer those: argv is visible to other processes).")]
ToleranceOpt = Annotated[int, typer.Option(
    "--tolerance", metavar="S", min=0, help="Accept timestamps at most S seconds from now.")]


def parse_duration_option(value: Optional[str]) -> Optional[float]:
    from spine_cli.local.values import parse_duration

    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def resolve_secret(inv: Invocation, flag: Optional[str]) -> str:
    """--secret > SPINE_WEBHOOK_SECRET > the profile; exit 2/4 with the source, never the value."""
    from spine_cli.local.values import check_webhook_secret

    env = os.environ.get("SPINE_WEBHOOK_SECRET", "").strip()
    error: type[SpineError]
    if flag is not None:
        value, source, error = flag.strip(), "--secret", UsageError
    elif env:
        value, source, error = env, "SPINE_WEBHOOK_SECRET", ConfigError
    else:
        settings = inv.settings
        value, source, error = settings.value("webhook_secret"), \
            f"profile '{settings.profile}'", ConfigError
        if not value:
            raise ConfigError(
                "No webhook signing secret: pass --secret, set SPINE_WEBHOOK_SECRET, or store "
                "one in the profile.",
                hint='echo "$WHSEC" | spine config set webhook_secret -')
    try:
        return check_webhook_secret(value)
    except ValueError as exc:
        raise error(f"Invalid webhook secret from {source}: {exc}.") from None
