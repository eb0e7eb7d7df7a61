"""A config directory other users can write is warned about once, with the chmod to run."""

from __future__ import annotations

import pytest

from support.cli import spine


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o1777], ids=oct)
def test_writable_config_dir_warns_once_with_the_fix(isolated_env, mode):
    cfg = isolated_env["config_dir"]
    cfg.mkdir()
    cfg.chmod(mode)
    first = spine("config", "list")
    again = spine("config", "list")  # same process: the warning is one-time
    assert first.exit_code == again.exit_code == 0, first
    shown = f"{mode & 0o7777:04o}"
    assert first.stderr == (
        f"Warning: the config directory {cfg} is writable by other users (mode {shown}); "
        "they could replace config.toml.\n"
        f"Restrict it with: chmod 700 {cfg}\n")
    assert again.stderr == ""
    assert "profile  = default" in first.stdout


def test_writable_config_dir_warns_alongside_a_private_file(isolated_env):
    cfg = isolated_env["config_dir"]
    cfg.mkdir()
    (cfg / "config.toml").write_text('[profiles.default]\nbase_url = "http://127.0.0.1:9"\n')
    (cfg / "config.toml").chmod(0o600)
    cfg.chmod(0o770)
    result = spine("config", "get", "base_url")
    assert result.exit_code == 0, result
    assert result.stdout == "http://127.0.0.1:9\n"
    assert result.stderr.count("writable by other users (mode 0770)") == 1
    assert f"chmod 700 {cfg}" in result.stderr


@pytest.mark.parametrize("mode", [0o700, 0o755], ids=oct)
def test_private_or_missing_config_dir_does_not_warn(isolated_env, mode):
    result = spine("config", "list")  # the directory does not exist yet
    assert result.exit_code == 0 and result.stderr == "", result
    cfg = isolated_env["config_dir"]
    cfg.mkdir()
    cfg.chmod(mode)  # 0755: readable but not writable by others; the file has its own check
    result = spine("config", "list")
    assert result.exit_code == 0 and result.stderr == "", result
