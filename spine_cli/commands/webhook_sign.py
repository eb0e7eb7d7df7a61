"""`spine webhook verify` and `spine webhook trigger`: check a signature, or make one.

Thin: parse, call `spine_cli.webhooks`, hand to `spine_cli.ui.webhook_view`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from spine_cli.commands.options import JsonOpt, QuietOpt, complete_run
from spine_cli.commands.shared import command, invocation
from spine_cli.context import Invocation
from spine_cli.commands.webhook_shared import EventType, SecretOpt, ToleranceOpt, resolve_secret
from spine_cli.errors import NetworkError, UsageError, WebhookError


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `spine webhook` group."""
    app.command("verify")(webhook_verify)
    app.command("trigger")(webhook_trigger)


def _read_body(body_file: Optional[str]) -> bytes:
    from spine_cli.webhooks.listener import MAX_BODY

    if body_file in (None, "-"):
        if body_file is None and sys.stdin.isatty():
            raise UsageError("No body: give BODY_FILE, or pipe the raw body on stdin.")
        data = sys.stdin.buffer.read(MAX_BODY + 1)
        where = "stdin"
    else:
        try:
            with open(Path(body_file).expanduser(), "rb") as fh:
                data = fh.read(MAX_BODY + 1)
        except OSError as exc:
            raise UsageError(f"Cannot read {body_file}: {exc.strerror or exc}.") from None
        where = body_file
    if len(data) > MAX_BODY:
        raise UsageError(f"The body in {where} is over {MAX_BODY} bytes; no event is that large.")
    return data


@command
def webhook_verify(
    ctx: typer.Context,
    body_file: Annotated[Optional[str], typer.Argument(
        metavar="[BODY_FILE|-]", show_default=False,
        help="The raw body as received (default: stdin).")] = None,
    signature: Annotated[str, typer.Option(
        "--signature", metavar="HEADER", show_default=False,
        help="The Spine-Signature header value (t=…,v1=…).")] = ...,  # type: ignore[assignment]
    secret: SecretOpt = None,
    tolerance: ToleranceOpt = 300,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Check one delivery's signature, as the SDKs' construct_event does.

    A valid event is printed as JSON on stdout (nothing with -q), exit 0. An
    invalid one (no or malformed signature, a timestamp outside --tolerance, a
    signature that does not match, a body that is not JSON) is one line on
    stderr and exit 10. Verify the untouched raw body: re-serialised JSON fails.

    Examples:

        spine webhook verify body.json --signature "$SIG"

        cat body.json | spine webhook verify --signature "t=1767225600,v1=5f0c…" -q

        spine webhook verify body.json --signature "$SIG" --tolerance 3600 | jq .type
    """
    from spine_cli.webhooks.signature import verify

    inv = invocation(ctx, json_=json_, quiet=quiet)
    key = resolve_secret(inv, secret)
    event = verify(_read_body(body_file), signature, key, tolerance)
    if not inv.output.quiet:
        inv.output.document(event)


@command
def webhook_trigger(
    ctx: typer.Context,
    to: Annotated[str, typer.Option("--to", metavar="URL", help="Endpoint to POST the event to.")
                  ] = "http://127.0.0.1:8787/",
    secret: SecretOpt = None,
    event: Annotated[Optional[EventType], typer.Option(
        "--event", show_default=False,
        help="Event type (default run.completed; with --run, the one its status announces).")
    ] = None,
    run: Annotated[Optional[str], typer.Option(
        "--run", metavar="RUN", autocompletion=complete_run, show_default=False,
        help="Take data.object from this run (GET /v1/run; needs the API key).")] = None,
    print_: Annotated[bool, typer.Option(
        "--print", help="Only print the signed request (a curl command; --json: an object).")
    ] = False,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Send a signed, realistic event to an endpoint, to test its handler.

    The body is the documented envelope (id, type, created, api_version,
    data.object), signed now with the documented headers. The endpoint's status,
    time and the start of its answer are printed. Exit 0 when it answers 2xx,
    10 when it answers anything else (it rejected the event), 8 when it cannot
    be reached.

    Examples:

        spine webhook trigger

        spine webhook trigger --to http://localhost:3000/hooks --event run.failed

        spine webhook trigger --run @last --to https://example.com/spine/webhooks

        spine webhook trigger --event webhook.ping --print
    """
    from spine_cli.ui.webhook_view import TriggerView
    from spine_cli.webhooks import trigger

    inv = invocation(ctx, json_=json_, quiet=quiet)
    if not to.startswith(("http://", "https://")):
        raise UsageError(f"Invalid --to {to!r}: expected an http(s):// URL.")
    key = resolve_secret(inv, secret)
    data = _fetch_run(inv, run) if run is not None else None
    output = inv.output
    kind, warning = trigger.event_type_for(data, event.value if event else None)
    if warning:
        output.warn(warning)
    request = trigger.sign_event(to, trigger.build_event(kind, data), key)
    view = TriggerView(output)
    if print_:
        view.request(request.url, request.headers, request.body)
        return
    try:
        answer = trigger.send(request)
    except NetworkError as exc:
        raise NetworkError(exc.message, hint="Is the endpoint running? `spine webhook listen` "
                           "listens on http://127.0.0.1:8787/ by default.") from exc
    view.answer(request.url, request.event, answer)
    if not answer.ok:
        raise WebhookError(f"The endpoint rejected the event: HTTP {answer.status}.",
                           hint="Check the endpoint's signing secret and handler; its answer "
                                "is shown above.")


def _fetch_run(inv: Invocation, run: str) -> dict[str, Any]:
    (run_id,) = inv.resolve_runs([run])
    with inv.client() as client:
        got = client.get_run(run_id)
    inv.history.observe(inv.settings, got)
    return got.raw
