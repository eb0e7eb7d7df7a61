"""What the batch runner takes and reports: its options, its events, its outcome.

`BatchEvents` is the protocol the runner (runs/batch/run.py) reports through
and ui/batch_view.py implements: a row's state change (`RowChange`), a poll
answer, a transient problem, a tick of the loop with a `Snapshot` (for
heartbeats and redraws) and a row's result (its `merge.row_result`, once
per row and invocation). `BatchOutcome` is what the command presents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from spine_cli.errors import SpineError, worst
from spine_cli.runs.batch.merge import build_results, row_result
from spine_cli.runs.waiter import Tracked, WaitOptions

if TYPE_CHECKING:
    from spine_cli.local.batch_state import BatchState


@dataclass
class BatchOptions:
    wait: WaitOptions = field(default_factory=WaitOptions)
    concurrency: int = 4
    download: str | None = None
    max_runs: int | None = None
    origin: str | None = None


@dataclass
class RowChange:
    """A row's state changed: `created`, `uncertain`, `not_created`, `done`, `downloaded`,
    `download_failed`, `given_up` (the API could not be polled; the run goes on)."""

    key: str
    what: str
    run_id: str | None = None
    status: str | None = None
    exit_code: int | None = None
    message: str | None = None
    directory: str | None = None


@dataclass
class Snapshot:
    """The batch at a glance, for the views."""

    total: int
    states: dict[str, int]
    running: list[tuple[str, Tracked]]
    limit: int


class BatchEvents(Protocol):
    def row(self, change: RowChange) -> None: ...

    def polled(self, key: str, t: Tracked) -> None: ...

    def problem(self, key: str | None, text: str) -> None: ...

    def poll_problem(self, key: str, exc: SpineError, delay: float) -> None: ...

    def tick(self, snapshot: Snapshot) -> None: ...

    def result(self, row: dict[str, Any]) -> None: ...


@dataclass
class BatchOutcome:
    results: dict[str, Any]
    exit_code: int
    created: int = 0                     # runs created (or maybe created) by this invocation
    uncertain: list[str] = field(default_factory=list)
    timed_out: bool = False
    max_runs_reached: bool = False
    interrupted: int = 0                 # 130 / 143
    halted: SpineError | None = None     # creates stopped: key refused, API unreachable
    given_up: dict[str, SpineError] = field(default_factory=dict)
    backoffs: int = 0                    # times the concurrency was halved after 429s


class Ledger:
    """The runner's book: each row's state as the loop knows it, one result per row."""

    def __init__(self, state: "BatchState", events: BatchEvents, partial_ok: bool) -> None:
        self.state, self.events, self.partial_ok = state, events, partial_ok
        self.states: dict[str, str] = {}
        self.counts: dict[str, int] = {}
        self.emitted: set[str] = set()
        self.given_up: dict[str, SpineError] = {}

    def move(self, key: str, state: str) -> None:
        old = self.states.get(key)
        if old is not None:
            self.counts[old] -= 1
        self.states[key] = state
        self.counts[state] = self.counts.get(state, 0) + 1

    def snapshot(self, running: list[tuple[str, Tracked]], limit: int) -> Snapshot:
        return Snapshot(len(self.states), dict(self.counts), running, limit)

    def emit(self, key: str) -> None:
        """The row's result, once per row and invocation (an NDJSON line with --json)."""
        row = self.state.row(key)
        if row is not None and key not in self.emitted:
            self.emitted.add(key)
            self.events.result(self._with_problems(row_result(row, self.partial_ok)))

    def _with_problems(self, data: dict[str, Any]) -> dict[str, Any]:
        """A row whose run could not be polled: its code and error (the state keeps `created`)."""
        error = self.given_up.get(data["key"])
        if error is None:
            return data
        return {**data, "exit_code": worst([data["exit_code"], int(error.exit_code)]),
                "errors": [*data["errors"], {"stage": "run", "message": error.message,
                                             "exit_code": int(error.exit_code)}]}

    def close(self, out: BatchOutcome, keys: set[str]) -> BatchOutcome:
        """The results, a line for every row not reported yet, the exit code."""
        out.results = build_results(self.state, partial_ok=self.partial_ok)
        out.given_up = dict(self.given_up)
        for data in out.results["rows"]:
            if data["key"] in keys and data["key"] not in self.emitted:
                self.emitted.add(data["key"])
                self.events.result(self._with_problems(data))
        codes = [out.results["summary"]["exit_code"]]
        codes += [int(e.exit_code) for e in self.given_up.values()]
        if out.halted is not None:
            codes.append(int(out.halted.exit_code))
        out.exit_code = out.interrupted or worst(codes)
        return out
