"""Before a batch runs: binding its state, resuming, and the plan (`--dry-run`).

    opened = open_batch(state, batch, shard, retry_uncertain=…, retry_failed=…)
    plan = dry_run_plan(batch, shard, state_file, download=…)   # writes nothing

`open_batch` takes the state's runner lock (one `spine batch run` per state
file), binds FILE's rows of this shard (new rows `pending`, removed rows set
aside; another shard or prompt template is refused), turns every row caught
`creating` into `uncertain` (its POST may or may not have left: it is never
re-sent automatically), then applies `--retry-uncertain` and
`--retry-failed`. Nothing here touches the API.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spine_cli.local.batch_state import BatchState, InputDiff
from spine_cli.runs.batch.input import state_rows

if TYPE_CHECKING:
    from spine_cli.runs.batch.input import Batch
    from spine_cli.runs.batch.keys import Shard


@dataclass
class Opened:
    """What opening the state did, for the caller to report."""

    diff: InputDiff
    caught_creating: list[str] = field(default_factory=list)   # now uncertain
    retried_uncertain: list[str] = field(default_factory=list)  # back to pending: may duplicate
    retried_failed: list[str] = field(default_factory=list)     # back to pending


def open_batch(state: BatchState, batch: "Batch", shard: "Shard | None", *,
               retry_uncertain: bool = False, retry_failed: bool = False) -> Opened:
    """Lock, bind and resume the state (see the module doc)."""
    state.lock()
    diff = state.bind(batch.state_meta(shard), state_rows(batch.select(shard)))
    opened = Opened(diff, caught_creating=state.on_resume())
    if retry_uncertain:
        opened.retried_uncertain = state.retry_uncertain()
    if retry_failed:
        opened.retried_failed = state.retry_failed()
    return opened


def dry_run_plan(batch: "Batch", shard: "Shard | None", state_file: Path, *,
                 download: str | None = None, retry_uncertain: bool = False,
                 retry_failed: bool = False) -> dict[str, Any]:
    """What `batch run` would do, as data: rows, files, upload size, the resume plan."""
    rows = batch.select(shard)
    keys = [r.key for r in rows]
    diff: InputDiff | None = None
    if state_file.exists():
        with BatchState(state_file, create=False) as state:
            diff = state.compare(batch.state_meta(shard), state_rows(rows))
            plan = state.plan(keys, download=bool(download))
            failed = {r.key for r in state.rows() if r.state == "done" and r.status == "failed"}
    else:
        plan = {"create": keys, "wait": [], "download": [], "skip": [], "uncertain": []}
        failed = set()
    if retry_uncertain:
        plan["create"] += plan.pop("uncertain")
        plan["uncertain"] = []
    if retry_failed:
        plan["create"] += [k for k in plan["skip"] + plan["download"] if k in failed]
        plan["skip"] = [k for k in plan["skip"] if k not in failed]
        plan["download"] = [k for k in plan["download"] if k not in failed]
    order = {k: i for i, k in enumerate(keys)}
    return {
        "input": batch.file, "format": batch.format, "state": str(state_file),
        "shard": {"k": shard.k, "n": shard.n} if shard else None,
        "rows": len(rows), "rows_in_file": len(batch.rows),
        "files": sum(len(r.spec.files) for r in rows),
        "upload_bytes": sum(r.upload_bytes() for r in rows),
        "plan": {what: sorted(ks, key=order.__getitem__) for what, ks in plan.items()},
        "changes": asdict(diff) if diff is not None else None,
        "extra_columns": batch.extra_columns,
    }
