"""Settings: precedence with sources, directories, config.toml validation and file safety."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from spine_cli.app import app
from spine_cli.errors import ConfigError
from spine_cli.local.settings import SourceKind, config_dir, data_dir, load_settings, mask_key

KEY_FILE = "sk_spine_fromthefile_0001"
KEY_ENV = "sk_spine_fromtheenvvar_0002"


def spine(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input)


def write_config(dirs, text: str, mode: int = 0o600):
    dirs["config_dir"].mkdir(parents=True, exist_ok=True)
    path = dirs["config_dir"] / "config.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


def texts(sources: dict) -> dict[str, str]:
    return {key: str(source) for key, source in sources.items()}


def test_precedence_layer_by_layer_with_sources(isolated_env, monkeypatch):
    s = load_settings()
    assert (s.profile, s.api_key, s.base_url) == ("default", None, "https://api.getspine.ai")
    assert texts(s.sources) == {"profile": "default", "api_key": "none", "base_url": "default"}
    assert {src.kind for src in s.sources.values()} == {SourceKind.DEFAULT, SourceKind.NONE}

    path = write_config(isolated_env, f'''
default_profile = "work"
[profiles.work]
api_key = "{KEY_FILE}"
base_url = "http://file.example"
template = "memo"
[profiles.other]
base_url = "http://other.example"
''')
    s = load_settings()
    assert (s.profile, s.api_key, s.base_url) == ("work", KEY_FILE, "http://file.example")
    assert str(s.sources["profile"]) == f"default_profile in {path}"
    assert s.sources["profile"].kind is SourceKind.CONFIG
    assert str(s.sources["api_key"]) == f"profile work in {path}"
    assert s.sources["api_key"].kind is SourceKind.PROFILE
    assert s.value("template") == "memo" and str(s.sources["template"]) == f"profile work in {path}"

    monkeypatch.setenv("SPINE_PROFILE", "other")
    monkeypatch.setenv("SPINE_API_KEY", KEY_ENV)
    monkeypatch.setenv("SPINE_BASE_URL", "http://env.example")
    s = load_settings()
    assert (s.profile, s.api_key, s.base_url) == ("other", KEY_ENV, "http://env.example")
    assert texts(s.sources) == {"profile": "env SPINE_PROFILE", "api_key": "env SPINE_API_KEY",
                                "base_url": "env SPINE_BASE_URL"}
    assert {src.kind for src in s.sources.values()} == {SourceKind.ENV}

    s = load_settings("work", "http://flag.example")
    assert (s.profile, s.api_key, s.base_url) == ("work", KEY_ENV, "http://flag.example")
    assert str(s.sources["profile"]) == "flag --profile"
    assert str(s.sources["base_url"]) == "flag --base-url"
    assert s.sources["base_url"].kind is SourceKind.FLAG


def test_directories_relocate_and_default_to_platformdirs(isolated_env, monkeypatch):
    import platformdirs

    assert config_dir() == isolated_env["config_dir"]
    assert data_dir() == isolated_env["data_dir"]
    monkeypatch.delenv("SPINE_CONFIG_DIR")
    monkeypatch.delenv("SPINE_DATA_DIR")
    assert str(config_dir()) == platformdirs.user_config_dir("spine", appauthor=False)
    assert str(data_dir()) == platformdirs.user_data_dir("spine", appauthor=False)


def test_unknown_profile_is_exit_4_naming_the_file(isolated_env):
    path = write_config(isolated_env, '[profiles.work]\nbase_url = "http://x.example"\n')
    result = spine("--profile", "nope", "config", "list")
    assert result.exit_code == 4, result.output
    assert "Unknown profile 'nope'" in result.stderr and str(path) in result.stderr
    assert "known profiles: work" in result.stderr
    assert result.stdout == ""


def test_unknown_profile_from_env_is_exit_4(isolated_env, monkeypatch):
    monkeypatch.setenv("SPINE_PROFILE", "ghost")
    result = spine("config", "get", "base_url")
    assert result.exit_code == 4
    assert "env SPINE_PROFILE" in result.stderr


def test_malformed_toml_is_exit_4_with_path_and_line(isolated_env):
    path = write_config(isolated_env, '[profiles.work]\nbase_url = "http://x"\ntemplate = memo oops\n')
    result = spine("config", "list")
    assert result.exit_code == 4
    assert f"{path}, line 3" in result.stderr
    assert "3 | template = memo oops" in result.stderr


def test_bad_value_is_exit_4_with_the_line_and_no_key_echoed(isolated_env):
    path = write_config(isolated_env, '[profiles.default]\n\napi_key = "not-a-spine-key-secret"\n')
    result = spine("run", "list")
    assert result.exit_code == 4
    assert f"{path}, line 3" in result.stderr and "api_key" in result.stderr
    assert "not-a-spine-key-secret" not in result.output

    write_config(isolated_env, '[profiles.default]\nbase_url = 3\n')
    with pytest.raises(ConfigError, match="line 2.*base_url"):
        load_settings()


def test_config_readable_by_others_warns_once(isolated_env):
    write_config(isolated_env, f'[profiles.default]\napi_key = "{KEY_FILE}"\n', mode=0o644)
    result = spine("config", "get", "api_key")
    assert result.exit_code == 0
    assert result.stderr.count("accessible by other users (mode 0644)") == 1
    assert "chmod 600" in result.stderr


def test_private_config_does_not_warn(isolated_env):
    write_config(isolated_env, f'[profiles.default]\napi_key = "{KEY_FILE}"\n', mode=0o600)
    result = spine("config", "get", "api_key")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.strip() == "sk_spine_…0001"


def test_written_config_is_0600_in_a_0700_dir_without_leftovers(isolated_env):
    result = spine("config", "set", "template", "report")
    assert result.exit_code == 0, result.output
    cfg_dir = isolated_env["config_dir"]
    assert stat.S_IMODE(os.stat(cfg_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(cfg_dir / "config.toml").st_mode) == 0o600
    assert not [p for p in os.listdir(cfg_dir) if p.endswith(".tmp")]


def test_mask_key():
    assert mask_key("sk_spine_0123456789abcdef") == "sk_spine_…cdef"
    assert mask_key("sk_spine_short") == "sk_spine_…"  # too short to show a tail safely
    assert mask_key(None) == "(none)"


def test_nothing_is_read_at_import_and_version_stays_light(isolated_env):
    write_config(isolated_env, "this is [ not toml")
    code = ("import sys; import spine_cli.app; "
            "print(sorted(m for m in ('sqlite3', 'tomli_w', 'tomllib', 'httpx') if m in sys.modules))")
    env = {**os.environ}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    version = subprocess.run([sys.executable, "-m", "spine_cli", "--version"], capture_output=True,
                             text=True, env=env, timeout=30)
    assert version.returncode == 0 and version.stdout.startswith("spine ")


def test_config_and_flags_share_one_duration_grammar():
    from spine_cli.local.values import check_duration, parse_duration

    assert parse_duration("1h30m") == 5400 and parse_duration("90") == 90
    assert parse_duration("1.5m") == 90
    assert check_duration("1h30m") == "1h30m"
    for bad in ("soon", "0", "", "5x"):
        try:
            check_duration(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} accepted")


def test_the_key_stays_out_of_the_settings_repr(isolated_env, monkeypatch):
    write_config(isolated_env, f'[profiles.default]\napi_key = "{KEY_FILE}"\n')
    assert KEY_FILE not in repr(load_settings())
    monkeypatch.setenv("SPINE_API_KEY", KEY_ENV)
    assert KEY_ENV not in repr(load_settings()) and "profile='default'" in repr(load_settings())
