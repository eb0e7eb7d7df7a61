"""`spine batch run/status/merge` end to end against the emulator, on a fake clock.

Time moves only when spine sleeps (`FakeTime(emulator=...)` advances the emulator's
clock with it), so runs of minutes end in milliseconds of real time and nothing here
waits on the wall clock. Requests are counted from the emulator's own log.
"""

from __future__ import annotations

import json
from pathlib import Path


from spine_cli.local.batch_state import BatchState
from spine_cli.runs.batch.keys import shard_of
from support.cli import FakeTime, spine

CSV = """key,client,outcome
acme,Acme Corp,completed
globex,Globex,failed
initech,Initech,partial
"""
TEMPLATE = "Memo for {client} [emulate:outcome={outcome}] [emulate:duration=40]"


def posts(api) -> list[dict]:
    return [r for r in api.requests() if r["method"] == "POST" and r["path"] == "/v1/run"]


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def batch(tmp_path: Path, *args: str, api=None, seams=None, name: str = "rows.csv",
          text: str = CSV, template: str | None = TEMPLATE):
    path = tmp_path / name
    if not path.exists():
        path.write_text(text, encoding="utf-8")
    extra = ["--prompt-template", template] if template is not None else []
    return spine("batch", "run", str(path), *extra, *args,
                 seams=seams or FakeTime(emulator=api.emulator).seams())


def test_a_batch_creates_waits_downloads_and_reports_each_row(api, tmp_path):
    out = batch(tmp_path, "--download", str(tmp_path / "out"), "--results",
                str(tmp_path / "results.json"), "--json", api=api)
    assert out.exit_code == 3, out  # failed is worse than partial
    rows = lines(out.stdout)
    assert sorted((r["key"], r["state"], r["status"], r["exit_code"]) for r in rows) == [
        ("acme", "done", "completed", 0), ("globex", "done", "failed", 3),
        ("initech", "done", "partial", 5)]
    by_key = {r["key"]: r for r in rows}
    assert by_key["globex"]["errors"][0]["stage"] == "run"
    assert by_key["acme"]["download_dir"] == str(tmp_path / "out" / "acme")
    assert by_key["globex"]["download_dir"] is None  # a failed run has nothing to fetch
    assert (tmp_path / "out" / "acme" / "manifest.json").is_file()
    assert (tmp_path / "out" / "initech" / "final_output.md").is_file()
    for key in ("acme", "globex", "initech"):
        assert f"row {key}: created run {by_key[key]['run_id'][:8]}" in out.stderr
    assert "row globex: failed (run" in out.stderr and "exit 3" in out.stderr
    assert "Batch: 3 rows (3 done); runs: 1 completed, 1 failed, 1 partial; exit 3." in out.stderr
    assert len(posts(api)) == 3
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["summary"]["exit_code"] == 3 and len(results["rows"]) == 3
    # Every run keeps its full create spec in the history, as `run create` does.
    listed = json.loads(spine("run", "list", "--json").stdout)
    assert sorted(r["spec"]["prompt"] for r in listed) == sorted(
        TEMPLATE.format(client=c, outcome=o) for c, o in
        [("Acme Corp", "completed"), ("Globex", "failed"), ("Initech", "partial")])


def test_a_resume_sends_nothing_for_finished_rows_and_partial_ok_applies(api, tmp_path):
    assert batch(tmp_path, api=api).exit_code == 3
    sent = len(api.requests())
    again = batch(tmp_path, "--partial-ok", "-q", api=api)
    assert again.exit_code == 3, again
    assert again.stdout == "" and again.stderr == ""
    assert len(api.requests()) == sent  # finished rows: no request at all
    retried = batch(tmp_path, "--retry-failed", api=api)
    assert retried.exit_code == 3 and len(posts(api)) == 4  # globex again, and only it
    assert "--retry-failed: creating 1 failed row(s) again." in retried.stderr
    with BatchState(tmp_path / "rows.csv.spine-batch.sqlite", create=False) as st:
        row = st.row("globex")
        assert row is not None and row.attempts == 2 and len(row.previous_runs) == 1


