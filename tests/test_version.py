"""`spine --version`: the version, the Python version and the platform, on stdout."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from spine_cli import __version__
from spine_cli.app import app


def test_version_names_spine_python_and_platform():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    expected = (f"spine {__version__} (Python {platform.python_version()}, "
                f"{platform.system()}-{platform.machine()})\n")
    assert result.stdout == expected
    assert result.stderr == ""


def test_version_wins_over_a_command_and_needs_no_config(isolated_env):
    (isolated_env["config_dir"]).mkdir(parents=True)
    (isolated_env["config_dir"] / "config.toml").write_text("not = [valid toml")
    result = CliRunner().invoke(app, ["--version", "run", "list"])
    assert result.exit_code == 0 and result.stdout.startswith(f"spine {__version__} ")


def test_the_installed_script_prints_the_same():
    exe = Path(sys.executable).with_name("spine")
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert out.stdout.startswith(f"spine {__version__} (Python {platform.python_version()}, ")
