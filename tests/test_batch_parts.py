"""The batch runner's small parts: the throttle, the daemon pool, the schedule's prior."""

from __future__ import annotations

import threading
import uuid

import pytest

from spine_cli.local.settings import load_settings
from spine_cli.runs.batch.jobs import PAUSE_WINDOW, DaemonPool, Throttle
from spine_cli.runs.follow import new_tracked, schedule_estimates
from support.cli import FakeTime, spine
from support.history import history, observe, record


def test_the_throttle_halves_after_repeated_pauses_and_grows_back_after_successes():
    throttle = Throttle(8)
    assert throttle.limit == 8
    assert throttle.observe(1, now=0.0) is False       # one 429: the budget's pause is enough
    assert throttle.observe(2, now=10.0) is True        # a second within the window: halve
    assert throttle.limit == 4 and throttle.backoffs == 1
    assert throttle.observe(2, now=11.0) is False       # no new pause, nothing changes
    assert throttle.observe(3, now=20.0) is False
    assert throttle.observe(4, now=20.0 + PAUSE_WINDOW + 1) is False  # the first is too old
    assert throttle.observe(5, now=90.0) is True and throttle.limit == 2
    for _ in range(2):
        throttle.success()
    assert throttle.limit == 3                          # +1 after `limit` successes in a row
    for _ in range(3 + 4 + 5 + 6):
        throttle.success()
    assert throttle.limit == 7
    for _ in range(100):
        throttle.success()
    assert throttle.limit == 8                          # never above --concurrency
    single = Throttle(1)
    assert single.observe(5, now=0.0) is False and single.limit == 1


def test_the_daemon_pool_runs_jobs_and_never_holds_the_process():
    pool = DaemonPool(2)
    for n in range(5):
        pool.submit(n, lambda x: x * 2, n)
    pool.submit(5, lambda: 1 / 0)
    done: list = []
    while len(done) < 6:
        done += pool.finished(5.0)
    assert sorted((tag, result) for tag, result, exc in done if exc is None) == [
        (0, 0), (1, 2), (2, 4), (3, 6), (4, 8)]
    assert [type(exc) for tag, _, exc in done if tag == 5] == [ZeroDivisionError]
    assert pool.finished(0.0) == []  # nothing more: no wait
    blocker = threading.Event()
    pool.submit(6, blocker.wait)
    pool.close()
    assert all(t.daemon for t in threading.enumerate() if t.name.startswith("spine-batch"))
    blocker.set()
    assert pool.finished(5.0) == [(6, True, None)]


def _log_spread(seconds: list[int]) -> float:
    import math
    import statistics

    return statistics.stdev(math.log(s) for s in seconds)


def test_the_prior_is_the_median_of_like_completed_runs(isolated_env):
    settings = load_settings()
    for i, seconds in enumerate([600, 700, 800, 100, 200, 300]):
        run_id = str(uuid.UUID(int=i + 1))
        record(settings, run_id, template="memo" if i < 3 else "report")
        observe(settings, {"run_id": run_id, "status": "completed",
                           "duration_ms": seconds * 1000})
    mine = str(uuid.UUID(int=99))
    record(settings, mine, template="memo")
    elsewhere, with_estimate = str(uuid.uuid4()), str(uuid.UUID(int=98))
    record(settings, with_estimate, template="memo", estimated_ms=50_000)
    found = schedule_estimates(history(), [mine, elsewhere, with_estimate])
    # The median and the spread of like runs (their logarithms' standard deviation); the
    # API's own estimate has no spread.
    assert found == {mine: (700.0, pytest.approx(_log_spread([600, 700, 800]))),
                     elsewhere: (600.0, pytest.approx(_log_spread([600, 700, 800, 100, 200, 300]))),
                     with_estimate: (50.0, None)}
    assert new_tracked(mine, found[mine]).spread == pytest.approx(_log_spread([600, 700, 800]))
    assert new_tracked(with_estimate, found[with_estimate]).spread is None
    assert history().priors([mine], min_runs=4) == {}  # too few runs of its template


def test_run_wait_on_a_run_created_elsewhere_uses_the_prior(api):
    settings = load_settings()
    for i in range(3):
        run_id = str(uuid.uuid4())
        record(settings, run_id)
        observe(settings, {"run_id": run_id, "status": "completed", "duration_ms": 900_000})
    run_id = api.emulator.create_run(api.key, "Long memo [emulate:duration=900]")["run_id"]
    with_prior = FakeTime(emulator=api.emulator)
    out = spine("run", "wait", run_id, "-q", seams=with_prior.seams())
    assert out.exit_code == 0, out
    # The prior says ~15 min: sparse mid-run (up to 60 s), as with an estimate.
    assert max(with_prior.sleeps) == pytest.approx(60.0)
    other = api.emulator.create_run(api.key, "Long memo again [emulate:duration=900]")["run_id"]
    history().forget(history().recent(settings, limit=1)[0]["run_id"])  # fewer than 3 runs now
    without = FakeTime(emulator=api.emulator)
    assert spine("run", "wait", other, "-q", seams=without.seams()).exit_code == 0
    assert max(without.sleeps) == pytest.approx(30.0)  # the SDK's pace: up to 30 s


