"""The poll schedule (pure) and the wait loop, driven by a fake clock.

Each schedule test pins one property the design asks for: bounds, Retry-After
wins, dense early, sparse mid-run, denser near the expected end, backoff on
overrun. Efficiency figures (requests, detection latency) live in
`bench/polling.py`, not here: nothing in this file is timed.
"""

from __future__ import annotations

import itertools
import math

import pytest

from spine_cli.api.models import Run
from spine_cli.api.retry import RequestBudget
from spine_cli.errors import (MalformedResponseError, NetworkError, NotFoundError,
                              RateLimitError, ServerError)
from spine_cli.runs.schedule import (
    MAX_INTERVAL,
    MIN_INTERVAL,
    PRIOR_NEAR_CEILING,
    end_window,
    next_poll_delay,
    predicted_end,
)
from spine_cli.runs.waiter import Tracked, WaitOptions, Waiter

IDS = {"r": "00000000-0000-4000-8000-00000000000f", "a": "00000000-0000-4000-8000-00000000000a",
       "b": "00000000-0000-4000-8000-00000000000b", "c": "00000000-0000-4000-8000-00000000000c"}
CANVAS = "cccccccc-0000-4000-8000-000000000000"


def as_run(data: dict) -> Run:
    """The test's short ids made into the UUIDs the API answers with."""
    data = {**data, "run_id": IDS.get(data["run_id"], data["run_id"])}
    if data.get("canvas_id"):
        data["canvas_id"] = CANVAS
    return Run.parse(data)

FIFTEEN_MIN = 900.0


# -- the schedule ------------------------------------------------------------

def test_every_delay_stays_within_1_and_60_seconds() -> None:
    elapsed = [0, 0.5, 5, 9.9, 10, 30, 120, 600, 899, 900, 1500, 7200, 20000]
    estimates = [None, 0, 1, 30, FIFTEEN_MIN, 7200]
    fractions = [None, 0.0, 0.01, 0.05, 0.5, 0.97, 0.999, 1.0]
    for e, est, f, canvas in itertools.product(elapsed, estimates, fractions, (True, False)):
        delay = next_poll_delay(e, est, f, None, canvas)
        assert MIN_INTERVAL <= delay <= MAX_INTERVAL, (e, est, f, canvas, delay)


def test_retry_after_always_wins_even_beyond_60_seconds() -> None:
    assert next_poll_delay(300, FIFTEEN_MIN, 0.3, retry_after=120) == 120
    assert next_poll_delay(300, FIFTEEN_MIN, 0.3, retry_after=5) == 5
    assert next_poll_delay(2, FIFTEEN_MIN, None, retry_after=45, have_canvas=False) == 45
    assert next_poll_delay(300, retry_after=0.2) == MIN_INTERVAL


def _poll_times(until: float, estimated: float | None, fraction_at=lambda t: None) -> list[float]:
    times, now = [0.0], 0.0
    while now < until:
        now += next_poll_delay(now, estimated, fraction_at(now), None, now >= 1.0)
        times.append(now)
    return times


def test_dense_early_like_the_sdk_four_polls_in_the_first_15_seconds() -> None:
    assert _poll_times(14, FIFTEEN_MIN) == [0, 2, 6, 14]
    assert all(next_poll_delay(e, FIFTEEN_MIN) <= 11 for e in (0, 2, 5, 9))


def test_dense_until_the_canvas_appears_for_a_minute_at_most() -> None:
    assert next_poll_delay(12, FIFTEEN_MIN, 0.1, have_canvas=False) == 5
    assert next_poll_delay(12, FIFTEEN_MIN, 0.1, have_canvas=True) > 30
    assert next_poll_delay(300, FIFTEEN_MIN, 0.3, have_canvas=False) == MAX_INTERVAL


def test_sparse_mid_run() -> None:
    for elapsed, fraction in [(60, 0.05), (120, 0.13), (300, 0.33), (600, 0.66)]:
        assert next_poll_delay(elapsed, FIFTEEN_MIN, fraction) == MAX_INTERVAL
    # Without any progress the estimate alone keeps mid-run polls sparse.
    assert next_poll_delay(300, FIFTEEN_MIN, None) == MAX_INTERVAL


