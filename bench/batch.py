"""Batches (issue 14, point 8): `spine batch run` on 1,000 rows at concurrency 50.

Against one emulator (loopback, `--speed 20`), each row a run of D seconds
(`[emulate:duration=D]`, D spread evenly over 30–120 s; 200 rows of 10–40 s
with --quick). Figures, each beside a baseline measured in the same run:

- requests per run (the emulator's own log: the POST and every GET) against a
  single `spine run create --wait` per run, for 100 of the same durations (run
  during the batch, in groups of 20 a minute apart, under another key) — target:
  no more;
- peak RSS of `spine batch run` (target ≤ 150 MiB) and its CPU per run
  (user + system / rows, target ≤ 20 ms);
- how long after its last run's end the batch exits (target: median ≤ 5 s, over
  the big batch and two small ones of the same durations), and the median
  detection latency over all its runs (a run's end → the poll that saw it) beside
  the SDK's schedule on the same durations (target ≤ ⅓);
- the obvious shell loop, `spine run create -q` per row then one `spine run
  wait` on all the ids, on the same rows: wall time, requests, CPU; beside it the
  batch at concurrency 50 and at 500 (the loop caps nothing: all its runs are in
  flight at once).

Then the schedule's history prior (`History.priors`), simulated with the real
`Waiter` on a fake clock (bench/polling's runs): runs of a template whose
durations spread around their median (lognormal, σ 0.15 / 0.3 / 0.5), waited
on without a creation-time estimate, with the prior the history would make of 9
earlier runs (`prior_of`: their median and spread), without it, and with
spine-sdk's schedule; 200 runs per case. Target:
median latency ≤ ⅓ of the SDK's at ≤ its requests. Beside each case, the fewest
requests with which any schedule knowing only the distribution of end times
(not the run's progress) gets ⅓ of the SDK's median latency
(`prior_median_bound`), and ⅓ of its mean latency (`prior_bound`).

Run ends are read from the emulator's database (creation time + duration, on
its clock, whose offset from the wall clock `/_emulator/clock` gives).
"""

from __future__ import annotations

import json
import math
import random
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from bench.common import SPINE, Sample, clean_env, limit_line, ratio_line, run_measured, start_emulator
from bench.many_runs import sdk_polls
from bench.polling import SimRun, run_fixed_schedule, run_ours, sdk_delay
from spine_cli.local.history import prior_of

CONCURRENCY = 50
WIDE = 500  # the largest --concurrency: the shell loop has no cap at all
SINGLES, SINGLES_GROUP = 100, 20  # the create --wait baseline (20 varied 11.8-13.3 req/run)
SMALL = 50


def durations(count: int, lo: float, hi: float, seed: int = 7) -> list[float]:
    spread = [round(lo + (hi - lo) * i / max(1, count - 1), 1) for i in range(count)]
    random.Random(seed).shuffle(spread)
    return spread


def write_rows(path: Path, spread: list[float], tag: str) -> None:
    path.write_text("".join(json.dumps({"key": f"{tag}{i:04d}", "prompt":
                                        f"Batch bench {tag}{i} [emulate:duration={d:g}]"}) + "\n"
                            for i, d in enumerate(spread)))


