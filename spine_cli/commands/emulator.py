"""`spine emulator` commands: a local, persistent Spine API for trying and testing.

The server stack (starlette, uvicorn, python-multipart) is imported inside the
commands only, so `spine --version` and `--help` stay fast.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Iterator, Optional

import typer

from spine_cli.commands.shared import command, invocation
from spine_cli.emulator.config import (
    DEFAULT_HOST, DEFAULT_MAX_FILE_SIZE, DEFAULT_MAX_FILES, DEFAULT_PORT, DEFAULT_RATE_LIMIT,
    DEFAULT_SPEED, DEFAULT_URL_TTL, EmulatorConfig, WebhookEndpoint,
)
from spine_cli.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from spine_cli.ui.output import Output

app = typer.Typer(
    help="Run a local Spine API emulator (not the real service; for trying spine and tests).",
    no_args_is_help=True,
)

HostOpt = Annotated[str, typer.Option("--host", help="Interface to listen on.")]
DataDirOpt = Annotated[Optional[Path], typer.Option(
    "--data-dir", help="State directory (default: <data dir>/emulator; SPINE_DATA_DIR moves it).")]
SpeedOpt = Annotated[float, typer.Option(
    "--speed", help="Time scale for runs without a \\[emulate:duration=…] directive (2 = twice as fast).")]
WebhookOpt = Annotated[Optional[list[str]], typer.Option(
    "--webhook", metavar="URL[#EVENT,…]",
    help="Endpoint that receives signed events (repeatable); #run.completed,run.failed "
         "subscribes it to those types only (default: all).")]
WebhookSecretOpt = Annotated[Optional[str], typer.Option(
    "--webhook-secret", help="whsec_… signing secret (default: generated, kept in the data dir).")]
MaxFileSizeOpt = Annotated[str, typer.Option(
    "--max-file-size", help="Largest accepted upload (bytes, or 10MiB, 1GiB…); larger → 413.")]
MaxFilesOpt = Annotated[int, typer.Option("--max-files", help="Most files per run; more → 400.")]
RateLimitOpt = Annotated[int, typer.Option(
    "--rate-limit", help="/v1 requests per minute per key, then 429 with Retry-After (0 = off).")]
UrlTtlOpt = Annotated[float, typer.Option(
    "--url-ttl", help="Seconds (emulator clock) a download URL stays valid; then 403.")]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.I)


def parse_size(text: str) -> int:
    """`1048576`, `100MiB`, `1G`, `512k` → bytes (K/M/G/T are powers of 1024)."""
    match = _SIZE.match(text)
    if not match:
        raise UsageError(f"Invalid size: {text!r} (try 100MiB or 1048576).")
    power = " kmgt".index(match.group(2).lower() or " ")
    return int(float(match.group(1)) * 1024 ** power)


def _build_config(host: str, port: int, data_dir: Optional[Path], speed: float,
                  webhook: Optional[list[str]], webhook_secret: Optional[str],
                  max_file_size: str, max_files: int, rate_limit: int, url_ttl: float) -> EmulatorConfig:
    try:
        import starlette, uvicorn, python_multipart  # noqa: E401,F401
    except ImportError as exc:
        raise ConfigError(f"The emulator needs packages that are not installed ({exc.name}).",
                          hint="Install the extra: pip install 'getspine-cli[emulator]' "
                               "(pipx: pipx install --force 'getspine-cli[emulator]')") from None
    if not 0 <= port <= 65535:
        raise UsageError(f"Invalid --port {port}: expected 0-65535 (0 picks a free port).")
    if not speed > 0:
        raise UsageError(f"Invalid --speed {speed}: expected a positive number.")
    if webhook_secret is not None and not webhook_secret.startswith("whsec_"):
        raise UsageError("Invalid --webhook-secret: it must start with whsec_.")
    if max_files < 0 or rate_limit < 0 or url_ttl <= 0:
        raise UsageError("--max-files and --rate-limit must be >= 0, --url-ttl > 0.")
    endpoints = []
    for spec in webhook or []:
        try:
            endpoints.append(WebhookEndpoint.parse(spec))
        except ValueError as exc:
            raise UsageError(f"Invalid --webhook {spec!r}: {exc}.") from None
    if data_dir is None:
        from spine_cli.local.settings import data_dir as default_data_dir

        data_dir = default_data_dir() / "emulator"
    return EmulatorConfig(data_dir=data_dir.expanduser(), host=host, port=port, speed=speed,
                          webhooks=endpoints, webhook_secret=webhook_secret,
                          max_file_size=parse_size(max_file_size), max_files=max_files,
                          rate_limit=rate_limit, url_ttl=url_ttl)


def _announcer(output: "Output") -> Callable[[Any], None]:
    def announce(prepared: Any) -> None:
        emu = prepared.emulator
        # The emulator's own key and secret are test credentials meant to be pasted.
        output.data(f"Spine emulator listening on {prepared.url}")
        output.data(f"export SPINE_BASE_URL={prepared.url} SPINE_API_KEY={emu.api_key}")
        if emu.config.webhooks:
            output.data(f"Webhook signing secret: {emu.webhook_secret}")
            for endpoint in emu.config.webhooks:
                output.note(f"Webhook endpoint: {endpoint.describe()}")
        output.note(f"Data directory: {emu.config.data_dir} (Ctrl-C stops; state is kept)")
    return announce


@app.command("serve")
@command
def emulator_serve(
    ctx: typer.Context,
    host: HostOpt = DEFAULT_HOST,
    port: Annotated[int, typer.Option("--port", help="Port (0 picks a free one).")] = DEFAULT_PORT,
    data_dir: DataDirOpt = None,
    speed: SpeedOpt = DEFAULT_SPEED,
    webhook: WebhookOpt = None,
    webhook_secret: WebhookSecretOpt = None,
    max_file_size: MaxFileSizeOpt = DEFAULT_MAX_FILE_SIZE,
    max_files: MaxFilesOpt = DEFAULT_MAX_FILES,
    rate_limit: RateLimitOpt = DEFAULT_RATE_LIMIT,
    url_ttl: UrlTtlOpt = DEFAULT_URL_TTL,
) -> None:
    """Serve the emulated Spine API until Ctrl-C or SIGTERM.

    Any key starting with sk_spine_ is accepted; each key is its own tenant.
    State (runs, uploads, the clock) persists in the data directory.

    Examples:

        spine emulator serve

        spine emulator serve --port 0 --data-dir ./emu-state --speed 10

        spine emulator serve --webhook http://localhost:9000/hooks --rate-limit 60

        spine emulator serve --webhook "http://127.0.0.1:8787/#run.completed,run.failed"
    """
    config = _build_config(host, port, data_dir, speed, webhook, webhook_secret,
                           max_file_size, max_files, rate_limit, url_ttl)
    from spine_cli.emulator.runner import serve_forever

    with emulator_errors():
        serve_forever(config, _announcer(invocation(ctx).output))


@contextlib.contextmanager
def emulator_errors() -> Iterator[None]:
    """The emulator's own errors (it imports nothing of the CLI) as usage errors, exit 2."""
    from spine_cli.emulator.errors import EmulatorError

    try:
        yield
    except EmulatorError as exc:
        raise UsageError(exc.message, hint=exc.hint) from None


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


