"""`spine doctor`: every check in one go, each reported as soon as it is known.

`diagnose(...)` runs the checks in order and hands each `Check` to `on_check`:

    version, config        this machine (local.diagnose)
    profile, api_key       which profile, where the key comes from (masked)
    base_url               reachable? how fast? (one GET, no retries)
    key                    accepted? A GET of a run that cannot exist answers 404
                           to an accepted key and 401 to a rejected one
    clock                  skew against the answer's Date header (webhook signatures
                           are refused outside a 5-minute window)
    history, completion    this machine again

A check that depends on a failed one is skipped. `exit_code` is the worst of
the failed checks, by the order of README "Exit codes" (warnings never change
it). Nothing here prints.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from spine_cli.errors import ConfigError, ExitCode, SpineError, worst
from spine_cli.local.diagnose import (Check, Status, check_completion, check_config,
                                      check_history, check_version, fail)

if TYPE_CHECKING:
    from spine_cli.api.client import Probe, SpineClient
    from spine_cli.local.settings import Settings

# The API has no "whoami": the run that cannot exist (as `spine auth status` uses).
PROBE_PATH = "/run/00000000-0000-4000-8000-000000000000"
SKEW_WARN, SKEW_FAIL = 30.0, 300.0  # seconds; webhook verify's default tolerance is 300
SLOW = 2.0  # seconds for one round trip: worth a warning


def diagnose(*, settings: Callable[[], "Settings"], client: Callable[["Settings"], "SpineClient"],
             paths: Mapping[str, Path], env: Mapping[str, str],
             on_check: Callable[[Check], None], wall: Callable[[], float] = time.time) -> int:
    """Run every check, reporting each through `on_check`; the exit code."""
    checks: list[Check] = []

    def report(check: Check) -> None:
        checks.append(check)
        on_check(check)

    report(check_version())
    report(check_config(paths["config"], paths["config_dir"]))
    loaded = _settings(settings, report)
    if loaded is not None:
        for check in _api_checks(loaded, client, wall):
            report(check)
    else:
        for name in ("base_url", "key", "clock"):
            report(Check(name, Status.SKIP, "not checked: no usable settings"))
    report(check_history(paths["history"]))
    report(check_completion(env))
    return exit_code(checks)


def exit_code(checks: list[Check]) -> int:
    return worst([c.exit_code for c in checks if c.status is Status.FAIL])


def _settings(load: Callable[[], "Settings"], report: Callable[[Check], None]) -> "Settings | None":
    from spine_cli.local.settings import mask_key

    try:
        settings = load()
    except ConfigError as exc:
        report(fail("profile", exc.message, exc.hint or "spine config path", ExitCode.CONFIG))
        report(Check("api_key", Status.SKIP, "not checked: no usable settings"))
        return None
    src = settings.sources
    report(Check("profile", Status.OK, f"{settings.profile} (from {src['profile']})",
                 detail={"profile": settings.profile, "source": str(src["profile"])}))
    if not settings.api_key:
        report(fail("api_key", "no API key (SPINE_API_KEY, or the profile's api_key)",
                    _with_profile("spine auth login", settings), ExitCode.CONFIG,
                    source="none"))
        return settings
    report(Check("api_key", Status.OK, f"{mask_key(settings.api_key)} (from {src['api_key']})",
                 detail={"api_key": mask_key(settings.api_key), "source": str(src["api_key"])}))
    return settings


def _with_profile(command: str, settings: "Settings") -> str:
    if settings.profile == "default":
        return command
    return f"{command} --profile {settings.profile}"


def _api_checks(settings: "Settings", client: Callable[["Settings"], "SpineClient"],
                wall: Callable[[], float]) -> list[Check]:
    url = settings.base_url
    detail: dict[str, Any] = {"base_url": url, "source": str(settings.sources["base_url"])}
    sent = wall()
    try:
        with client(settings) as api:
            probe = api.probe(PROBE_PATH)
    except SpineError as exc:
        return [fail("base_url", exc.message,
                     "Check the network, or the base URL: spine config get base_url",
                     ExitCode.UNAVAILABLE, **detail),
                Check("key", Status.SKIP, "not checked: the API is unreachable"),
                Check("clock", Status.SKIP, "not checked: the API is unreachable")]
    received = wall()
    return [_reachable(url, probe, detail), _key(settings, probe),
            _clock(probe, (sent + received) / 2)]


def _reachable(url: str, probe: "Probe", detail: dict[str, Any]) -> Check:
    ms = round(probe.latency * 1000)
    detail = {**detail, "latency_ms": ms, "status": probe.status}
    if probe.latency > SLOW:
        return Check("base_url", Status.WARN, f"{url}: reachable, but slow ({ms} ms)",
                     "Check the network; spine still works, more slowly", detail=detail)
    return Check("base_url", Status.OK, f"{url}: reachable ({ms} ms)", detail=detail)


def _key(settings: "Settings", probe: "Probe") -> Check:
    detail = {"status": probe.status, "request_id": probe.request_id}
    if not settings.api_key:
        return Check("key", Status.SKIP, "not checked: no key", detail=detail)
    if probe.status == 404:
        return Check("key", Status.OK, "accepted by the API", detail=detail)
    if probe.status == 401:
        return fail("key", "rejected by the API (401)",
                    _with_profile("spine auth login", settings), ExitCode.CONFIG, **detail)
    if probe.status == 429 or probe.status >= 500:
        return fail("key", f"not checked: the API answered HTTP {probe.status}",
                    "Try again later: spine doctor", ExitCode.UNAVAILABLE, **detail)
    return fail("key", f"unexpected answer HTTP {probe.status} (is the base URL the Spine API?)",
                "Check the base URL: spine config get base_url", ExitCode.UNAVAILABLE, **detail)


def _clock(probe: "Probe", local: float) -> Check:
    try:
        server = parsedate_to_datetime(probe.date).timestamp() if probe.date else None
    except (TypeError, ValueError):
        server = None
    if server is None:
        return Check("clock", Status.SKIP, "not checked: the answer has no valid Date header",
                     detail={"date": probe.date})
    skew = server - local  # positive: this machine is behind the server
    # The Date header has whole seconds: a skew under a second is none.
    shown = f"{abs(skew):.0f} s {'behind' if skew > 0 else 'ahead of'} the server"
    detail = {"skew_seconds": round(skew, 1), "server_date": probe.date}
    if abs(skew) < 2:
        return Check("clock", Status.OK, "in step with the server", detail=detail)
    if abs(skew) >= SKEW_FAIL:
        return fail("clock", f"this clock is {shown}: webhook signatures will be refused "
                    "as stale", "Set the clock (enable NTP, e.g. timedatectl set-ntp true)",
                    ExitCode.WEBHOOK, **detail)
    status = Status.WARN if abs(skew) >= SKEW_WARN else Status.OK
    return Check("clock", status, f"this clock is {shown}",
                 "Set the clock (enable NTP)" if status is Status.WARN else None, detail=detail)
