"""Progress reporters: plain lines per change plus a heartbeat, NDJSON events."""

from __future__ import annotations

import io
import json

from spine_cli.api.models import Run
from spine_cli.runs.waiter import Tracked
from spine_cli.ui.output import Format, Output, OutputMode
from spine_cli.ui.reporters import JsonEventReporter, PlainReporter

RID = "550e8400-e29b-41d4-a716-446655440000"
C = "c0ffee00-0000-4000-8000-000000000000"


def tracked(status="running", done=0, total=0, elapsed=0, canvas=None):
    data = {"run_id": RID, "status": status, "canvas_id": canvas}
    if status == "running":
        data["progress"] = {"tasks_completed": done, "tasks_total": total, "elapsed_ms": elapsed}
    else:
        data["duration_ms"] = elapsed
    return Tracked(RID, run=Run.parse(data))


def test_plain_reporter_prints_changes_and_a_heartbeat_per_quiet_minute():
    now = [0.0]
    stream = io.StringIO()
    rep = PlainReporter(Output(OutputMode(), stderr=stream), clock=lambda: now[0])
    rep.update(tracked(done=1, total=8, elapsed=5000, canvas=C))
    now[0] = 30
    rep.update(tracked(done=1, total=8, elapsed=35000, canvas=C))   # no change, <60 s: silent
    now[0] = 61
    rep.update(tracked(done=1, total=8, elapsed=66000, canvas=C))   # heartbeat
    now[0] = 70
    rep.update(tracked(done=2, total=9, elapsed=75000, canvas=C))   # change
    rep.update(tracked("completed", elapsed=90000, canvas=C))
    lines = stream.getvalue().splitlines()
    assert lines == [
        "run 550e8400: running 1/8 tasks, 5s elapsed",
        "run 550e8400: still running 1/8 tasks, 1m06s elapsed",
        "run 550e8400: running 2/9 tasks, 1m15s elapsed",
        "run 550e8400: completed in 1m30s",
    ]
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()


def test_json_reporter_emits_state_and_progress_events(capsys):
    rep = JsonEventReporter(Output(OutputMode(Format.NDJSON)))
    rep.update(tracked())
    rep.update(tracked(done=1, total=4, elapsed=1000, canvas=C))
    rep.update(tracked(done=1, total=4, elapsed=1000, canvas=C))   # nothing new
    rep.update(tracked("completed", elapsed=2000, canvas=C))
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["event"] for e in events] == ["state", "progress", "state", "progress", "state"]
    assert events[-1] == {"event": "state", "run_id": RID, "status": "completed", "canvas_id": C}
    assert events[3]["tasks_total"] == 4
