"""The API's fixed vocabularies (spine-api.md §3, §4.1) and the canvas URL.

Kept apart from the models so that completion and settings validation can use
them without importing anything else.
"""

from __future__ import annotations

TEMPLATES = ("app", "auto", "deep_research", "excel", "landing_page", "memo", "report", "slides")
BLOCK_TYPES = (
    "app-block", "deep-research-block", "document-block", "excel-block", "file-block",
    "image-block", "landing-page-block", "list-block", "memo-block", "presentation-block",
    "prompt-block", "prototype-block", "table-block", "text-block", "web-block",
    "web-research-block", "yt-block",
)
ARTIFACT_TYPES = ("docx", "xlsx", "pptx", "html", "png")
# spine-api.md §4.1: images become image-blocks, documents indexed file-blocks.
UPLOAD_EXTENSIONS = (
    ".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg",
    ".pdf", ".docx", ".xlsx", ".csv", ".txt", ".md", ".yaml", ".yml", ".json", ".zip",
)

KEY_PREFIX = "sk_spine_"  # every Spine API key starts so

CANVAS_URL = "https://app.getspine.ai/canvas/{canvas_id}"


def canvas_url(canvas_id: str) -> str:
    return CANVAS_URL.format(canvas_id=canvas_id)
