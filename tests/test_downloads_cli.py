"""`spine run download` and `--download` against the emulator, as a user runs them."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from pathlib import Path

import httpx
from typer.testing import CliRunner

from spine_cli.api.models import Run
from spine_cli.api.transfer import Fetcher
from spine_cli.runs.downloads import download_run

runner = CliRunner()
ALL_TYPES = ["document-block", "excel-block", "presentation-block", "image-block", "app-block"]
MAIN_PARTS = {  # extension -> (main part, its content type)
    "docx": ("/word/document.xml",
             "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"),
    "xlsx": ("/xl/workbook.xml",
             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"),
    "pptx": ("/ppt/presentation.xml",
             "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"),
}


def spine(*args: str):
    from spine_cli.app import app

    return runner.invoke(app, list(args))


def api_url(api) -> str:
    return str(api.base_url).rstrip("/").removesuffix("/v1") + "/v1"


def create(api, prompt: str, blocks: list[str] | None = None) -> str:
    """POST /v1/run directly (the test's own setup, not the code under test)."""
    fields = {"prompt": prompt}
    if blocks:
        fields["blocks"] = json.dumps(blocks)
    resp = httpx.post(api_url(api) + "/run", data=fields, headers={"X-API-KEY": api.key})
    resp.raise_for_status()
    return resp.json()["data"]["run_id"]


def get_run(api, run_id: str) -> dict:
    resp = httpx.get(f"{api_url(api)}/run/{run_id}", headers={"X-API-KEY": api.key})
    return resp.json()["data"]


def finished_run(api, prompt: str = "Quarterly market report", outcome: str = "completed",
                 blocks: list[str] | None = None) -> str:
    run_id = create(api, f"{prompt} [emulate:outcome={outcome}] [emulate:duration=30]", blocks)
    api.emulator.advance(40)
    return run_id


def artifact_requests(api, run_id: str) -> list[dict]:
    """Requests for this run's download URLs (they carry no key, so no key filter)."""
    return [r for r in api.emulator.requests() if r["path"].startswith(f"/_artifacts/{run_id}/")]


def check_opens_as_its_type(path: Path) -> None:
    ext = path.suffix.lstrip(".")
    data = path.read_bytes()
    if ext in MAIN_PARTS:
        with zipfile.ZipFile(path) as zf:
            assert zf.testzip() is None
            types = zf.read("[Content_Types].xml").decode()
            part, ctype = MAIN_PARTS[ext]
            assert f'PartName="{part}"' in types and ctype in types, path
            assert part.lstrip("/") in zf.namelist()
            assert part.lstrip("/") in zf.read("_rels/.rels").decode()
    elif ext == "png":
        check_png(data)
    elif ext == "html":
        assert b"<html" in data.lower() and b"</html>" in data.lower()
    else:
        raise AssertionError(f"unexpected artifact type {path}")


def check_png(data: bytes) -> None:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, seen = 8, b"", []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc
        seen.append(kind)
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    assert seen[0] == b"IHDR" and seen[-1] == b"IEND"
    width, height, depth, color = struct.unpack(">IIBB", seen and data[16:26])
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(color, 1)
    raw = zlib.decompress(idat)
    assert len(raw) == height * (1 + width * channels * depth // 8)


# -- round trips -------------------------------------------------------------------
def test_create_wait_download_round_trip_files_open_as_their_types(api, tmp_path):
    result = spine("run", "create", "--prompt",
                   "Pricing study [emulate:duration=30] [emulate:outcome=completed]",
                   *[a for b in ALL_TYPES for a in ("-b", b)], "-q")
    assert result.exit_code == 0, result.stderr
    run_id = result.stdout.strip()
    api.emulator.advance(40)
    out = tmp_path / "out"
    result = spine("run", "wait", run_id, "--download", str(out))
    assert result.exit_code == 0, result.stderr
    files = sorted(p for p in out.iterdir())
    assert {p.suffix for p in files} == {".docx", ".xlsx", ".pptx", ".png", ".html", ".md",
                                         ".json"}
    for p in files:
        assert str(p) in result.stdout.splitlines()
        if p.suffix not in (".md", ".json"):
            check_opens_as_its_type(p)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["run_id"] == run_id and manifest["status"] == "completed"
    assert len(manifest["artifacts"]) == 5
    assert (out / "final_output.md").read_text() == get_run(api, run_id)["result"]["final_output"]


def test_run_download_default_dir_quiet_json_and_no_key_on_download_urls(api, tmp_path,
                                                                         monkeypatch):
    run_id = finished_run(api, blocks=["document-block", "excel-block"])
    monkeypatch.chdir(tmp_path)
    result = spine("run", "download", run_id, "-q")
    assert result.exit_code == 0, result.stderr
    out = tmp_path / f"spine-{run_id}"
    paths = result.stdout.splitlines()
    assert len(paths) == 4 and all(Path(p).is_absolute() and Path(p).parent == out
                                   for p in paths)
    downloads = artifact_requests(api, run_id)
    assert len(downloads) == 2 and not any(r["has_api_key"] for r in downloads)
    assert all(r["has_api_key"] for r in api.requests() if r["path"].startswith("/v1/"))

    result = spine("run", "download", run_id, "--json")  # again: identical files are kept
    assert result.exit_code == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert [a["status"] for a in manifest["artifacts"]] == ["unchanged", "unchanged"]
    assert manifest["artifacts"][0]["path"] in paths


def test_run_download_defaults_to_the_profiles_download_dir(api, isolated_env, tmp_path):
    run_id = finished_run(api, blocks=["document-block"])
    cfg = isolated_env["config_dir"]
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "config.toml").write_text(
        f'[profiles.default]\ndownload_dir = "{tmp_path / "reports"}"\n', encoding="utf-8")
    (cfg / "config.toml").chmod(0o600)
    result = spine("run", "download", run_id, "-q")
    assert result.exit_code == 0, result.stderr
    out = tmp_path / "reports" / f"spine-{run_id}"
    assert {Path(p).parent for p in result.stdout.splitlines()} == {out}
    assert (out / "manifest.json").is_file()


def test_expired_url_is_refreshed_from_the_run(api, tmp_path):
    run_id = finished_run(api, blocks=["document-block"])
    stale = get_run(api, run_id)
    api.emulator.advance(3600)  # past the emulator's URL lifetime
    polls = []

    def refresh() -> Run:
        polls.append(1)
        return Run.parse(get_run(api, run_id))

    with Fetcher() as fetcher:
        report = download_run(Run.parse(stale), tmp_path / "out", refresh=refresh,
                              fetcher=fetcher, warn=print)
    assert report.exit_code == 0 and len(polls) == 1
    statuses = [r["status"] for r in artifact_requests(api, run_id)]
    assert statuses == [403, 200]
    check_opens_as_its_type(report.paths[0])


def test_missing_artifact_exits_7_naming_it_after_saving_the_others(api, tmp_path):
    run_id = finished_run(api, blocks=["document-block", "excel-block"])
    arts = get_run(api, run_id)["result"]["artifacts"]
    broken = arts[1]
    api.emulator.fault("status", "GET", f"/_artifacts/{run_id}/{broken['id']}/*", count=50,
                       status=503, retry_after=0)
    out = tmp_path / "out"
    result = spine("run", "download", run_id, "-d", str(out))
    assert result.exit_code == 7
    assert broken["name"] in result.stderr and "could not be downloaded" in result.stderr
    assert (out / arts[0]["name"]).is_file() and not (out / broken["name"]).exists()
    assert str(out / arts[0]["name"]) in result.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["artifacts"][1]["status"] == "failed"


def test_still_running_exits_6_with_a_hint(api, tmp_path):
    run_id = create(api, "Slow one [emulate:duration=300]")
    result = spine("run", "download", run_id, "-d", str(tmp_path / "out"))
    assert result.exit_code == 6
    assert f"spine run wait {run_id} --download" in result.stderr
    assert result.stdout == "" and not (tmp_path / "out").exists()


def test_failed_run_exits_3_and_partial_run_downloads(api, tmp_path):
    failed = finished_run(api, outcome="failed")
    result = spine("run", "download", failed, "-d", str(tmp_path / "f"))
    assert result.exit_code == 3 and "failed" in result.stderr
    assert json.loads((tmp_path / "f" / "manifest.json").read_text())["status"] == "failed"

    partial = finished_run(api, outcome="partial", blocks=["document-block", "excel-block"])
    result = spine("run", "download", partial, "-d", str(tmp_path / "p"))
    assert result.exit_code == 0, result.stderr
    assert any(line.endswith(".xlsx") or line.endswith(".docx")
               for line in result.stdout.splitlines())


def test_type_filter_and_kept_file(api, tmp_path):
    run_id = finished_run(api, blocks=["document-block", "excel-block"])
    out = tmp_path / "out"
    result = spine("run", "download", run_id, "-d", str(out), "--type", "xlsx")
    assert result.exit_code == 0, result.stderr
    xlsx = [Path(p) for p in result.stdout.splitlines() if p.endswith(".xlsx")]
    assert len(xlsx) == 1 and not list(out.glob("*.docx"))
    xlsx[0].write_bytes(b"my edits")
    result = spine("run", "download", run_id, "-d", str(out), "--type", "xlsx")
    assert result.exit_code == 0 and "kept the existing" in result.stderr
    assert xlsx[0].read_bytes() == b"my edits"
    result = spine("run", "download", run_id, "-d", str(out), "--type", "xlsx", "--overwrite")
    assert result.exit_code == 0 and zipfile.is_zipfile(xlsx[0])


def test_download_option_on_create_wait_and_watch(api, tmp_path):
    prompt = "Instant memo [emulate:duration=0]"
    result = spine("run", "create", "--prompt", prompt, "-b", "memo-block", "--wait",
                   "--download", str(tmp_path / "c"))
    assert result.exit_code == 0, result.stderr
    docx = sorted((tmp_path / "c").glob("*.docx"))
    assert len(docx) == 1 and str(docx[0]) in result.stdout.splitlines()
    check_opens_as_its_type(docx[0])

    run_id = finished_run(api, blocks=["image-block"])
    result = spine("run", "watch", run_id, "--download", str(tmp_path / "w"))
    assert result.exit_code == 0, result.stderr
    png = sorted((tmp_path / "w").glob("*.png"))
    assert len(png) == 1 and str(png[0]) in result.stdout
    check_png(png[0].read_bytes())
