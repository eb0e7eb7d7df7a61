"""The values a profile may hold: their validators and the duration syntax.

Used for config.toml (every value is checked when the file is read, with the
line at fault) and for `spine config set`. Durations (`--timeout`,
`--max-outage`, profile `timeout`/`max_outage`) accept `90`, `90s`, `15m`,
`2h`, `1h30m`; `nan`, `inf`, zero and negative values are refused.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable

from spine_cli.api import catalog
from spine_cli.api.catalog import TEMPLATES

KEY_PREFIX = catalog.KEY_PREFIX
WEBHOOK_SECRET_PREFIX = "whsec_"
SECRET_KEYS = ("api_key", "webhook_secret")  # only ever shown masked
_DURATION_RE = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")


def check_api_key(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith(KEY_PREFIX) or len(value) <= len(KEY_PREFIX):
        raise ValueError(f"an API key starts with {KEY_PREFIX}")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError("an API key holds no spaces or control characters")
    return value


def check_webhook_secret(value: Any) -> str:
    """A whsec_… signing secret (the message never repeats the value)."""
    prefix = WEBHOOK_SECRET_PREFIX
    if not isinstance(value, str) or not value.startswith(prefix) or len(value) <= len(prefix):
        raise ValueError(f"a webhook signing secret starts with {prefix}")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError("a webhook signing secret holds no spaces or control characters")
    return value


def check_base_url(value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/]+", value):
        raise ValueError("expected an http:// or https:// URL")
    return value


def check_template(value: Any) -> str:
    if value not in TEMPLATES:
        raise ValueError(f"expected one of {', '.join(TEMPLATES)}")
    return str(value)


def check_seconds(value: Any) -> float | int:
    number = value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise ValueError("expected a number of seconds") from None
    if isinstance(number, bool) or not isinstance(number, (int, float)) \
            or not math.isfinite(number) or number <= 0:
        raise ValueError("expected a positive, finite number of seconds")
    return int(number) if float(number).is_integer() else float(number)


def check_duration(value: Any) -> str | int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, float) and math.isfinite(value) and value > 0:
        return int(value) if value.is_integer() else value  # type: ignore[return-value]
    if isinstance(value, str):
        try:
            parse_duration(value)
            return value.strip()
        except ValueError:
            pass
    raise ValueError("expected a duration such as 90, 90s, 15m, 2h or 1h30m")


def parse_duration(text: str) -> float:
    """`90`, `90s`, `15m`, `2h`, `1h30m` → seconds. Raises ValueError."""
    value = text.strip().lower()
    if not value:
        raise ValueError("empty duration")
    try:
        seconds = float(value)
    except ValueError:
        match = _DURATION_RE.match(value)
        if not match or not any(match.groups()):
            raise ValueError(f"invalid duration {text!r} (use e.g. 90, 90s, 15m, 2h, 1h30m)")
        hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"duration must be positive and finite, got {text!r}")
    return seconds


def check_path(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a directory path")
    return value


# Keys a [profiles.NAME] table may hold: name -> (validator, help).
PROFILE_KEYS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "api_key": (check_api_key, "API key (stored by `spine auth login`, shown masked)"),
    "base_url": (check_base_url, "API base URL"),
    "template": (check_template, "default --template for `run create`"),
    "poll_interval": (check_seconds, "default --poll-interval, seconds"),
    "max_outage": (check_duration, "default --max-outage for waits"),
    "timeout": (check_duration, "default --timeout for waits"),
    "download_dir": (check_path, "default -d directory for `run download`"),
    "webhook_secret": (check_webhook_secret, "whsec_… secret for `spine webhook` (shown masked)"),
}