def test_polls_due_within_the_early_margin_go_with_those_due_now_soonest_first():
    # One wake of the batch loop sends every poll due within POLL_EARLY, not one per wake.
    from types import SimpleNamespace

    from spine_cli.api.retry import RequestBudget
    from spine_cli.runs.batch.run import POLL_EARLY
    from spine_cli.runs.batch.waits import RunWaits
    from spine_cli.runs.waiter import Tracked, WaitOptions

    time = FakeTime(now=10.0)
    budget = RequestBudget(time.clock)
    waits = RunWaits(SimpleNamespace(budget=budget), None, None, None, None,  # type: ignore[arg-type]
                     WaitOptions(), clock=time.clock, sleep=time.sleep)
    for key, at in [("later", 10.0 + 2 * POLL_EARLY), ("soon", 10.0 + POLL_EARLY / 2),
                    ("now", 10.0), ("busy", 9.0)]:
        waits.tracked[key] = Tracked(f"run-{key}", next_at=at)
    assert [k for k, _ in waits.due(10.0, {"busy"}, 5)] == ["now"]
    assert {k for k, _ in waits.due(10.0, {"busy"}, 5, early=POLL_EARLY)} == {"now", "soon"}
    assert [k for k, _ in waits.due(10.0, {"busy"}, 1, early=POLL_EARLY)] == ["now"]
    # Never more than a quarter of a poll's interval early: 1 s planned at 9.5 s is not
    # due at 10.0 s (0.5 s early), though 4 s planned at 6.5 s is (0.5 s early too).
    waits.tracked["short"] = Tracked("run-short", next_at=10.5, planned_at=9.5)
    waits.tracked["long"] = Tracked("run-long", next_at=10.5, planned_at=6.5)
    due = {k for k, _ in waits.due(10.0, {"busy"}, 9, early=POLL_EARLY)}
    assert due == {"now", "soon", "long"}
    # A retry keeps its delay to the letter (a poll sent early would spin on a failing
    # server while the outage budget's last second runs out).
    waits.tracked["long"].failures = 1
    assert "long" not in {k for k, _ in waits.due(10.0, {"busy"}, 9, early=POLL_EARLY)}
    assert "long" in {k for k, _ in waits.due(10.5, {"busy"}, 9, early=POLL_EARLY)}
    budget.pause(5.0)  # the key's pause holds back early polls too
    assert waits.due(10.0, set(), 5, early=POLL_EARLY) == []


def test_the_loop_wakes_a_second_late_for_a_poll_except_in_the_batch_tail():
    # Outside the tail, polls due within POLL_LATE of the next go in one wake; the batch's
    # last runs are woken for on time (the batch's end is what a user waits on).
    from types import SimpleNamespace

    from spine_cli.api.retry import RequestBudget
    from spine_cli.runs.batch.events import BatchOptions
    from spine_cli.runs.batch.run import POLL_LATE, BatchRunner
    from spine_cli.runs.batch.waits import TAIL_RUNS
    from spine_cli.runs.waiter import Tracked

    time = FakeTime(now=10.0)
    client = SimpleNamespace(budget=RequestBudget(time.clock))
    # At most TAIL_RUNS in flight: a row in the queue waits for a slot, not for the clock.
    options = BatchOptions(concurrency=TAIL_RUNS)
    runner = BatchRunner(client, None, None, None, [], options,  # type: ignore[arg-type]
                         None, None, clock=time.clock, sleep=time.sleep)  # type: ignore[arg-type]
    try:
        for i in range(TAIL_RUNS + 1):
            runner.tracked[f"r{i}"] = Tracked(f"run-{i}", next_at=15.0 + i)
        runner._wait(10.0)
        assert time.sleeps[-1] == pytest.approx(5.0 + POLL_LATE)
        del runner.tracked[f"r{TAIL_RUNS}"]  # the tail: woken on time
        runner._wait(10.0)
        assert time.sleeps[-1] == pytest.approx(5.0)
        runner.queue.append(SimpleNamespace(key="more"))  # type: ignore[arg-type]
        runner._wait(10.0)  # a row still to create: not the tail
        assert time.sleeps[-1] == pytest.approx(5.0 + POLL_LATE)
        runner.options.max_runs = 0  # …unless none may be created
        runner._wait(10.0)
        assert time.sleeps[-1] == pytest.approx(5.0)
    finally:
        runner.pool.close()
