"""The poll schedule: when to poll a running run next (a pure function).

The schedule is a pure function of what is known about a run: elapsed time,
the server's `estimated_duration_ms`, the progress fraction
(`tasks_completed/tasks_total`) and `Retry-After`. From these it derives a
window of plausible end times (`end_window`): the estimate ±30 %, narrowed by
progress (elapsed/fraction, whose spread shrinks as the fraction grows). When
the two disagree, progress is believed only when it says "later": while
sub-tasks are being spawned `tasks_total` lags the work to come, so the
fraction runs ahead of the time. Then:

- dense at the start, as the SDK: polls at about 0, 2, 6 and 14 s after
  creation, and every 5 s at most while `canvas_id` is missing (up to a
  minute), to pick it up and to catch runs that fail at once;
- sparse in the middle: each wait covers 3/4 of the way to the earliest
  plausible end, up to 60 s;
- dense inside the window: 6 % of the run length, between 2 s and 7 s, plus
  1 s per 200 s already spent in it (counted from halfway between the
  estimate's earliest end and the window's, since progress that keeps
  saying "nearly done" can hold the window just ahead for a long time);
- past the window (an overrun), backing off gently: +1 s per 6 s of overrun;
- with a prior instead of the server's estimate (a run created elsewhere, whose
  template the history knows: the median of its durations and their spread σ,
  the standard deviation of their logarithms): the window is the template's own,
  from e^(−0.6σ) to e^(3σ) times the median (σ kept within 0.1–0.5), holding
  most of its runs' ends, so it is not stretched, and polls inside it are at
  most 6 s apart;
- without an estimate (`spine run wait` on a run created elsewhere): the
  SDK's pace (the elapsed time, up to 30 s), shortened to the time progress
  says is left once the fraction reaches 0.9 (not below the near-end interval).

`Retry-After` always wins. Bounds: never below 1 s, never above 60 s (except
a longer Retry-After, which the wait loop caps with the retry policy and its
budgets). `bench/polling.py` measures the schedule against the SDK's and the
docs' advice on simulated runs. The loop that uses it is `runs.waiter`.
"""

from __future__ import annotations

import math

MIN_INTERVAL = 1.0
MAX_INTERVAL = 60.0
EARLY_PHASE = 10.0          # seconds of dense polling after creation (canvas_id, instant failures)
CANVAS_PHASE = 60.0         # while canvas_id is missing, poll at most this long…
CANVAS_INTERVAL = 5.0       # …at most this far apart
ESTIMATE_ERROR = 0.30       # how far the server's estimate may miss, either way
PROGRESS_ERROR = 0.05       # how far elapsed/fraction may miss once progress is nearly complete
APPROACH = 0.75              # share of the way to the earliest plausible end covered by one wait
NEAR_END_FRACTION = 0.06    # interval inside the plausible-end window, as a share of the run length
NEAR_END_FLOOR = 2.0
NEAR_END_CEILING = 7.0
NO_ESTIMATE_CEILING = 30.0  # without an estimate, as the SDK: the elapsed time, up to 30 s…
NEARLY_DONE = 0.9           # …or, from this fraction on, the time progress says is left
WINDOW_STRETCH = 0.005     # inside the window, +1 s per 200 s spent in it (see next_poll_delay)
OVERRUN_BACKOFF = 6.0       # past the window, the interval grows by 1 s per this many seconds
PRIOR_BEFORE, PRIOR_AFTER = 0.6, 3.0  # a prior's window: σ's before and after its median…
PRIOR_SPREAD = (0.1, 0.5)   # …σ kept within these
PRIOR_NEAR_CEILING = 6.0    # polls inside a prior's window at most this far apart


