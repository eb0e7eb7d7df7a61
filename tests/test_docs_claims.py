"""Claims the README and docs make that no other test pins down.

- every `spine …` command in a shell example (```sh, ```console) of the README and
  docs/ parses as spine parses it (synopsis lines, with `[--option]`, are not examples);
- exit code 2 covers a request the API refuses as too large (413), not only 400;
- `CI=0`, `CI=no` and `CI=false` (any case) are not CI.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from support.cli import spine
from support.emulator import EmulatorHandle
from support.cmdline import parse_problems

ROOT = Path(__file__).resolve().parent.parent
_SHELL_BLOCK = re.compile(r"^```(?:sh|bash|console)\n(.*?)^```", re.M | re.S)
_SPINE = re.compile(r"(?:^|[\s;&|($`\"'])spine\s")
_SYNOPSIS = re.compile(r"\[-{1,2}\w|\.\.\.\]")


def doc_commands() -> list[tuple[str, str]]:
    """(file, line) for every line of a shell example that runs spine."""
    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in _SHELL_BLOCK.findall(doc.read_text(encoding="utf-8")):
            for line in block.replace("\\\n", " ").splitlines():
                line = re.sub(r"(^|\s)#.*$", "", line.removeprefix("$ "))  # a comment
                if _SPINE.search(line) and not _SYNOPSIS.search(line):
                    found.append((doc.name, line))
    return found


def test_every_spine_command_in_the_docs_parses():
    commands = doc_commands()
    assert len(commands) >= 25, commands  # about 30 today: the extraction works
    problems = [p for name, line in commands for p in parse_problems([line], f"{name}: ")]
    assert not problems, "\n".join(problems)


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
