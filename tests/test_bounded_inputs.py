"""Issue 11 item 10: local inputs have bounds.

Prompt and instruction texts are read up to `MAX_TEXT_BYTES` (1 MiB), so `/dev/zero` or an
endless pipe is refused at once; `--file` takes regular files only (a FIFO, a device or a
socket is refused without being opened); a file that changes size while it is uploaded
stops the upload with a clear error; durations and intervals refuse nan, inf and
negative values, on the command line and in config.toml.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from spine_cli.runs.text_input import MAX_TEXT_BYTES
from support.cli import spine
from support.hostile import CREATED, POST_RUN, RID, point_at, spine_env
from support.liar import Stall, ok

RUN = RID


@pytest.fixture
def offline(monkeypatch):
    """A key and an address nothing listens on: no input check may need the network."""
    point_at(monkeypatch, "http://127.0.0.1:9")


def timed(*args: str, **kw):
    start = time.monotonic()
    out = spine(*args, **kw)
    return out, time.monotonic() - start


# -- texts ---------------------------------------------------------------------------------

@pytest.mark.parametrize("flag,what", [("--prompt-file", "prompt"),
                                       ("--instructions-file", "instructions")])
def test_an_endless_text_file_is_refused_at_once(offline, flag, what):
    args = ["--prompt", "x"] if flag == "--instructions-file" else []
    out, elapsed = timed("run", "create", *args, flag, "/dev/zero")
    assert out.exit_code == 2, out
    assert elapsed < 5
    assert out.stderr == (f"Error: The {what} file /dev/zero is longer than 1024 KiB; refused.\n"
                          "Attach long material as a file with --file instead.\n")
    assert out.stdout == ""


@pytest.mark.parametrize("args", [["--prompt", "-"], ["--prompt-file", "-"],
                                  ["--prompt", "x", "--instructions-file", "-"]])
def test_text_from_stdin_is_capped(offline, args):
    out = spine("run", "create", *args, input=b"y" * (MAX_TEXT_BYTES + 1))
    assert out.exit_code == 2, out
    assert "is longer than 1024 KiB; refused." in out.stderr
    assert out.stdout == ""


def test_text_of_exactly_the_cap_is_accepted(offline):
    out = spine("run", "create", "--prompt", "-", "--dry-run", input=b"y" * MAX_TEXT_BYTES)
    assert out.exit_code == 0, out
    assert out.stderr == "Dry run: nothing was sent.\n"


def test_an_endless_stdin_is_refused_at_once():
    # A real process reading a stream that never ends (not a buffer the runner hands over).
    with open("/dev/zero", "rb") as zero:
        start = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "spine_cli", "run", "create", "--prompt",
                               "-"], stdin=zero, env=spine_env("http://127.0.0.1:9"),
                              capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert time.monotonic() - start < 10
    assert proc.stderr == ("Error: The prompt is longer than 1024 KiB; refused.\n"
                           "Attach long material as a file with --file instead.\n")
    assert proc.stdout == ""


# -- files ---------------------------------------------------------------------------------

def test_a_fifo_is_refused_without_hanging(offline, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # nobody writes to it: opening it would block for ever
    out, elapsed = timed("run", "create", "--prompt", "x", "-f", str(fifo))
    assert out.exit_code == 2, out
    assert elapsed < 5
    assert out.stderr == (f"Error: {fifo} is a FIFO, not a regular file; --file takes regular "
                          "files (for piped bytes use --file '-;filename=NAME').\n")
    assert out.stdout == ""


def test_a_device_and_a_socket_are_refused(offline, tmp_path):
    sock_path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(sock_path))
        for path, kind in (("/dev/zero", "a device"), (str(sock_path), "a socket")):
            out = spine("run", "create", "--prompt", "x", "-f", path)
            assert out.exit_code == 2, out
            assert out.stderr.startswith(f"Error: {path} is {kind}, not a regular file;")
            assert out.stdout == ""


def test_a_file_that_grows_during_the_upload_stops_it_with_a_clear_error(
        liar, monkeypatch, tmp_path):
    # The server leaves the body unread for a moment, so spine is mid-file when it grows.
    big = tmp_path / "data.csv"
    big.write_bytes(b"x" * (64 * 1024 * 1024))
    liar.on(*POST_RUN, Stall(1.5, ok(CREATED)))
    point_at(monkeypatch, liar.base_url)

    def grow() -> None:
        liar.wait_for_requests(1, timeout=20)
        with open(big, "ab") as fh:
            fh.write(b"more rows\n" * 1000)

    grower = threading.Thread(target=grow, daemon=True)
    grower.start()
    out = spine("run", "create", "--prompt", "x", "-f", str(big))
    grower.join(5)
    assert out.exit_code == 2, out
    assert out.stderr == (
        f"Error: {big} changed size while it was being uploaded ({64 * 1024 * 1024} bytes when "
        "the upload began). The upload was stopped: no run was created.\n"
        "Attach a file that is not being written to.\n")
    assert out.stdout == ""
    assert not liar.requests[0].body_complete or liar.requests[0].body_size < big.stat().st_size


def test_a_file_whose_size_is_not_its_content_is_refused(liar):
    # /proc files say 0 bytes and hold more: the same check, without a race.
    liar.on(*POST_RUN, ok(CREATED))
    proc = subprocess.run([sys.executable, "-m", "spine_cli", "run", "create", "--prompt", "x",
                           "-f", "/proc/self/status"], env=spine_env(liar.base_url),
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.endswith(
        "Error: /proc/self/status changed size while it was being uploaded (0 bytes when the "
        "upload began). The upload was stopped: no run was created.\n"
        "Attach a file that is not being written to.\n")
    assert proc.stdout == ""


# -- durations -------------------------------------------------------------------------------

@pytest.mark.parametrize("flag", ["--timeout", "--max-outage", "--poll-interval"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-5", "0"])
def test_wait_flags_refuse_nan_inf_and_negative_values(offline, flag, value):
    out = spine("run", "wait", RUN, f"{flag}={value}")
    assert out.exit_code == 2, out
    assert f"Invalid value for '{flag}'" in out.stderr
    assert out.stdout == ""


@pytest.mark.parametrize("key", ["timeout", "max_outage", "poll_interval"])
@pytest.mark.parametrize("value", ["nan", "inf", "-5", "0"])
def test_config_set_refuses_nan_inf_and_negative_values(offline, isolated_env, key, value):
    out = spine("config", "set", key, "--", value)
    assert out.exit_code == 2, out
    assert out.stderr.startswith(f"Error: Invalid value for {key}: expected a ")
    assert not (isolated_env["config_dir"] / "config.toml").exists()


@pytest.mark.parametrize("line", ["timeout = nan", "max_outage = -inf", 'timeout = "inf"',
                                  "poll_interval = nan", "max_outage = inf", "timeout = -30"])
def test_a_hand_written_config_with_nan_or_inf_is_refused(offline, isolated_env, line):
    cfg = isolated_env["config_dir"]
    cfg.mkdir(parents=True, exist_ok=True, mode=0o700)
    (cfg / "config.toml").write_text(f"[profiles.default]\n{line}\n")
    os.chmod(cfg / "config.toml", 0o600)
    out = spine("run", "wait", RUN)
    assert out.exit_code == 4, out
    key = line.split(" = ")[0]
    assert out.stderr.startswith(f"Error: Malformed config file {cfg / 'config.toml'}, line 2: "
                                 f"profiles.default.{key}: expected a ")
    assert out.stdout == ""
