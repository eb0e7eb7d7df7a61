"""The invocation context: one object per process, made in the root callback.

After gh's per-command factory: every command starts from one `Invocation`
holding

- the global flags and the output mode, resolved once (`use` merges the
  command's own `--json`/`-q` and whether it reports a stream of things, then
  the mode is frozen);
- the one `Output` sink, built on first use;
- the settings, loaded once (config.toml is read once per command);
- the API client factory (one `RequestBudget` per key, shared by its clients);
- the seams tests replace: the clock, the sleep and the HTTP transports.

Tests pass their own `Seams` as the Typer context object
(`CliRunner().invoke(app, args, obj=Seams(...))`); nothing patches module
globals.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from spine_cli.errors import UsageError

if TYPE_CHECKING:
    from spine_cli.api.client import SpineClient
    from spine_cli.api.retry import RequestBudget
    from spine_cli.api.transfer import Fetcher, TransferProgress
    from spine_cli.local.history import History
    from spine_cli.local.settings import Settings
    from spine_cli.ui.output import Output, OutputMode


@dataclass(frozen=True)
class Flags:
    """The global options of one invocation."""

    profile: str | None = None
    base_url: str | None = None
    json: bool = False
    quiet: bool = False
    verbose: int = 0
    no_color: bool = False
    ci: str = "auto"  # --ci: auto | github | none


@dataclass
class Seams:
    """What tests replace: time and the network."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    transport: Any = None           # an httpx.BaseTransport for API requests
    download_transport: Any = None  # an httpx.BaseTransport for artifact downloads


@dataclass
class Invocation:
    flags: Flags = field(default_factory=Flags)
    seams: Seams = field(default_factory=Seams)
    _local: dict[str, bool] = field(default_factory=dict)
    _budgets: dict[tuple[str, str], "RequestBudget"] = field(default_factory=dict)

    # -- mode and output ---------------------------------------------------------
    def use(self, *, json_: bool = False, quiet: bool = False,
            stream: bool = False) -> "Invocation":
        """Merge a command's own --json/-q (and whether it reports a stream of things)."""
        if "mode" in self.__dict__:
            raise RuntimeError("the output mode is already resolved")
        self._local = {"json": json_, "quiet": quiet, "stream": stream}
        return self

    @functools.cached_property
    def mode(self) -> "OutputMode":
        from spine_cli.ui.output import resolve_mode

        return resolve_mode(json_=self.flags.json or self._local.get("json", False),
                            quiet=self.flags.quiet or self._local.get("quiet", False),
                            stream=self._local.get("stream", False),
                            no_color=self.flags.no_color)

    @functools.cached_property
    def output(self) -> "Output":
        from spine_cli.ui.output import Output

        return Output(self.mode)

    # -- settings ------------------------------------------------------------------
    @functools.cached_property
    def settings(self) -> "Settings":
        from spine_cli.local.settings import load_settings

        return load_settings(self.flags.profile, self.flags.base_url, warn=self.output.warn)

    def settings_for(self, profile: str | None = None, *, allow_new_profile: bool = False,
                     cfg: dict[str, Any] | None = None,
                     base_url: str | None = None) -> "Settings":
        """Settings for a command's own --profile (auth, config, another profile's runs)."""
        if profile is None and not allow_new_profile and cfg is None and base_url is None:
            return self.settings
        from spine_cli.local.settings import load_settings

        settings = load_settings(profile or self.flags.profile, base_url or self.flags.base_url,
                                 allow_new_profile=allow_new_profile, cfg=cfg,
                                 warn=self.output.warn)
        self.__dict__.setdefault("settings", settings)
        return settings

    @functools.cached_property
    def history(self) -> "History":
        from spine_cli.local.history import History, history_path

        return History(history_path(), warn=self.output.warn)

    def resolve_runs(self, refs: list[str] | tuple[str, ...]) -> list[str]:
        """RUN arguments → full run ids (before any key is needed or request made)."""
        from spine_cli.local.run_refs import resolve_run_ref

        return list(dict.fromkeys(resolve_run_ref(r, self.settings, self.history)
                                  for r in refs))

    # -- the network -------------------------------------------------------------------
    def client(self, settings: "Settings | None" = None, *,
               keyless: bool = False) -> "SpineClient":
        """A ready API client for these settings (the invocation's by default).

        `keyless`: without a key, send none (`spine doctor` still checks reachability).
        """
        from spine_cli.api.client import SpineClient

        settings = settings or self.settings
        key = (settings.api_key or "") if keyless else settings.require_key()
        return SpineClient(settings.base_url, key, transport=self.seams.transport,
                           sleep=self.seams.sleep, clock=self.seams.clock,
                           budget=self.budget(settings.base_url, key), log=self._log(),
                           trace=self._log() if self.flags.verbose >= 2 else None)

    def budget(self, base_url: str, key: str) -> "RequestBudget":
        from spine_cli.api.retry import RequestBudget

        return self._budgets.setdefault((base_url, key), RequestBudget(self.seams.clock))

    def fetcher(self, progress: "TransferProgress | None" = None) -> "Fetcher":
        """A keyless client for pre-signed artifact URLs."""
        from spine_cli.api.transfer import Fetcher

        return Fetcher(transport=self.seams.download_transport, sleep=self.seams.sleep,
                       progress=progress)

    def _log(self) -> Callable[[str], None] | None:
        if not self.flags.verbose:
            return None
        output = self.output
        return lambda line: output.note(f"[spine] {line}")


def require_one_of(**given: bool) -> None:
    """Refuse two mutually exclusive flags together (`--wait` and `--watch`)."""
    names = [name for name, on in given.items() if on]
    if len(names) > 1:
        raise UsageError(f"Use either {' or '.join('--' + n for n in names)}, not both.")