def end_window(elapsed: float, estimated: float | None, fraction: float | None,
               spread: float | None = None) -> tuple[float, float] | None:
    """Earliest and latest plausible total length of the run in seconds, or None.
    `spread`: `estimated` is a prior, the median of durations spread by that much."""
    by_estimate = None
    if estimated and spread is not None:
        sigma = min(max(spread, PRIOR_SPREAD[0]), PRIOR_SPREAD[1])
        by_estimate = (estimated * math.exp(-PRIOR_BEFORE * sigma),
                       estimated * math.exp(PRIOR_AFTER * sigma))
    elif estimated:
        by_estimate = (estimated / (1 + ESTIMATE_ERROR), estimated / (1 - ESTIMATE_ERROR))
    by_progress = _progress_window(elapsed, fraction)
    if by_progress is None or by_estimate is None:
        return by_progress or by_estimate
    lo, hi = max(by_estimate[0], by_progress[0]), min(by_estimate[1], by_progress[1])
    if lo <= hi:
        return (lo, hi)
    # They disagree. Progress saying "later" is believed; "sooner" is not: while
    # sub-tasks are being spawned, tasks_total lags the work to come and the
    # fraction runs ahead.
    return by_progress if by_progress[0] > by_estimate[1] else by_estimate


def _progress_window(elapsed: float, fraction: float | None) -> tuple[float, float] | None:
    if fraction is None or not 0.05 <= fraction < 1.0 or elapsed < 10.0:
        return None
    mid, spread = elapsed / fraction, PROGRESS_ERROR + ESTIMATE_ERROR * (1.0 - fraction)
    return (mid * (1 - spread), mid * (1 + spread))


def predicted_end(elapsed: float, estimated: float | None, fraction: float | None) -> float | None:
    """Best guess of the run's total length in seconds, or None."""
    window = end_window(elapsed, estimated, fraction)
    return None if window is None else max(elapsed, (window[0] + window[1]) / 2.0)


def next_poll_delay(elapsed: float, estimated: float | None = None, fraction: float | None = None,
                    retry_after: float | None = None, have_canvas: bool = True,
                    spread: float | None = None) -> float:
    """Seconds to wait before the next poll of a running run (`spread`: `estimated` is a
    prior, see `end_window`)."""
    if retry_after is not None:
        return max(MIN_INTERVAL, retry_after)
    if not have_canvas and elapsed < CANVAS_PHASE:
        return _clamp(min(2.0 + elapsed, CANVAS_INTERVAL))
    if elapsed < EARLY_PHASE:
        return _clamp(2.0 + elapsed)
    if not estimated:
        return _without_estimate(elapsed, fraction)
    window = end_window(elapsed, estimated, fraction, spread)
    if window is None:  # pragma: no cover - an estimate always gives a window
        return _without_estimate(elapsed, fraction)
    lo, hi = window
    ceiling = NEAR_END_CEILING if spread is None else PRIOR_NEAR_CEILING
    near = min(ceiling, max(NEAR_END_FLOOR, NEAR_END_FRACTION * (lo + hi) / 2.0))
    if elapsed < lo:
        # Sparse mid-run, closing in on the earliest plausible end.
        return _clamp(max(near, APPROACH * (lo - elapsed)))
    if spread is not None and elapsed <= hi:
        return _clamp(near)  # a prior's window already holds its template's spread
    if elapsed <= hi:
        # The longer the run stays in the window, the less it says; progress that
        # keeps saying "nearly done" holds lo just ahead, so count from halfway
        # back to the estimate's own earliest end.
        since = elapsed - (lo + estimated / (1 + ESTIMATE_ERROR)) / 2.0
        return _clamp(near + WINDOW_STRETCH * max(0.0, since))
    return _clamp(near + (elapsed - hi) / OVERRUN_BACKOFF)


def _without_estimate(elapsed: float, fraction: float | None) -> float:
    """The SDK's pace (the interval doubles up to 30 s); denser only when progress is nearly
    complete, since alone it says too little about the time left."""
    delay = min(elapsed, NO_ESTIMATE_CEILING)
    if fraction is not None and NEARLY_DONE <= fraction < 1.0:
        left = elapsed * (1.0 - fraction) / fraction
        near = min(NEAR_END_CEILING, max(NEAR_END_FLOOR, NEAR_END_FRACTION * elapsed))
        delay = min(delay, max(near, left))
    return _clamp(delay)


def _clamp(value: float) -> float:
    return max(MIN_INTERVAL, min(MAX_INTERVAL, value))