@app.command("exec", context_settings={"allow_interspersed_args": False})
@command
def emulator_exec(
    cmd: Annotated[list[str], typer.Argument(help="The command to run, after --.",
                                             metavar="CMD")],
    host: HostOpt = DEFAULT_HOST,
    port: Annotated[int, typer.Option("--port", help="Port (default 0: a free one).")] = 0,
    data_dir: Annotated[Optional[Path], typer.Option(
        "--data-dir", help="State directory (default: a fresh temporary one, removed after).")] = None,
    speed: SpeedOpt = DEFAULT_SPEED,
    webhook: WebhookOpt = None,
    webhook_secret: WebhookSecretOpt = None,
    max_file_size: MaxFileSizeOpt = DEFAULT_MAX_FILE_SIZE,
    max_files: MaxFilesOpt = DEFAULT_MAX_FILES,
    rate_limit: RateLimitOpt = DEFAULT_RATE_LIMIT,
    url_ttl: UrlTtlOpt = DEFAULT_URL_TTL,
) -> None:
    """Run CMD against a fresh emulator, then stop it and exit with CMD's exit code.

    CMD gets SPINE_BASE_URL and SPINE_API_KEY (plus SPINE_WEBHOOK_SECRET) in its
    environment. Without --data-dir the state lives in a temporary directory.

    Examples:

        spine emulator exec -- spine run create --prompt "Hello" --wait

        spine emulator exec --speed 20 -- pytest tests/integration

        spine emulator exec -- sh -c 'spine run create -q --prompt hi | spine run wait'
    """
    tmp = None if data_dir is not None else Path(tempfile.mkdtemp(prefix="spine-emulator-"))
    try:
        config = _build_config(host, port, data_dir or tmp, speed, webhook, webhook_secret,
                               max_file_size, max_files, rate_limit, url_ttl)
        raise typer.Exit(_run_with_emulator(config, cmd))
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _run_with_emulator(config: EmulatorConfig, cmd: list[str]) -> int:
    from spine_cli.emulator.runner import BackgroundServer

    with emulator_errors():
        server = BackgroundServer(config)
    server.start()
    emu = server.prepared.emulator
    env = {**os.environ, "SPINE_BASE_URL": server.prepared.url, "SPINE_API_KEY": emu.api_key,
           "SPINE_WEBHOOK_SECRET": emu.webhook_secret, "SPINE_EMULATOR_EXEC": "1"}
    try:
        try:
            proc = subprocess.Popen(cmd, env=env)
        except OSError as exc:
            raise UsageError(f"Cannot run {cmd[0]!r}: {exc.strerror or exc}.") from None
        while True:
            try:
                return _exit_code(proc.wait())
            except KeyboardInterrupt:
                continue  # CMD got the Ctrl-C too (same process group); wait for it
    finally:
        server.stop()
