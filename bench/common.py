"""Shared helpers: timing a child process, its peak RSS, the emulator, report lines."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# The `spine` console script of the interpreter running the benchmarks (its venv).
SPINE = str(Path(PYTHON).with_name("spine"))
if not os.access(SPINE, os.X_OK):
    SPINE = shutil.which("spine") or SPINE
MiB = 1024 * 1024


TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


@dataclass
class Sample:
    wall: float        # seconds
    cpu: float         # user + system seconds of the child
    rss_kib: int       # peak resident set size of the child


def run_measured(cmd: Sequence[str], env: dict[str, str] | None = None,
                 timeout: float = 600.0, stdout=subprocess.DEVNULL) -> Sample:
    """Run cmd; its wall time, CPU time and peak RSS.

    Peak RSS comes from /usr/bin/time when present: a child forked straight
    from this (larger) process would report this process's RSS as its own
    peak, since Linux counts the pre-exec image. Without it, os.wait4's
    figure is used and is an upper bound.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        argv = [TIME, "-f", "%M %U %S", "-o", out.name, *cmd] if TIME else list(cmd)
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=stdout, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise TimeoutError(f"{cmd[0]} ran longer than {timeout:.0f}s") from None
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: "
                               f"{err.decode(errors='replace')[-800:]}")
        if TIME:
            rss, user, sys_ = out.read().split()[-3:]
            return Sample(wall, float(user) + float(sys_), int(rss))
    return Sample(wall, float("nan"), 0)   # no /usr/bin/time: CPU and RSS not measured


def interleaved(cmds: dict[str, Sequence[str]], reps: int, env: dict[str, str] | None = None,
                warmup: int = 1) -> dict[str, "Stats"]:
    """Medians of wall time, CPU time and peak RSS of each command over reps runs.

    The commands take turns (a, b, c, a, b, c, …) so that a change in the
    machine's load during the run weighs on each of them alike; warm-up runs
    first, so .pyc files exist for all.
    """
    for _ in range(warmup):
        for cmd in cmds.values():
            run_measured(cmd, env)
    samples: dict[str, list[Sample]] = {name: [] for name in cmds}
    for _ in range(reps):
        for name, cmd in cmds.items():
            samples[name].append(run_measured(cmd, env))
    return {name: Stats(statistics.median(s.wall for s in got),
                        statistics.median(s.cpu for s in got),
                        statistics.median(s.rss_kib for s in got) / 1024)
            for name, got in samples.items()}


@dataclass
class Stats:
    wall: float     # s
    cpu: float      # s
    rss: float      # MiB


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any SPINE_* or CI settings of the person running the bench."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SPINE_") and k not in ("CI", "FORCE_COLOR")}
    env.update(extra)
    return env


def ratio_line(label: str, ours: float, base: float, unit: str, target: float | None,
               base_label: str) -> tuple[str, bool]:
    ratio = ours / base if base else float("inf")
    verdict = ""
    met = True
    if target is not None:
        met = ratio <= target
        verdict = f"  target ≤ {target:g}× → {'met' if met else 'MISSED'}"
    fmt = "{:8.3f}" if unit == "s" else "{:8.1f}"
    line = (f"  {label:<34} {fmt.format(ours)} {unit:<3} | {base_label:<24} "
            f"{fmt.format(base)} {unit:<3} | ratio {ratio:5.2f}{verdict}")
    return line, met


def limit_line(label: str, value: float, unit: str, limit: float) -> tuple[str, bool]:
    met = value <= limit
    return (f"  {label:<34} {value:8.1f} {unit:<3} | limit {limit:g} {unit} → "
            f"{'met' if met else 'MISSED'}", met)


def start_emulator(data_dir: Path, *args: str):  # type: ignore[no-untyped-def]
    """A `spine emulator serve` subprocess on a free loopback port (tests' EmulatorHandle)."""
    sys.path.insert(0, str(REPO))
    from tests.support.emulator import EmulatorHandle

    return EmulatorHandle(data_dir, *args)
