"""The profile's `webhook_secret`: stored by `config set`, shown masked everywhere."""

from __future__ import annotations

import json

from support.cli import spine

SECRET = "whsec_config_test_0123456789abcdef"
MASKED = "whsec_…cdef"


def test_set_from_stdin_then_list_and_get_show_it_masked(isolated_env):
    result = spine("config", "set", "webhook_secret", "-", input=SECRET + "\n")
    assert result.exit_code == 0, result
    assert f"Set webhook_secret = {MASKED} in profile 'default'" in result.stderr
    text = (isolated_env["config_dir"] / "config.toml").read_text()
    assert f'webhook_secret = "{SECRET}"' in text
    listed = spine("config", "list")
    assert f"webhook_secret = {MASKED}" in listed.stdout
    got = spine("config", "get", "webhook_secret")
    assert got.stdout == MASKED + "\n"
    as_json = spine("config", "list", "--json")
    assert json.loads(as_json.stdout)["settings"]["webhook_secret"] == MASKED
    for outcome in (result, listed, got, as_json):
        assert SECRET not in outcome.stdout + outcome.stderr


def test_set_from_argv_is_masked_too():
    result = spine("config", "set", "webhook_secret", SECRET)
    assert result.exit_code == 0 and SECRET not in result.stderr, result


def test_an_invalid_secret_is_refused_without_echoing_it():
    result = spine("config", "set", "webhook_secret", "hunter2-not-a-secret")
    assert result.exit_code == 2 and "starts with whsec_" in result.stderr, result
    assert "hunter2" not in result.stderr


def test_a_malformed_secret_in_the_file_is_never_echoed(isolated_env):
    cfg = isolated_env["config_dir"]
    cfg.mkdir(parents=True)
    (cfg / "config.toml").write_text('[profiles.default]\nwebhook_secret = "hunter2 leaked"\n')
    result = spine("config", "list")
    assert result.exit_code == 4, result
    assert "webhook_secret" in result.stderr and "hunter2" not in result.stderr
