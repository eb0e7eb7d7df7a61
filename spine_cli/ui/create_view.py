"""What `run create` prints of its own: the dry-run request, and the new run's id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spine_cli.api.models import CreatedRun
    from spine_cli.runs.spec import CreateSpec
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


def describe_rerun(spec: "CreateSpec", source: str) -> str:
    """What `run rerun` is about to send, for its confirmation question (stderr)."""
    prompt = " ".join(spec.prompt.split())
    shown = prompt if len(prompt) <= 80 else prompt[:79] + "…"
    lines = [f"Run {source} again:", f"  prompt: {shown}",
             f"  template: {spec.template or 'auto'}"]
    if spec.blocks:
        lines.append(f"  blocks: {', '.join(spec.blocks)}")
    if spec.instructions:
        lines.append(f"  instructions: {len(spec.instructions)} characters")
    lines += [f"  file: {f.filename} ({f.size} bytes)" for f in spec.files]
    return "\n".join(lines)
