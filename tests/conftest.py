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