def test_a_resume_downloads_what_is_missing_and_waits_on_created_runs(api, tmp_path):
    first = batch(tmp_path, "--timeout", "10s", api=api)
    assert first.exit_code == 6, first
    assert "Stopped at --timeout (10s): 3 run(s) go on server-side" in first.stderr
    assert "Run the same command again to resume." in first.stderr
    assert len(posts(api)) == 3
    out = tmp_path / "out"
    second = batch(tmp_path, "--download", str(out), api=api)
    assert second.exit_code == 3, second
    assert len(posts(api)) == 3  # created runs are waited on, never created again
    assert second.stdout.splitlines() == [str(out / "acme"), str(out / "initech")]
    assert "Resuming the batch: 3 created." in second.stderr


def test_dry_run_validates_and_plans_without_sending(api, tmp_path):
    (tmp_path / "notes.md").write_text("x" * 2048)
    text = "key,client,outcome,files\nacme,Acme,completed,notes.md\nglobex,Globex,failed,\n"
    out = batch(tmp_path, "--dry-run", api=api, text=text)
    assert out.exit_code == 0, out
    assert out.stdout.splitlines()[0] == f"{tmp_path / 'rows.csv'} (csv): 2 rows, 1 files, 2.0 KiB to upload"
    assert "  create               2  acme, globex" in out.stdout
    assert out.stderr.strip().endswith("Dry run: nothing was sent.")
    assert api.requests() == [] and not (tmp_path / "rows.csv.spine-batch.sqlite").exists()
    assert batch(tmp_path, "--max-runs", "1", "--timeout", "5s", api=api, text=text).exit_code == 6
    plan = json.loads(batch(tmp_path, "--dry-run", "--json", api=api).stdout)
    assert plan["plan"]["wait"] == ["acme"] and plan["plan"]["create"] == ["globex"]
    assert plan["upload_bytes"] == 2048 and plan["changes"]["fresh"] is False


def test_every_row_is_checked_before_anything_is_sent(api, tmp_path):
    text = ("key,client,outcome,files\nacme,Acme,completed,missing.csv\n"
            "globex,Globex,completed,\nglobex,Again,completed,\n")
    out = batch(tmp_path, api=api, text=text)
    assert out.exit_code == 2, out
    assert "rows.csv:2: files: file not found: missing.csv" in out.stderr
    assert "rows.csv:4: key: duplicate key 'globex' (also on line 3)." in out.stderr
    assert "Nothing was sent" in out.stderr and out.stdout == ""
    assert api.requests() == [] and not (tmp_path / "rows.csv.spine-batch.sqlite").exists()


def test_max_runs_stops_creating_and_a_resume_goes_on(api, tmp_path):
    text = CSV.replace("failed", "completed").replace("partial", "completed")
    first = batch(tmp_path, "--max-runs", "2", "--concurrency", "1", api=api, text=text)
    assert first.exit_code == 6, first
    assert len(posts(api)) == 2
    assert "Stopped creating after --max-runs 2: 1 row(s) not created yet." in first.stderr
    second = batch(tmp_path, "--max-runs", "2", api=api)
    assert second.exit_code == 0, second
    assert len(posts(api)) == 3


def test_concurrency_caps_the_runs_in_flight(api, tmp_path):
    text = "key,client,outcome\n" + "".join(f"r{i},C{i},completed\n" for i in range(6))
    seams = FakeTime(emulator=api.emulator)
    out = batch(tmp_path, "--concurrency", "2", api=api, text=text, seams=seams.seams())
    assert out.exit_code == 0, out
    # Two runs of 40 s at a time: three waves, each noticed within a few seconds of its end.
    assert 100 <= seams.now - 1000 <= 150, seams.now  # (uncapped: about 45 s)
    created = [r["time"] for r in posts(api)]
    assert len(created) == 6


def test_an_ambiguous_create_is_uncertain_and_never_sent_again(api, tmp_path):
    api.emulator.fault("status", method="POST", path="/v1/run", status=502)
    first = batch(tmp_path, "--concurrency", "1", api=api)
    assert first.exit_code == 8, first
    assert "row acme: uncertain: " in first.stderr
    assert "1 row(s) are uncertain (a run may or may not exist): acme." in first.stderr
    assert "--retry-uncertain" in first.stderr
    sent = len(posts(api))
    again = batch(tmp_path, api=api)
    assert again.exit_code == 8 and len(posts(api)) == sent
    retried = batch(tmp_path, "--retry-uncertain", api=api)
    assert "this may create duplicates" in retried.stderr
    assert retried.exit_code == 3 and len(posts(api)) == sent + 1


