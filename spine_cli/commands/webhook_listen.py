"""`spine webhook listen`: the local receiver (the work is in `spine_cli.webhooks.listener`).

Ctrl-C and SIGTERM are the normal way to stop it: both end with exit 0.
"""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any, Optional

import typer

from spine_cli.commands.options import JsonOpt, QuietOpt
from spine_cli.commands.shared import command, invocation
from spine_cli.commands.webhook_shared import (
    EVENT_TYPES, SecretOpt, ToleranceOpt, parse_duration_option, resolve_secret,
)
from spine_cli.errors import UsageError


def register(app: typer.Typer) -> None:
    """Add this module's command to the `spine webhook` group."""
    app.command("listen")(webhook_listen)


def _event_filter(values: Optional[list[str]]) -> Optional[frozenset[str]]:
    import re

    names = [n.strip() for v in values or [] for n in v.split(",") if n.strip()]
    if not names or "*" in names:
        return None
    for name in names:
        if name not in EVENT_TYPES and not re.match(r"^[a-z_]+(\.[a-z_]+)+$", name):
            raise UsageError(f"Invalid --events {name!r}: expected event types such as "
                             f"{', '.join(EVENT_TYPES)}, or *.")
    return frozenset(names)


def _exec_spec(cmd: Optional[str], shell: bool, timeout: Any) -> Any:
    """The ExecSpec, checked now (`timeout`: seconds, from the --exec-timeout callback)."""
    from spine_cli.webhooks.execute import ExecSpec

    if cmd is None:
        if shell:
            raise UsageError("--shell needs --exec CMD.")
        return None
    spec = ExecSpec(cmd, shell, timeout) if timeout else ExecSpec(cmd, shell)
    try:
        spec.argv()
    except ValueError as exc:
        raise UsageError(f"Invalid --exec: {exc}.") from None
    return spec


@command
def webhook_listen(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on "
                                      "(anything but loopback is warned about).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535,
                                      help="Port (0 picks a free one).")] = 8787,
    secret: SecretOpt = None,
    events: Annotated[Optional[list[str]], typer.Option(
        "--events", metavar="TYPE,…", show_default=False,
        help="Only these event types (comma-separated or repeated; * = all). "
             "Others are acknowledged and ignored.")] = None,
    forward_to: Annotated[Optional[str], typer.Option(
        "--forward-to", metavar="URL", show_default=False,
        help="POST each verified event, untouched, with its Spine-* headers, to URL.")] = None,
    exec_: Annotated[Optional[str], typer.Option(
        "--exec", metavar="CMD", show_default=False,
        help="Run CMD per event: event JSON on stdin, SPINE_EVENT_TYPE/_ID and "
             "SPINE_RUN_ID in its environment.")] = None,
    shell: Annotated[bool, typer.Option("--shell", help="Run --exec through /bin/sh -c.")] = False,
    exec_timeout: Annotated[Optional[str], typer.Option(
        "--exec-timeout", metavar="DUR", callback=parse_duration_option,
        help="Kill an --exec command after DUR. Default: 8s.")] = None,
    tolerance: ToleranceOpt = 300,
    json_: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Receive webhook deliveries locally: verify, print, forward or run a command.

    Accepts POSTs on any path. Unsigned, badly signed and replayed deliveries
    are answered 400 with a warning. Each event is a line on a terminal, NDJSON
    when piped. An event is answered 200 only once --forward-to's app answered
    2xx and --exec's command exited 0; otherwise 5xx, so the sender retries.
    Ctrl-C or SIGTERM stops it (exit 0).

    Examples:

        spine webhook listen

        spine webhook listen --events run.completed,run.failed --forward-to http://localhost:3000/hooks

        spine webhook listen --exec ./on-event.sh --exec-timeout 30s

        spine webhook listen --port 0 | jq -r .data.object.run_id
    """
    from spine_cli.ui.webhook_view import ListenView
    from spine_cli.webhooks.listener import Listener, ListenOptions, is_loopback

    inv = invocation(ctx, json_=json_, quiet=quiet, stream=True)
    if forward_to is not None and not forward_to.startswith(("http://", "https://")):
        raise UsageError(f"Invalid --forward-to {forward_to!r}: expected an http(s):// URL.")
    only = _event_filter(events)
    options = ListenOptions(secret=resolve_secret(inv, secret), host=host, port=port,
                            tolerance=tolerance, events=only, forward_to=forward_to,
                            exec_spec=_exec_spec(exec_, shell, exec_timeout))
    output = inv.output
    view = ListenView(output, ndjson=not output.mode.stdout_tty)
    listener = Listener(options, view.event, view.rejected)
    url = listener.bind()
    view.started(url, exposed=not is_loopback(host), host=host, forward_to=forward_to,
                 command=exec_, only=sorted(only) if only else None)
    _serve_until_stopped(listener)
    view.stopped()


def _serve_until_stopped(listener: Any) -> None:
    """Serve until SIGINT, SIGTERM (or SIGHUP): the normal ways to stop a listener."""
    stop = threading.Event()
    # SIGHUP too (a closed terminal): stopping cleanly also kills running --exec children.
    signals = [signal.SIGINT, signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP")
                                                 else [])]
    previous = {sig: signal.signal(sig, lambda _s, _f: stop.set()) for sig in signals}
    try:
        listener.start()
        while not stop.wait(0.5):
            pass
    finally:
        listener.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
