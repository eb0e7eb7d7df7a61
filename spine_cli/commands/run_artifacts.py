"""`spine run download` and `spine run open`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from spine_cli.commands.shared import command, setup
from spine_cli.commands.options import JsonOpt, QuietOpt, RunArg

DirOpt = Annotated[Optional[Path], typer.Option(
    "-d", "--dir", metavar="DIR", file_okay=False,
    help="Directory to write into (default: ./spine-<run_id>/).")]
TypeOpt = Annotated[Optional[list[str]], typer.Option(
    "--type", metavar="TYPE", help="Only artifacts of this type (docx, xlsx, pptx, html, png); "
    "repeatable.")]
OverwriteOpt = Annotated[bool, typer.Option(
    "--overwrite", help="Replace existing files that differ from the run's copies.")]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `spine run` group."""
    app.command("download")(run_download)
    app.command("open")(run_open)


def _default_dir(settings: Any, run_id: str) -> Path:
    return Path(settings.value("download_dir") or ".").expanduser() / f"spine-{run_id}"


@command
def run_download(ctx: typer.Context, run: RunArg, dest: DirOpt = None, types: TypeOpt = None,
                 overwrite: OverwriteOpt = False, json_: JsonOpt = False,
                 quiet: QuietOpt = False) -> None:
    """Download a finished run's artifacts, final output and manifest.

    Writes every artifact (names made safe, streamed to *.part and renamed when
    complete and of the announced size), final_output.md and manifest.json into
    DIR, and prints their absolute paths one per line (--json: the manifest).
    An identical existing file is skipped; a different one is kept unless
    --overwrite. Exit 6 if the run is still running, 7 if an artifact could not
    be saved (after saving the others), 3 if the run failed (nothing to fetch).

    Examples:

        spine run download @last

        spine run download 3f2a1b4c -d ./report --type docx

        spine run download @last --json | jq -r '.artifacts[].path'
    """
    from spine_cli.local import history
    from spine_cli.runs.downloads import download_run, emit_report
    from spine_cli.errors import ExitCode, WaitTimeoutError
    from spine_cli.api.models import TERMINAL_STATUSES

    cmd = setup(ctx, json_, quiet, [run])
    output, settings, (run_id,), client = cmd.output, cmd.settings, cmd.run_ids, cmd.client
    with client:
        data = client.get_run(run_id)
        history.observe_run(settings, data)
        if data.get("status") not in TERMINAL_STATUSES:
            raise WaitTimeoutError(
                f"Run {run_id} is still {data.get('status', 'running')}; nothing to download yet.",
                hint=f"Wait for it and download: spine run wait {run_id} --download DIR")

        def refresh() -> dict[str, Any]:
            fresh = client.get_run(run_id)
            history.observe_run(settings, fresh)
            return fresh

        report = download_run(data, dest or _default_dir(settings, run_id), refresh=refresh,
                              output=output, types=types, overwrite=overwrite)
    emit_report(report, output)
    error = report.error()
    if error is not None:
        raise error
    if data.get("status") == "failed":
        output.warn(f"run {run_id} failed; it has no artifacts (manifest.json lists its errors).")
        raise typer.Exit(int(ExitCode.RUN_FAILED))


def _gui_browser_available() -> bool:
    """A browser that opens its own window (a text browser would take over the terminal)."""
    import webbrowser

    if os.environ.get("BROWSER"):
        return True
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        return False
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def _should_open_browser() -> bool:
    from spine_cli.ui.output import in_ci

    try:
        tty = sys.stdout.isatty()
    except (AttributeError, ValueError):
        tty = False
    return tty and not in_ci() and _gui_browser_available()


@command
def run_open(ctx: typer.Context, run: RunArg, json_: JsonOpt = False,
             quiet: QuietOpt = False) -> None:
    """Open a run's canvas in the web browser (print its URL when there is none).

    The browser opens only when stdout is a terminal, CI is not set and a
    graphical browser is available; otherwise the URL is printed on stdout.
    -q prints the URL, --json {"canvas_id", "url"}; neither opens a browser.
    Exit 9 if the run has no canvas yet.

    Examples:

        spine run open @last

        URL=$(spine run open 3f2a1b4c -q)
    """
    from spine_cli.commands.canvas import canvas_of_run
    from spine_cli.api.models import CANVAS_URL

    cmd = setup(ctx, json_, quiet, [run])
    output, settings, (run_id,), client = cmd.output, cmd.settings, cmd.run_ids, cmd.client
    with client:
        canvas_id = canvas_of_run(client, settings, run_id)
    url = CANVAS_URL.format(canvas_id=canvas_id)
    if output.json:
        output.emit_json({"canvas_id": canvas_id, "url": url})
        return
    if not output.quiet and _should_open_browser():
        import webbrowser

        if webbrowser.open(url):
            output.info(f"Opened {url} in the browser.")
            return
    output.data(url)
