"""Create bodies and limits: multipart and url-encoded, file count/size, rate limit, streaming."""

from __future__ import annotations

import json

import httpx
import pytest

from support.emulator import EmulatorHandle


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    handle = EmulatorHandle(tmp_path_factory.mktemp("limited"), "--max-file-size", "1KiB",
                            "--max-files", "2", "--rate-limit", "6")
    yield handle
    handle.close()


def test_multipart_files_are_stored_on_disk(api):
    emu = api.emulator
    payload = bytes(range(256)) * 40
    files = [("files", ("a.bin", payload, "application/octet-stream")),
             ("files", ("b.txt", b"hello", "text/plain")),
             ("files", ("c.png", b"\x89PNG", "image/png"))]
    data = emu.create_run(api.key, "Three files [emulate:duration=0]", files=files)
    stored = sorted((emu.data_dir / "uploads" / data["run_id"]).iterdir())
    assert [p.name for p in stored] == ["000-a.bin", "001-b.txt", "002-c.png"]
    assert stored[0].read_bytes() == payload


def test_url_encoded_and_multipart_without_files_both_work(api):
    emu = api.emulator
    encoded = emu.v1("POST", "/run", api.key, data={"prompt": "a", "template": "memo"})
    multipart = emu.v1("POST", "/run", api.key, data={"prompt": "b"},
                       files=[("unrelated", ("x", b"", "text/plain"))])
    assert encoded.status_code == multipart.status_code == 200
    assert [r["content_type"].split(";")[0] for r in api.requests()] == [
        "application/x-www-form-urlencoded", "multipart/form-data"]


def test_too_many_files_is_400_and_too_big_is_413(limited):
    key = limited.new_key()
    three = [("files", (f"f{i}.txt", b"x", "text/plain")) for i in range(3)]
    response = limited.v1("POST", "/run", key, data={"prompt": "p"}, files=three)
    assert response.status_code == 400
    assert response.json()["error"] == "Too many files: at most 2 files per run are accepted"
    big = [("files", ("big.bin", b"x" * 1025, "application/octet-stream"))]
    response = limited.v1("POST", "/run", key, data={"prompt": "p"}, files=big)
    assert response.status_code == 413
    assert response.json()["error"] == (
        "File too large: big.bin exceeds the maximum file size of 1024 bytes")
    assert not any((limited.data_dir / "uploads").iterdir())  # rejected uploads are removed


def test_413_names_a_utf8_file_exactly(limited):
    key = limited.new_key()
    big = [("files", ("大きい 📦 façade.bin", b"x" * 1025, "application/octet-stream"))]
    response = limited.v1("POST", "/run", key, data={"prompt": "p"}, files=big)
    assert response.status_code == 413
    assert response.json()["error"] == (
        "File too large: 大きい 📦 façade.bin exceeds the maximum file size of 1024 bytes")
    assert not any((limited.data_dir / "uploads").iterdir())


def test_rate_limit_answers_429_with_retry_after(limited):
    key, other = limited.new_key(), limited.new_key()
    statuses = [limited.v1("GET", "/run/00000000-0000-4000-8000-000000000000", key)
                for _ in range(7)]
    assert [r.status_code for r in statuses] == [404] * 6 + [429]
    last = statuses[-1]
    assert 1 <= int(last.headers["retry-after"]) <= 60
    assert last.json()["error"].startswith("Rate limit exceeded")
    assert limited.v1("GET", "/run/00000000-0000-4000-8000-000000000000", other).status_code == 404


def _peak_rss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_big_upload_is_streamed_not_held_in_memory(api, tmp_path):
    emu = api.emulator
    size = 96 * 1024 * 1024
    big = tmp_path / "big.bin"
    with open(big, "wb") as fh:
        fh.truncate(size)
    before = _peak_rss_kib(emu.proc.pid)
    with open(big, "rb") as fh:
        response = httpx.post(emu.base_url + "/v1/run", headers={"X-API-KEY": api.key},
                              data={"prompt": "big [emulate:duration=0]"},
                              files=[("files", ("big.bin", fh, "application/octet-stream"))],
                              timeout=120)
    assert response.status_code == 200, response.text
    grown_mib = (_peak_rss_kib(emu.proc.pid) - before) / 1024
    assert grown_mib < 32, f"server peak memory grew by {grown_mib:.0f} MiB"
    run_id = response.json()["data"]["run_id"]
    [stored] = (emu.data_dir / "uploads" / run_id).iterdir()
    assert stored.stat().st_size == size
    dag_canvas = emu.get_run(api.key, run_id)["canvas_id"]
    nodes = emu.v1("GET", f"/canvas/{dag_canvas}/dag", api.key).json()["data"]["nodes"]
    assert json.dumps(nodes).count("big.bin") >= 1
