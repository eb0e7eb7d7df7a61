"""Real artifact files, built with the standard library only.

docx / xlsx / pptx are minimal but complete OOXML packages (content types,
relationships, the main parts); html is a self-contained page; png is a valid
image (signature, IHDR, zlib-compressed IDAT, IEND, correct CRCs). Output is
byte-for-byte deterministic for the same inputs (fixed zip timestamps).
"""

from __future__ import annotations

import hashlib
import html
import io
import struct
import zipfile
import zlib
from xml.sax.saxutils import escape

CONTENT_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "html": "text/html; charset=utf-8",
    "png": "image/png",
}
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_NS_CT = "http://schemas.openxmlformats.org/package/2006/content-types"
_NS_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_NS_P = "http://schemas.openxmlformats.org/presentationml/2006/main"
_RT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
_CT = "application/vnd.openxmlformats-officedocument."
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def build(kind: str, title: str, lines: list[str]) -> bytes:
    """The bytes of an artifact of `kind` with a title and body lines."""
    builders = {"docx": _docx, "xlsx": _xlsx, "pptx": _pptx, "html": _html, "png": _png}
    return builders[kind](title, lines)


def _zip(parts: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():  # [Content_Types].xml first, as Office writes it
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, (_XML + text).encode("utf-8"))
    return buf.getvalue()


