"""HTTP client behaviour the emulator cannot produce: proxies' HTML pages,
redirects to other origins, transport errors of a given kind (MockTransport)."""

from __future__ import annotations

import json

import httpx
import pytest

from spine_cli import __version__
from spine_cli.api.client import FilePart, SpineClient, normalize_base_url
from spine_cli.api.envelope import unwrap
from spine_cli.errors import (
    AuthenticationError,
    BadRequestError,
    CreateUncertainError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    ServerError,
    UsageError,
)
from spine_cli.api.retry import RetryPolicy
from support.cli import FakeTime

KEY = "sk_spine_unit_0123456789abcdef"
RUN = "550e8400-e29b-41d4-a716-446655440000"


def envelope(data=None, status=200, error=None, success=True, headers=None):
    body = {"success": success, "error": error, "data": data}
    return httpx.Response(status, json=body, headers=headers or {})


def client_for(handler, **kw):
    time = FakeTime()
    c = SpineClient("https://api.example.test", KEY, transport=httpx.MockTransport(handler),
                    sleep=time.sleep, clock=time.clock,
                    policy=RetryPolicy(max_retries=3, base_delay=0.5), **kw)
    c.sleeps = time.sleeps  # type: ignore[attr-defined]
    return c


@pytest.mark.parametrize("given,expected", [
    ("https://api.getspine.ai", "https://api.getspine.ai/v1"),
    ("https://api.getspine.ai/", "https://api.getspine.ai/v1"),
    ("https://api.getspine.ai/v1", "https://api.getspine.ai/v1"),
    ("https://api.getspine.ai/v1/", "https://api.getspine.ai/v1"),
    ("http://127.0.0.1:8765", "http://127.0.0.1:8765/v1"),
    ("https://proxy.example/spine", "https://proxy.example/spine/v1"),
])
def test_base_url_gets_v1_once(given, expected):
    assert normalize_base_url(given) == expected


def test_base_url_without_scheme_is_a_usage_error():
    with pytest.raises(UsageError):
        normalize_base_url("api.getspine.ai")


def test_headers_sent_with_every_request():
    seen = []

    def handler(request):
        seen.append(request)
        return envelope({"run_id": RUN, "status": "running"})

    with client_for(handler) as c:
        assert c.get_run(RUN).status_text == "running"
    req = seen[0]
    assert req.url == f"https://api.example.test/v1/run/{RUN}"
    assert req.headers["X-API-KEY"] == KEY
    assert req.headers["User-Agent"] == f"spine-cli/{__version__}"
    assert req.headers["Accept"] == "application/json"


def test_success_false_is_an_error_even_on_200():
    with client_for(lambda r: envelope(status=200, success=False, error="nope")) as c:
        with pytest.raises(BadRequestError) as info:
            c.get_run(RUN)
    assert info.value.message == "The API refused the request: nope"
    assert info.value.status_code == 200  # shown as what it is, not as HTTP 400


def test_html_from_a_proxy_is_a_clear_error_with_the_status():
    page = httpx.Response(502, text="<html>Bad gateway</html>", headers={"content-type": "text/html"})
    with client_for(lambda r: page) as c:
        with pytest.raises(ServerError) as info:
            c.get_run(RUN)
    assert info.value.message == ("The API answered HTTP 502 with a non-JSON page (text/html), "
                                  "not the API's JSON envelope.")
    assert info.value.status_code == 502
    assert len(c.sleeps) == 3  # retried before giving up


def test_html_on_200_is_a_network_error():
    page = httpx.Response(200, text="<html>login</html>", headers={"content-type": "text/html"})
    with pytest.raises(NetworkError, match="HTTP 200 with a non-JSON page \\(text/html\\)") as info:
        unwrap(page.status_code, page.headers, page.content)
    assert info.value.status_code == 200


@pytest.mark.parametrize("status,cls", [
    (400, BadRequestError), (401, AuthenticationError), (404, NotFoundError),
    (413, BadRequestError),
])
def test_statuses_map_to_error_classes_without_retry(status, cls):
    calls = []

    def handler(request):
        calls.append(request)
        return envelope(status=status, success=False, error="msg",
                        headers={"X-Request-ID": "req_123"})

    with client_for(handler) as c:
        with pytest.raises(cls) as info:
            c.get_run(RUN)
    assert len(calls) == 1
    assert info.value.request_id == "req_123"
    assert info.value.status_code == status


def test_get_retries_5xx_then_succeeds():
    answers = iter([envelope(status=503, success=False, error="busy"),
                    envelope(status=500, success=False, error="oops"),
                    envelope({"run_id": RUN, "status": "running"})])
    with client_for(lambda r: next(answers)) as c:
        assert c.get_run(RUN).run_id == RUN
    assert len(c.sleeps) == 2


def test_get_honours_retry_after_on_429():
    answers = iter([envelope(status=429, success=False, error="slow down",
                             headers={"Retry-After": "7"}),
                    envelope({"run_id": RUN, "status": "running"})])
    with client_for(lambda r: next(answers)) as c:
        c.get_run(RUN)
    assert c.sleeps == [7.0]


def test_get_gives_up_after_the_retry_budget():
    with client_for(lambda r: envelope(status=429, success=False, error="slow")) as c:
        with pytest.raises(RateLimitError):
            c.get_run(RUN)
    assert len(c.sleeps) == 3


