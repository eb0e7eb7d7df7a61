"""`spine run open`: browser when one is usable, the URL otherwise."""

from __future__ import annotations

import json
import webbrowser

import httpx
import pytest
from typer.testing import CliRunner

from spine_cli.commands import run_artifacts

runner = CliRunner()


def spine(*args: str):
    from spine_cli.app import app

    return runner.invoke(app, list(args))


@pytest.fixture
def opened(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: calls.append(url) or True)
    return calls


def make_run(api, advance: float = 40) -> dict:
    base = str(api.base_url).rstrip("/").removesuffix("/v1") + "/v1"
    resp = httpx.post(base + "/run", data={"prompt": "Open me [emulate:duration=30]"},
                      headers={"X-API-KEY": api.key})
    run_id = resp.json()["data"]["run_id"]
    api.emulator.advance(advance)
    return httpx.get(f"{base}/run/{run_id}", headers={"X-API-KEY": api.key}).json()["data"]


def test_prints_the_url_without_a_terminal_quiet_and_json(api, opened):
    run = make_run(api)
    url = f"https://app.getspine.ai/canvas/{run['canvas_id']}"
    result = spine("run", "open", run["run_id"])
    assert result.exit_code == 0 and result.stdout == url + "\n"
    assert spine("run", "open", run["run_id"], "-q").stdout == url + "\n"
    data = json.loads(spine("run", "open", run["run_id"], "--json").stdout)
    assert data == {"canvas_id": run["canvas_id"], "url": url}
    assert opened == []


def test_opens_the_browser_when_one_is_usable(api, opened, monkeypatch):
    run = make_run(api)
    monkeypatch.setattr(run_artifacts, "_should_open_browser", lambda: True)
    result = spine("run", "open", run["run_id"])
    assert result.exit_code == 0, result.stderr
    assert opened == [f"https://app.getspine.ai/canvas/{run['canvas_id']}"]
    assert result.stdout == "" and "Opened" in result.stderr
    assert spine("run", "open", run["run_id"], "-q").stdout.strip().endswith(run["canvas_id"])
    assert len(opened) == 1  # -q never opens a browser


def test_no_canvas_yet_exits_9(api, opened):
    run = make_run(api, advance=0)
    result = spine("run", "open", run["run_id"])
    assert result.exit_code == 9 and "no canvas yet" in result.stderr
    assert result.stdout == ""


class FakeTTY:
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("env, expected", [
    ({"DISPLAY": ":0"}, True),
    ({"BROWSER": "firefox"}, True),
    ({}, False),                           # Linux console: a text browser would take over
    ({"DISPLAY": ":0", "CI": "true"}, False),
])
def test_when_a_browser_is_used(monkeypatch, env, expected):
    monkeypatch.setattr(run_artifacts.sys, "platform", "linux")
    monkeypatch.setattr(run_artifacts.sys, "stdout", FakeTTY())
    monkeypatch.setattr(webbrowser, "get", lambda *a: object())
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert run_artifacts._should_open_browser() is expected
