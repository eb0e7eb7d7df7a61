"""`spine webhook verify` and the signature scheme, cross-checked with the official SDK."""

from __future__ import annotations

import json
import time

import pytest
from spine import SpineClient
from spine.exceptions import SpineError as SDKError

from spine_cli.webhooks import signature
from spine_cli.webhooks.signature import (
    MalformedSignatureError, MissingSignatureError, NotJSONError, SignatureMismatchError,
    StaleTimestampError, verify,
)
from support.cli import spine
from support.listener import encode, make_event, sign

SECRET = "whsec_verify_test_0123456789abcdef"
# A pinned vector, computed once from the documented formula (HMAC-SHA256 keyed with the
# whole secret over "<t>." + body); the SDK accepts it too (test below).
PINNED_SECRET = "whsec_test_pinned_0123456789abcdef"
PINNED_T = 1767225600
PINNED_BODY = (b'{"id":"evt_0123456789abcdef0123456789abcdef","type":"webhook.ping",'
               b'"created":1767225600,"livemode":false,"api_version":"2026-04-01",'
               b'"data":{"object":{}}}')
PINNED_V1 = "8bafe4cb67be117f03ee801c102ef09fd0a4941639195e6126d439977dab17bc"


@pytest.fixture(scope="module")
def sdk():
    client = SpineClient(api_key="sk_spine_unused_for_webhooks")
    yield client
    client.close()


def _body() -> bytes:
    return encode(make_event("run.completed"))


# --- the scheme ---------------------------------------------------------------------------

def test_a_signed_body_verifies_and_returns_the_event():
    body = _body()
    event = verify(body, signature.sign(SECRET, body), SECRET)
    assert event == json.loads(body)


def test_the_pinned_vector_verifies():
    header = f"t={PINNED_T},v1={PINNED_V1}"
    assert signature.compute(PINNED_SECRET, PINNED_T, PINNED_BODY) == PINNED_V1
    assert verify(PINNED_BODY, header, PINNED_SECRET, now=PINNED_T + 299)["type"] == "webhook.ping"


@pytest.mark.parametrize("tamper", ["byte", "timestamp", "secret"])
def test_tampering_with_one_byte_the_timestamp_or_the_secret_fails(tamper):
    body, t = _body(), int(time.time())
    header, secret = sign(SECRET, body, t), SECRET
    if tamper == "byte":
        body = body[:10] + bytes([body[10] ^ 1]) + body[11:]
    elif tamper == "timestamp":
        header = header.replace(f"t={t}", f"t={t - 1}")
    else:
        secret = SECRET[:-1] + ("0" if SECRET[-1] != "0" else "1")
    with pytest.raises(SignatureMismatchError):
        verify(body, header, secret)


def test_several_v1_values_are_accepted_when_one_matches():
    body, t = _body(), int(time.time())
    good = sign(SECRET, body, t).split("v1=")[1]
    assert verify(body, f"t={t},v1={'0' * 64},v0=abc,v1={good}", SECRET)
    assert verify(body, f" v1={good} , t={t} ,", SECRET)  # order, spaces, empty parts


@pytest.mark.parametrize("header,error", [
    (None, MissingSignatureError), ("", MissingSignatureError),
    ("v1=" + "0" * 64, MalformedSignatureError), ("t=1767225600", MalformedSignatureError),
    ("t=1767225600,v0=abc", MalformedSignatureError), ("t=soon,v1=abc", MalformedSignatureError),
])
def test_missing_or_malformed_headers_are_rejected(header, error):
    with pytest.raises(error):
        verify(_body(), header, SECRET)


@pytest.mark.parametrize("offset,ok", [(-300, True), (300, True), (-301, False), (301, False)])
def test_the_tolerance_window_is_inclusive_both_ways(offset, ok):
    body, now = _body(), 1767225600
    header = sign(SECRET, body, now + offset)
    if ok:
        assert verify(body, header, SECRET, now=now)
    else:
        with pytest.raises(StaleTimestampError):
            verify(body, header, SECRET, now=now)


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe"])
def test_a_signed_body_that_is_not_a_json_object_is_rejected(body):
    with pytest.raises(NotJSONError):
        verify(body, sign(SECRET, body), SECRET)


# --- the official SDK agrees ----------------------------------------------------------------

def test_events_signed_by_spine_verify_with_the_sdk(sdk):
    body = _body()
    event = sdk.webhooks.construct_event(body, signature.sign(SECRET, body), SECRET)
    assert event.id == json.loads(body)["id"] and event.type == "run.completed"
    with pytest.raises(SDKError):
        sdk.webhooks.construct_event(body, signature.sign("whsec_other_secret_0000", body), SECRET)


def test_the_pinned_vector_verifies_with_the_sdk(sdk):
    header = f"t={PINNED_T},v1={PINNED_V1}"
    tolerance = int(time.time()) - PINNED_T + 60  # the vector is pinned in the past
    assert sdk.webhooks.construct_event(PINNED_BODY, header, PINNED_SECRET,
                                        tolerance=tolerance).type == "webhook.ping"


