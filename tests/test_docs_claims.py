"""Claims the README and docs make that no other test pins down.

- exit code 2 covers a request the API refuses as too large (413), not only 400;
- `CI=0`, `CI=no` and `CI=false` (any case) are not CI.
"""

from __future__ import annotations

import pytest

from support.cli import spine
from support.emulator import EmulatorHandle


@pytest.fixture(scope="module")
def small_uploads(tmp_path_factory):
    """An emulator that answers 413 to any file over 1 KiB, as the real API does over its limit."""
    handle = EmulatorHandle(tmp_path_factory.mktemp("small-uploads"), "--max-file-size", "1KiB")
    yield handle
    handle.close()


def test_a_file_the_api_finds_too_large_is_exit_2_with_the_servers_reason(
        small_uploads, tmp_path, monkeypatch):
    monkeypatch.setenv("SPINE_BASE_URL", small_uploads.base_url)
    monkeypatch.setenv("SPINE_API_KEY", small_uploads.new_key())
    big = tmp_path / "notes.txt"
    big.write_text("x" * 2000)
    result = spine("run", "create", "--prompt", "Summarise", "-f", str(big))
    assert result.exit_code == 2, result
    assert result.stdout == ""
    assert "File too large: notes.txt exceeds the maximum file size of 1024 bytes" in result.stderr
    assert "HTTP 413" in result.stderr and "Traceback" not in result.stderr
    listed = spine("run", "list", "--json", "--all-profiles")
    assert listed.exit_code == 0 and listed.stdout.strip() == "[]", listed  # no run, no row


# `auth login` says why it cannot prompt, which shows whether spine thinks it is in CI.
@pytest.mark.parametrize("value", ["0", "no", "false", "FALSE", "No", ""])
def test_a_false_ci_value_is_not_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    result = spine("auth", "login")
    assert result.exit_code == 2 and "stdin is not a terminal" in result.stderr, result


@pytest.mark.parametrize("value", ["true", "1", "yes", "gitlab"])
def test_any_other_ci_value_is_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    result = spine("auth", "login")
    assert result.exit_code == 2 and "CI is set" in result.stderr, result
