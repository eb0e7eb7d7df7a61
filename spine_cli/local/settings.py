"""Settings: where each value comes from.

Precedence, highest first:

    command-line flag  >  environment  >  active profile in config.toml  >  default

| setting   | flag          | environment      | config.toml key       | default                   |
|-----------|---------------|------------------|-----------------------|---------------------------|
| profile   | --profile     | SPINE_PROFILE    | `default_profile`     | "default"                 |
| api key   | (never argv)  | SPINE_API_KEY    | profiles.P.api_key    | none → exit 4             |
| base URL  | --base-url    | SPINE_BASE_URL   | profiles.P.base_url   | https://api.getspine.ai   |
| webhook secret (`spine webhook …`) | --secret | SPINE_WEBHOOK_SECRET | profiles.P.webhook_secret | none → exit 4 |

A profile may also hold defaults for commands that take the matching option
(`PROFILE_KEYS` below: template, poll_interval, max_outage, timeout,
download_dir, webhook_secret); `Settings.value(key)` returns them,
`Settings.sources` says where every resolved value came from.
Secrets (`SECRET_KEYS`) are only ever shown masked.

SPINE_CONFIG_DIR relocates the config directory (default: platformdirs' user
config dir for "spine"); SPINE_DATA_DIR the data directory (history, emulator
state). Nothing here is read at import time.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Callable

from spine_cli.errors import ConfigError, MissingKeyError
from spine_cli.local.values import KEY_PREFIX, PROFILE_KEYS, WEBHOOK_SECRET_PREFIX

DEFAULT_BASE_URL = "https://api.getspine.ai"
DEFAULT_PROFILE = "default"
_PROFILE_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def config_dir() -> Path:
    env = os.environ.get("SPINE_CONFIG_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("spine", appauthor=False))


def data_dir() -> Path:
    env = os.environ.get("SPINE_DATA_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("spine", appauthor=False))


def config_path() -> Path:
    return config_dir() / "config.toml"


def mask_key(key: str | None) -> str:
    """`sk_spine_…abcd`: enough to tell keys apart, never enough to use one."""
    if not key:
        return "(none)"
    tail = key[-4:] if len(key) > len(KEY_PREFIX) + 8 else ""
    head = KEY_PREFIX if key.startswith(KEY_PREFIX) else ""
    return f"{head}…{tail}"


def mask_secret(key: str, value: str | None) -> str:
    """A profile value of a secret key, masked; `whsec_…abcd` for a webhook secret."""
    if key == "api_key" or not value:
        return mask_key(value)
    tail = value[-4:] if len(value) > len(WEBHOOK_SECRET_PREFIX) + 8 else ""
    head = WEBHOOK_SECRET_PREFIX if value.startswith(WEBHOOK_SECRET_PREFIX) else ""
    return f"{head}…{tail}"


def canonical_base_url(url: str) -> str:
    """The base URL without trailing slashes or `/v1`, so equal hosts compare equal."""
    url = url.strip().rstrip("/")
    if url.endswith("/v1"):
        url = url[: -len("/v1")].rstrip("/")
    return url


def check_profile_name(name: str) -> str:
    if not _PROFILE_NAME_RE.match(name):
        raise ConfigError(f"Invalid profile name {name!r}: use letters, digits, '-' and '_'.")
    return name


def load_config(warn: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The parsed and validated config.toml ({} when absent)."""
    from spine_cli.local.config_file import read_config

    path = config_path()
    cfg = read_config(path, warn)
    _validate(cfg, path)
    return cfg


def _validate(cfg: dict[str, Any], path: Path) -> None:
    from spine_cli.local.config_file import find_key_line, malformed

    def fail(table: str | None, key: str, problem: str) -> None:
        raise malformed(path, problem, find_key_line(path, table, key), _read_text(path))

    if "default_profile" in cfg and not isinstance(cfg["default_profile"], str):
        fail(None, "default_profile", "'default_profile' must be a string")
    profiles = cfg.get("profiles", {})
    if not isinstance(profiles, dict):
        fail(None, "profiles", "'profiles' must be a table of [profiles.NAME] tables")
    for name, table in profiles.items():
        if not isinstance(table, dict):
            fail("profiles", name, f"profiles.{name} must be a table")
        for key, value in table.items():
            if key not in PROFILE_KEYS:
                continue  # unknown keys are tolerated: a newer spine may have written them
            try:
                PROFILE_KEYS[key][0](value)
            except ValueError as exc:
                fail(f"profiles.{name}", key, f"profiles.{name}.{key}: {exc}")


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


