"""Settings: where each value comes from.

Precedence, highest first:

    command-line flag  >  environment  >  active profile in config.toml  >  default

| setting   | flag          | environment      | config.toml key       | default                   |
|-----------|---------------|------------------|-----------------------|---------------------------|
| profile   | --profile     | SPINE_PROFILE    | `default_profile`     | "default"                 |
| api key   | (never argv)  | SPINE_API_KEY    | profiles.P.api_key    | none → exit 4             |
| base URL  | --base-url    | SPINE_BASE_URL   | profiles.P.base_url   | https://api.getspine.ai   |

SPINE_CONFIG_DIR relocates the config directory (default: platformdirs' user
config dir for "spine"); SPINE_DATA_DIR the data directory (history, emulator
state). Nothing here is read at import time.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spine_cli.errors import ConfigError, MissingKeyError

DEFAULT_BASE_URL = "https://api.getspine.ai"
DEFAULT_PROFILE = "default"
KEY_PREFIX = "sk_spine_"


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


def _load_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Malformed config file {path}: {exc}",
                          hint=f"Fix or remove {path}.") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc.strerror}") from None


def load_config() -> dict[str, Any]:
    """The parsed config.toml ({} when absent)."""
    return _load_toml(config_path())


@dataclass
class Settings:
    profile: str
    api_key: str | None
    base_url: str
    sources: dict[str, str] = field(default_factory=dict)
    profile_values: dict[str, Any] = field(default_factory=dict)

    def require_key(self) -> str:
        if not self.api_key:
            raise MissingKeyError(self.profile)
        return self.api_key


def load_settings(profile_flag: str | None = None, base_url_flag: str | None = None) -> Settings:
    """Resolve every setting with its source."""
    cfg = load_config()
    sources: dict[str, str] = {}
    if profile_flag:
        profile, sources["profile"] = profile_flag, "flag --profile"
    elif os.environ.get("SPINE_PROFILE"):
        profile, sources["profile"] = os.environ["SPINE_PROFILE"], "env SPINE_PROFILE"
    elif cfg.get("default_profile"):
        profile, sources["profile"] = str(cfg["default_profile"]), f"config {config_path()}"
    else:
        profile, sources["profile"] = DEFAULT_PROFILE, "default"
    profiles = cfg.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(f"Malformed config file {config_path()}: 'profiles' must be a table")
    explicit = sources["profile"] != "default"
    if profile not in profiles and explicit and profile != DEFAULT_PROFILE:
        raise ConfigError(
            f"Unknown profile '{profile}' in {config_path()}.",
            hint="List profiles with `spine config list`, or create one with "
            f"`spine auth login --profile {profile}`.",
        )
    pvals = profiles.get(profile, {}) or {}
    where = f"profile {profile} ({config_path()})"

    api_key = os.environ.get("SPINE_API_KEY") or None
    if api_key:
        sources["api_key"] = "env SPINE_API_KEY"
    elif pvals.get("api_key"):
        api_key, sources["api_key"] = str(pvals["api_key"]), where
    else:
        sources["api_key"] = "none"

    if base_url_flag:
        base_url, sources["base_url"] = base_url_flag, "flag --base-url"
    elif os.environ.get("SPINE_BASE_URL"):
        base_url, sources["base_url"] = os.environ["SPINE_BASE_URL"], "env SPINE_BASE_URL"
    elif pvals.get("base_url"):
        base_url, sources["base_url"] = str(pvals["base_url"]), where
    else:
        base_url, sources["base_url"] = DEFAULT_BASE_URL, "default"

    return Settings(profile, api_key, base_url, sources, dict(pvals))
