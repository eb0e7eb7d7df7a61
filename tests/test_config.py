"""`spine config list | get | set | unset | path`, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from spine_cli.app import app

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KEY = "sk_spine_configtests_abcd"


def spine(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input)


def ok(*args: str):
    result = spine(*args)
    assert result.exit_code == 0, f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def stored(isolated_env) -> dict:
    return tomllib.loads((isolated_env["config_dir"] / "config.toml").read_text())


def test_set_get_unset_round_trip(isolated_env):
    ok("config", "set", "template", "report")
    ok("--profile", "local", "config", "set", "base_url", "http://127.0.0.1:8787")
    ok("config", "set", "poll_interval", "2.5")
    assert stored(isolated_env) == {"profiles": {
        "default": {"template": "report", "poll_interval": 2.5},
        "local": {"base_url": "http://127.0.0.1:8787"}}}
    assert ok("config", "get", "template").stdout == "report\n"
    assert ok("config", "get", "base_url", "--profile", "local").stdout == "http://127.0.0.1:8787\n"
    unset = ok("config", "unset", "template")
    assert "Removed template from profile 'default'" in unset.stderr
    missing = spine("config", "get", "template")
    assert missing.exit_code == 4 and missing.stdout == ""
    assert "template is not set for profile 'default'" in missing.stderr
    again = ok("config", "unset", "template")
    assert "nothing to do" in again.stderr


def test_get_shows_the_effective_value_after_environment(isolated_env, monkeypatch):
    ok("config", "set", "base_url", "http://file.example")
    monkeypatch.setenv("SPINE_BASE_URL", "http://env.example")
    result = ok("config", "get", "base_url", "--json")
    assert json.loads(result.stdout) == {"key": "base_url", "value": "http://env.example",
                                         "origin": "env SPINE_BASE_URL"}


def test_api_key_is_never_taken_from_argv(isolated_env):
    result = spine("config", "set", "api_key", KEY)
    assert result.exit_code == 2
    assert "never taken from the command line" in result.stderr
    assert "spine auth login" in result.stderr
    assert not (isolated_env["config_dir"] / "config.toml").exists()


def test_invalid_values_and_keys_are_usage_errors(isolated_env):
    bad = spine("config", "set", "template", "novel")
    assert bad.exit_code == 2 and "expected one of app, auto" in bad.stderr
    assert spine("config", "set", "base_url", "ftp://x").exit_code == 2
    assert spine("config", "set", "timeout", "soon").exit_code == 2
    assert ok("config", "set", "timeout", "1h30m")
    unknown = spine("config", "get", "colour")
    assert unknown.exit_code == 2 and "Known settings:" in unknown.stderr
    assert spine("--profile", "bad name!", "config", "set", "template", "memo").exit_code == 4


def test_default_profile_must_exist(isolated_env):
    result = spine("config", "set", "default_profile", "staging")
    assert result.exit_code == 2 and "no profile 'staging'" in result.stderr
    ok("--profile", "staging", "config", "set", "base_url", "http://staging.example")
    ok("config", "set", "default_profile", "staging")
    assert ok("config", "get", "profile").stdout == "staging\n"
    assert ok("config", "get", "base_url").stdout == "http://staging.example\n"
    ok("config", "unset", "default_profile")
    assert ok("config", "get", "profile").stdout == "default\n"


def test_list_masks_the_key_and_shows_origins(isolated_env, monkeypatch):
    path = isolated_env["config_dir"] / "config.toml"
    isolated_env["config_dir"].mkdir(mode=0o700)
    path.write_text(f'[profiles.default]\napi_key = "{KEY}"\ntemplate = "memo"\n'
                    '[profiles.ci]\nbase_url = "http://ci.example"\n')
    path.chmod(0o600)
    plain = ok("config", "list")
    assert "api_key  = sk_spine_…abcd" in plain.stdout
    assert "template = memo" in plain.stdout
    assert "profiles = ci, default" in plain.stdout
    assert "(profile default in" not in plain.stdout
    monkeypatch.setenv("SPINE_BASE_URL", "http://env.example")
    origin = ok("config", "list", "--show-origin")
    assert f"(profile default in {path})" in origin.stdout
    assert "(env SPINE_BASE_URL)" in origin.stdout
    doc = json.loads(ok("--json", "config", "list").stdout)
    assert doc["settings"]["api_key"] == "sk_spine_…abcd"
    assert doc["origins"]["base_url"] == "env SPINE_BASE_URL"
    for result in (plain, origin):
        assert KEY not in result.output


def test_path_prints_the_config_file(isolated_env):
    assert ok("config", "path").stdout == f"{isolated_env['config_dir'] / 'config.toml'}\n"
    doc = json.loads(ok("config", "path", "--json").stdout)
    assert doc["data_dir"] == str(isolated_env["data_dir"])
    assert doc["history"].startswith(str(isolated_env["data_dir"]))


def test_unchanged_file_keeps_its_comments(isolated_env):
    ok("config", "set", "template", "memo")
    path = isolated_env["config_dir"] / "config.toml"
    path.write_text("# mine\n" + path.read_text())
    ok("config", "unset", "base_url")  # not set: nothing to write
    assert path.read_text().startswith("# mine\n")


OPENS_OF_CONFIG = (
    "import sys\n"
    "def hook(event, args):\n"
    "    if event == 'open' and str(args[0]).endswith('config.toml'):\n"
    "        sys.stderr.write('OPENED config.toml\\n')\n"
    "sys.addaudithook(hook)\n"
    "sys.argv = ['spine'] + sys.argv[1:]\n"
    "from spine_cli.app import main\n"
    "main()\n")


@pytest.mark.parametrize("args", [["config", "list"], ["config", "get", "template"],
                                  ["run", "create", "--prompt", "x", "--dry-run"]])
def test_a_command_reads_the_config_file_once(isolated_env, args):
    """Counted by the interpreter's audit hook in a child process: nothing is patched."""
    ok("config", "set", "template", "report")
    out = subprocess.run([sys.executable, "-c", OPENS_OF_CONFIG, *args], capture_output=True,
                         text=True, timeout=60, env={**os.environ,
                                                     "SPINE_API_KEY": "sk_spine_" + "k" * 24})
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("OPENED config.toml") == 1, out.stderr