def test_a_refused_create_is_not_created_and_a_plain_resume_sends_it_again(api, tmp_path):
    text = "key,client,outcome\nacme,Acme,completed\nbad,Bad [emulate:speed=9],completed\n"
    first = batch(tmp_path, api=api, text=text)
    assert first.exit_code == 2, first
    assert "row bad: not created: Unknown emulator directive: speed" in first.stderr
    assert len(posts(api)) == 2
    assert batch(tmp_path, api=api, text=text).exit_code == 2
    assert len(posts(api)) == 3


def test_429_pauses_creates_and_polls_under_the_key(api, tmp_path):
    api.emulator.fault("status", method="POST", path="/v1/run", status=429, retry_after=7,
                       count=2)
    seams = FakeTime(emulator=api.emulator)
    out = batch(tmp_path, "--concurrency", "3", api=api, seams=seams.seams())
    assert out.exit_code == 3, out
    statuses = [r["status"] for r in posts(api)]
    assert statuses.count(429) == 2 and statuses.count(200) == 3  # one run per row
    assert 7.0 in seams.sleeps  # the Retry-After was waited out, not hammered
    api.emulator.fault("status", method="GET", path="/v1/run/*", status=429, retry_after=5)
    (tmp_path / "rows.csv.spine-batch.sqlite").unlink()
    out = batch(tmp_path, api=api)
    assert "row acme: poll failed (HTTP 429: Rate limit exceeded); retrying in 5s" in out.stderr \
        or "poll failed (HTTP 429: Rate limit exceeded); retrying in 5s" in out.stderr, out


def test_shards_cover_every_row_once_and_merge(api, tmp_path):
    text = "key,client,outcome\n" + "".join(
        f"k{i},C{i},{'failed' if i == 4 else 'completed'}\n" for i in range(12))
    results = []
    for k in (1, 2, 3):
        path = tmp_path / f"shard-{k}.json"
        out = batch(tmp_path, "--shard", f"{k}/3", "--results", str(path), api=api, text=text)
        assert out.exit_code in (0, 3), out
        results.append(str(path))
        keys = [r["key"] for r in json.loads(path.read_text())["rows"]]
        assert all(shard_of(key, 3) == k for key in keys)
        assert (tmp_path / f"rows.csv.shard-{k}-of-3.spine-batch.sqlite").exists()
    assert len(posts(api)) == 12
    merged = spine("batch", "merge", *results, "--json")
    assert merged.exit_code == 3, merged
    data = json.loads(merged.stdout)
    assert sorted(r["key"] for r in data["rows"]) == sorted(f"k{i}" for i in range(12))
    assert data["batch"]["missing_shards"] == [] and len(data["batch"]["shards"]) == 3
    table = spine("batch", "merge", *results[:2])
    assert table.exit_code == 6, table  # shard 3 missing: its rows are not finished
    assert "**Missing shards:** 3/3; their rows are not in this report." in table.stdout
    shown = {line.split("|")[1].strip() for line in table.stdout.splitlines()
             if line.startswith("| k")}
    assert shown == {f"k{i}" for i in range(12) if shard_of(f"k{i}", 3) != 3}
    twice = spine("batch", "merge", results[0], results[0])
    assert twice.exit_code == 2 and "Shard 1/3 is in both" in twice.stderr


def test_status_reads_the_state_and_the_file_without_the_api(api, tmp_path, monkeypatch):
    assert batch(tmp_path, "--max-runs", "1", "--concurrency", "1", api=api).exit_code == 6
    (tmp_path / "rows.csv").write_text(CSV + "hooli,Hooli,completed\n")
    monkeypatch.delenv("SPINE_API_KEY")
    monkeypatch.setenv("SPINE_BASE_URL", "http://127.0.0.1:9")
    out = spine("batch", "status", str(tmp_path / "rows.csv"))
    assert out.exit_code == 0, out
    assert "3 rows: 2 pending, 1 done; runs: 1 completed; exit 6" in out.stdout
    assert "changes in the file since the last run: 1 new" in out.stdout
    assert "acme" in out.stdout and "globex" in out.stdout
    data = json.loads(spine("batch", "status", str(tmp_path / "rows.csv"), "--json").stdout)
    assert data["summary"]["states"]["done"] == 1 and data["changes"]["added"] == ["hooli"]
    missing = spine("batch", "status", str(tmp_path / "other.csv"))
    assert missing.exit_code == 2 and "No batch state at" in missing.stderr


