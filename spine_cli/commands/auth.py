"""`spine auth`: log in (store a key), show the key in use, log out.

The key is never taken from argv (it would land in shell history and process
lists): a hidden prompt on a terminal, or stdin with `--with-key`.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spine_cli.commands.options import JsonOpt, ProfileOpt
from spine_cli.commands.shared import command, invocation
from spine_cli.context import Invocation
from spine_cli.errors import (AuthenticationError, ConfigError, MissingKeyError, NotFoundError,
                              SpineError, UsageError)

if TYPE_CHECKING:
    from spine_cli.local.settings import Settings

app = typer.Typer(help="Log in with an API key, check it, log out.", no_args_is_help=True)

# The API has no "whoami": an authenticated GET of a run that cannot exist
# answers 404 when the key is accepted and 401 when it is not.
PROBE_RUN_ID = "00000000-0000-4000-8000-000000000000"

QuietOpt = Annotated[bool, typer.Option("-q", "--quiet", help="Print nothing but errors.")]
NoVerifyOpt = Annotated[bool, typer.Option(
    "--no-verify", help="Do not ask the API whether it accepts the key.")]


def verify_key(inv: Invocation, settings: "Settings") -> bool:
    """True when the API accepts settings' key; AuthenticationError when it refuses it."""
    with inv.client(settings) as client:
        try:
            client.get_run(PROBE_RUN_ID)
        except NotFoundError:
            pass  # only an accepted key gets as far as the run lookup
    return True


def _read_key(inv: Invocation, with_key: bool, profile_flag: str) -> str:
    if with_key:
        key = sys.stdin.read(4096).strip()
        if not key:
            raise UsageError("No key on stdin.",
                             hint=f'Pipe it: echo "$KEY" | spine auth login --with-key{profile_flag}')
        return key
    if not inv.mode.interactive:
        raise UsageError(
            "Cannot prompt for the API key: " + ("CI is set." if inv.mode.ci
                                                  else "stdin is not a terminal."),
            hint=f'Pipe the key instead: echo "$KEY" | spine auth login --with-key{profile_flag}',
        )
    return str(typer.prompt("Spine API key", hide_input=True, err=True)).strip()


def _check_format(key: str) -> None:
    from spine_cli.local.values import KEY_PREFIX, check_api_key

    try:
        check_api_key(key)
    except ValueError as exc:
        raise ConfigError(f"That is not a Spine API key ({exc}); nothing was saved.",
                          hint=f"Copy the whole key, {KEY_PREFIX}…, from the Spine developer settings.") from None


def _store_key(inv: Invocation, profile: str, key: str, base_url: str | None) -> None:
    from spine_cli.local.config_file import update_config
    from spine_cli.local.settings import config_path

    def mutate(cfg: dict[str, Any]) -> None:
        table = cfg.setdefault("profiles", {}).setdefault(profile, {})
        table["api_key"] = key
        if base_url:
            table["base_url"] = base_url

    update_config(config_path(), mutate, inv.output.warn)


def _note_env_override(inv: Invocation) -> None:
    if os.environ.get("SPINE_API_KEY", "").strip():
        inv.output.info("Note: SPINE_API_KEY is set in the environment and is used before "
                        "any stored key.")


