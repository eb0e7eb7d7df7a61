"""`spine run`: the run command group (commands live in run_*.py modules)."""

from __future__ import annotations

import typer

from spine_cli.commands import run_artifacts, run_create, run_follow, run_list, run_rerun

app = typer.Typer(help="Create, follow and fetch runs.", no_args_is_help=True)

for _module in (run_create, run_follow, run_list, run_artifacts, run_rerun):
    _module.register(app)
