"""Run `spine` in-process the way a user would, with stdout and stderr apart.

`seams` replaces the invocation's clock, sleep and HTTP transports (see
`spine_cli.context.Seams`): tests drive time instead of sleeping through it,
and nothing patches module globals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from typer.testing import CliRunner

from spine_cli.app import app
from spine_cli.context import Seams


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def __str__(self) -> str:  # shown by pytest when an assertion fails
        return f"exit {self.exit_code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def spine(*args: str, input: str | bytes | None = None, env: dict | None = None,
          seams: Seams | None = None) -> Outcome:
    result = CliRunner().invoke(app, list(args), input=input, env=env, obj=seams)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Outcome(result.exit_code, result.stdout, result.stderr)


@dataclass
class FakeTime:
    """A clock that only moves when slept on, optionally moving the emulator's clock too.

    `sleeps` records every sleep; `advance(emulator)` ties the emulator clock to it, so a
    run's timeline moves exactly as fast as spine believes time passes.
    """

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)
    emulator: object | None = None

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.emulator is not None and seconds > 0:
            self.emulator.advance(seconds)  # type: ignore[attr-defined]

    def seams(self, **kw: object) -> Seams:
        return Seams(clock=self.clock, sleep=self.sleep, **kw)  # type: ignore[arg-type]
