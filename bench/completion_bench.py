"""Wall time of a real <Tab>: `spine` run as the shell runs it, against Python's own start-up.

    python bench/completion_bench.py [--runs N] [--history N]

Each case starts a fresh process with the completion protocol's variables
(`_SPINE_COMPLETE`, `COMP_WORDS`, `COMP_CWORD`) exactly as completions/spine.bash
sets them, in an isolated config/data dir holding a history of N runs. `spine`
answers a <Tab> from a static spec without importing Typer, so the floor is
`python -c "import json, sqlite3"` (an interpreter that can read the spec and
the history); `python -c "pass"` and `python -c "import typer"` (what any
Typer-based answer pays) are shown for comparison. Target: a completion under
150 ms wall (median). This is a benchmark, not a timed test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MS = 150.0
FLOOR = "import json, sqlite3"
REFERENCES = ("pass", FLOOR, "import typer")
CASES = [
    ("subcommands", "spine run ", 2),
    ("options", "spine run create --", 3),
    ("--template value", "spine run create --template ", 4),
    ("RUN from history", "spine run wait ", 3),
    ("--profile value", "spine --profile ", 2),
]


def _spine() -> str:
    exe = Path(sys.executable).with_name("spine")
    return str(exe) if exe.exists() else "spine"


def _seed(env: dict[str, str], runs: int) -> None:
    """A config with two profiles and a history of `runs` runs."""
    code = (
        "import uuid\n"
        "from spine_cli.local import history\n"
        "from spine_cli.local.settings import load_settings\n"
        "s = load_settings()\n"
        f"for i in range({runs}):\n"
        "    history.record_run(s, str(uuid.uuid4()), prompt=f'benchmark prompt {i}',"
        " status='completed')\n"
    )
    cfg = Path(env["SPINE_CONFIG_DIR"])
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "config.toml").write_text('[profiles.default]\n[profiles.staging]\n', "utf-8")
    (cfg / "config.toml").chmod(0o600)
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def _time(cmd: list[str], env: dict[str, str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out.append((time.perf_counter() - start) * 1000)
        if proc.returncode != 0:
            raise SystemExit(f"{cmd} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return out


def _line(label: str, samples: list[float]) -> str:
    return (f"{label:<34} median {statistics.median(samples):6.1f} ms   "
            f"min {min(samples):6.1f} ms   max {max(samples):6.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="processes per case")
    parser.add_argument("--history", type=int, default=200, help="runs in the seeded history")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SPINE_", "_SPINE"))}
        env.update(SPINE_CONFIG_DIR=f"{tmp}/config", SPINE_DATA_DIR=f"{tmp}/data")
        _seed(env, opts.history)
        refs = {code: _time([sys.executable, "-c", code], env, opts.runs) for code in REFERENCES}
        for code, samples in refs.items():
            print(_line(f'python -c "{code}"', samples))
        floor = refs[FLOOR]
        worst = 0.0
        for label, words, cword in CASES:
            case_env = dict(env, _SPINE_COMPLETE="complete_bash", COMP_WORDS=words,
                            COMP_CWORD=str(cword))
            samples = _time([_spine()], case_env, opts.runs)
            worst = max(worst, statistics.median(samples))
            print(_line(f"complete: {label}", samples))
    verdict = "within" if worst < TARGET_MS else "OVER"
    print(f"slowest median {worst:.1f} ms: {verdict} the {TARGET_MS:.0f} ms target "
          f"({worst - statistics.median(floor):+.1f} ms over the json+sqlite3 floor)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