def _cases() -> list[tuple[str, bytes, str | None, str]]:
    """Built when a test runs (not at collection), so timestamps are current."""
    body, t = _body(), int(time.time())
    good = sign(SECRET, body, t)
    v1 = good.split("v1=")[1]
    return [
        ("valid", body, good, SECRET),
        ("two v1", body, f"t={t},v1={'ab' * 32},v1={v1}", SECRET),
        ("v1 first", body, f"v1={v1},t={t}", SECRET),
        ("empty parts", body, f",,t={t},,v1={v1},", SECRET),
        ("wrong secret", body, good, "whsec_wrong"),
        ("tampered", body.replace(b"completed", b"Completed"), good, SECRET),
        ("stale", body, sign(SECRET, body, t - 301), SECRET),
        ("future", body, sign(SECRET, body, t + 301), SECRET),
        ("no t", body, f"v1={v1}", SECRET),
        ("no v1", body, f"t={t}", SECRET),
        ("t not a number", body, f"t=x{t},v1={v1}", SECRET),
        ("empty", body, "", SECRET),
        ("uppercase hex", body, f"t={t},v1={v1.upper()}", SECRET),
        ("not json", b"hello", sign(SECRET, b"hello", t), SECRET),
    ]


@pytest.mark.parametrize("name", [c[0] for c in _cases()])
def test_spine_and_the_sdk_accept_and_reject_the_same_deliveries(sdk, name):
    body, header, secret = next(c[1:] for c in _cases() if c[0] == name)

    def accepts(check) -> bool:
        try:
            check()
            return True
        except Exception:  # each side's own error type: only the verdict is compared
            return False

    ours = accepts(lambda: verify(body, header, secret))
    theirs = accepts(lambda: sdk.webhooks.construct_event(body, header or "", secret))
    assert ours == theirs, name
    assert ours == (name in ("valid", "two v1", "v1 first", "empty parts"))


# --- the command ------------------------------------------------------------------------------

def test_verify_prints_the_event_and_exits_0(tmp_path):
    body = _body()
    path = tmp_path / "body.json"
    path.write_bytes(body)
    result = spine("webhook", "verify", str(path), "--signature", sign(SECRET, body),
                   env={"SPINE_WEBHOOK_SECRET": SECRET})
    assert result.exit_code == 0, result
    assert json.loads(result.stdout) == json.loads(body) and result.stderr == ""


def test_verify_reads_stdin_and_q_prints_nothing():
    body = _body()
    result = spine("webhook", "verify", "-", "--signature", sign(SECRET, body), "-q",
                   "--secret", SECRET, input=body.decode())
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", ""), result


@pytest.mark.parametrize("case,why", [
    ("unsigned", "No Spine-Signature header"), ("tampered", "does not match"),
    ("stale", "outside the 300 s tolerance"), ("not json", "not valid JSON"),
    ("no v1", "has no v1= part"),
])
def test_an_invalid_delivery_is_one_line_and_exit_10(case, why):
    body, t = _body(), int(time.time())
    header = sign(SECRET, body, t)
    if case == "unsigned":
        header = ""
    elif case == "tampered":
        body = body.replace(b"10736", b"10737")
    elif case == "stale":
        header = sign(SECRET, body, t - 3600)
    elif case == "not json":
        body = b"{oops"
        header = sign(SECRET, body, t)
    elif case == "no v1":
        header = f"t={t}"
    result = spine("webhook", "verify", "--signature", header, input=body.decode(),
                   env={"SPINE_WEBHOOK_SECRET": SECRET})
    assert result.exit_code == 10, result
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and why in lines[0], result
    assert SECRET not in result.stderr


def test_tolerance_option_widens_the_window():
    body = _body()
    header = sign(SECRET, body, int(time.time()) - 3600)
    args = ("webhook", "verify", "--signature", header, "--secret", SECRET)
    assert spine(*args, input=body.decode()).exit_code == 10
    assert spine(*args, "--tolerance", "4000", input=body.decode()).exit_code == 0


def test_the_secret_comes_from_flag_then_env_then_profile(isolated_env):
    body = _body()
    header = sign(SECRET, body)
    cfg = isolated_env["config_dir"]
    cfg.mkdir(parents=True)
    (cfg / "config.toml").write_text(f'[profiles.default]\nwebhook_secret = "{SECRET}"\n')
    args = ("webhook", "verify", "--signature", header)
    assert spine(*args, input=body.decode()).exit_code == 0  # the profile
    wrong = "whsec_wrong_0000000000"
    assert spine(*args, input=body.decode(),
                 env={"SPINE_WEBHOOK_SECRET": wrong}).exit_code == 10  # env beats the profile
    assert spine(*args, "--secret", SECRET, input=body.decode(),
                 env={"SPINE_WEBHOOK_SECRET": wrong}).exit_code == 0  # the flag beats env


def test_no_secret_is_exit_4_and_a_malformed_one_never_echoed():
    body = _body()
    result = spine("webhook", "verify", "--signature", sign(SECRET, body), input=body.decode())
    assert result.exit_code == 4 and "No webhook signing secret" in result.stderr, result
    result = spine("webhook", "verify", "--signature", "t=1,v1=2", "--secret", "hunter2-secret",
                   input=body.decode())
    assert result.exit_code == 2 and "starts with whsec_" in result.stderr, result
    assert "hunter2" not in result.stderr + result.stdout
    result = spine("webhook", "verify", "--signature", "t=1,v1=2", input=body.decode(),
                   env={"SPINE_WEBHOOK_SECRET": "hunter2 secret"})
    assert result.exit_code == 4 and "SPINE_WEBHOOK_SECRET" in result.stderr, result
    assert "hunter2" not in result.stderr + result.stdout


def test_an_unreadable_body_file_is_exit_2(tmp_path):
    result = spine("webhook", "verify", str(tmp_path / "missing.json"), "--signature", "t=1,v1=2",
                   "--secret", SECRET)
    assert result.exit_code == 2 and "Cannot read" in result.stderr, result
