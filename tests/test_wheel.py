"""The wheel, as a user installs it: built, put in a fresh virtualenv, run from outside the tree.

Building needs hatchling and installing needs the dependencies, both from the package
index pip is configured with (the one `pip install -e '.[dev]'` used; PyPI in CI), so
this test is marked `wheel`: `pytest -m "not wheel"` skips it offline. It takes ~5 s
with a warm pip cache and is bounded at 90 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.wheel, pytest.mark.timeout(90),
              pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout")]

ROOT = Path(__file__).resolve().parent.parent
SPEC = "spine_cli/completion/spec.json"
# Where the wheel's shared data puts each completion script, under the install prefix
# (pyproject.toml [tool.hatch.build.targets.wheel.shared-data]; docs/completion.md).
COMPLETIONS = {
    "spine.bash": "share/bash-completion/completions/spine",
    "spine.zsh": "share/zsh/site-functions/_spine",
    "spine.fish": "share/fish/vendor_completions.d/spine.fish",
    "spine.ps1": "share/spine/completions/spine.ps1",
}


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: float
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, (f"{proc.args} exit {proc.returncode}\n--- stdout\n"
                                  f"{proc.stdout}\n--- stderr\n{proc.stderr}")
    return proc.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(wheel path, venv dir, clean env, scratch cwd): built and installed once."""
    work = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SPINE_", "PYTHON", "VIRTUAL_ENV"))}
    _ok(_run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work / "dist"),
              str(ROOT)], cwd=work, env=env, timeout=60))
    wheel, = (work / "dist").glob("getspine_cli-*.whl")
    venv = work / "venv"
    # No pip inside: this interpreter's pip installs into it (--python), which saves
    # the few seconds ensurepip takes and changes nothing in what gets installed.
    _ok(_run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=work, env=env,
             timeout=30))
    _ok(_run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
              "-q", f"{wheel}[emulator]"], cwd=work, env=env, timeout=60))
    cwd = work / "elsewhere"
    cwd.mkdir()
    env.update(SPINE_CONFIG_DIR=str(work / "config"), SPINE_DATA_DIR=str(work / "data"),
               PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    return wheel, venv, env, cwd


def test_the_wheel_holds_the_package_the_spec_and_the_completion_scripts(built):
    wheel, *_ = built
    names = set(zipfile.ZipFile(wheel).namelist())
    data = f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.data/data/"
    assert SPEC in names
    assert {data + path for path in COMPLETIONS.values()} <= names, sorted(names)
    top = {n.split("/")[0] for n in names if not n.startswith(data)}
    assert top == {"spine_cli", wheel.name.rsplit("-", 3)[0] + ".dist-info"}, top  # no tests/, tools/
    spec = json.loads(zipfile.ZipFile(wheel).read(SPEC))
    assert spec == json.loads((ROOT / SPEC).read_text(encoding="utf-8"))
    for source, target in COMPLETIONS.items():
        assert zipfile.ZipFile(wheel).read(data + target) == (ROOT / "completions" / source).read_bytes()


def test_installed_spine_runs_from_the_venv_not_the_source_tree(built):
    _, venv, env, cwd = built
    where = _ok(_run([str(venv / "bin" / "python"), "-c",
                      "import spine_cli; print(spine_cli.__file__)"], cwd=cwd, env=env, timeout=30))
    assert Path(where.strip()).resolve().is_relative_to(venv.resolve()), where
    assert not Path(where.strip()).resolve().is_relative_to(ROOT), where
    version = _ok(_run([str(venv / "bin" / "spine"), "--version"], cwd=cwd, env=env, timeout=30))
    assert version.startswith("spine 0.") and "Python" in version, version
    for target in COMPLETIONS.values():
        assert (venv / target).is_file(), target
    assert (Path(where.strip()).parent / "completion" / "spec.json").is_file()


def test_installed_spine_creates_and_waits_against_its_own_emulator(built):
    _, venv, env, cwd = built
    spine = str(venv / "bin" / "spine")
    script = (f'RUN=$("{spine}" run create -q --prompt "Wheel check [emulate:duration=0]") && '
              f'"{spine}" --json run wait "$RUN"')
    proc = _run([spine, "emulator", "exec", "--", "sh", "-c", script], cwd=cwd, env=env,
                timeout=60)
    run = json.loads(_ok(proc))
    assert run["status"] == "completed" and run["result"]["artifacts"], run
    assert "Traceback" not in proc.stderr, proc.stderr
