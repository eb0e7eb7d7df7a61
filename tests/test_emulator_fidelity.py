"""Emulator fidelity (issue 11, item 13): UTF-8 upload names as real clients encode them,
case-insensitive media types, a private data directory, no partial uploads left behind.

All over real loopback HTTP; the names are checked where the emulator echoes them (the
canvas DAG's input blocks and their content, and the 413 message in test_emulator_uploads).
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
from spine import SpineClient

from support.emulator import EmulatorHandle

# CJK, emoji, accented (NFC), accented (NFD, must not be normalised), and a `;` that a
# naive parameter split would cut at.
NAMES = ["报告.txt", "🎉 launch.png", "naïve résumé.md", "Cafe\u0301.csv", "a;b.txt"]


def _input_blocks(emu: EmulatorHandle, key: str, run_id: str) -> list[dict]:
    canvas_id = emu.get_run(key, run_id)["canvas_id"]
    response = emu.v1("GET", f"/canvas/{canvas_id}/dag", key)
    assert response.status_code == 200, response.text
    return [n for n in response.json()["data"]["nodes"]
            if n["type"] in ("file-block", "image-block")]


def _multipart(parts: list[tuple[bytes, bytes]], boundary: bytes = b"b0undary") -> bytes:
    """A body from (Content-Disposition parameters, content) pairs, byte for byte."""
    out = b""
    for disposition, content in parts:
        out += b"--" + boundary + b"\r\nContent-Disposition: form-data; " + disposition
        out += b"\r\nContent-Type: text/plain\r\n\r\n" + content + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


def test_utf8_names_from_httpx_are_kept_exactly(api):
    emu = api.emulator
    files = [("files", (name, name.encode() * 2, "application/octet-stream")) for name in NAMES]
    run_id = emu.create_run(api.key, "Names [emulate:duration=0]", files=files)["run_id"]
    blocks = _input_blocks(emu, api.key, run_id)
    assert [b["name"] for b in blocks] == NAMES
    assert [b["type"] for b in blocks][1] == "image-block"  # the extension still counts
    assert [b["content"] for b in blocks] == [
        f"Uploaded file {n} ({len(n.encode()) * 2} bytes)" for n in NAMES]
    stored = sorted((emu.data_dir / "uploads" / run_id).iterdir())
    assert stored[0].read_bytes() == NAMES[0].encode() * 2


def test_utf8_names_from_the_official_sdk(api, tmp_path):
    doc = tmp_path / "季度报告.md"
    doc.write_text("# Q1\n")
    with SpineClient(api_key=api.key, base_url=api.base_url) as sdk:
        handle = sdk.runs.create("SDK names [emulate:duration=0]",
                                 files=[doc, ("Ünïcödé 😀.png", b"\x89PNG", "image/png")])
        dag = sdk.canvas.get_dag(handle.refresh().canvas_id)
    names = [n.name for n in dag.nodes if n.type in ("file-block", "image-block")]
    assert names == ["季度报告.md", "Ünïcödé 😀.png"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_utf8_names_from_curl(api, tmp_path):
    for name in ("naïve.txt", "报告.txt", "🎉.txt"):
        (tmp_path / name).write_text("hi\n")
    (tmp_path / "headers").write_text(f"X-API-KEY: {api.key}\n")  # not in argv
    proc = subprocess.run(
        ["curl", "-sS", "-H", "@headers", "-F", "prompt=curl [emulate:duration=0]",
         "-F", "files=@naïve.txt", "-F", "files=@报告.txt", "-F", "files=@🎉.txt",
         f"{api.base_url}/v1/run"], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert '"success":true' in proc.stdout, proc.stdout
    run_id = httpx.Response(200, content=proc.stdout.encode()).json()["data"]["run_id"]
    names = [b["name"] for b in _input_blocks(api.emulator, api.key, run_id)]
    assert names == ["naïve.txt", "报告.txt", "🎉.txt"]


def test_rfc5987_and_latin1_names_are_decoded(api):
    body = _multipart([
        (b'name="prompt"', b"raw [emulate:duration=0]"),
        # RFC 5987 (older urllib3/requests), with a plain fallback that must lose.
        (b'name="files"; filename="fallback.txt"; filename*=UTF-8\'\'%F0%9F%8E%89%20ok.txt', b"1"),
        (b"name=\"files\"; filename*=utf-8''%E6%8A%A5%E5%91%8A.txt", b"2"),
        # A legacy client sending ISO-8859-1 bytes: not UTF-8, read as latin-1.
        (b'name="files"; filename="na\xefve.txt"', b"3"),
        # Upper-case parameter names are the same parameters.
        (b'Name="files"; FileName="upper.txt"', b"4"),
    ])
    response = api.emulator.v1("POST", "/run", api.key, content=body, headers={
        "Content-Type": "multipart/form-data; boundary=b0undary"})
    assert response.status_code == 200, response.text
    names = [b["name"] for b in _input_blocks(api.emulator, api.key,
                                              response.json()["data"]["run_id"])]
    assert names == ["🎉 ok.txt", "报告.txt", "naïve.txt", "upper.txt"]


def test_media_types_are_matched_case_insensitively(api):
    emu = api.emulator
    built = httpx.Request("POST", "http://x/", data={"prompt": "mixed case [emulate:duration=0]"},
                          files=[("files", ("notes.txt", b"hi", "text/plain"))])
    boundary = built.headers["content-type"].split("boundary=")[1]
    multipart = emu.v1("POST", "/run", api.key, content=built.read(), headers={
        "Content-Type": f"Multipart/Form-Data; BOUNDARY={boundary}"})
    encoded = emu.v1("POST", "/run", api.key, content=b"prompt=upper", headers={
        "Content-Type": "APPLICATION/X-WWW-FORM-URLENCODED; charset=UTF-8"})
    assert multipart.status_code == 200, multipart.text
    assert encoded.status_code == 200, encoded.text
    blocks = _input_blocks(emu, api.key, multipart.json()["data"]["run_id"])
    assert [b["name"] for b in blocks] == ["notes.txt"]
    other = emu.v1("POST", "/run", api.key, content=b"{}",
                   headers={"Content-Type": "Application/JSON"})
    assert other.status_code == 400
    assert other.json()["error"].startswith("Unsupported Content-Type")


def _modes(data_dir: Path) -> dict[str, str]:
    names = ["", "emulator.sqlite3", "emulator.sqlite3-wal", "emulator.sqlite3-shm"]
    return {name or ".": f"{stat.S_IMODE((data_dir / name).stat().st_mode):04o}"
            for name in names}


PRIVATE = {".": "0700", "emulator.sqlite3": "0600", "emulator.sqlite3-wal": "0600",
           "emulator.sqlite3-shm": "0600"}


def test_data_dir_is_private_when_new_and_when_it_already_existed(tmp_path):
    old_umask = os.umask(0o022)  # the usual umask, which alone would give 0755 and 0644
    try:
        fresh = EmulatorHandle(tmp_path / "fresh")
        try:
            assert _modes(fresh.data_dir) == PRIVATE
            fresh.kill()  # SIGKILL keeps the -wal and -shm files
            for path in fresh.data_dir.iterdir():
                path.chmod(0o755 if path.is_dir() else 0o644)
            fresh.data_dir.chmod(0o777)
            fresh.start()
            assert _modes(fresh.data_dir) == PRIVATE
        finally:
            fresh.close()
    finally:
        os.umask(old_umask)


def _wait_until(predicate, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.fixture
def lone_emulator(tmp_path):
    """An emulator of this test's own, so its uploads directory holds only this test's files."""
    handle = EmulatorHandle(tmp_path / "emu")
    yield handle
    handle.close()


def test_an_upload_aborted_mid_body_leaves_no_file(lone_emulator):
    emu = lone_emulator
    uploads = emu.data_dir / "uploads"
    key = emu.new_key()
    body = _multipart([(b'name="prompt"', b"aborted"),
                       (b'name="files"; filename="half.bin"', b"x" * 256 * 1024)])[:-200]
    head = (f"POST /v1/run HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-KEY: {key}\r\n"
            "Content-Type: multipart/form-data; boundary=b0undary\r\n"
            f"Content-Length: {len(body) + 10_000_000}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", emu.port), timeout=10) as sock:
        sock.sendall(head + body)
        # The server has begun writing the file: the abort below hits a real partial upload.
        assert _wait_until(lambda: any(uploads.rglob("000-half.bin"))), "upload never started"
    assert _wait_until(lambda: not any(uploads.iterdir())), list(uploads.rglob("*"))
    [entry] = [r for r in emu.requests(key) if r["method"] == "POST"]
    assert entry["status"] is None  # logged as a dropped connection, not as an answer
    assert "Traceback" not in (emu.data_dir / "emulator.stderr.log").read_text()
    assert emu.create_run(key, "still serving")["status"] == "running"


def test_leftover_uploads_are_removed_at_startup(lone_emulator):
    emu = lone_emulator
    key = emu.new_key()
    kept = emu.create_run(key, "kept [emulate:duration=0]", files=[("files", ("报告.txt", b"mine", "text/plain"))])
    emu.kill()  # as if killed mid-upload: the body below was never answered
    uploads = emu.data_dir / "uploads"
    orphan = uploads / str(uuid.uuid4())
    orphan.mkdir()
    (orphan / "000-partial.bin").write_bytes(b"x" * 1000)
    (uploads / "stray.tmp").write_bytes(b"?")
    emu.start(port=0)
    assert [p.name for p in uploads.iterdir()] == [kept["run_id"]]
    assert (uploads / kept["run_id"] / "000-__.txt").read_bytes() == b"mine"
    blocks = _input_blocks(emu, key, kept["run_id"])
    assert [b["name"] for b in blocks] == ["报告.txt"]
