"""`spine run download` and `spine run open`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, Mapping, Optional

import typer

from spine_cli.commands.options import JsonOpt, QuietOpt, RunArg
from spine_cli.commands.shared import command, invocation

if TYPE_CHECKING:
    from spine_cli.local.settings import Settings

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


def _default_dir(settings: "Settings", run_id: str) -> Path:
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
    from spine_cli.api.models import Run, RunStatus
    from spine_cli.errors import ExitCode, WaitTimeoutError
    from spine_cli.runs.downloads import download_run
    from spine_cli.ui.bars import DownloadBars

    inv = invocation(ctx, json_=json_, quiet=quiet)
    (run_id,) = inv.resolve_runs([run])
    output, settings = inv.output, inv.settings
    with inv.client() as client:
        got = client.get_run(run_id)
        inv.history.observe(settings, got)
        if not got.terminal:
            raise WaitTimeoutError(
                f"Run {run_id} is still {got.status_text}; nothing to download yet.",
                hint=f"Wait for it and download: spine run wait {run_id} --download DIR")

        def refresh() -> Run:
            fresh = client.get_run(run_id)
            inv.history.observe(settings, fresh)
            return fresh

        with DownloadBars(output) as bars, inv.fetcher(bars) as fetcher:
            report = download_run(got, dest or _default_dir(settings, run_id), refresh=refresh,
                                  fetcher=fetcher, warn=output.warn, types=types,
                                  overwrite=overwrite)
    paths = [str(p) for p in report.paths]
    output.show(json=report.manifest, quiet=paths, human=lambda: output.lines(paths))
    error = report.error()
    if error is not None:
        raise error
    if got.status is RunStatus.FAILED:
        output.warn(f"run {run_id} failed; it has no artifacts (manifest.json lists its errors).")
        raise typer.Exit(int(ExitCode.RUN_FAILED))


def gui_browser_available(env: Mapping[str, str], platform: str,
                          probe: Callable[[], object] | None = None) -> bool:
    """A browser that opens its own window (a text browser would take over the terminal)."""
    import webbrowser

    if env.get("BROWSER"):
        return True
    if platform.startswith("linux") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return False
    try:
        (probe or webbrowser.get)()
    except webbrowser.Error:
        return False
    return True


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
    from spine_cli.api.catalog import canvas_url
    from spine_cli.commands.canvas import canvas_of_run

    inv = invocation(ctx, json_=json_, quiet=quiet)
    (run_id,) = inv.resolve_runs([run])
    output = inv.output
    with inv.client() as client:
        canvas_id = canvas_of_run(inv, client, run_id)
    url = canvas_url(canvas_id)
    if output.json:
        output.document({"canvas_id": canvas_id, "url": url})
        return
    # A browser only for a person: stdout a terminal, not CI, a graphical browser at hand.
    interactive = output.mode.stdout_tty and not output.mode.ci
    if not output.quiet and interactive and gui_browser_available(os.environ, sys.platform):
        import webbrowser

        if webbrowser.open(url):
            output.info(f"Opened {url} in the browser.")
            return
    output.data(url)