def test_denser_near_the_expected_end() -> None:
    mid = next_poll_delay(450, FIFTEEN_MIN, 0.5)
    near = next_poll_delay(880, FIFTEEN_MIN, 0.97)
    assert near <= 10 and near * 5 < mid
    # A short run gets a finer near-end interval than a long one.
    assert next_poll_delay(115, 120, 0.95) < near


def test_backs_off_gently_when_the_run_overruns() -> None:
    # Estimate 10 min; no progress. The window ends at 600/0.7 ≈ 857 s.
    delays = [next_poll_delay(e, 600, None) for e in (480, 800, 900, 1000, 1200, 3000)]
    assert delays == sorted(delays)
    assert delays[0] <= 10 and delays[1] < delays[2] < delays[3] < MAX_INTERVAL
    assert delays[-1] == MAX_INTERVAL


def test_progress_overrides_a_disproved_estimate() -> None:
    # Estimated 5 min, but at 10 min progress says half done: expect ~20 min.
    lo, hi = end_window(600, 300, 0.5)
    assert lo >= 600 and lo < 1200 < hi
    assert next_poll_delay(600, 300, 0.5) == MAX_INTERVAL


def test_without_an_estimate_keeps_the_sdk_pace_until_progress_is_nearly_complete() -> None:
    assert next_poll_delay(20) == 20                     # the elapsed time…
    assert next_poll_delay(400) == 30                    # …up to 30 s
    assert next_poll_delay(100, None, 0.8) == 30         # progress alone says too little
    assert next_poll_delay(100, None, 0.2) == 30
    assert next_poll_delay(100, None, 0.95) == 6         # nearly complete: the near-end interval
    assert next_poll_delay(1000, None, 0.98) == pytest.approx(20.4, abs=0.1)


def test_a_prior_brings_its_templates_own_window_and_no_stretch() -> None:
    # A prior of 2 h whose template's durations spread by σ 0.2: the window runs from
    # e^(-0.6σ) to e^(3σ) of the median, and inside it polls stay at most
    # PRIOR_NEAR_CEILING apart however long the run stays (an estimate's grow).
    lo, hi = end_window(3000, 7200, None, spread=0.2)
    assert (lo, hi) == (pytest.approx(7200 * math.exp(-0.12)), pytest.approx(7200 * math.exp(0.6)))
    assert end_window(3000, 7200, None, spread=0.0) == end_window(3000, 7200, None, spread=0.1)
    assert end_window(3000, 7200, None, spread=2.0) == end_window(3000, 7200, None, spread=0.5)
    assert next_poll_delay(3000, 7200, None, spread=0.2) == MAX_INTERVAL  # sparse before it
    inside = [next_poll_delay(e, 7200, None, spread=0.2) for e in (6500, 8000, 9000, 13000)]
    assert inside == [PRIOR_NEAR_CEILING] * 4
    assert next_poll_delay(13000, 7200, None) > 20  # the API's estimate: past its window
    assert next_poll_delay(14000, 7200, None, spread=0.2) > PRIOR_NEAR_CEILING  # past the prior's
    # Progress still narrows it: half done at 100 min says 120 min, give or take 20 %.
    assert end_window(6000, 7200, 0.5, spread=0.2) == (pytest.approx(9600), pytest.approx(hi))


def test_predicted_end() -> None:
    assert predicted_end(30, None, None) is None
    assert predicted_end(30, None, 0.01) is None       # too little progress to say
    assert predicted_end(5, None, 0.5) is None         # too early to trust the rate
    assert predicted_end(0, FIFTEEN_MIN, None) == pytest.approx(989, abs=1)
    assert predicted_end(600, None, 0.95) == pytest.approx(632, abs=5)
    # Progress saying "sooner" than the estimate is not believed; "later" is.
    assert predicted_end(600, FIFTEEN_MIN, 0.95) == pytest.approx(989, abs=1)
    assert predicted_end(1200, FIFTEEN_MIN, 0.5) == pytest.approx(2400, abs=1)


# -- the wait loop with a fake clock -------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


def _running(t: float, end: float | None = None) -> dict:
    done = min(9, int(10 * t / end)) if end else 1
    return {"run_id": "r", "status": "running", "canvas_id": "c",
            "progress": {"tasks_completed": done, "tasks_total": 10, "elapsed_ms": int(t * 1000)}}


