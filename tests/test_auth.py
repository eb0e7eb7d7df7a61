"""`spine auth login | status | logout` without a server (key input, storage, masking)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from spine_cli.app import app

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KEY = "sk_spine_offlinetests_7f3a"


def spine(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input)


def stored(isolated_env) -> dict:
    path = isolated_env["config_dir"] / "config.toml"
    return tomllib.loads(path.read_text()) if path.exists() else {}


def test_login_from_stdin_stores_the_key_masked_in_output(isolated_env):
    result = spine("auth", "login", "--with-key", "--no-verify", "--profile", "ci", input=KEY + "\n")
    assert result.exit_code == 0, result.output
    assert stored(isolated_env) == {"profiles": {"ci": {"api_key": KEY}}}
    assert "profile 'ci'" in result.stderr and "sk_spine_…7f3a" in result.stderr
    assert KEY not in result.output and result.stdout == ""


def test_login_stores_a_base_url_given_as_a_flag(isolated_env):
    result = spine("--base-url", "http://127.0.0.1:8765", "auth", "login", "--with-key",
                   "--no-verify", "--json", input=KEY)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["profile"] == "default" and doc["api_key"] == "sk_spine_…7f3a"
    assert stored(isolated_env)["profiles"]["default"] == {"api_key": KEY,
                                                           "base_url": "http://127.0.0.1:8765"}


@pytest.mark.parametrize("bad", ["", "not-a-key", "sk_spine_", "sk_spine_has space"])
def test_login_rejects_what_is_not_a_key_and_saves_nothing(isolated_env, bad):
    result = spine("auth", "login", "--with-key", "--no-verify", input=bad)
    assert result.exit_code == (2 if not bad else 4), result.output
    assert stored(isolated_env) == {}
    if bad:
        assert "not a Spine API key" in result.stderr


def test_login_never_prompts_without_a_terminal_or_in_ci(isolated_env, monkeypatch):
    result = spine("auth", "login", input="")
    assert result.exit_code == 2 and "--with-key" in result.stderr
    monkeypatch.setenv("CI", "true")
    result = spine("auth", "login", input=KEY)
    assert result.exit_code == 2 and "CI is set" in result.stderr
    assert stored(isolated_env) == {}


def test_key_is_not_an_argument(isolated_env):
    result = spine("auth", "login", KEY)
    assert result.exit_code == 2
    assert stored(isolated_env) == {}


def test_status_without_a_key_is_exit_4(isolated_env):
    result = spine("auth", "status")
    assert result.exit_code == 4
    assert "API key    (none)  (none)" in result.stdout
    assert "No API key configured" in result.stderr and "spine auth login" in result.stderr


def test_status_shows_sources_and_the_masked_key(isolated_env, monkeypatch):
    spine("auth", "login", "--with-key", "--no-verify", input=KEY)
    result = spine("auth", "status", "--no-verify")
    assert result.exit_code == 0, result.output
    assert "sk_spine_…7f3a  (profile default in" in result.stdout
    assert "https://api.getspine.ai  (default)" in result.stdout
    monkeypatch.setenv("SPINE_API_KEY", "sk_spine_from_the_environment")
    doc = json.loads(spine("auth", "status", "--no-verify", "--json").stdout)
    assert doc["api_key_source"] == "env SPINE_API_KEY" and doc["api_key"] == "sk_spine_…ment"
    assert doc["accepted"] is None


def test_logout_removes_only_the_key(isolated_env, monkeypatch):
    spine("--base-url", "http://x.example", "auth", "login", "--with-key", "--no-verify", input=KEY)
    result = spine("auth", "logout")
    assert result.exit_code == 0 and "Removed the stored key of profile 'default'" in result.stderr
    assert stored(isolated_env) == {"profiles": {"default": {"base_url": "http://x.example"}}}
    again = spine("auth", "logout")
    assert again.exit_code == 0 and "nothing to do" in again.stderr
    monkeypatch.setenv("SPINE_API_KEY", KEY)
    assert "SPINE_API_KEY is set" in spine("auth", "logout").stderr


def test_logout_removes_a_key_the_validator_rejects(isolated_env):
    path = isolated_env["config_dir"] / "config.toml"
    path.parent.mkdir(mode=0o700)
    path.write_text('default_profile = "work"\n[profiles.work]\napi_key = "not-a-key"\n')
    path.chmod(0o600)
    assert spine("auth", "status", "--no-verify").exit_code == 4  # the file is invalid...
    result = spine("auth", "logout")  # ...but logout still takes the bad key out
    assert result.exit_code == 0 and "profile 'work'" in result.stderr
    assert stored(isolated_env) == {"default_profile": "work", "profiles": {"work": {}}}


def _read_until(fd: int, needle: bytes, timeout: float = 15) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    return seen


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_login_prompts_on_a_terminal_without_echoing_the_key(isolated_env):
    import fcntl
    import termios

    def own_terminal() -> None:  # getpass talks to the controlling terminal: make it the pty
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    main, secondary = os.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "spine_cli", "auth", "login", "--no-verify"],
                            stdin=secondary, stdout=secondary, stderr=secondary,
                            env=dict(os.environ), close_fds=True, preexec_fn=own_terminal)
    os.close(secondary)
    try:
        # click writes "Spine API key:", then getpass turns echo off (flushing pending
        # input) and writes " ": type only once the space is there.
        assert b"Spine API key: " in _read_until(main, b"Spine API key: ")
        os.write(main, KEY.encode() + b"\r")
        rest = _read_until(main, b"Saved in")
        assert proc.wait(timeout=15) == 0
    finally:
        os.close(main)
        if proc.poll() is None:
            proc.kill()
    assert KEY.encode() not in rest
    assert b"sk_spine_\xe2\x80\xa67f3a" in rest  # the masked key, UTF-8 ellipsis
    assert stored(isolated_env)["profiles"]["default"]["api_key"] == KEY
