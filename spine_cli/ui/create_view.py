"""What `run create` prints of its own: the dry-run request, and the new run's id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spine_cli.api.models import CreatedRun
    from spine_cli.ui.output import Output

SHOWN_CHARS = 200


def show_dry_run(output: "Output", request: dict[str, Any]) -> None:
    """The request that would be sent: a document with --json, else readable lines."""
    if output.json:
        output.document(request)
        return
    output.data(f"POST {request['url']}  ({request['encoding']}, key {request['api_key']})")
    for name, value in request["fields"].items():
        shown = value if len(value) <= SHOWN_CHARS else \
            value[:SHOWN_CHARS] + f"… ({len(value)} chars)"
        output.data(f"  {name}: {shown}")
    for f in request["files"]:
        output.data(f"  files: {f['filename']} ({f['content_type']}, {f['size_bytes']} bytes)")
    output.info("Dry run: nothing was sent.")


def announce(output: "Output", created: "CreatedRun", *, follow: bool, watch: bool) -> None:
    """The run id on stdout in every mode (the create answer with --json)."""
    if output.json:
        if not follow:
            output.document(created.raw)
        elif watch:
            output.record({"event": "created", **created.raw})
        return
    output.data(created.run_id)
    if not follow:
        output.info(f"Created run {created.run_id}. Follow it with: "
                    f"spine run watch {created.run_id}")
