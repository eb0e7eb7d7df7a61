"""Start-up: wall time, CPU time and peak RSS of short `spine` calls against their floors.

  spine --version            vs  python -c "import typer"      target ≤ 1.3×
  spine --help               vs  python -c "import typer"      (reported)
  spine run get RUN --json   vs  the same GET with spine-sdk   target ≤ 0.75×

Medians of several interleaved runs after a warm-up run (so .pyc files exist
for all). `spine` is the installed console script of this venv; the emulator
runs on a loopback port. A last line shows `run get` as it was before the
issue's fixes, measured in the same run.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.common import PYTHON, SPINE, clean_env, interleaved, ratio_line, start_emulator

# `spine run get` as it was before issue 7's fixes: httpx's own CLI (click, rich.syntax,
# pygments) and rich.console imported on every call.
BEFORE_FIXES = (
    "import sys, httpx, httpx._main, rich.console\n"
    "from spine_cli.entry import main\n"
    "sys.argv = ['spine', *sys.argv[1:]]\n"
    "main()\n"
)

SDK_GET = """\
import sys
from spine import SpineClient

with SpineClient() as client:      # SPINE_API_KEY and SPINE_BASE_URL from the environment
    print(client.runs.get(sys.argv[1]).model_dump_json())
"""


METRICS = (("wall", "s"), ("cpu", "s"), ("rss", "MiB"))


def _report(label: str, ours, base, base_label: str, target: float | None) -> bool:  # type: ignore[no-untyped-def]
    ok = True
    for attr, unit in METRICS:
        # The targets are on wall time; CPU time is shown because it varies far
        # less with the machine's load.
        line, met = ratio_line(f"{label} ({attr})", getattr(ours, attr), getattr(base, attr),
                               unit, target if attr == "wall" else None, base_label)
        print(line)
        ok = ok and met
    return ok


def main(quick: bool = False) -> bool:
    reps = 3 if quick else 11
    print(f"== start-up: median of {reps} interleaved runs (wall, CPU, peak RSS of the child) ==")
    with tempfile.TemporaryDirectory(prefix="spine-bench-") as tmp:
        tmp_path = Path(tmp)
        env = clean_env(SPINE_CONFIG_DIR=str(tmp_path / "cfg"), SPINE_DATA_DIR=str(tmp_path / "data"))
        got = interleaved({"floor": [PYTHON, "-c", "import typer"],
                           "version": [SPINE, "--version"], "help": [SPINE, "--help"]}, reps, env)
        floor = 'python -c "import typer"'
        ok = _report("spine --version", got["version"], got["floor"], floor, 1.3)
        ok = _report("spine --help", got["help"], got["floor"], floor, None) and ok
        emu = start_emulator(tmp_path / "emu")
        try:
            key = emu.new_key()
            run_id = emu.create_run(key, "Benchmark start-up [emulate:duration=5]")["run_id"]
            genv = dict(env, SPINE_API_KEY=key, SPINE_BASE_URL=emu.base_url)
            script = tmp_path / "sdk_get.py"
            script.write_text(SDK_GET)
            got = interleaved({"sdk": [PYTHON, str(script), run_id],
                               "ours": [SPINE, "run", "get", run_id, "--json"],
                               "before": [PYTHON, "-c", BEFORE_FIXES, "run", "get", run_id,
                                          "--json"]}, reps, genv)
        finally:
            emu.close()
        ok = _report("spine run get --json", got["ours"], got["sdk"], "spine-sdk script", 0.75) and ok
        _report("  before the fixes", got["before"], got["sdk"], "spine-sdk script", None)
    return ok


if __name__ == "__main__":
    main()
