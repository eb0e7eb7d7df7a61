"""`spine config`: read and change config.toml.

KEY is a profile setting (see `spine_cli.local.values.PROFILE_KEYS`), read from and
written to the active profile, or `default_profile` (top level). `get` and
`list` show the effective value, after flags and environment; `set` and
`unset` change the file only. The API key is never accepted here from argv;
a webhook secret is, or from stdin with `-`. Both are only ever shown masked.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spine_cli.commands.options import JsonOpt, ProfileOpt
from spine_cli.commands.shared import command, invocation
from spine_cli.context import Invocation
from spine_cli.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from spine_cli.local.settings import Settings

app = typer.Typer(help="Show and change settings in config.toml.", no_args_is_help=True)

KeyArg = Annotated[str, typer.Argument(help="Setting name, e.g. base_url, template, default_profile.",
                                       show_default=False)]


def _known_keys() -> list[str]:
    from spine_cli.local.values import PROFILE_KEYS

    return ["profile", "default_profile", *PROFILE_KEYS]


def _check_key(key: str) -> None:
    if key not in _known_keys():
        raise UsageError(f"Unknown setting {key!r}.",
                         hint="Known settings: " + ", ".join(_known_keys()) + ".")


def _effective(inv: Invocation, profile: str | None,
               cfg: dict[str, Any]) -> "tuple[Settings, dict[str, Any], dict[str, str]]":
    """(settings, values, origins) with the key masked."""
    from spine_cli.local.settings import config_path, mask_secret
    from spine_cli.local.values import SECRET_KEYS

    settings = inv.settings_for(profile, cfg=cfg)
    values: dict[str, Any] = {"profile": settings.profile}
    origins = {"profile": str(settings.sources["profile"])}
    if "default_profile" in cfg:
        values["default_profile"] = cfg["default_profile"]
        origins["default_profile"] = str(config_path())
    values["api_key"] = settings.api_key
    values["base_url"] = settings.base_url
    for key, value in settings.profile_values.items():
        if key not in ("api_key", "base_url"):
            values[key] = value
    for key in SECRET_KEYS:
        if values.get(key):
            values[key] = mask_secret(key, str(values[key]))
    for key in values:
        origins.setdefault(key, str(settings.sources.get(key, "none")))
    return settings, values, origins


@app.command("list")
@command
def config_list(
    ctx: typer.Context,
    show_origin: Annotated[bool, typer.Option("--show-origin", help="Show where each value comes from.")] = False,
    profile: ProfileOpt = None,
    json_: JsonOpt = False,
) -> None:
    """List the effective settings of the active profile (key masked).

    Examples:

        spine config list

        spine config list --show-origin

        spine --profile staging config list --json
    """
    from spine_cli.local.settings import load_config

    inv = invocation(ctx, json_=json_)
    cfg = load_config(inv.output.warn)
    _, values, origins = _effective(inv, profile, cfg)
    profiles = sorted(cfg.get("profiles", {}))
    out = inv.output
    if out.json:
        out.document({"profile": values["profile"], "profiles": profiles,
                      "settings": values, "origins": origins})
        return
    width = max(len(k) for k in values)
    for key, value in values.items():
        line = f"{key:<{width}} = {_show(value)}"
        out.data(f"{line:<{width + 40}}  ({origins[key]})" if show_origin else line)
    out.data(f"{'profiles':<{width}} = {', '.join(profiles) or '(none in config.toml)'}")


def _show(value: Any) -> str:
    return "(none)" if value is None else str(value)


@app.command("get")
@command
def config_get(ctx: typer.Context, key: KeyArg, profile: ProfileOpt = None, json_: JsonOpt = False) -> None:
    """Print the effective value of one setting (exit 4 when it is not set).

    Examples:

        spine config get base_url

        spine --profile staging config get template
    """
    from spine_cli.local.settings import load_config

    inv = invocation(ctx, json_=json_)
    _check_key(key)
    settings, values, origins = _effective(inv, profile, load_config(inv.output.warn))
    if values.get(key) is None:
        raise ConfigError(f"{key} is not set for profile '{settings.profile}'.",
                          hint=_set_hint(key))
    inv.output.show(json={"key": key, "value": values[key], "origin": origins[key]},
                    human=lambda: inv.output.data(_show(values[key])),
                    quiet=[_show(values[key])])


def _set_hint(key: str) -> str:
    if key == "api_key":
        return "Store one with `spine auth login`, or set SPINE_API_KEY."
    return f"Set it with `spine config set {key} VALUE`."


def _validated(key: str, value: str, cfg: dict[str, Any]) -> Any:
    from spine_cli.local.settings import DEFAULT_PROFILE
    from spine_cli.local.values import PROFILE_KEYS

    if key == "api_key":
        raise UsageError("The API key is never taken from the command line (it would stay in "
                         "your shell history).",
                         hint='Use `spine auth login`, or `echo "$KEY" | spine auth login --with-key`.')
    if key == "profile":
        raise UsageError("'profile' is chosen per invocation; set 'default_profile' instead.",
                         hint="spine config set default_profile NAME")
    if key == "default_profile":
        if value != DEFAULT_PROFILE and value not in cfg.get("profiles", {}):
            raise UsageError(f"There is no profile '{value}' in the config file.",
                             hint=f"Create it first, e.g. `spine auth login --profile {value}`.")
        return value
    if key == "webhook_secret" and value == "-":
        value = _read_stdin_secret()
    try:
        return PROFILE_KEYS[key][0](value)
    except ValueError as exc:
        raise UsageError(f"Invalid value for {key}: {exc}.") from None


def _read_stdin_secret() -> str:
    """One line from stdin (so the secret stays out of shell history and process lists)."""
    if sys.stdin is None or sys.stdin.closed:
        raise UsageError("No webhook secret on stdin.")
    return sys.stdin.readline().strip()


def _target_profile(profile: str | None, inv: Invocation, cfg: dict[str, Any]) -> str:
    from spine_cli.local.settings import check_profile_name, resolve_profile

    return check_profile_name(resolve_profile(profile or inv.flags.profile, cfg)[0])


# A VALUE may look like an option (`-3`): it must reach the validator, not Click.
@app.command("set", context_settings={"ignore_unknown_options": True})
@command
def config_set(
    ctx: typer.Context,
    key: KeyArg,
    value: Annotated[str, typer.Argument(help="New value.", show_default=False)],
    profile: ProfileOpt = None,
) -> None:
    """Set a setting in the active profile (created if new) or default_profile.

    The API key cannot be set here: use `spine auth login`. A VALUE of - reads a
    webhook_secret from stdin (kept out of shell history); secrets are shown masked.

    Examples:

        spine config set template report

        echo "$WHSEC" | spine config set webhook_secret -

        spine --profile local config set base_url http://127.0.0.1:8787

        spine config set default_profile local
    """
    from spine_cli.local.config_file import read_config, update_config
    from spine_cli.local.settings import config_path, mask_secret
    from spine_cli.local.values import SECRET_KEYS

    inv = invocation(ctx)
    _check_key(key)
    path = config_path()

    def mutate(cfg: dict[str, Any]) -> str:
        checked = _validated(key, value, cfg)
        if key == "default_profile":
            cfg["default_profile"] = checked
            return "the top level"
        name = _target_profile(profile, inv, cfg)
        cfg.setdefault("profiles", {}).setdefault(name, {})[key] = checked
        return f"profile '{name}'"

    checked = _validated(key, value, read_config(path))  # fail before locking or creating files
    value = str(checked)  # stdin is read once: mutate() validates the value read here
    where = update_config(path, mutate, inv.output.warn)
    shown = mask_secret(key, value) if key in SECRET_KEYS else value
    inv.output.info(f"Set {key} = {shown} in {where} ({path}).")


@app.command("unset")
@command
def config_unset(ctx: typer.Context, key: KeyArg, profile: ProfileOpt = None) -> None:
    """Remove a setting from the active profile (or default_profile) in config.toml.

    Examples:

        spine config unset template

        spine --profile staging config unset base_url
    """
    from spine_cli.local.config_file import update_config
    from spine_cli.local.settings import config_path

    inv = invocation(ctx)
    _check_key(key)
    if key == "profile":
        raise UsageError("'profile' is not stored; unset 'default_profile' instead.")
    path = config_path()

    def mutate(cfg: dict[str, Any]) -> str | None:
        if key == "default_profile":
            return "the top level" if cfg.pop("default_profile", None) is not None else None
        name = _target_profile(profile, inv, cfg)
        table = cfg.get("profiles", {}).get(name)
        if isinstance(table, dict) and table.pop(key, None) is not None:
            return f"profile '{name}'"
        return None

    where = update_config(path, mutate, inv.output.warn) if path.exists() else None
    inv.output.info(f"Removed {key} from {where} ({path})." if where
                    else f"{key} was not set in the config file; nothing to do.")


@app.command("path")
@command
def config_path_cmd(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Print the path of config.toml (and, with --json, the data directory too).

    Examples:

        spine config path

        "$EDITOR" "$(spine config path)"
    """
    from spine_cli.local.history import history_path
    from spine_cli.local.settings import config_dir, config_path, data_dir

    inv = invocation(ctx, json_=json_)
    inv.output.show(json={"config_file": str(config_path()), "config_dir": str(config_dir()),
                          "data_dir": str(data_dir()), "history": str(history_path())},
                    human=lambda: inv.output.data(str(config_path())),
                    quiet=[str(config_path())])