class Lab:
    """One emulator, a fresh key per measurement, and what its log and database say."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.emu = start_emulator(tmp / "emu", "--speed", "20")

    def env(self, key: str, name: str) -> dict[str, str]:
        return clean_env(SPINE_API_KEY=key, SPINE_BASE_URL=self.emu.base_url,
                         SPINE_CONFIG_DIR=str(self.tmp / name / "cfg"),
                         SPINE_DATA_DIR=str(self.tmp / name / "data"))

    def requests(self, key: str) -> list[dict[str, Any]]:
        return [r for r in self.emu.requests(key) if r["path"].startswith("/v1/run")]

    def ends(self, key: str) -> dict[str, float]:
        """run id -> the wall-clock time of its end."""
        import hashlib

        offset = self.emu.control("GET", "clock")["offset"]
        tenant = hashlib.sha256(key.encode()).hexdigest()
        db = sqlite3.connect(f"file:{self.emu.data_dir / 'emulator.sqlite3'}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT run_id, created_at + duration_s FROM runs WHERE tenant = ?",
                              (tenant,)).fetchall()
        finally:
            db.close()
        return {rid: end - offset for rid, end in rows}

    def latencies(self, key: str) -> list[float]:
        """Per run: its end → the first poll at or after it."""
        polls: dict[str, list[float]] = {}
        for r in self.requests(key):
            if r["method"] == "GET":
                polls.setdefault(r["path"].rsplit("/", 1)[1], []).append(r["time"])
        out = []
        for rid, end in self.ends(key).items():
            after = [t for t in polls.get(rid, []) if t >= end]
            if after:
                out.append(min(after) - end)
        return out


def run_batch(lab: Lab, spread: list[float], tag: str, timeout: float,
              concurrency: int = CONCURRENCY) -> tuple[Sample, str, float]:
    """`spine batch run` on rows of these durations: (sample, key, exit lateness)."""
    key = lab.emu.new_key()
    rows = lab.tmp / f"{tag}.jsonl"
    write_rows(rows, spread, tag)
    sample = run_measured([SPINE, "batch", "run", str(rows), "--concurrency", str(concurrency),
                           "-q"], lab.env(key, tag), timeout=timeout)
    t_exit = time.time()
    return sample, key, t_exit - max(lab.ends(key).values())


def start_singles(lab: Lab, spread: list[float], count: int) -> tuple[
        str, list[subprocess.Popen[bytes]], threading.Thread]:
    """`spine run create --wait` for a sample of the durations, one process each, in groups
    of `SINGLES_GROUP` a minute apart (a hundred Python start-ups at once would slow the
    batch's first wave and the singles' own dense first polls); join the thread, then
    wait on the processes."""
    key = lab.emu.new_key()
    sample = sorted(spread)[:: max(1, len(spread) // count)][:count]
    env = lab.env(key, "singles")
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        for i, d in enumerate(sample):
            if i and i % SINGLES_GROUP == 0:
                time.sleep(60.0)
            procs.append(subprocess.Popen(
                [SPINE, "run", "create", "-q", "--wait", "--prompt",
                 f"Single {i} [emulate:duration={d:g}]"], env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    thread = threading.Thread(target=start, daemon=True)
    thread.start()
    return key, procs, thread


def run_loop(lab: Lab, spread: list[float], timeout: float) -> tuple[Sample, str, float]:
    """The shell loop: a create per row, then one wait on every id."""
    key = lab.emu.new_key()
    prompts = lab.tmp / "prompts.txt"
    prompts.write_text("".join(f"Loop bench {i} [emulate:duration={d:g}]\n"
                               for i, d in enumerate(spread)))
    script = lab.tmp / "loop.sh"
    script.write_text(f'set -e\n: > "{lab.tmp}/ids.txt"\n'
                      f'while IFS= read -r p; do "{SPINE}" run create -q --prompt "$p" '
                      f'>> "{lab.tmp}/ids.txt"; done < "{prompts}"\n'
                      f'"{SPINE}" run wait -q $(cat "{lab.tmp}/ids.txt") > /dev/null\n')
    sample = run_measured(["bash", str(script)], lab.env(key, "loop"), timeout=timeout)
    return sample, key, time.time() - max(lab.ends(key).values())


def main(quick: bool = False) -> bool:
    count, lo, hi = (200, 10.0, 40.0) if quick else (1000, 30.0, 120.0)
    spread = durations(count, lo, hi)
    waves = count / CONCURRENCY * (lo + hi) / 2
    print(f"== batch: `spine batch run` on {count} rows lasting {lo:g}–{hi:g} s, concurrency "
          f"{CONCURRENCY} (about {waves / 60:.0f} min), then the shell loop ==")
    with tempfile.TemporaryDirectory(prefix="spine-bench-batch-") as tmp:
        lab = Lab(Path(tmp))
        try:
            ok = measure(lab, spread, count, lo, hi, waves)
        finally:
            lab.emu.close()
    return prior_section(quick) and ok


def measure(lab: Lab, spread: list[float], count: int, lo: float, hi: float,
            waves: float) -> bool:
    # --quick: one group (its batch is over in two minutes)
    single_key, singles, starting = start_singles(lab, spread,
                                                  SINGLES if count >= 1000 else SINGLES_GROUP)
    sample, key, late = run_batch(lab, spread, "big", timeout=waves * 3 + 600)
    starting.join()
    for proc in singles:
        proc.wait(timeout=600)
    log, singles_log = lab.requests(key), lab.requests(single_key)
    latencies = lab.latencies(key)
    lab.emu.clear_requests()
    lates = [late] + [run_batch(lab, durations(SMALL, lo, hi, seed=s), f"small{s}",
                                timeout=hi * 3 + 300)[2] for s in (1, 2)]
    lab.emu.clear_requests()
    loop, loop_key, loop_late = run_loop(lab, spread, timeout=count * 3 + hi + 600)
    loop_log = lab.requests(loop_key)
    lab.emu.clear_requests()
    # The loop has no concurrency cap: beside it, the batch at the largest --concurrency.
    wide, wide_key, _ = run_batch(lab, spread, "wide", timeout=hi * 6 + 600, concurrency=WIDE)
    wide_log = lab.requests(wide_key)
    ok = report(count, sample, log, latencies, lates, singles_log, len(singles), spread)
    compare_loop(count, loop, loop_log, loop_late, [(f"--concurrency {CONCURRENCY}", sample, log),
                                                   (f"--concurrency {WIDE}", wide, wide_log)])
    return ok


def report(count: int, sample: Sample, log: list[dict[str, Any]], latencies: list[float],
           lates: list[float], singles_log: list[dict[str, Any]], singles: int,
           spread: list[float]) -> bool:
    per_run, single = len(log) / count, len(singles_log) / singles
    sdk = statistics.mean(sdk_polls(0.0, d)[0] + 1 for d in spread)  # + its create
    print(f"  spine batch run: {sample.wall:.0f} s wall, {sample.cpu:.1f} s CPU, "
          f"{len(log)} requests ({sum(1 for r in log if r['method'] == 'POST')} POSTs)")
    line, req_ok = ratio_line("requests per run", per_run, single, "req", 1.0,
                              "one create --wait each")
    print(line + f"   (SDK schedule: {sdk:.1f})")
    rss_line, rss_ok = limit_line("peak RSS", sample.rss_kib / 1024, "MiB", 150)
    cpu_line, cpu_ok = limit_line("CPU per run", sample.cpu / count * 1000, "ms", 20)
    print(rss_line + "\n" + cpu_line)
    median_late = statistics.median(lates)
    late_ok = median_late <= 5.0
    print(f"  {'exit after the last run ended':<34} {median_late:8.1f} s   | median of "
          f"{', '.join(f'{x:.1f}' for x in lates)} s; limit 5 s → {'met' if late_ok else 'MISSED'}")
    # The SDK's schedule on the same runs, each waited on from its creation (simulated:
    # its delays are fixed, so where its polls fall follows from the duration alone).
    sdk_latency = statistics.median(sdk_polls(0.0, d)[1] - d for d in spread)
    ours_latency = statistics.median(latencies)
    line, latency_ok = ratio_line("detection latency, median", ours_latency, sdk_latency, "s",
                                  1 / 3, "SDK schedule")
    print(line + f"   (ours p90 {sorted(latencies)[int(0.9 * len(latencies))]:.1f} s over "
          f"{len(latencies)} runs)")
    return req_ok and rss_ok and cpu_ok and late_ok and latency_ok


def compare_loop(count: int, loop: Sample, loop_log: list[dict[str, Any]], loop_late: float,
                 batches: list[tuple[str, Sample, list[dict[str, Any]]]]) -> None:
    print(f"  shell loop (create -q × {count}, then one run wait): {loop.wall:.0f} s wall, "
          f"{loop.cpu:.1f} s CPU, {len(loop_log)} requests, exit {loop_late:.1f} s after the "
          "last end")
    for name, sample, log in batches:
        print(f"  batch {name}: {sample.wall:.0f} s wall, {sample.cpu:.1f} s CPU, "
              f"{len(log)} requests")
        for label, ours, base, unit in (("wall", sample.wall, loop.wall, "s"),
                                        ("CPU", sample.cpu, loop.cpu, "s"),
                                        ("requests", len(log), len(loop_log), "req")):
            print(ratio_line(f"  {label} vs shell loop", ours, base, unit, None, "shell loop")[0])


# --- the schedule's prior, simulated ------------------------------------------------------

PRIOR_MEDIANS = [120.0, 600.0, 1800.0, 7200.0]
PRIOR_SPREADS = [0.15, 0.30, 0.50]


def _lognormal(median: float, sigma: float, n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [median * math.exp(sigma * rng.gauss(0.0, 1.0)) for _ in range(n)]


def prior_case(median: float, sigma: float, model: str, n: int) -> dict[str, tuple[float, ...]]:
    """(mean requests, median latency, mean latency) per schedule for n runs of one template."""
    # The prior as the history makes it, from 9 earlier runs of the template.
    prior, spread = prior_of([round(d * 1000) for d in _lognormal(median, sigma, 9, seed=1)])
    runs = [SimRun(d, prior, 1000 + i, model)
            for i, d in enumerate(_lognormal(median, sigma, n, seed=2))]
    results = {"prior": [run_ours(r, spread=spread) for r in runs],
               "none": [run_ours(r, with_estimate=False) for r in runs],
               "sdk": [run_fixed_schedule(r, sdk_delay) for r in runs]}
    return {name: (statistics.mean(o.requests for o in outs),
                   statistics.median(o.latency for o in outs),
                   statistics.mean(o.latency for o in outs)) for name, outs in results.items()}


def prior_bound(median: float, sigma: float, latency: float, steps: int = 20000) -> float:
    """The fewest requests per run that any schedule knowing only the distribution of end
    times (lognormal: `median`, `sigma`; not even progress) needs for a mean detection
    latency of `latency` s. Polls at density n(t) cost ∫ S·n dt requests (a poll is sent
    while the run is not over: S, the survival) and leave ∫ f/(2n) dt of latency (f, the
    density); by Cauchy-Schwarz the least requests are (∫ √(f·S) dt)² / (2·latency), with
    n ∝ √(hazard). Continuous polls: a real schedule needs more (its start, for one)."""
    total = sum(math.sqrt(mass * _survival(t, median, sigma) * dt)
                for t, dt, mass in _lognormal_cells(median, sigma, steps))
    return total * total / (2 * latency)


def prior_median_bound(median: float, sigma: float, latency: float,
                       steps: int = 20000) -> float:
    """The fewest requests per run that any schedule knowing only the distribution of end
    times needs for a *median* detection latency of `latency` s: half the runs seen within
    `latency` of their end. A poll at τ sees within `latency` the runs that ended in
    [τ − latency, τ] and is sent with chance at least S(τ) ≥ S(t + latency) for each t
    there, so a set B of end times seen in time costs at least ∫_B S(t + latency) dt /
    latency; the cheapest B holding half the runs takes the times of highest
    f(t) / S(t + latency) first (a fractional knapsack). Reaching it means polling densely
    only where runs are likeliest to end, and seeing the others late."""
    cells = []
    for t, dt, mass in _lognormal_cells(median, sigma, steps):
        cost = _survival(t + latency, median, sigma) * dt
        if mass > 0:
            cells.append((cost / mass, mass, cost))
    cells.sort()
    seen = spent = 0.0
    for _, mass, cost in cells:
        share = min(1.0, (0.5 - seen) / mass)
        seen, spent = seen + mass * share, spent + cost * share
        if seen >= 0.5:
            break
    return spent / latency


def _lognormal_cells(median: float, sigma: float,
                     steps: int) -> Iterator[tuple[float, float, float]]:
    """(t, dt, the chance of an end in the cell) over ±7 σ, in `steps` cells."""
    lo, hi = median * math.exp(-7 * sigma), median * math.exp(7 * sigma)
    dt = (hi - lo) / steps
    for i in range(steps):
        t = lo + (i + 0.5) * dt
        z = math.log(t / median) / sigma
        yield t, dt, math.exp(-z * z / 2) / (t * sigma * math.sqrt(2 * math.pi)) * dt


def _survival(t: float, median: float, sigma: float) -> float:
    return 0.5 * math.erfc(math.log(t / median) / sigma / math.sqrt(2))


def prior_section(quick: bool) -> bool:
    n = 40 if quick else 200  # the SDK's median latency moves ±2 s between cases at 60
    print(f"== schedule prior (simulated, fake clock): runs without an estimate, {n} per case; "
          "requests / median latency ==")
    print(f"{'model':<9} {'median':>7} {'σ':>5} | {'with prior':>14} {'without':>14} "
          f"{'SDK':>14} | latency ratio  requests ratio | bounds: median  mean")
    verdicts, beyond = [], []
    for model in ("growing", "spawning"):
        for median in PRIOR_MEDIANS:
            for sigma in PRIOR_SPREADS:
                r = prior_case(median, sigma, model, n)
                (pq, pl, _), (nq, nl, _), (sq, sl, sm) = r["prior"], r["none"], r["sdk"]
                met = pl <= sl / 3 and pq <= sq
                need = prior_median_bound(median, sigma, sl / 3)
                need_mean = prior_bound(median, sigma, sm / 3)
                verdicts.append(met)
                beyond.append(not met and need > sq)
                print(f"{model:<9} {median:6.0f}s {sigma:5.2f} | {pq:6.1f} / {pl:5.1f}s "
                      f"{nq:6.1f} / {nl:5.1f}s {sq:6.1f} / {sl:5.1f}s | {pl / sl:5.2f} "
                      f"(none {nl / sl:4.2f})  {pq / sq:5.2f}  {'met' if met else 'MISSED'} "
                      f"| {need:6.1f} {need_mean:6.1f}")
    print(f"  target (≤ ⅓ of the SDK's latency at ≤ its requests) met in {sum(verdicts)} of "
          f"{len(verdicts)} cases; {sum(beyond)} of the missed are beyond what the prior alone "
          "can give")
    print("  bounds: the fewest requests per run with which any schedule that knows the end "
          "times' distribution, but nothing of the run's progress, gets ⅓ of the SDK's median "
          "latency (`prior_median_bound`; the target's, beyond the prior when it exceeds the "
          "SDK's requests), and ⅓ of its mean latency (`prior_bound`)")
    return all(verdicts)


if __name__ == "__main__":
    main(quick=True)
