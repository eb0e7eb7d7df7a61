"""Precedence walked layer by layer against the emulator: the key that was actually sent."""

from __future__ import annotations

from typer.testing import CliRunner

from spine_cli.app import app
from support.emulator import key_fingerprint

DEAD = "http://127.0.0.1:9"  # nothing listens on the discard port: using it would fail the command


def test_each_layer_beats_the_one_below(api, monkeypatch, isolated_env):
    emu = api.emulator
    keys = {name: emu.new_key() for name in ("work", "other", "env")}
    monkeypatch.delenv("SPINE_API_KEY")
    monkeypatch.delenv("SPINE_BASE_URL")
    isolated_env["config_dir"].mkdir(mode=0o700)
    (isolated_env["config_dir"] / "config.toml").write_text(f'''
default_profile = "work"
[profiles.work]
api_key = "{keys['work']}"
base_url = "{emu.base_url}"
[profiles.other]
api_key = "{keys['other']}"
base_url = "{emu.base_url}"
''')

    def sent_with(*args: str) -> str:
        """Run `spine auth status` and return the name of the key the emulator saw."""
        before = {e["request_id"] for e in emu.requests()}
        result = CliRunner().invoke(app, [*args, "auth", "status", "--json"])
        assert result.exit_code == 0, result.output
        new = [e for e in emu.requests() if e["request_id"] not in before
               and e["path"].startswith("/v1/run/")]
        assert len(new) == 1, new
        assert new[0]["user_agent"].startswith("spine-cli/")
        by_fp = {key_fingerprint(k): name for name, k in keys.items()}
        return by_fp[new[0]["key_fingerprint"]]

    assert sent_with() == "work"                      # config.toml: default_profile
    monkeypatch.setenv("SPINE_PROFILE", "other")
    assert sent_with() == "other"                     # env beats the file
    assert sent_with("--profile", "work") == "work"   # flag beats env
    monkeypatch.setenv("SPINE_API_KEY", keys["env"])
    assert sent_with("--profile", "work") == "env"    # the key's env beats any profile

    # base URL: profile < env < flag; a layer that lost would point at a dead port
    monkeypatch.setenv("SPINE_BASE_URL", emu.base_url + "/v1")
    (isolated_env["config_dir"] / "config.toml").write_text(
        f'[profiles.default]\nbase_url = "{DEAD}"\n')
    monkeypatch.delenv("SPINE_PROFILE")
    assert sent_with() == "env"
    monkeypatch.setenv("SPINE_BASE_URL", DEAD)
    assert sent_with("--base-url", emu.base_url + "/") == "env"


def test_the_key_has_no_command_line_option(api):
    result = CliRunner().invoke(app, ["--api-key", api.key, "auth", "status"])
    assert result.exit_code == 2
    assert api.requests() == []