def _wait(fetch_at, *, workers: int = 1, **options) -> tuple[Tracked, FakeClock, list[float]]:
    clock, polls = FakeClock(), []

    def fetch(run_id: str, deadline: float | None) -> Run:
        polls.append(clock.now)
        return as_run(fetch_at(clock.now))

    tracked = Tracked(IDS["r"], estimated=options.pop("estimated", None),
                      spread=options.pop("spread", None))
    Waiter(fetch, WaitOptions(workers=workers, **options), clock=clock,
           sleep=clock.sleep).run([tracked])
    return tracked, clock, polls


def test_the_wait_loop_keeps_a_priors_window_to_its_templates_spread() -> None:
    # A template's runs take 1 h, give or take a lot (σ 0.5); this one takes 2.5 h, far
    # past 1 h ± 30 % but inside the template's own spread: still seen within
    # PRIOR_NEAR_CEILING of its end. Taken for the API's estimate, 1 h is long overrun by
    # then and polls have backed off.
    def at(t: float) -> dict:
        if t >= 9000:
            return {"run_id": "r", "status": "completed"}
        return {"run_id": "r", "status": "running", "canvas_id": "c",
                "progress": {"elapsed_ms": int(t * 1000)}}  # no tasks: no fraction

    _, clock, polls = _wait(at, estimated=3600, spread=0.5)
    assert clock.now - 9000 <= PRIOR_NEAR_CEILING
    _, clock, estimated_polls = _wait(at, estimated=3600)
    assert clock.now - 9000 > 20 and len(estimated_polls) < len(polls)


@pytest.mark.parametrize("status, partial_ok, code", [
    ("completed", False, 0), ("failed", False, 3), ("partial", False, 5), ("partial", True, 0),
])
def test_terminal_status_gives_its_exit_code(status: str, partial_ok: bool, code: int) -> None:
    def at(t: float) -> dict:
        return _running(t, 100) if t < 100 else {"run_id": "r", "status": status}

    tracked, clock, polls = _wait(at, partial_ok=partial_ok, estimated=100)
    assert tracked.done and tracked.exit_code == code
    assert 100 <= clock.now <= 108           # noticed within one near-end interval
    assert len(polls) <= 12


def test_an_already_terminal_run_is_polled_once() -> None:
    tracked, clock, polls = _wait(lambda t: {"run_id": "r", "status": "failed"})
    assert tracked.exit_code == 3 and polls == [0.0] and clock.now == 0.0


def test_timeout_stops_waiting_with_exit_6() -> None:
    tracked, clock, _ = _wait(_running, timeout=300)
    assert tracked.exit_code == 6
    assert clock.now == pytest.approx(300)


def test_not_found_ends_with_exit_9() -> None:
    def at(t: float) -> dict:
        raise NotFoundError("Run not found: r", 404)

    tracked, _, polls = _wait(at)
    assert tracked.exit_code == 9 and len(polls) == 1


def test_outage_beyond_the_budget_ends_with_exit_8() -> None:
    def at(t: float) -> dict:
        if t < 30:
            return _running(t)
        raise NetworkError("connection refused")

    tracked, clock, polls = _wait(at, max_outage=120)
    assert tracked.exit_code == 8
    first_failure = next(p for p in polls if p >= 30)
    assert 120 <= clock.now - first_failure <= 120 + 30


def test_transient_failures_within_the_budget_are_ridden_out() -> None:
    def at(t: float) -> dict:
        if 20 <= t < 60:
            raise ServerError("boom", 503)
        return _running(t) if t < 90 else {"run_id": "r", "status": "completed"}

    tracked, _, _ = _wait(at, max_outage=600)
    assert tracked.exit_code == 0 and tracked.failures == 0


def test_rate_limit_retry_after_is_honoured_by_the_loop_up_to_the_policy_cap() -> None:
    calls = []

    def at(t: float) -> dict:
        calls.append(t)
        if len(calls) in (2, 4):
            raise RateLimitError("slow down", 429, retry_after=[None, 12, None, 75][len(calls) - 1])
        return _running(t) if t < 200 else {"run_id": "r", "status": "completed"}

    tracked, _, polls = _wait(at)
    assert tracked.exit_code == 0
    assert polls[2] - polls[1] == pytest.approx(12)  # Retry-After wins over the backoff
    assert polls[4] - polls[3] == pytest.approx(30)  # ...up to the retry policy's cap


