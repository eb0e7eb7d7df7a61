"""POST /v1/run bodies: multipart (streamed to disk) and url-encoded, with limits.

File parts are written chunk by chunk into the run's upload directory as they
arrive, so a 1 GiB upload never sits in memory. Past a limit the rest of the
body is read and discarded before answering, so the client sees the 413/400
instead of a broken pipe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, AsyncIterator
from urllib.parse import parse_qs

from python_multipart.multipart import MultipartParser

from spine_cli.emulator.config import MAX_FORM_BYTES
from spine_cli.emulator.formparams import header_params, header_text

_IMAGE_EXT = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg"}


class UploadRejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)


def safe_filename(name: str) -> str:
    base = re.split(r"[\\/]", name)[-1]
    base = re.sub(r"[^A-Za-z0-9._ -]", "_", base).strip(" .") or "file"
    return base[:120]


def file_kind(filename: str, content_type: str) -> str:
    suffix = Path(filename).suffix.lower()
    return "image" if content_type.startswith("image/") or suffix in _IMAGE_EXT else "document"


class _Collector:
    """python-multipart callbacks: fields in memory (capped), files to disk."""

    def __init__(self, dest: Path, max_file_size: int, max_files: int) -> None:
        self.dest, self.max_file_size, self.max_files = dest, max_file_size, max_files
        self.form = Form()
        self.error: UploadRejected | None = None
        self._field_bytes = 0
        self._headers: dict[str, str] = {}
        self._hname = self._hvalue = b""
        self._name = ""
        self._file: dict[str, Any] | None = None
        self._fh: IO[bytes] | None = None
        self._buf = bytearray()
        self._skip = False

    def callbacks(self) -> dict[str, Any]:
        return {"on_part_begin": self.part_begin, "on_part_data": self.part_data,
                "on_part_end": self.part_end, "on_header_field": self.header_field,
                "on_header_value": self.header_value, "on_header_end": self.header_end,
                "on_headers_finished": self.headers_finished}

    def part_begin(self) -> None:
        self._headers, self._buf, self._file, self._fh, self._skip = {}, bytearray(), None, None, False

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._hname += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._hvalue += data[start:end]

    def header_end(self) -> None:
        self._headers[self._hname.decode("latin-1").lower()] = header_text(self._hvalue)
        self._hname = self._hvalue = b""

    def headers_finished(self) -> None:
        _, params = header_params(self._headers.get("content-disposition", ""))
        self._name = params.get("name", "")
        filename = params.get("filename")
        if filename is None:
            return
        if self._name != "files":
            self._skip = True  # file parts under other names are ignored
            return
        if len(self.form.files) >= self.max_files:
            raise UploadRejected(400, f"Too many files: at most {self.max_files} files "
                                      "per run are accepted")
        name = filename or "file"
        ctype = self._headers.get("content-type", "application/octet-stream")
        path = self.dest / f"{len(self.form.files):03d}-{safe_filename(name)}"
        self.dest.mkdir(parents=True, exist_ok=True)
        self._file = {"name": name, "content_type": ctype, "size": 0,
                      "path": path.name, "kind": file_kind(name, ctype)}
        self._fh = open(path, "wb")

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self._skip:
            return
        if self._fh is None:
            self._field_bytes += end - start
            if self._field_bytes > MAX_FORM_BYTES:
                raise UploadRejected(413, "Form fields too large: at most "
                                          f"{MAX_FORM_BYTES} bytes of non-file fields")
            self._buf += data[start:end]
            return
        assert self._file is not None
        self._file["size"] += end - start
        if self._file["size"] > self.max_file_size:
            raise UploadRejected(413, f"File too large: {self._file['name']} exceeds the "
                                      f"maximum file size of {self.max_file_size} bytes")
        self._fh.write(data[start:end])

    def part_end(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self.form.files.append(self._file)  # type: ignore[arg-type]
            self._fh = None
        elif not self._skip and self._name and self._name not in self.form.fields:
            self.form.fields[self._name] = self._buf.decode("utf-8", "replace")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


async def parse_multipart(content_type: str, chunks: AsyncIterator[bytes], dest: Path,
                          max_file_size: int, max_files: int) -> Form:
    boundary = header_params(content_type)[1].get("boundary")
    if not boundary:
        raise UploadRejected(400, "Invalid multipart body: missing boundary")
    collector = _Collector(dest, max_file_size, max_files)
    # Starlette decodes header values as latin-1, so this gives back the bytes sent.
    parser = MultipartParser(boundary.encode("latin-1", "replace"),
                             collector.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in chunks:
            if collector.error is None:
                try:
                    parser.write(chunk)
                except UploadRejected as exc:
                    collector.error = exc
                except Exception:  # python-multipart's parse errors
                    collector.error = UploadRejected(400, "Invalid multipart body")
        if collector.error is None:
            try:
                parser.finalize()
            except Exception:
                collector.error = UploadRejected(400, "Invalid multipart body")
    finally:
        collector.close()
    if collector.error is not None:
        raise collector.error
    return collector.form


async def parse_urlencoded(chunks: AsyncIterator[bytes]) -> Form:
    body = bytearray()
    too_big = False
    async for chunk in chunks:
        if not too_big:
            body += chunk
            too_big = len(body) > MAX_FORM_BYTES
    if too_big:
        raise UploadRejected(413, f"Request body too large: at most {MAX_FORM_BYTES} bytes")
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return Form(fields={k: v[0] for k, v in parsed.items()})
