"""The download engine against test doubles (httpx.MockTransport).

These cover what the emulator cannot produce: hostile names, truncated bodies,
URLs that stay forbidden, planted symlinks. The emulator round trips are in
test_downloads_cli.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import httpx
import pytest

from spine_cli.api.models import Run
from spine_cli.api.transfer import Fetcher
from spine_cli.runs.downloads import download_run
from spine_cli.runs.naming import safe_name, unique_name
from support.cli import FakeTime

RUN_ID = "11111111-2222-3333-4444-555555555555"


def artifact(i: int, name: str, body: bytes, *, type_: str = "docx", sized: bool = True) -> dict:
    art = {"id": f"node-{i}", "type": type_, "name": name,
           "download_url": f"https://files.example/a/{i}?sig=old"}
    if sized:
        art["size_bytes"] = len(body)
    return art


def make_run(*arts: dict, status: str = "completed", final: str | None = "# Done\n") -> dict:
    result: dict = {"artifacts": list(arts)}
    if final is not None:
        result["final_output"] = final
    return {"run_id": RUN_ID, "status": status, "canvas_id": "cccccccc-0000-0000-0000-000000000000",
            "result": result, "metadata": {"template_used": "report", "credits_consumed": 3}}


class Files:
    """A pre-signed file host: serves bodies by artifact index, logs every request."""

    def __init__(self, bodies: dict[int, bytes]) -> None:
        self.bodies = bodies
        self.log: list[httpx.Request] = []
        self.script: dict[int, list] = {}  # index -> queued responses/exceptions

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.log.append(request)
        index = int(request.url.path.rsplit("/", 1)[1])
        queued = self.script.get(index)
        if queued:
            step = queued.pop(0)
            if isinstance(step, Exception):
                raise step
            return step
        return httpx.Response(200, content=self.bodies[index])

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handler))


def warn(message: str) -> None:
    sys.stderr.write(f"Warning: {message}\n")


def run_engine(tmp_path: Path, run: dict, files: Files, **kwargs):
    time = FakeTime()
    refresh = kwargs.pop("refresh", lambda: run)
    with Fetcher(transport=httpx.MockTransport(files.handler), sleep=time.sleep) as fetcher:
        report = download_run(Run.parse(run), tmp_path / "out",
                              refresh=lambda: Run.parse(refresh()), fetcher=fetcher, warn=warn,
                              **kwargs)
    return report, time.sleeps


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


# -- names -------------------------------------------------------------------
@pytest.mark.parametrize("name, type_, expected", [
    ("Q1_Report.docx", "docx", "Q1_Report.docx"),
    ("../../etc/passwd", "docx", "_._etc_passwd.docx"),
    ("C:\\evil", "xlsx", "C__evil.xlsx"),
    ("/etc/cron.d/job.png", "png", "_etc_cron.d_job.png"),
    ("..", "html", "artifact-x.html"),
    ("", "pptx", "artifact-x.pptx"),
    ("CON", "docx", "artifact-x_CON.docx"),
    ("a\x1b[31mred\x07\n.docx", "docx", "a_[31mred__.docx"),
    ("notes", "weird type", "notes"),
])
def test_safe_name_neutralises_paths_and_controls(name, type_, expected):
    assert safe_name(name, type_, "artifact-x") == expected


def test_safe_name_bounds_length_and_keeps_the_extension():
    name = safe_name("é" * 400 + ".docx", "docx", "f")
    assert len(name.encode()) <= 150 and name.endswith(".docx")
    name.encode().decode("utf-8")  # not cut in the middle of a character


def test_unique_name_suffixes_duplicates_case_insensitively():
    taken = {"manifest.json"}
    got = [unique_name(n, taken) for n in ("Report.docx", "report.docx", "REPORT.docx",
                                           "manifest.json")]
    assert got == ["Report.docx", "report-2.docx", "REPORT-3.docx", "manifest-2.json"]


# -- engine --------------------------------------------------------------------
def test_hostile_names_from_a_test_double_cannot_escape_dir(tmp_path):
    hostile = ["../../etc/passwd", "/tmp/abs.docx", "C:\\Windows\\evil", "..", "sub/../../x",
               "manifest.json", "final_output.md", "a" * 300]
    bodies = {i: f"body {i}".encode() for i in range(len(hostile))}
    run = make_run(*[artifact(i, n, bodies[i], type_="html") for i, n in enumerate(hostile)])
    report, _ = run_engine(tmp_path, run, Files(bodies))
    assert report.exit_code == 0 and not report.failed
    out = (tmp_path / "out").resolve()
    assert tree(tmp_path) - {"out"} == {f"out/{p}" for p in tree(out)}
    assert all(p.parent == out for p in report.paths)
    assert len(set(report.paths)) == len(hostile) + 2
    assert json.loads((out / "manifest.json").read_text())["run_id"] == RUN_ID
    assert (out / "final_output.md").read_text() == "# Done\n"


def test_files_manifest_and_paths(tmp_path):
    bodies = {0: b"PK docx bytes", 1: b"xlsx!"}
    run = make_run(artifact(0, "Q1.docx", bodies[0]),
                   artifact(1, "data.xlsx", bodies[1], type_="xlsx", sized=False))
    files = Files(bodies)
    report, _ = run_engine(tmp_path, run, files)
    out = tmp_path / "out"
    assert [p.name for p in report.paths] == ["Q1.docx", "data.xlsx", "final_output.md",
                                              "manifest.json"]
    assert all(p.is_absolute() for p in report.paths)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest == report.manifest
    assert manifest["status"] == "completed" and manifest["metadata"]["credits_consumed"] == 3
    first = manifest["artifacts"][0]
    assert first["id"] == "node-0" and first["type"] == "docx" and first["name"] == "Q1.docx"
    assert first["size"] == len(bodies[0])
    assert first["sha256"] == hashlib.sha256(bodies[0]).hexdigest()
    assert first["path"] == str(out / "Q1.docx") and first["status"] == "downloaded"
    assert not any(r.headers.get("x-api-key") for r in files.log)
    assert not list(out.glob("*.part"))


def test_expired_url_is_refreshed_once_per_artifact(tmp_path):
    bodies = {0: b"one", 1: b"two"}
    run = make_run(artifact(0, "a.docx", bodies[0]), artifact(1, "b.docx", bodies[1]))
    fresh = make_run(*[dict(a, download_url=a["download_url"].replace("old", "new"))
                       for a in run["result"]["artifacts"]])
    files = Files(bodies)
    files.script[0] = [httpx.Response(403)]
    calls = []
    report, _ = run_engine(tmp_path, run, files, refresh=lambda: calls.append(1) or fresh)
    assert report.exit_code == 0 and len(calls) == 1
    assert [r.url.query.decode() for r in files.log] == ["sig=old", "sig=new", "sig=new"]


def test_url_still_refused_after_refresh_fails_that_artifact_only(tmp_path):
    bodies = {0: b"one", 1: b"two"}
    run = make_run(artifact(0, "a.docx", bodies[0]), artifact(1, "b.docx", bodies[1]))
    files = Files(bodies)
    files.script[0] = [httpx.Response(403), httpx.Response(403)]
    report, _ = run_engine(tmp_path, run, files)
    assert report.exit_code == 7
    assert report.failed == [("a.docx", "download refused (HTTP 403) even with a fresh URL")]
    assert (tmp_path / "out" / "b.docx").read_bytes() == b"two"
    assert not (tmp_path / "out" / "a.docx").exists()
    assert "a.docx" in report.error().message
    assert report.manifest["artifacts"][0]["path"] is None


def test_transient_failures_are_retried_with_backoff(tmp_path):
    bodies = {0: b"payload"}
    files = Files(bodies)
    files.script[0] = [httpx.ConnectError("refused"),
                       httpx.Response(503, headers={"Retry-After": "2"})]
    report, sleeps = run_engine(tmp_path, make_run(artifact(0, "a.docx", bodies[0])), files)
    assert report.exit_code == 0 and len(files.log) == 3
    assert len(sleeps) == 2 and sleeps[1] == 2.0


def test_a_long_retry_after_is_capped_at_30_seconds_and_408_is_transient(tmp_path):
    bodies = {0: b"payload"}
    files = Files(bodies)
    files.script[0] = [httpx.Response(429, headers={"Retry-After": "600"}), httpx.Response(408)]
    report, sleeps = run_engine(tmp_path, make_run(artifact(0, "a.docx", bodies[0])), files)
    assert report.exit_code == 0 and len(files.log) == 3
    assert sleeps[0] == 30.0 and len(sleeps) == 2


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_directory_in_the_way_fails_that_artifact_before_fetching_it(tmp_path, overwrite):
    bodies = {0: b"payload", 1: b"ok"}
    files = Files(bodies)
    (tmp_path / "out" / "a.docx").mkdir(parents=True)
    run = make_run(artifact(0, "a.docx", bodies[0], sized=False), artifact(1, "b.docx", b"ok"))
    report, _ = run_engine(tmp_path, run, files, overwrite=overwrite)
    assert report.failed == [("a.docx", "a.docx exists and is a directory")]
    assert len(files.log) == 1  # only b.docx was fetched
    assert tree(tmp_path / "out") == {"a.docx", "b.docx", "final_output.md", "manifest.json"}


def test_persistent_failure_gives_up_and_names_the_artifact(tmp_path):
    bodies = {0: b"payload", 1: b"ok"}
    files = Files(bodies)
    files.script[0] = [httpx.ReadTimeout("slow")] * 10
    run = make_run(artifact(0, "gone.pptx", bodies[0], type_="pptx"), artifact(1, "ok.docx", b"ok"))
    report, sleeps = run_engine(tmp_path, run, files)
    assert report.exit_code == 7 and len(sleeps) == 3
    assert report.failed[0][0] == "gone.pptx" and "ReadTimeout" in report.failed[0][1]
    assert (tmp_path / "out" / "ok.docx").exists()
    assert (tmp_path / "out" / "manifest.json").exists()


def test_short_body_is_never_renamed_into_place(tmp_path):
    files = Files({0: b"truncated"})
    run = make_run(artifact(0, "a.docx", b"x" * 100))  # announces 100 bytes
    report, _ = run_engine(tmp_path, run, files)
    assert report.exit_code == 7 and "size mismatch" in report.failed[0][1]
    assert sorted(tree(tmp_path / "out")) == ["final_output.md", "manifest.json"]


def test_existing_files_identical_skipped_different_kept_or_overwritten(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "same.docx").write_bytes(b"same")
    (out / "mine.docx").write_bytes(b"edited locally")
    (out / "size.docx").write_bytes(b"edited, same size")
    bodies = {0: b"same", 1: b"server copy!!!", 2: b"server copy of 17"}
    run = make_run(artifact(0, "same.docx", bodies[0]), artifact(1, "mine.docx", bodies[1]),
                   artifact(2, "size.docx", bodies[2], sized=False))
    report, _ = run_engine(tmp_path, run, Files(bodies))
    states = [a["status"] for a in report.manifest["artifacts"]]
    assert states == ["unchanged", "kept", "kept"]
    assert (out / "mine.docx").read_bytes() == b"edited locally"
    assert report.manifest["artifacts"][1]["sha256"] == hashlib.sha256(b"edited locally").hexdigest()
    err = capsys.readouterr().err
    assert "kept the existing mine.docx" in err and "--overwrite" in err
    assert len(report.paths) == 5

    report, _ = run_engine(tmp_path, run, Files(bodies), overwrite=True)
    assert [a["status"] for a in report.manifest["artifacts"]] == ["unchanged", "replaced",
                                                                    "replaced"]
    assert (out / "mine.docx").read_bytes() == bodies[1]


def test_type_filter(tmp_path, capsys):
    bodies = {0: b"d", 1: b"x"}
    run = make_run(artifact(0, "a.docx", bodies[0]), artifact(1, "b.xlsx", bodies[1], type_="xlsx"))
    report, _ = run_engine(tmp_path, run, Files(bodies), types=["XLSX"])
    assert [p.name for p in report.paths] == ["b.xlsx", "final_output.md", "manifest.json"]
    report, _ = run_engine(tmp_path, run, Files(bodies), types=["png"])
    assert "no artifact of type png" in capsys.readouterr().err


@pytest.mark.skipif(os.name == "nt", reason="symlinks")
def test_planted_part_symlink_is_not_followed(tmp_path):
    outside = tmp_path / "victim.txt"
    outside.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.docx.part").symlink_to(outside)
    report, _ = run_engine(tmp_path, make_run(artifact(0, "a.docx", b"new")), Files({0: b"new"}))
    assert report.exit_code == 0
    assert outside.read_text() == "precious"
    assert (out / "a.docx").read_bytes() == b"new"


def test_failed_run_without_result_writes_only_the_manifest(tmp_path):
    run = {"run_id": RUN_ID, "status": "failed", "errors": [{"error": "Agent execution failed"}]}
    report, _ = run_engine(tmp_path, run, Files({}))
    assert [p.name for p in report.paths] == ["manifest.json"]
    assert report.manifest["artifacts"] == [] and report.manifest["status"] == "failed"


def test_an_unwritable_final_output_is_reported_with_the_files_that_were_saved(tmp_path):
    files = Files({0: b"ok"})
    out = tmp_path / "out"
    (out / "final_output.md").mkdir(parents=True)
    report, _ = run_engine(tmp_path, make_run(artifact(0, "a.docx", b"ok")), files)
    assert report.exit_code == 7
    assert report.paths == [out / "a.docx", out / "manifest.json"]
    assert [name for name, _ in report.failed] == ["final_output.md"]
    assert report.error().message.endswith("could not be downloaded: final_output.md.")
    assert report.manifest["final_output"] is None
    assert not list(out.glob("*.part"))
