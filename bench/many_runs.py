"""Many runs: one `spine run wait` on 200 runs at once against the emulator.

The runs are created with httpx directly (so `spine` knows no estimate, as for
runs created elsewhere), each with `[emulate:duration=D]`, D spread evenly over
30–120 s (10–40 s with --quick), so each ends at a known moment. Figures:

- lateness: how long after the last run's end `spine run wait` exited, beside
  the interval between the last two polls of that run (target: within one
  poll interval);
- peak RSS of `spine run wait` (target ≤ 150 MiB);
- requests, from the emulator's own log (`/_emulator/requests`), beside what
  spine-sdk's `handle.wait()` schedule (2 s doubling to 30 s) would send for the
  same runs, each polled on its own from the same moment (target: no more).
  For information, also what a script's `for h in handles: h.wait()` would send.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import SPINE, clean_env, limit_line, ratio_line, run_measured, start_emulator
from bench.polling import sdk_delay

COUNT = 200


def sdk_polls(start: float, end: float) -> tuple[int, float]:
    """Polls of one SDK wait started at `start` on a run ending at `end`; and when it returns."""
    now, n = start, 0
    while True:
        n += 1
        if now >= end:
            return n, now
        now += sdk_delay(n - 1)


def create_runs(base_url: str, key: str, durations: list[float]) -> list[tuple[str, float]]:
    """(run id, wall-clock end) for each run."""
    runs = []
    with httpx.Client(base_url=base_url, headers={"X-API-KEY": key}, timeout=30.0) as http:
        for i, d in enumerate(durations):
            t0 = time.time()
            r = http.post("/v1/run", data={"prompt": f"Many runs #{i} [emulate:duration={d:g}]"})
            t1 = time.time()
            r.raise_for_status()
            runs.append((r.json()["data"]["run_id"], (t0 + t1) / 2 + d))
    return runs


def main(quick: bool = False) -> bool:
    lo, hi = (10.0, 40.0) if quick else (30.0, 120.0)
    durations = [round(lo + (hi - lo) * i / (COUNT - 1), 1) for i in range(COUNT)]
    random.Random(7).shuffle(durations)
    print(f"== many runs: `spine run wait` on {COUNT} runs lasting {lo:g}–{hi:g} s ==")
    with tempfile.TemporaryDirectory(prefix="spine-bench-many-") as tmp:
        tmp_path = Path(tmp)
        emu = start_emulator(tmp_path / "emu")
        try:
            key = emu.new_key()
            runs = create_runs(emu.base_url, key, durations)
            env = clean_env(SPINE_API_KEY=key, SPINE_BASE_URL=emu.base_url,
                            SPINE_CONFIG_DIR=str(tmp_path / "cfg"),
                            SPINE_DATA_DIR=str(tmp_path / "data"))
            t_start = time.time()
            sample = run_measured([SPINE, "run", "wait", "-q", *(rid for rid, _ in runs)], env,
                                  timeout=hi + 300)
            t_exit = time.time()
            log = [e for e in emu.requests(key) if e["method"] == "GET"
                   and e["path"].startswith("/v1/run/") and e["time"] >= t_start - 0.5]
        finally:
            emu.close()
    return report(runs, log, sample, t_start, t_exit)


def report(runs, log, sample, t_start: float, t_exit: float) -> bool:  # type: ignore[no-untyped-def]
    last_end = max(end for _, end in runs)
    # The run noticed last decides when the wait ends; the interval it was being
    # polled at is "one poll interval".
    finals = []
    for rid, _ in runs:
        polls = sorted(e["time"] for e in log if e["path"].endswith(rid))
        if len(polls) >= 2:
            finals.append((polls[-1], polls[-1] - polls[-2]))
    gap = max(finals)[1] if finals else float("nan")
    late = t_exit - last_end
    sdk_each = [sdk_polls(t_start, end) for _, end in runs]
    sdk_total = sum(n for n, _ in sdk_each)
    # A script's `for h in handles: h.wait()`: each wait starts when the previous returns.
    now, loop_total = t_start, 0
    for _, end in runs:
        n, now = sdk_polls(now, end)
        loop_total += n
    sdk_done = max(t for _, t in sdk_each)
    print(f"  spine run wait: {sample.wall:.1f} s wall, {sample.cpu:.1f} s CPU; "
          f"last run ended {last_end - t_start:.1f} s after the wait began")
    late_ok = late <= gap + 1.0   # + process exit
    print(f"  {'exit after the last end':<34} {late:8.1f} s   | poll interval at the end "
          f"{gap:.1f} s (SDK would exit {sdk_done - last_end:.1f} s after) → "
          f"{'met' if late_ok else 'MISSED'}")
    rss_line, rss_ok = limit_line("spine run wait peak RSS", sample.rss_kib / 1024, "MiB", 150)
    print(rss_line)
    line, req_ok = ratio_line("requests (emulator log)", len(log), sdk_total, "req", 1.0,
                              "SDK wait, each run")
    print(line.replace(".0 req", "   req"))
    print(f"  {'':<34} (a sequential `for h in handles: h.wait()` loop would send {loop_total}, "
          f"returning {now - last_end:.0f} s after the last end)")
    print(f"  mean requests per run: spine {len(log) / len(runs):.1f}, "
          f"SDK {sdk_total / len(runs):.1f}")
    return late_ok and rss_ok and req_ok


if __name__ == "__main__":
    main(quick=True)
