"""`spine doctor`: check the setup in one go (version, config, key, API, clock, history)."""

from __future__ import annotations

from typing import Annotated

import typer

from spine_cli.commands.shared import command, invocation

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the checks as one JSON document.")]
QuietOpt = Annotated[bool, typer.Option("-q", "--quiet", help="Print only the failed checks (stderr).")]


@command
def doctor(ctx: typer.Context, json_: JsonOpt = False, quiet: QuietOpt = False) -> None:
    """Check the setup: config, key, API reachability, clock, history, completion.

    One line per check: the version and Python; config.toml and its directory
    (readable by others?); the profile and where the key comes from (masked);
    the base URL, whether it answers and how fast; whether the API accepts the
    key; the clock against the server's (webhook signatures need it within 5
    minutes); the run history; <Tab> completion for your shell. A check that
    fails or warns says what to run next. Exit code: the worst failed check
    (4 config, key or profile; 8 API unreachable or failing; 10 clock too far
    off for webhooks); warnings leave it 0.

    Examples:

        spine doctor

        spine --profile staging doctor --json | jq '.checks[] | select(.status != "ok")'
    """
    import os

    from spine_cli.local.history import history_path
    from spine_cli.local.settings import config_dir, config_path, load_settings
    from spine_cli.runs.doctor import diagnose
    from spine_cli.ui.doctor_view import DoctorView

    inv = invocation(ctx, json_=json_, quiet=quiet)
    view = DoctorView(inv.output)
    code = diagnose(
        # Warnings about the config file are the config check's to report, not the loader's.
        settings=lambda: load_settings(inv.flags.profile, inv.flags.base_url),
        client=lambda settings: inv.client(settings, keyless=True),
        paths={"config": config_path(), "config_dir": config_dir(), "history": history_path()},
        env=os.environ, on_check=view.on_check)
    view.finish(code)
    raise typer.Exit(code)
