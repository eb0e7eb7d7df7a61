"""Shared parameter aliases, value parsers and completion callbacks."""

from __future__ import annotations

import math
from typing import Annotated, Optional

import typer

from spine_cli.local.values import parse_duration

MIN_POLL_INTERVAL = 0.1


def _interval_callback(value: Optional[float]) -> Optional[float]:
    # Click's FloatRange lets nan and inf through (every comparison with nan is false).
    if value is not None and (not math.isfinite(value) or value < MIN_POLL_INTERVAL):
        raise typer.BadParameter(f"expected a finite number of seconds, at least "
                                 f"{MIN_POLL_INTERVAL}, got {value}")
    return value


def duration(value: str) -> float:
    """A DUR option's value (`90`, `90s`, `15m`, `2h`, `1h30m`) in seconds."""
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def complete_template(incomplete: str) -> list[tuple[str, str | None]]:
    from spine_cli.completion.candidates import template_candidates

    return template_candidates(incomplete)


def complete_block(incomplete: str) -> list[tuple[str, str | None]]:
    from spine_cli.completion.candidates import block_candidates

    return block_candidates(incomplete)


def complete_profile(incomplete: str) -> list[tuple[str, str | None]]:
    from spine_cli.completion.candidates import profile_candidates

    return profile_candidates(incomplete)


def complete_run(ctx: typer.Context, incomplete: str) -> list[tuple[str, str | None]]:
    """Run ids from the local history, most recent first (never the network)."""
    from spine_cli.completion.candidates import run_candidates

    root = ctx.find_root().params
    return run_candidates(incomplete, profile=root.get("profile"), base_url=root.get("base_url"))


ProfileOpt = Annotated[Optional[str], typer.Option(
    "--profile", help="Profile to act on (overrides the global --profile and SPINE_PROFILE).",
    autocompletion=complete_profile)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
QuietOpt = Annotated[bool, typer.Option("-q", "--quiet", help="Print only essential identifiers.")]
RunArg = Annotated[str, typer.Argument(
    metavar="RUN", help="Run id, unique prefix from the history, @last, or @last~N (N runs before).",
    autocompletion=complete_run)]
RunsArg = Annotated[list[str], typer.Argument(
    metavar="RUN...", help="Run ids, unique prefixes, @last, or @last~N.", autocompletion=complete_run)]
TimeoutOpt = Annotated[Optional[float], typer.Option(
    "--timeout", metavar="DUR", parser=duration,
    help="Stop waiting after DUR (90, 90s, 15m, 2h, 1h30m); exit 6. Default: no limit.")]
PollIntervalOpt = Annotated[Optional[float], typer.Option(
    "--poll-interval", metavar="S", callback=_interval_callback,
    help="Poll every S seconds instead of the adaptive schedule.")]
MaxOutageOpt = Annotated[Optional[float], typer.Option(
    "--max-outage", metavar="DUR", parser=duration,
    help="Give up (exit 8) after the API has failed for DUR in a row. Default: 10m.")]
PartialOkOpt = Annotated[bool, typer.Option(
    "--partial-ok", help="Exit 0 instead of 5 when a run ends partial.")]
DownloadOpt = Annotated[Optional[str], typer.Option(
    "--download", metavar="DIR", help="Download the artifacts into DIR when the run ends.")]
