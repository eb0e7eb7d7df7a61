"""The emulator is a wing of its own: it imports nothing of the CLI (DESIGN.md, Layout).

Its errors are its own (`EmulatorError`); `spine emulator` turns them into usage errors.
"""

from __future__ import annotations

import ast
import socket
import subprocess
import sys
from pathlib import Path

import spine_cli.emulator

EMULATOR = Path(spine_cli.emulator.__file__).parent
SPINE = [sys.executable, "-m", "spine_cli"]


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_emulator_imports_nothing_of_the_cli():
    outside = {f"{path.name}: {name}" for path in EMULATOR.glob("*.py")
               for name in imported_modules(path)
               if name.split(".")[0] == "spine_cli" and not name.startswith("spine_cli.emulator")}
    assert outside == set()


def test_its_errors_reach_the_user_as_usage_errors(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    bad_dir = subprocess.run([*SPINE, "emulator", "exec", "--data-dir", str(a_file / "x"), "--",
                              "true"], capture_output=True, text=True, timeout=30)
    assert bad_dir.returncode == 2, bad_dir.stderr
    assert bad_dir.stdout == ""
    assert bad_dir.stderr.startswith(f"Error: Cannot use the data directory {a_file / 'x'}: ")
    assert bad_dir.stderr.endswith("\nChoose another --data-dir.\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = subprocess.run([*SPINE, "emulator", "exec", "--port", str(port), "--", "true"],
                               capture_output=True, text=True, timeout=30)
    assert taken.returncode == 2, taken.stderr
    assert taken.stdout == ""
    assert taken.stderr == (f"Error: Cannot listen on 127.0.0.1:{port}: Address already in "
                            "use.\nChoose another --port, or --port 0 for a free one.\n")
