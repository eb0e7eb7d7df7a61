"""Retry decisions and delays (pure)."""

from __future__ import annotations

import httpx
import pytest

from spine_cli.api.retry import (
    POLL_POLICY, RequestBudget, RetryPolicy, jitter, parse_retry_after, should_retry,
)


@pytest.mark.parametrize("exc,idempotent,expected", [
    (httpx.ConnectError("refused"), False, True),
    (httpx.ConnectTimeout("t"), False, True),
    (httpx.ReadTimeout("t"), False, False),
    (httpx.RemoteProtocolError("dropped"), False, False),
    (httpx.WriteError("pipe"), False, False),
    (httpx.ReadTimeout("t"), True, True),
    (httpx.RemoteProtocolError("dropped"), True, True),
])
def test_transport_errors(exc, idempotent, expected):
    assert should_retry(idempotent=idempotent, exc=exc) is expected


@pytest.mark.parametrize("status,idempotent,expected", [
    (429, False, True), (429, True, True),
    (500, True, True), (502, True, True), (503, True, True), (504, True, True),
    (500, False, False), (503, False, False),
    (400, True, False), (401, True, False), (404, True, False), (413, True, False),
])
def test_statuses(status, idempotent, expected):
    assert should_retry(idempotent=idempotent, status=status) is expected


def test_retry_after_seconds_and_http_date():
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=lambda: 1445412480.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412490.0) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("nan") is None and parse_retry_after("inf") is None
    assert parse_retry_after("Wed, 21 Oct 99999 07:28:00 GMT") is None  # no crash on overflow


def test_backoff_grows_is_capped_and_retry_after_wins_up_to_the_one_cap():
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    no_jitter = lambda d: d  # noqa: E731
    assert [policy.delay(i, jitter_fn=no_jitter) for i in range(5)] == [0.5, 1, 2, 4, 4]
    assert policy.delay(0, retry_after=3.0, jitter_fn=no_jitter) == 3.0  # wins over the backoff
    assert policy.delay(0, retry_after=12.0) == 4.0                    # capped by the policy
    assert policy.delay(0, retry_after=999999999.0, left=1.5) == 1.5   # and by the budget left
    assert policy.delay(3, left=-2) == 0.0


def test_the_wait_loop_backs_off_exponentially_to_30_seconds():
    no_jitter = lambda d: d  # noqa: E731
    assert [POLL_POLICY.delay(n, jitter_fn=no_jitter) for n in range(7)] == [2, 4, 8, 16, 30,
                                                                             30, 30]


def test_one_pause_holds_every_request_under_the_key():
    now = [100.0]
    budget = RequestBudget(clock=lambda: now[0])
    assert budget.wait_time() == 0
    budget.pause(20)
    budget.pause(5)  # a shorter pause never cuts a longer one short
    assert budget.ready_at() == 120 and budget.wait_time() == 20
    now[0] = 115
    assert budget.wait_time() == 5


def test_jitter_stays_between_half_and_full():
    assert jitter(10.0, rand=lambda: 0.0) == 5.0
    assert jitter(10.0, rand=lambda: 1.0) == 10.0