def test_a_huge_retry_after_never_overshoots_max_outage() -> None:
    def at(t: float) -> dict:
        raise RateLimitError("slow down", 429, retry_after=999999999)

    tracked, clock, polls = _wait(at, max_outage=20)
    assert tracked.exit_code == 8 and clock.now == pytest.approx(20)
    assert tracked.outage == pytest.approx(20)  # the true time spent, for the message


def test_the_last_backoff_is_cut_to_what_is_left_of_max_outage() -> None:
    def at(t: float) -> dict:
        raise NetworkError("connection refused")

    tracked, clock, polls = _wait(at, max_outage=15)
    assert tracked.exit_code == 8 and clock.now == pytest.approx(15)  # not 30
    assert [b - a for a, b in zip(polls, polls[1:])][-1] <= 15 - sum(
        b - a for a, b in zip(polls[:-2], polls[1:-1]))


def test_a_retry_after_never_overshoots_the_timeout() -> None:
    def at(t: float) -> dict:
        raise RateLimitError("slow down", 429, retry_after=600)

    tracked, clock, _ = _wait(at, timeout=10)
    assert tracked.exit_code == 6 and clock.now == pytest.approx(10)


def test_an_unknown_status_ends_the_wait_naming_it() -> None:
    tracked, _, polls = _wait(lambda t: {"run_id": "r", "status": "cancelled"})
    assert tracked.exit_code == 8 and len(polls) == 1
    assert isinstance(tracked.error, MalformedResponseError)
    assert "'cancelled'" in tracked.error.message


def test_an_answer_of_the_wrong_shape_is_a_failed_poll_not_the_end() -> None:
    def at(t: float) -> dict:
        if t < 10:
            raise MalformedResponseError("The API answered with str run instead of an object.")
        return {"run_id": "r", "status": "completed"}

    tracked, _, polls = _wait(at)
    assert tracked.exit_code == 0 and len(polls) >= 3


def test_fixed_poll_interval_replaces_the_schedule() -> None:
    def at(t: float) -> dict:
        return _running(t) if t < 50 else {"run_id": "r", "status": "completed"}

    _, _, polls = _wait(at, poll_interval=10)
    assert polls == [0, 10, 20, 30, 40, 50]


def test_several_runs_in_the_pooled_loop_each_get_their_outcome() -> None:
    clock = FakeClock()
    ends = {"a": 40.0, "b": 70.0, "c": 100.0}
    outcome = {"a": "completed", "b": "failed", "c": "partial"}

    names = {IDS[r]: r for r in ends}

    def fetch(run_id: str, deadline: float | None) -> Run:
        name = names[run_id]
        if clock.now >= ends[name]:
            return as_run({"run_id": name, "status": outcome[name]})
        return as_run({**_running(clock.now), "run_id": name})

    tracked = [Tracked(IDS[r], estimated=ends[r]) for r in ends]
    Waiter(fetch, WaitOptions(workers=4), clock=clock, sleep=clock.sleep).run(tracked)
    assert [t.exit_code for t in tracked] == [0, 3, 5]


def test_a_429_on_one_run_pauses_the_polls_of_every_run_under_the_key() -> None:
    """One request budget per key: after run a's 429 (Retry-After 20), b and c wait too."""
    clock = FakeClock()
    polls: list[tuple[str, float]] = []
    names = {IDS[r]: r for r in "abc"}

    def fetch(run_id: str, deadline: float | None) -> Run:
        name = names[run_id]
        polls.append((name, clock.now))
        if [n for n, _ in polls].count("a") == 3 and name == "a":
            raise RateLimitError("slow down", 429, retry_after=20)
        return as_run({**_running(clock.now), "run_id": name})

    tracked = [Tracked(IDS[r], estimated=600) for r in "abc"]
    budget = RequestBudget(clock)
    Waiter(fetch, WaitOptions(workers=1, timeout=120), clock=clock, sleep=clock.sleep,
           budget=budget).run(tracked)
    limited = [t for name, t in polls if name == "a"][2]
    after = [(name, t) for name, t in polls if t > limited]
    assert after and all(t >= limited + 20 for _, t in after), after
    assert {name for name, _ in after} == {"a", "b", "c"}
    assert budget.pauses == 1
