"""Test isolation and shared fixtures.

Every test runs with SPINE_CONFIG_DIR and SPINE_DATA_DIR in tmp dirs and all
other SPINE_* / CI variables cleared, so no test can read or touch a real
user's config, key or history.
"""

from __future__ import annotations

import os

import pytest

_CLEARED_PREFIXES = ("SPINE_",)
_CLEARED = {"CI", "GITHUB_ACTIONS", "GITLAB_CI", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY",
            "FORCE_COLOR", "NO_COLOR", "TERM", "COLUMNS", "LINES"}


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith(_CLEARED_PREFIXES) or name in _CLEARED:
            monkeypatch.delenv(name, raising=False)
    cfg = tmp_path / "config"
    data = tmp_path / "data"
    monkeypatch.setenv("SPINE_CONFIG_DIR", str(cfg))
    monkeypatch.setenv("SPINE_DATA_DIR", str(data))
    return {"config_dir": cfg, "data_dir": data}


# --- the emulator: one per test session, a fresh tenant (key) per test -------------

from dataclasses import dataclass  # noqa: E402

from support.emulator import EmulatorHandle  # noqa: E402


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    """One `spine emulator serve` subprocess for the whole session (real loopback HTTP)."""
    handle = EmulatorHandle(tmp_path_factory.mktemp("emulator"))
    yield handle
    handle.close()


@dataclass
class ApiContext:
    key: str
    base_url: str
    emulator: EmulatorHandle

    def requests(self) -> list[dict]:
        """This test's requests (filtered by its key's fingerprint)."""
        return self.emulator.requests(self.key)


@pytest.fixture
def api(isolated_env, emulator, monkeypatch):
    """SPINE_BASE_URL / SPINE_API_KEY set for a fresh tenant; faults cleared around the test."""
    if emulator.proc is None or emulator.proc.poll() is not None:
        emulator.restart()  # a test stopped or killed the shared emulator
    key = emulator.new_key()
    monkeypatch.setenv("SPINE_BASE_URL", emulator.base_url)
    monkeypatch.setenv("SPINE_API_KEY", key)
    emulator.clear_faults()
    yield ApiContext(key=key, base_url=emulator.base_url, emulator=emulator)
    emulator.clear_faults()


# --- the liar: a misbehaving HTTP server for the client's hardening tests ------------

from support.liar import Liar  # noqa: E402


@pytest.fixture
def liar():
    """A running `Liar` (tests/support/liar.py) on a free loopback port; always closed."""
    with Liar() as server:
        yield server


@pytest.fixture
def make_liar():
    """A factory of more liars (say, the other origin of a redirect); all closed after."""
    made: list[Liar] = []

    def make() -> Liar:
        made.append(Liar())
        return made[-1]

    yield make
    for server in made:
        server.close()
