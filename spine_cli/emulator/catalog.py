"""The API's fixed vocabularies: block types, templates and what they build (spine-api §3)."""

from __future__ import annotations

BLOCK_TYPES = sorted([
    "prompt-block", "list-block", "memo-block", "document-block", "excel-block",
    "deep-research-block", "image-block", "presentation-block", "app-block", "table-block",
    "prototype-block", "landing-page-block", "text-block", "web-block", "yt-block",
    "web-research-block", "file-block",
])
TEMPLATE_BLOCKS: dict[str, list[str]] = {
    "auto": BLOCK_TYPES,
    "deep_research": ["prompt-block", "table-block", "web-block", "web-research-block",
                      "file-block", "yt-block", "memo-block", "text-block"],
    "report": ["prompt-block", "table-block", "web-block", "yt-block", "document-block",
               "text-block"],
    "slides": ["prompt-block", "table-block", "web-block", "yt-block", "presentation-block",
               "text-block"],
    "memo": ["prompt-block", "web-block", "yt-block", "memo-block", "text-block"],
    "excel": ["prompt-block", "table-block", "web-block", "yt-block", "excel-block",
              "text-block"],
    "app": ["prompt-block", "app-block", "text-block"],
    "landing_page": ["prompt-block", "web-block", "image-block", "yt-block",
                     "landing-page-block", "text-block"],
}
TEMPLATES = sorted(TEMPLATE_BLOCKS)
# What each template builds (a subset of its allow-list, in pipeline order).
PIPELINES = {
    "deep_research": ["prompt-block", "web-research-block", "web-block", "table-block",
                      "memo-block", "text-block"],
    "report": ["prompt-block", "web-block", "table-block", "document-block", "text-block"],
    "slides": ["prompt-block", "web-block", "table-block", "presentation-block", "text-block"],
    "memo": ["prompt-block", "web-block", "memo-block", "text-block"],
    "excel": ["prompt-block", "web-block", "table-block", "excel-block", "text-block"],
    "app": ["prompt-block", "app-block", "text-block"],
    "landing_page": ["prompt-block", "web-block", "image-block", "landing-page-block",
                     "text-block"],
}
# `auto` picks its output blocks from words in the prompt (document by default).
AUTO_KEYWORDS = [
    (r"slide|deck|presentation|pptx", "presentation-block", "slides"),
    (r"spreadsheet|excel|xlsx|budget|workbook", "excel-block", "excel"),
    (r"landing page", "landing-page-block", "landing_page"),
    (r"prototype", "prototype-block", "app"),
    (r"\bapp\b|calculator|dashboard", "app-block", "app"),
    (r"image|logo|picture|illustration|png", "image-block", "landing_page"),
    (r"\bmemo\b", "memo-block", "memo"),
    (r"deep research", "deep-research-block", "deep_research"),
]
FILE_TYPES = {
    "document-block": "docx", "memo-block": "docx", "excel-block": "xlsx",
    "presentation-block": "pptx", "app-block": "html", "landing-page-block": "html",
    "prototype-block": "html", "image-block": "png",
}
STAGE = {"prompt-block": 1, "text-block": 4}
for _type in ("web-block", "web-research-block", "yt-block", "table-block", "list-block",
           "deep-research-block"):
    STAGE[_type] = 2
for _type in FILE_TYPES:
    STAGE[_type] = 3