@app.command("login")
@command
def auth_login(
    ctx: typer.Context,
    profile: ProfileOpt = None,
    with_key: Annotated[bool, typer.Option("--with-key", help="Read the key from stdin (for pipes and scripts).")] = False,
    no_verify: NoVerifyOpt = False,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Store an API key for a profile, once the API has accepted it.

    The key comes from a hidden prompt on a terminal, or from stdin with
    --with-key; never from the command line. A key the API rejects is not
    saved (exit 4). A --base-url given with login is stored in the profile too.

    Examples:

        spine auth login

        echo "$SPINE_KEY" | spine auth login --with-key --profile ci

        spine --base-url http://127.0.0.1:8787 auth login --profile local
    """
    from spine_cli.local.settings import SourceKind, check_profile_name, config_path, mask_key

    inv = invocation(ctx, json_=json_, quiet=quiet)
    settings = inv.settings_for(profile, allow_new_profile=True)
    check_profile_name(settings.profile)
    profile_flag = f" --profile {settings.profile}" if settings.profile != "default" else ""
    key = _read_key(inv, with_key, profile_flag)
    _check_format(key)
    candidate = dataclasses.replace(settings, api_key=key)
    if not no_verify:
        _verify_new_key(inv, candidate, profile_flag, with_key)
    # The base URL in use is stored with the key when it came from a flag or the environment:
    # a key for the emulator or staging must not be sent to production later.
    store_url = settings.base_url if settings.sources["base_url"].kind in (
        SourceKind.FLAG, SourceKind.ENV) else None
    _store_key(inv, settings.profile, key, store_url)
    summary = {"profile": settings.profile, "base_url": settings.base_url,
               "api_key": mask_key(key), "verified": not no_verify,
               "config_file": str(config_path())}
    stored = f" (base URL {store_url} stored with it)" if store_url else ""
    _emit(inv, summary, f"Logged in: profile '{settings.profile}', key {mask_key(key)}, "
          f"{settings.base_url}{'' if no_verify else ' (key accepted)'}.\n"
          f"Saved in {config_path()}{stored}.")
    _note_env_override(inv)


def _verify_new_key(inv: Invocation, candidate: "Settings", profile_flag: str,
                    with_key: bool) -> None:
    try:
        verify_key(inv, candidate)
    except AuthenticationError as exc:
        raise AuthenticationError(
            f"The API at {candidate.base_url} rejected this key ({exc.message}); it was not "
            "saved.", exc.status_code or 401, exc.request_id,
            hint="Check you copied the whole key, and that it has not been revoked.") from None
    except SpineError as exc:
        again = (f'echo "$KEY" | spine auth login --with-key{profile_flag} --no-verify'
                 if with_key else f"spine auth login{profile_flag} --no-verify")
        exc.hint = f"The key could not be checked; nothing was saved. Save it unchecked: {again}"
        raise


def _emit(inv: Invocation, doc: dict[str, Any], message: str) -> None:
    """JSON on stdout, or a confirmation on stderr (nothing with -q)."""
    inv.output.show(json=doc, human=lambda: inv.output.info(message))


@app.command("status")
@command
def auth_status(
    ctx: typer.Context,
    profile: ProfileOpt = None,
    no_verify: NoVerifyOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Show the profile, base URL and key in use, and whether the API accepts the key.

    Exits 4 when there is no key or the API rejects it.

    Examples:

        spine auth status

        spine auth status --profile staging --json
    """
    from spine_cli.local.settings import SourceKind, config_path, mask_key

    inv = invocation(ctx, json_=json_)
    settings = inv.settings_for(profile)
    src = settings.sources
    doc: dict[str, Any] = {
        "profile": settings.profile, "profile_source": str(src["profile"]),
        "base_url": settings.base_url, "base_url_source": str(src["base_url"]),
        "api_key": mask_key(settings.api_key) if settings.api_key else None,
        "api_key_source": str(src.get("api_key", "none")),
        "accepted": None, "config_file": str(config_path()),
    }
    error: SpineError | None = None
    if settings.api_key and not no_verify:
        try:
            doc["accepted"] = verify_key(inv, settings)
        except AuthenticationError as exc:
            doc["accepted"] = False
            error = AuthenticationError(
                f"The API at {settings.base_url} rejects the key from {doc['api_key_source']} "
                f"({exc.message}).", exc.status_code or 401, exc.request_id,
                hint=f"Log in again: `spine auth login{_profile_flag(settings)}`" + (
                    ", and unset SPINE_API_KEY." if src["api_key"].kind is SourceKind.ENV
                    else "."))
        except SpineError as exc:  # unreachable or failing API: show what is known, then fail
            error = exc
    _print_status(inv, doc)
    if not settings.api_key:
        raise MissingKeyError(settings.profile)
    if error:
        raise error


def _profile_flag(settings: "Settings") -> str:
    return f" --profile {settings.profile}" if settings.profile != "default" else ""


def _print_status(inv: Invocation, doc: dict[str, Any]) -> None:
    out = inv.output
    if out.json:
        out.document(doc)
        return
    verdict = {True: "accepted", False: "REJECTED", None: "not checked"}[doc["accepted"]]
    rows = [
        ("profile", f"{doc['profile']}  ({doc['profile_source']})"),
        ("base URL", f"{doc['base_url']}  ({doc['base_url_source']})"),
        ("API key", f"{doc['api_key'] or '(none)'}  ({doc['api_key_source']})"),
        ("key check", verdict if doc["api_key"] else "-"),
    ]
    for label, value in rows:
        out.data(f"{label:<10} {value}")


@app.command("logout")
@command
def auth_logout(
    ctx: typer.Context,
    profile: ProfileOpt = None,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Remove the stored API key of a profile from config.toml.

    The profile's other settings stay. A key in SPINE_API_KEY is not affected.

    Examples:

        spine auth logout

        spine auth logout --profile staging
    """
    from spine_cli.local.config_file import update_config
    from spine_cli.local.settings import config_path, resolve_profile

    inv = invocation(ctx, json_=json_, quiet=quiet)

    # The raw file, not the validated one: logout must work to remove a bad key.
    def mutate(cfg: dict[str, Any]) -> tuple[str, bool]:
        name, _ = resolve_profile(profile or inv.flags.profile, cfg)
        profiles = cfg.get("profiles")
        table = profiles.get(name) if isinstance(profiles, dict) else None
        return name, isinstance(table, dict) and table.pop("api_key", None) is not None

    path = config_path()
    name, removed = update_config(path, mutate, inv.output.warn) if path.exists() else mutate({})
    message = (f"Removed the stored key of profile '{name}' from {path}." if removed
               else f"No key is stored for profile '{name}'; nothing to do.")
    _emit(inv, {"profile": name, "removed": bool(removed)}, message)
    _note_env_override(inv)
