"""`spine run open`: browser when one is usable, the URL otherwise."""

from __future__ import annotations

import json
import os
import stat
import webbrowser

import httpx
import pytest
from typer.testing import CliRunner

from spine_cli.commands.run_artifacts import gui_browser_available
from support.tty import run_in_pty

runner = CliRunner()


def spine(*args: str):
    from spine_cli.app import app

    return runner.invoke(app, list(args))


@pytest.fixture
def browser(tmp_path):
    """A stand-in browser, named by $BROWSER as a user would: it records the URLs it gets."""
    log = tmp_path / "opened.txt"
    script = tmp_path / "fake-browser"
    script.write_text(f"#!/bin/sh\necho \"$1\" >> {log}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)

    def opened() -> list[str]:
        return log.read_text().split() if log.exists() else []

    return str(script), opened


def make_run(api, advance: float = 40) -> dict:
    base = str(api.base_url).rstrip("/").removesuffix("/v1") + "/v1"
    resp = httpx.post(base + "/run", data={"prompt": "Open me [emulate:duration=30]"},
                      headers={"X-API-KEY": api.key})
    run_id = resp.json()["data"]["run_id"]
    api.emulator.advance(advance)
    return httpx.get(f"{base}/run/{run_id}", headers={"X-API-KEY": api.key}).json()["data"]


def test_prints_the_url_without_a_terminal_quiet_and_json(api, browser, monkeypatch):
    script, opened = browser
    monkeypatch.setenv("BROWSER", script)
    run = make_run(api)
    url = f"https://app.getspine.ai/canvas/{run['canvas_id']}"
    result = spine("run", "open", run["run_id"])
    assert result.exit_code == 0 and result.stdout == url + "\n"
    assert spine("run", "open", run["run_id"], "-q").stdout == url + "\n"
    data = json.loads(spine("run", "open", run["run_id"], "--json").stdout)
    assert data == {"canvas_id": run["canvas_id"], "url": url}
    assert opened() == []  # stdout is not a terminal: no browser


def test_opens_the_browser_at_a_terminal(api, browser):
    script, opened = browser
    run = make_run(api)
    url = f"https://app.getspine.ai/canvas/{run['canvas_id']}"
    env = {**os.environ, "BROWSER": script, "SPINE_API_KEY": api.key,
           "SPINE_BASE_URL": api.base_url}
    code, screen = run_in_pty(["run", "open", run["run_id"]], env)
    assert code == 0, screen
    assert opened() == [url] and f"Opened {url}" in screen
    code, screen = run_in_pty(["run", "open", run["run_id"], "-q"], env)
    assert code == 0 and url in screen and opened() == [url]  # -q never opens a browser
    code, screen = run_in_pty(["run", "open", run["run_id"]], {**env, "CI": "true"})
    assert code == 0 and url in screen and opened() == [url]  # nor does CI


def test_no_canvas_yet_exits_9(api):
    run = make_run(api, advance=0)
    result = spine("run", "open", run["run_id"])
    assert result.exit_code == 9 and "no canvas yet" in result.stderr
    assert result.stdout == ""


def _no_browser() -> object:
    raise webbrowser.Error("none")


@pytest.mark.parametrize("env, platform, probe, expected", [
    ({"DISPLAY": ":0"}, "linux", object, True),
    ({"BROWSER": "firefox"}, "linux", _no_browser, True),
    ({}, "linux", object, False),          # Linux console: a text browser would take over
    ({}, "darwin", object, True),
    ({}, "darwin", _no_browser, False),
])
def test_when_a_graphical_browser_is_at_hand(env, platform, probe, expected):
    assert gui_browser_available(env, platform, probe) is expected
