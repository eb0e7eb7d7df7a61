"""The liar (tests/support/liar.py) does each lie it promises, shown with plain httpx.

Timing tests use real time because a socket must really trickle or stall; each keeps to
about two seconds.
"""

from __future__ import annotations

import socket
import threading
import time
import tracemalloc

import httpx
import pytest

from support.liar import Delay, Drop, Json, Raw, Redirect, Stall, Stream, Trickle, fail, ok

pytestmark = pytest.mark.timeout(30)

RID = "1b4e28ba-2fa1-41d2-883f-0016d3cca427"


def test_queue_in_order_then_always_then_a_404_and_every_request_recorded(liar):
    liar.on("GET", "/v1/run/*", ok({"n": 1}), ok({"n": 2}))
    liar.always("GET", "/v1/run/*", ok({"n": "steady"}))
    with httpx.Client(base_url=liar.base_url) as client:
        got = [client.get(f"/v1/run/{RID}?a=1").json()["data"]["n"] for _ in range(4)]
        missing = client.post("/elsewhere", content=b"12345", headers={"X-API-KEY": "sk_x"})
    assert got == [1, 2, "steady", "steady"]
    assert missing.status_code == 404
    assert missing.json()["error"] == "liar: nothing scripted for POST /elsewhere"
    first, last = liar.requests[0], liar.requests[-1]
    assert (first.method, first.path, first.query, first.body_size) == ("GET", f"/v1/run/{RID}",
                                                                         "a=1", 0)
    assert (last.method, last.body, last.body_size, last.body_complete) == (
        "POST", b"12345", 5, True)
    assert last.headers["x-api-key"] == "sk_x" and "x-api-key" not in first.headers


@pytest.mark.parametrize("data", [
    "a string", ["a", "list"], None,
    {"run_id": RID, "status": "running", "progress": "3 of 8"},
    {"run_id": RID, "status": "running",
     "progress": {"tasks_completed": "3", "tasks_total": "8", "elapsed_ms": "1e3"}},
    {"status": "running", "poll_url": "/v1/run/x"},  # a create answer without run_id
    {"run_id": RID, "status": "cancelled"},
    {"run_id": "\x1b]52;c;ZXZpbA==\x07\x1b[2J", "canvas_id": "not-a-uuid\u202eexe.txt",
     "status": "running\nFAKE: all done"},
], ids=["str", "list", "null", "progress-str", "numbers-str", "no-run-id", "cancelled",
        "escapes"])
def test_json_lies_arrive_exactly_as_scripted(liar, data):
    liar.on("GET", "/v1/run/*", ok(data))
    response = httpx.get(liar.url(f"/v1/run/{RID}"))
    assert response.status_code == 200
    assert response.json() == {"success": True, "error": None, "data": data}


def test_success_false_on_200_and_an_html_403_from_a_proxy(liar):
    liar.on("GET", "/v1/run/*", fail(200, {"message": "not under error"}, success=False),
            Raw("<html><body><h1>403 Forbidden</h1></body></html>", status=403))
    with httpx.Client(base_url=liar.base_url) as client:
        lying = client.get(f"/v1/run/{RID}")
        proxy = client.get(f"/v1/run/{RID}")
    assert lying.status_code == 200 and lying.json()["success"] is False
    assert proxy.status_code == 403 and proxy.headers["content-type"].startswith("text/html")
    assert "<h1>403 Forbidden</h1>" in proxy.text


@pytest.mark.parametrize("value", ["999999999", "Wed, 21 Oct 2015 07:28:00 GMT", "-5",
                                   "soon", "1e9", "nan", ""])
def test_retry_after_is_sent_as_given(liar, value):
    liar.on("GET", "/v1/run/*", fail(429, "Too many requests", retry_after=value))
    response = httpx.get(liar.url(f"/v1/run/{RID}"))
    assert response.status_code == 429 and response.headers["retry-after"] == value


def test_repeated_headers_can_be_sent(liar):
    liar.on("GET", "/x", Json({}, 503, headers=[("Retry-After", "1"), ("Retry-After", "99")]))
    assert httpx.get(liar.url("/x")).headers.get_list("retry-after") == ["1", "99"]


