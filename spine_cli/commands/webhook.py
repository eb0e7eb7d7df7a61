"""`spine webhook`: verify, receive and send signed Spine webhook events.

The commands live in webhook_listen.py and webhook_sign.py (verify, trigger);
the work in `spine_cli.webhooks`, the rendering in `spine_cli.ui.webhook_view`.
"""

from __future__ import annotations

import typer

from spine_cli.commands import webhook_listen, webhook_sign

app = typer.Typer(help="Verify, receive and send signed Spine webhook events.",
                  no_args_is_help=True)

webhook_listen.register(app)
webhook_sign.register(app)
