"""`spine run` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="Create, follow and fetch runs.", no_args_is_help=True)
