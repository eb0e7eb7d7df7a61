"""Artifacts: real files of their type, exact sizes, pre-signed expiring URLs."""

from __future__ import annotations

import io
import shutil
import subprocess
import struct
import zipfile
import zlib
from xml.etree import ElementTree

import httpx
import pytest

from spine_cli.emulator import artifacts

MAIN_TYPES = {
    "docx": ("/word/document.xml", "wordprocessingml.document.main+xml"),
    "xlsx": ("/xl/workbook.xml", "spreadsheetml.sheet.main+xml"),
    "pptx": ("/ppt/presentation.xml", "presentationml.presentation.main+xml"),
}


def check_ooxml(data: bytes, kind: str) -> None:
    """A well-formed OPC package: every part parses, every relationship target exists,
    the main part has its content type."""
    zf = zipfile.ZipFile(io.BytesIO(data))
    assert zf.testzip() is None
    names = set(zf.namelist())
    for name in names:
        ElementTree.fromstring(zf.read(name))
    types = ElementTree.fromstring(zf.read("[Content_Types].xml"))
    overrides = {o.get("PartName"): o.get("ContentType") for o in types}
    part, ctype = MAIN_TYPES[kind]
    assert overrides[part].endswith(ctype)
    for name in names:
        if name.endswith(".xml") and not name.startswith("[") and "_rels" not in name:
            assert "/" + name in overrides, f"{name} has no content type"
        if name.endswith(".rels"):
            base = name.replace("_rels/", "").removesuffix(".rels").rsplit("/", 1)[0]
            base = "" if name == "_rels/.rels" else base
            for rel in ElementTree.fromstring(zf.read(name)):
                target = f"{base}/{rel.get('Target')}" if base else rel.get("Target")
                parts: list[str] = []
                for piece in target.split("/"):
                    if piece == "..":
                        parts.pop()
                    elif piece:
                        parts.append(piece)
                assert "/".join(parts) in names, f"{name} -> {target} missing"


def decode_png(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height = size
    assert len(zlib.decompress(idat)) == height * (1 + 3 * width)
    return width, height


@pytest.mark.parametrize("kind", ["docx", "xlsx", "pptx"])
def test_office_files_are_valid_packages(kind):
    data = artifacts.build(kind, "Title & <stuff>", ["line one", "line two"])
    check_ooxml(data, kind)
    assert data == artifacts.build(kind, "Title & <stuff>", ["line one", "line two"])


def test_png_decodes_and_html_is_a_page():
    assert decode_png(artifacts.build("png", "t", [])) == (96, 64)
    page = artifacts.build("html", "A <b>", ["x"]).decode()
    assert page.startswith("<!DOCTYPE html>") and "A &lt;b&gt;" in page


def test_every_artifact_type_downloads_without_a_key(api):
    emu = api.emulator
    blocks = '["document-block","excel-block","presentation-block","app-block","image-block"]'
    run = emu.create_run(api.key, "All kinds [emulate:duration=1]", blocks=blocks)
    emu.advance(2)
    data = emu.get_run(api.key, run["run_id"])
    arts = {a["type"]: a for a in data["result"]["artifacts"]}
    assert sorted(arts) == ["docx", "html", "png", "pptx", "xlsx"]
    emu.clear_requests()
    for kind, art in arts.items():
        response = httpx.get(art["download_url"])
        assert response.status_code == 200, response.text
        assert len(response.content) == art["size_bytes"]
        assert response.headers["content-type"].startswith(artifacts.CONTENT_TYPES[kind][:20])
        assert art["name"] in response.headers["content-disposition"]
        if kind in MAIN_TYPES:
            check_ooxml(response.content, kind)
        elif kind == "png":
            decode_png(response.content)
        else:
            assert response.text.startswith("<!DOCTYPE html>")
    downloads = emu.requests()
    assert len(downloads) == 5
    assert all(not r["has_api_key"] and r["key_fingerprint"] is None and r["status"] == 200
               for r in downloads)


def test_urls_expire_and_each_poll_gives_a_fresh_one(api):
    emu = api.emulator
    run = emu.create_run(api.key, "Report [emulate:duration=0]", template="report")
    old = emu.get_run(api.key, run["run_id"])["result"]["artifacts"][0]["download_url"]
    assert httpx.get(old).status_code == 200
    emu.advance(601)  # default --url-ttl is 600 s of emulator clock
    expired = httpx.get(old)
    assert expired.status_code == 403 and "expired" in expired.text
    fresh = emu.get_run(api.key, run["run_id"])["result"]["artifacts"][0]["download_url"]
    assert fresh != old and httpx.get(fresh).status_code == 200
    assert httpx.get(fresh.replace("signature=", "signature=0")).status_code == 403


def test_uploaded_files_become_blocks(api):
    emu = api.emulator
    files = [("files", ("chart.png", b"\x89PNG fake", "image/png")),
             ("files", ("notes.pdf", b"%PDF-1.4", "application/pdf"))]
    run = emu.create_run(api.key, "Summarise [emulate:duration=0]", files=files)
    canvas = emu.get_run(api.key, run["run_id"])["canvas_id"]
    dag = emu.v1("GET", f"/canvas/{canvas}/dag", api.key).json()["data"]
    inputs = [(n["type"], n["name"]) for n in dag["nodes"] if n["type"] in ("image-block", "file-block")]
    assert inputs == [("image-block", "chart.png"), ("file-block", "notes.pdf")]


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_an_office_suite_reads_the_files(tmp_path):
    lines = ["first line", "second line"]
    for kind in ("docx", "xlsx", "pptx"):
        (tmp_path / f"a.{kind}").write_bytes(artifacts.build(kind, "Deck title", lines))
    conversions = [("a.docx", "txt:Text", "a.txt"), ("a.xlsx", "csv", "a.csv"),
                   ("a.pptx", "odp", "a.odp")]
    for source, target, _ in conversions:
        subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/lo",
                        "--convert-to", target, "--outdir", str(tmp_path), str(tmp_path / source)],
                       capture_output=True, timeout=120, check=True)
    assert "first line" in (tmp_path / "a.txt").read_text(encoding="utf-8-sig")
    assert "second line" in (tmp_path / "a.csv").read_text()
    slides = zipfile.ZipFile(tmp_path / "a.odp").read("content.xml").decode()
    assert slides.count("Deck title") == 2 and "second line" in slides


def test_a_finished_file_block_downloads_while_the_run_goes_on(api):
    emu = api.emulator
    run = emu.create_run(api.key, "Report [emulate:duration=100]", template="report")
    emu.advance(85)  # the document block ends at ~80 s, the text block at 100 s
    data = emu.get_run(api.key, run["run_id"])
    assert data["status"] == "running"
    dag = emu.v1("GET", f"/canvas/{data['canvas_id']}/dag", api.key).json()["data"]
    [doc] = [n for n in dag["nodes"] if n["type"] == "document-block"]
    assert doc["status"] == "completed"
    response = httpx.get(doc["url"])
    assert response.status_code == 200, response.text
    check_ooxml(response.content, "docx")


def test_artifacts_are_made_on_first_need_not_when_the_run_ends(api):
    import time

    emu = api.emulator  # the shared emulator has no --webhook: nothing to announce
    run = emu.create_run(api.key, "Idle report [emulate:duration=0]", template="report")
    time.sleep(0.6)  # a few ticks of the background webhook loop
    shelf = emu.data_dir / "artifacts" / run["run_id"]
    assert not shelf.exists()
    art = emu.get_run(api.key, run["run_id"])["result"]["artifacts"][0]
    assert [p.stat().st_size for p in shelf.iterdir()] == [art["size_bytes"]]