def test_a_200_mb_body_is_streamed_not_held_in_memory(liar):
    size = 200 * 1024 * 1024
    liar.on("GET", "/v1/run/*", Stream(size=size, prefix=b'{"success": true, "data": "',
                                       suffix=b'"}', content_type="application/json"))
    tracemalloc.start()
    try:
        received = 0
        with httpx.stream("GET", liar.url(f"/v1/run/{RID}")) as response:
            declared = int(response.headers["content-length"])
            for chunk in response.iter_raw():
                received += len(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert received == declared == size + 29
    assert peak < 16 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"  # both ends together


def test_a_body_longer_than_its_content_length_or_with_none(liar):
    liar.on("GET", "/dl", Raw(b"x" * 2000, content_length=1000, content_type="text/plain"),
            Raw(b"y" * 3000, content_length=None, content_type="text/plain"))
    with socket.create_connection(("127.0.0.1", int(liar.base_url.rsplit(":", 1)[1]))) as sock:
        sock.sendall(b"GET /dl HTTP/1.1\r\nHost: liar\r\n\r\n")
        raw = b""
        while chunk := sock.recv(65536):  # the liar closes after the over-long body
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Content-Length: 1000" in head and body == b"x" * 2000
    unbounded = httpx.get(liar.url("/dl"))  # no Content-Length: the body ends at close
    assert "content-length" not in unbounded.headers and unbounded.content == b"y" * 3000
    assert [s.sent for s in liar.requests] == [2000, 3000]


def test_a_client_that_stops_reading_is_recorded(liar):
    liar.on("GET", "/dl", Stream(size=500 * 1024 * 1024))
    with httpx.stream("GET", liar.url("/dl")) as response:
        for _ in response.iter_bytes(65536):
            break  # read a little, then hang up
    [seen] = liar.requests
    deadline = time.monotonic() + 5
    while not seen.client_gone and time.monotonic() < deadline:
        time.sleep(0.02)
    assert seen.client_gone
    assert seen.sent < 64 * 1024 * 1024  # socket buffers, not the whole 500 MiB


def test_trickle_defeats_a_read_timeout_but_sends_headers_at_once(liar):
    liar.on("GET", "/v1/run/*", Trickle(b"abcd", every=0.5))
    started = time.monotonic()
    with httpx.stream("GET", liar.url(f"/v1/run/{RID}"), timeout=1.0) as response:
        headers_after = time.monotonic() - started
        body = response.read()
    elapsed = time.monotonic() - started
    assert headers_after < 0.4 and body == b"abcd"
    assert 1.8 < elapsed < 4, elapsed  # each read < 1 s, the whole answer ~2 s


def test_trickle_gives_up_at_its_limit(liar):
    liar.on("GET", "/t", Trickle(b"abcdefgh", every=0.2, limit=0.5))
    started = time.monotonic()
    with pytest.raises(httpx.RemoteProtocolError):  # the promised 8 bytes never all come
        httpx.get(liar.url("/t"), timeout=5)
    assert time.monotonic() - started < 2
    assert 1 <= liar.requests[0].sent <= 3


def test_delay_answers_late_and_a_short_read_timeout_trips(liar):
    liar.on("GET", "/slow", Delay(1.0, ok({"late": True})), Delay(1.0, ok({})))
    started = time.monotonic()
    assert httpx.get(liar.url("/slow")).json()["data"] == {"late": True}
    assert time.monotonic() - started >= 1.0
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(liar.url("/slow"), timeout=0.3)


def test_stall_leaves_the_body_unread_then_reads_it_and_answers(liar):
    liar.on("POST", "/up", Stall(1.0, ok({"got": True})))
    body = b"x" * (32 * 1024 * 1024)  # more than the socket buffers hold: the upload waits
    started = time.monotonic()
    assert httpx.post(liar.url("/up"), content=body, timeout=10).json()["data"] == {"got": True}
    assert time.monotonic() - started >= 1.0
    seen = liar.requests[0]
    assert seen.body_complete and seen.body_size == len(body)


def test_a_cross_origin_redirect_records_what_the_other_origin_got(liar, make_liar):
    other = make_liar()
    other.on("POST", "/v1/run", ok({"run_id": RID, "status": "running"}))
    liar.on("POST", "/v1/run", Redirect(other.url("/v1/run")), Redirect(other.url("/v1/run")))
    form = {"data": {"prompt": "secret plans"}, "files": [("files", ("a.txt", b"abc"))]}
    key = {"X-API-KEY": "sk_spine_mine"}
    refused = httpx.post(liar.url("/v1/run"), headers=key, **form)
    assert refused.status_code == 307 and refused.headers["location"] == other.url("/v1/run")
    assert other.wait_for_requests(1, timeout=0.3) == []
    followed = httpx.post(liar.url("/v1/run"), headers=key, follow_redirects=True, **form)
    assert followed.json()["data"]["run_id"] == RID
    [got] = other.requests
    assert got.method == "POST" and got.headers.get("x-api-key") == "sk_spine_mine"
    assert b"secret plans" in got.body and got.body_size == liar.requests[-1].body_size


@pytest.mark.parametrize("drop", [Drop(), Drop(after_body=True), Drop(reset=True)],
                         ids=["before-body", "after-body", "reset"])
def test_drop_closes_without_an_answer(liar, drop):
    liar.on("POST", "/v1/run", drop)
    with pytest.raises(httpx.TransportError):
        httpx.post(liar.url("/v1/run"), content=b"p" * 100_000)
    [seen] = liar.requests
    assert seen.body_complete is drop.after_body
    assert seen.body_size == (100_000 if drop.after_body else 0)


def test_close_is_prompt_mid_trickle_and_then_refuses(make_liar):
    liar = make_liar()
    liar.on("GET", "/t", Trickle(b"x" * 100, every=10))
    outcome: list[object] = []

    def fetch() -> None:
        try:
            outcome.append(httpx.get(liar.url("/t"), timeout=20).content)
        except httpx.TransportError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=fetch)
    thread.start()
    liar.wait_for_requests(1)
    started = time.monotonic()
    liar.close()
    thread.join(5)
    assert time.monotonic() - started < 2 and not thread.is_alive()
    assert isinstance(outcome[0], httpx.TransportError)  # 100 bytes promised, none sent
    with pytest.raises(httpx.ConnectError):
        httpx.get(liar.url("/t"), timeout=2)