def test_get_retries_timeouts_and_dropped_connections():
    errors = iter([httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped")])

    def handler(request):
        exc = next(errors, None)
        if exc:
            raise exc
        return envelope({"run_id": RUN, "status": "running"})

    with client_for(handler) as c:
        c.get_run(RUN)
    assert len(c.sleeps) == 2


def _create_handler(calls, failure):
    def handler(request):
        calls.append(request)
        if len(calls) == 1:
            if isinstance(failure, Exception):
                raise failure
            return failure
        return envelope({"run_id": RUN, "status": "running", "poll_url": f"/v1/run/{RUN}",
                         "estimated_duration_ms": 900000})
    return handler


@pytest.mark.parametrize("failure", [
    httpx.ReadTimeout("no answer"),
    httpx.RemoteProtocolError("Server disconnected without sending a response."),
    httpx.WriteError("broken pipe"),
])
def test_create_is_not_resent_after_an_ambiguous_failure(failure):
    calls = []
    with client_for(_create_handler(calls, failure)) as c:
        with pytest.raises(CreateUncertainError) as info:
            c.create_run({"prompt": "hi"})
    assert len(calls) == 1
    assert "may have been created" in info.value.message
    assert info.value.exit_code == 8


def test_create_is_not_resent_after_a_5xx():
    calls = []
    failure = envelope(status=500, success=False,
                       error="An internal error occurred while creating the run")
    with client_for(_create_handler(calls, failure)) as c:
        with pytest.raises(CreateUncertainError) as info:
            c.create_run({"prompt": "hi"})
    assert len(calls) == 1
    assert "may have been created" in info.value.message


@pytest.mark.parametrize("failure", [
    httpx.ConnectError("connection refused"),
    envelope(status=429, success=False, error="rate", headers={"Retry-After": "1"}),
])
def test_create_is_retried_when_it_certainly_never_ran(failure):
    calls = []
    with client_for(_create_handler(calls, failure)) as c:
        assert c.create_run({"prompt": "hi"}).run_id == RUN
    assert len(calls) == 2


def test_redirect_to_another_origin_never_carries_the_key():
    seen = []

    def handler(request):
        seen.append(request)
        if request.url.host == "api.example.test":
            return httpx.Response(302, headers={"Location": "https://elsewhere.test/v1/run/x"})
        return envelope({"run_id": RUN, "status": "running"})

    with client_for(handler) as c:
        c.get_run(RUN)
    assert [r.url.host for r in seen] == ["api.example.test", "elsewhere.test"]
    assert "X-API-KEY" in seen[0].headers
    assert "X-API-KEY" not in seen[1].headers


def test_each_hop_of_a_redirect_chain_is_sent_once_and_the_key_stays_home():
    seen = []

    def handler(request):
        seen.append(request)
        hops = {"/v1/a": "/v1/b", "/v1/b": "https://elsewhere.test/v1/c",
                "/v1/c": "https://api.example.test/v1/d"}
        if request.url.path in hops:
            return httpx.Response(302, headers={"Location": hops[request.url.path]})
        return envelope({"done": True})

    with client_for(handler) as c:
        assert c.request_json("GET", "/a") == {"done": True}
    assert [(r.url.host, r.url.path) for r in seen] == [
        ("api.example.test", "/v1/a"), ("api.example.test", "/v1/b"),
        ("elsewhere.test", "/v1/c"), ("api.example.test", "/v1/d")]
    assert ["X-API-KEY" in r.headers for r in seen] == [True, True, False, True]


def test_a_redirect_to_a_malformed_location_is_a_network_error():
    def handler(request):
        return httpx.Response(302, headers={"Location": "http://[not a host/v1"})

    with client_for(handler) as c, pytest.raises(NetworkError):
        c.get_run(RUN)


def test_the_environment_s_proxy_carries_the_api_s_requests(monkeypatch):
    # The API's requests skip httpx's client layer; they must still go through a proxy the
    # environment names (as every other request of the client does).
    import http.server
    import threading

    asked = []

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            asked.append((self.path, self.headers.get("X-API-KEY")))
            body = json.dumps({"success": True, "error": None,
                               "data": {"run_id": RUN, "status": "running"}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY",
                     "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_port}")
        with SpineClient("http://api.example.test", KEY) as c:
            assert c.get_run(RUN).run_id == RUN
    finally:
        server.shutdown()
        server.server_close()
    assert asked == [(f"http://api.example.test/v1/run/{RUN}", KEY)]


def test_redirect_within_the_origin_keeps_the_key():
    seen = []

    def handler(request):
        seen.append(request)
        if request.url.path.endswith("/old"):
            return httpx.Response(307, headers={"Location": f"/v1/run/{RUN}"})
        return envelope({"run_id": RUN, "status": "running"})

    with client_for(handler) as c:
        c.request_json("GET", "/old")
    assert all(r.headers.get("X-API-KEY") == KEY for r in seen)


def test_multipart_upload_streams_files_under_the_files_field(tmp_path):
    f = tmp_path / "data.csv"
    f.write_text("a,b\n1,2\n")
    seen = []
    read = []

    def handler(request):
        seen.append(request.read())
        return envelope({"run_id": RUN, "status": "running"})

    with client_for(handler) as c:
        c.create_run({"prompt": "hi", "template": "auto"}, [FilePart(f, f.name, "text/csv")],
                     on_upload=read.append)
    body = seen[0].decode()
    assert 'name="files"; filename="data.csv"' in body
    assert "Content-Type: text/csv" in body
    assert sum(read) == f.stat().st_size


def test_verbose_log_never_contains_the_key():
    lines = []
    with client_for(lambda r: envelope({"run_id": RUN, "status": "running"}), log=lines.append) as c:
        c.get_run(RUN)
    assert lines and KEY not in json.dumps(lines)
    assert "GET https://api.example.test/v1/run/" in lines[0]