class SourceKind(Enum):
    """Where a resolved setting came from, highest precedence first."""

    FLAG = "flag"
    ENV = "env"
    PROFILE = "profile"      # a [profiles.NAME] table of config.toml
    CONFIG = "config"        # the top level of config.toml (default_profile)
    DEFAULT = "default"
    NONE = "none"


@dataclass(frozen=True)
class Source:
    kind: SourceKind
    where: str = ""  # the flag, the variable or the file

    def __str__(self) -> str:
        if self.kind in (SourceKind.DEFAULT, SourceKind.NONE):
            return str(self.kind.value)
        if self.kind is SourceKind.CONFIG:
            return f"default_profile in {self.where}"
        return f"{self.kind.value} {self.where}"


@dataclass
class Settings:
    profile: str
    api_key: str | None = field(repr=False)  # a repr ends up in logs and bug reports
    base_url: str
    sources: dict[str, Source] = field(default_factory=dict)
    profile_values: dict[str, Any] = field(default_factory=dict, repr=False)  # may hold the key

    def require_key(self) -> str:
        if not self.api_key:
            raise MissingKeyError(self.profile)
        return self.api_key

    def value(self, key: str, default: Any = None) -> Any:
        """A profile default such as `template` (None/default when unset)."""
        return self.profile_values.get(key, default)


def resolve_profile(profile_flag: str | None, cfg: dict[str, Any]) -> tuple[str, Source]:
    """The active profile name and where it came from."""
    if profile_flag:
        return profile_flag, Source(SourceKind.FLAG, "--profile")
    if os.environ.get("SPINE_PROFILE"):
        return os.environ["SPINE_PROFILE"], Source(SourceKind.ENV, "SPINE_PROFILE")
    if cfg.get("default_profile"):
        return str(cfg["default_profile"]), Source(SourceKind.CONFIG, str(config_path()))
    return DEFAULT_PROFILE, Source(SourceKind.DEFAULT)


def load_settings(profile_flag: str | None = None, base_url_flag: str | None = None,
                  *, allow_new_profile: bool = False,
                  cfg: dict[str, Any] | None = None,
                  warn: Callable[[str], None] | None = None) -> Settings:
    """Resolve every setting with its source.

    `allow_new_profile` is for commands that create a profile (`auth login`,
    `config set`): an explicit profile missing from the file is then empty
    rather than an error. `cfg` is a `load_config()` result the caller
    already holds, so config.toml is read once per command.
    """
    if cfg is None:
        cfg = load_config(warn)
    profile, profile_source = resolve_profile(profile_flag, cfg)
    sources: dict[str, Source] = {"profile": profile_source}
    profiles = cfg.get("profiles", {})
    if profile not in profiles and profile != DEFAULT_PROFILE and not allow_new_profile:
        known = ", ".join(sorted(profiles)) or "none"
        raise ConfigError(
            f"Unknown profile '{profile}' (from {profile_source}) in {config_path()}; "
            f"known profiles: {known}.",
            hint=f"Create it with `spine auth login --profile {profile}`, or pick another.",
        )
    pvals = dict(profiles.get(profile, {}) or {})
    where = Source(SourceKind.PROFILE, f"{profile} in {config_path()}")
    for key in pvals:
        sources[key] = where

    api_key = os.environ.get("SPINE_API_KEY", "").strip() or None
    if api_key:
        sources["api_key"] = Source(SourceKind.ENV, "SPINE_API_KEY")
    elif pvals.get("api_key"):
        api_key = str(pvals["api_key"])
    else:
        sources["api_key"] = Source(SourceKind.NONE)

    if base_url_flag:
        base_url, sources["base_url"] = base_url_flag, Source(SourceKind.FLAG, "--base-url")
    elif os.environ.get("SPINE_BASE_URL"):
        base_url = os.environ["SPINE_BASE_URL"]
        sources["base_url"] = Source(SourceKind.ENV, "SPINE_BASE_URL")
    elif pvals.get("base_url"):
        base_url = str(pvals["base_url"])
    else:
        base_url, sources["base_url"] = DEFAULT_BASE_URL, Source(SourceKind.DEFAULT)

    return Settings(profile, api_key, base_url, sources, pvals)
