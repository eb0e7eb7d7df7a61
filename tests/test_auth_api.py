"""`spine auth login | status` verifying the key against the emulator."""

from __future__ import annotations

import json
import sys

from typer.testing import CliRunner

from spine_cli.app import app
from support.cli import FakeTime
from support.emulator import key_fingerprint

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PROBE = "/v1/run/00000000-0000-4000-8000-000000000000"


def spine(*args: str, input: str | None = None, seams=None):
    return CliRunner().invoke(app, list(args), input=input, obj=seams)


def stored(isolated_env) -> dict:
    path = isolated_env["config_dir"] / "config.toml"
    return tomllib.loads(path.read_text()) if path.exists() else {}


def test_login_verifies_then_stores(api, monkeypatch, isolated_env):
    monkeypatch.delenv("SPINE_API_KEY")  # the key comes from stdin only
    result = spine("auth", "login", "--with-key", "--profile", "emu", input=api.key + "\n")
    assert result.exit_code == 0, result.output
    assert "(key accepted)" in result.stderr and api.key not in result.output
    assert stored(isolated_env)["profiles"]["emu"]["api_key"] == api.key
    probes = [e for e in api.requests() if e["path"] == PROBE]
    assert [(e["method"], e["status"]) for e in probes] == [("GET", 404)]
    # the stored key is now the one used
    status = spine("--profile", "emu", "auth", "status", "--json")
    assert status.exit_code == 0, status.output
    doc = json.loads(status.stdout)
    assert doc["accepted"] is True and doc["api_key_source"].startswith("profile emu in")


def test_a_rejected_key_is_not_saved(api, monkeypatch, isolated_env):
    monkeypatch.delenv("SPINE_API_KEY")
    api.emulator.fault("status", method="GET", path="/v1/run/*", status=401)
    result = spine("auth", "login", "--with-key", input=api.key)
    assert result.exit_code == 4, result.output
    assert "rejected this key" in result.stderr and "it was not saved" in result.stderr
    assert api.key not in result.output
    assert stored(isolated_env) == {}


def test_status_reports_a_rejected_key_with_exit_4(api):
    ok = spine("auth", "status")
    assert ok.exit_code == 0 and "key check  accepted" in ok.stdout
    api.emulator.fault("status", method="GET", path="/v1/run/*", status=401)
    bad = spine("auth", "status")
    assert bad.exit_code == 4
    assert "key check  REJECTED" in bad.stdout
    assert "rejects the key from env SPINE_API_KEY" in bad.stderr and "unset SPINE_API_KEY" in bad.stderr
    assert api.key not in bad.output
    fingerprints = {e["key_fingerprint"] for e in api.requests()}
    assert fingerprints == {key_fingerprint(api.key)}


def test_status_with_an_unreachable_api_is_exit_8(api):
    api.emulator.fault("drop_before", method="GET", path="/v1/run/*", count=10)
    time = FakeTime()
    result = spine("auth", "status", seams=time.seams())  # retries wait on the fake clock
    assert len(time.sleeps) == 4  # the policy's retries, then it gives up
    assert result.exit_code == 8, result.output
    assert "key check  not checked" in result.stdout
    assert "Cannot reach the Spine API" in result.stderr
