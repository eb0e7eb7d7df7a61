"""Hints keep the flags they depend on: a suggested `spine auth …` names the profile and
the --base-url in use, `auth login --with-key` against an unreachable API says how to
save unchecked, and a VALUE that looks like an option still reaches the validator."""

from __future__ import annotations

import socket

from support.cli import spine
from support.liar import fail

KEY = "sk_spine_hinttests_1234"


def dead_url() -> str:
    """A loopback URL nothing listens on (a port that was just free)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_missing_key_hint_names_the_profile(isolated_env):
    assert spine("config", "set", "template", "memo", "--profile", "staging").exit_code == 0
    out = spine("--profile", "staging", "run", "get", "3f2a1b4c-0000-4000-8000-000000000000")
    assert out.exit_code == 4, out
    assert out.stdout == ""
    assert "No API key configured for profile 'staging'." in out.stderr
    assert "run `spine auth login --profile staging`" in out.stderr


def test_missing_key_hint_of_the_default_profile_has_no_flag(isolated_env):
    out = spine("run", "get", "3f2a1b4c-0000-4000-8000-000000000000")
    assert out.exit_code == 4, out
    assert "run `spine auth login`." in out.stderr


def test_a_rejected_key_hint_names_the_profile_and_base_url(liar, monkeypatch):
    liar.always("GET", "/v1/run/*", fail(401, "Invalid API key"))
    monkeypatch.setenv("SPINE_API_KEY", KEY)
    monkeypatch.setenv("SPINE_PROFILE", "ci")
    assert spine("config", "set", "template", "memo").exit_code == 0  # makes profile 'ci'
    out = spine("--base-url", liar.base_url, "run", "get",
                "3f2a1b4c-0000-4000-8000-000000000000")
    assert out.exit_code == 4, out
    assert out.stdout == ""
    assert f"`spine --base-url {liar.base_url} auth status --profile ci`" in out.stderr


def test_login_with_key_against_an_unreachable_api_says_no_verify(isolated_env):
    url = dead_url()
    out = spine("--base-url", url, "auth", "login", "--with-key", "--profile", "stg",
                input=KEY + "\n")
    assert out.exit_code == 8, out
    assert out.stdout == ""
    assert "Cannot reach the Spine API" in out.stderr
    assert (f'echo "$KEY" | spine --base-url {url} auth login --with-key --profile stg '
            "--no-verify") in out.stderr
    assert not (isolated_env["config_dir"] / "config.toml").exists()
    # ...and the suggested command does work, offline.
    saved = spine("--base-url", url, "auth", "login", "--with-key", "--profile", "stg",
                  "--no-verify", input=KEY + "\n")
    assert saved.exit_code == 0, saved
    assert "stg" in (isolated_env["config_dir"] / "config.toml").read_text()


def test_config_set_takes_a_negative_number_as_a_value_and_refuses_it(isolated_env):
    out = spine("config", "set", "poll_interval", "-3")
    assert out.exit_code == 2, out
    assert out.stdout == ""
    assert "Invalid value for poll_interval: expected a positive" in out.stderr
    assert "No such option" not in out.stderr
    assert not (isolated_env["config_dir"] / "config.toml").exists()