def _types(defaults_extra: str, overrides: dict[str, str]) -> str:
    items = "".join(f'<Override PartName="{p}" ContentType="{c}"/>' for p, c in overrides.items())
    return (f'<Types xmlns="{_NS_CT}">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            f'<Default Extension="xml" ContentType="application/xml"/>{defaults_extra}{items}</Types>')


def _rels(targets: list[tuple[str, str]]) -> str:
    items = "".join(f'<Relationship Id="rId{i}" Type="{_RT}{t}" Target="{target}"/>'
                    for i, (t, target) in enumerate(targets, 1))
    return f'<Relationships xmlns="{_NS_PKG_REL}">{items}</Relationships>'


def _docx(title: str, lines: list[str]) -> bytes:
    paras = [f'<w:p><w:pPr><w:pStyle w:val="Title"/></w:pPr><w:r><w:t>{escape(title)}</w:t></w:r></w:p>']
    paras += [f'<w:p><w:r><w:t xml:space="preserve">{escape(line)}</w:t></w:r></w:p>' for line in lines]
    doc = ('<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
           f'<w:body>{"".join(paras)}<w:sectPr/></w:body></w:document>')
    return _zip({
        "[Content_Types].xml": _types("", {
            "/word/document.xml": _CT + "wordprocessingml.document.main+xml"}),
        "_rels/.rels": _rels([("officeDocument", "word/document.xml")]),
        "word/document.xml": doc,
    })


def _cell(ref: str, value: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'


def _xlsx(title: str, lines: list[str]) -> bytes:
    rows = [f'<row r="1">{_cell("A1", title)}</row>',
            f'<row r="2">{_cell("A2", "Item")}{_cell("B2", "Value")}</row>']
    for i, line in enumerate(lines, 3):
        rows.append(f'<row r="{i}">{_cell(f"A{i}", line)}<c r="B{i}"><v>{i * 10}</v></c></row>')
    sheet = ('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f'<sheetData>{"".join(rows)}</sheetData></worksheet>')
    book = ('<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            f'xmlns:r="{_NS_REL}"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/>'
            '</sheets></workbook>')
    return _zip({
        "[Content_Types].xml": _types("", {
            "/xl/workbook.xml": _CT + "spreadsheetml.sheet.main+xml",
            "/xl/worksheets/sheet1.xml": _CT + "spreadsheetml.worksheet+xml"}),
        "_rels/.rels": _rels([("officeDocument", "xl/workbook.xml")]),
        "xl/workbook.xml": book,
        "xl/_rels/workbook.xml.rels": _rels([("worksheet", "worksheets/sheet1.xml")]),
        "xl/worksheets/sheet1.xml": sheet,
    })


_THEME = (
    f'<a:theme xmlns:a="{_NS_A}" name="Spine"><a:themeElements>'
    '<a:clrScheme name="Spine">'
    '<a:dk1><a:srgbClr val="000000"/></a:dk1><a:lt1><a:srgbClr val="FFFFFF"/></a:lt1>'
    '<a:dk2><a:srgbClr val="1F2937"/></a:dk2><a:lt2><a:srgbClr val="F3F4F6"/></a:lt2>'
    + "".join(f'<a:accent{i}><a:srgbClr val="{c}"/></a:accent{i}>' for i, c in enumerate(
        ["2563EB", "16A34A", "DC2626", "9333EA", "EA580C", "0891B2"], 1))
    + '<a:hlink><a:srgbClr val="2563EB"/></a:hlink><a:folHlink><a:srgbClr val="9333EA"/></a:folHlink>'
    '</a:clrScheme><a:fontScheme name="Spine">'
    '<a:majorFont><a:latin typeface="Calibri"/><a:ea typeface=""/><a:cs typeface=""/></a:majorFont>'
    '<a:minorFont><a:latin typeface="Calibri"/><a:ea typeface=""/><a:cs typeface=""/></a:minorFont>'
    '</a:fontScheme><a:fmtScheme name="Spine">'
    '<a:fillStyleLst>' + '<a:solidFill><a:schemeClr val="phClr"/></a:solidFill>' * 3 + '</a:fillStyleLst>'
    '<a:lnStyleLst>' + '<a:ln w="9525"><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:ln>' * 3
    + '</a:lnStyleLst><a:effectStyleLst>' + '<a:effectStyle><a:effectLst/></a:effectStyle>' * 3
    + '</a:effectStyleLst><a:bgFillStyleLst>' + '<a:solidFill><a:schemeClr val="phClr"/></a:solidFill>' * 3
    + '</a:bgFillStyleLst></a:fmtScheme></a:themeElements></a:theme>')
_SP_TREE = ('<p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr>'
            '<p:grpSpPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/><a:chOff x="0" y="0"/>'
            '<a:chExt cx="0" cy="0"/></a:xfrm></p:grpSpPr>')
_CLR_MAP = ('<p:clrMap bg1="lt1" tx1="dk1" bg2="lt2" tx2="dk2" accent1="accent1" accent2="accent2" '
            'accent3="accent3" accent4="accent4" accent5="accent5" accent6="accent6" hlink="hlink" '
            'folHlink="folHlink"/>')
_PNS = f'xmlns:a="{_NS_A}" xmlns:r="{_NS_REL}" xmlns:p="{_NS_P}"'


def _text_box(shape_id: int, y: int, text: str, size: int) -> str:
    return (f'<p:sp><p:nvSpPr><p:cNvPr id="{shape_id}" name="Text {shape_id}"/><p:cNvSpPr txBox="1"/>'
            f'<p:nvPr/></p:nvSpPr><p:spPr><a:xfrm><a:off x="457200" y="{y}"/>'
            '<a:ext cx="8229600" cy="914400"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom>'
            f'</p:spPr><p:txBody><a:bodyPr/><a:lstStyle/><a:p><a:r><a:rPr lang="en-US" sz="{size}"/>'
            f'<a:t>{escape(text)}</a:t></a:r></a:p></p:txBody></p:sp>')


def _slide(title: str, body: str) -> str:
    shapes = _text_box(2, 457200, title, 3600) + _text_box(3, 1828800, body, 2000)
    return (f'<p:sld {_PNS}><p:cSld><p:spTree>{_SP_TREE}{shapes}</p:spTree></p:cSld>'
            '<p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr></p:sld>')


def _pptx(title: str, lines: list[str]) -> bytes:
    slides = [(title, lines[0] if lines else "")] + [(title, line) for line in lines[1:4]]
    n = len(slides)
    parts = {
        "[Content_Types].xml": _types("", {
            "/ppt/presentation.xml": _CT + "presentationml.presentation.main+xml",
            "/ppt/slideMasters/slideMaster1.xml": _CT + "presentationml.slideMaster+xml",
            "/ppt/slideLayouts/slideLayout1.xml": _CT + "presentationml.slideLayout+xml",
            "/ppt/theme/theme1.xml": _CT + "theme+xml",
            **{f"/ppt/slides/slide{i}.xml": _CT + "presentationml.slide+xml"
               for i in range(1, n + 1)}}),
        "_rels/.rels": _rels([("officeDocument", "ppt/presentation.xml")]),
        "ppt/presentation.xml": (
            f'<p:presentation {_PNS}><p:sldMasterIdLst><p:sldMasterId id="2147483648" r:id="rId1"/>'
            '</p:sldMasterIdLst><p:sldIdLst>'
            + "".join(f'<p:sldId id="{255 + i}" r:id="rId{i + 2}"/>' for i in range(1, n + 1))
            + '</p:sldIdLst><p:sldSz cx="9144000" cy="6858000"/><p:notesSz cx="6858000" cy="9144000"/>'
            '</p:presentation>'),
        "ppt/_rels/presentation.xml.rels": _rels(
            [("slideMaster", "slideMasters/slideMaster1.xml"), ("theme", "theme/theme1.xml")]
            + [("slide", f"slides/slide{i}.xml") for i in range(1, n + 1)]),
        "ppt/slideMasters/slideMaster1.xml": (
            f'<p:sldMaster {_PNS}><p:cSld><p:spTree>{_SP_TREE}</p:spTree></p:cSld>{_CLR_MAP}'
            '<p:sldLayoutIdLst><p:sldLayoutId id="2147483649" r:id="rId1"/></p:sldLayoutIdLst>'
            '</p:sldMaster>'),
        "ppt/slideMasters/_rels/slideMaster1.xml.rels": _rels(
            [("slideLayout", "../slideLayouts/slideLayout1.xml"), ("theme", "../theme/theme1.xml")]),
        "ppt/slideLayouts/slideLayout1.xml": (
            f'<p:sldLayout {_PNS} type="blank"><p:cSld name="Blank"><p:spTree>{_SP_TREE}</p:spTree>'
            '</p:cSld><p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr></p:sldLayout>'),
        "ppt/slideLayouts/_rels/slideLayout1.xml.rels": _rels(
            [("slideMaster", "../slideMasters/slideMaster1.xml")]),
        "ppt/theme/theme1.xml": _THEME,
    }
    for i, (head, body) in enumerate(slides, 1):
        parts[f"ppt/slides/slide{i}.xml"] = _slide(head, body)
        parts[f"ppt/slides/_rels/slide{i}.xml.rels"] = _rels(
            [("slideLayout", "../slideLayouts/slideLayout1.xml")])
    return _zip(parts)


def _html(title: str, lines: list[str]) -> bytes:
    items = "\n".join(f"    <li>{html.escape(line)}</li>" for line in lines)
    page = (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n  <meta charset=\"utf-8\">\n"
            f"  <title>{html.escape(title)}</title>\n</head>\n<body>\n"
            f"  <h1>{html.escape(title)}</h1>\n  <ul>\n{items}\n  </ul>\n</body>\n</html>\n")
    return page.encode("utf-8")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _png(title: str, lines: list[str], width: int = 96, height: int = 64) -> bytes:
    seed = hashlib.sha256(title.encode()).digest()
    r0, g0, b0 = seed[0], seed[1], seed[2]
    raw = bytearray()
    for y in range(height):
        raw.append(0)  # filter type: none
        for x in range(width):
            raw += bytes(((r0 + x * 2) % 256, (g0 + y * 3) % 256, (b0 + x + y) % 256))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + _png_chunk(b"IEND", b""))