def test_github_actions_gets_a_table_of_rows_and_an_annotation_per_failure(api, tmp_path,
                                                                             monkeypatch):
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    out = batch(tmp_path, api=api)
    assert out.exit_code == 3, out
    table = summary.read_text()
    assert "| Key | Line | State | Status | Exit | Run | Download | Error |" in table
    assert "| globex | 3 | done | failed | 3 |" in table
    annotations = [l for l in out.stderr.splitlines() if l.startswith("::error")]
    assert len(annotations) == 2, out.stderr  # failed and partial; completed is fine
    assert any("Row globex (line 3)" in a and "ended failed, exit 3" in a for a in annotations)
    assert "exit_code<<" in outputs.read_text()


def test_a_batch_from_stdin_needs_a_state_path(api, tmp_path):
    out = spine("batch", "run", "-", input='{"prompt": "x"}\n')
    assert out.exit_code == 2 and "needs --state PATH" in out.stderr


def test_a_run_that_cannot_be_polled_is_given_up_and_a_resume_waits_on_it(api, tmp_path):
    text = "key,client,outcome\nacme,Acme,completed\n"
    api.emulator.fault("status", method="GET", path="/v1/run/*", status=503, count=1000)
    out = batch(tmp_path, "--max-outage", "60s", "--json", api=api, text=text)
    api.emulator.clear_faults()
    assert out.exit_code == 8, out
    (row,) = lines(out.stdout)
    assert row["state"] == "created" and row["exit_code"] == 8
    assert row["errors"] == [{"stage": "run", "message": "Service unavailable", "exit_code": 8}]
    assert "row acme: stopped polling (" in out.stderr and "goes on server-side" in out.stderr
    again = batch(tmp_path, api=api, text=text)
    assert again.exit_code == 0, again
    assert len(posts(api)) == 1  # waited on, not created again


def test_a_refused_key_stops_creating_at_once(api, tmp_path, monkeypatch):
    monkeypatch.setenv("SPINE_API_KEY", "not_a_spine_key")
    text = "key,client,outcome\n" + "".join(f"r{i},C{i},completed\n" for i in range(8))
    out = batch(tmp_path, "--concurrency", "2", api=api, text=text)
    assert out.exit_code == 4, out
    assert "Error: Invalid API key" in out.stderr and "Stopped creating runs." in out.stderr
    with BatchState(tmp_path / "rows.csv.spine-batch.sqlite", create=False) as st:
        states = [r.state for r in st.rows()]
    assert states.count("not_created") <= 2 and states.count("pending") >= 6, states


def test_a_batch_from_stdin_with_its_state(api, tmp_path):
    rows = "".join(json.dumps({"key": k, "prompt": f"Memo {k} [emulate:duration=20]"}) + "\n"
                   for k in ("a", "b"))
    state = str(tmp_path / "stdin.sqlite")
    seams = FakeTime(emulator=api.emulator).seams()
    out = spine("batch", "run", "-", "--state", state, "--json", input=rows, seams=seams)
    assert out.exit_code == 0, out
    assert sorted(r["key"] for r in lines(out.stdout)) == ["a", "b"]
    status = spine("batch", "status", "-", "--state", state)
    assert status.exit_code == 0 and "2 rows: 2 done; runs: 2 completed; exit 0" in status.stdout


def test_the_batch_ends_within_seconds_of_its_last_run(api, tmp_path):
    text = "key,client,outcome\nacme,Acme,completed\n"
    seams = FakeTime(emulator=api.emulator)
    out = batch(tmp_path, api=api, text=text, template="Memo {client} [emulate:duration=100]",
                seams=seams.seams())
    assert out.exit_code == 0, out
    # The last run left, inside its expected end window: polled every 2 s at most.
    assert seams.now - 1000 <= 100 + 2.5, seams.sleeps
    assert max(seams.sleeps[-3:]) <= 2.0 and len(seams.sleeps) < 40, seams.sleeps
