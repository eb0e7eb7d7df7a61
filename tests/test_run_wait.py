"""`spine run wait` / `run get` / `create --wait`: outcomes, exit codes, outages."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from support.cli import FakeTime, spine

FAST = ["--poll-interval", "0.2"]


def make_run(api, outcome="completed", duration=30, extra=""):
    prompt = f"Quarterly memo [emulate:outcome={outcome}] [emulate:duration={duration}] {extra}"
    return api.emulator.create_run(api.key, prompt)["run_id"]


def finished_run(api, outcome="completed"):
    run_id = make_run(api, outcome, duration=5)
    api.emulator.advance(6)
    return run_id


@pytest.mark.parametrize("outcome,code", [("completed", 0), ("failed", 3), ("partial", 5)])
def test_wait_exit_code_follows_the_outcome(api, outcome, code):
    run_id = finished_run(api, outcome)
    out = spine("run", "wait", run_id, *FAST)
    assert out.exit_code == code, out
    assert run_id in out.stdout


def test_partial_ok_makes_partial_exit_0(api):
    run_id = finished_run(api, "partial")
    assert spine("run", "wait", run_id, "--partial-ok").exit_code == 0


def test_wait_notices_the_end_of_a_running_run(api):
    run_id = make_run(api, duration=20)
    out = spine("run", "wait", run_id, seams=FakeTime(emulator=api.emulator).seams())
    assert out.exit_code == 0, out
    assert f"run {run_id[:8]}: completed" in out.stderr
    assert "Run:" in out.stdout and "completed" in out.stdout


def ndjson(text):
    """Each line one compact JSON object (NDJSON); the objects."""
    lines = text.splitlines()
    assert all(line.startswith("{") and "\n" not in line for line in lines), text
    return [json.loads(line) for line in lines]


def test_wait_json_prints_the_api_data_as_one_line(api):
    run_id = finished_run(api)
    out = spine("run", "wait", run_id, "--json")
    assert out.exit_code == 0, out
    (data,) = ndjson(out.stdout)
    assert out.stdout.count("\n") == 1
    assert data == api.emulator.get_run(api.key, run_id) | {"result": data["result"]}
    assert data["status"] == "completed" and data["result"]["final_output"]


def test_wait_on_several_runs_worst_code_wins_and_json_is_one_line_each(api):
    ok, failed, partial = finished_run(api), finished_run(api, "failed"), finished_run(api, "partial")
    out = spine("run", "wait", ok, failed, partial, "--json")
    assert out.exit_code == 3, out
    assert [d["status"] for d in ndjson(out.stdout)] == ["completed", "failed", "partial"]
    human = spine("run", "wait", ok, partial)
    assert human.exit_code == 5
    assert f"{ok}  completed" in human.stdout and "(exit 5)" in human.stdout


def test_get_json_stays_one_indented_document(api):
    run_id = finished_run(api)
    out = spine("run", "get", run_id, "--json")
    assert out.exit_code == 0, out
    assert out.stdout.startswith("{\n  ") and json.loads(out.stdout)["run_id"] == run_id


def test_wait_without_run_reads_ids_from_stdin(api):
    ok, partial = finished_run(api), finished_run(api, "partial")
    out = spine("run", "wait", "--json", input=f"{ok}\n  {partial}\t\n")
    assert out.exit_code == 5, out
    assert [d["run_id"] for d in ndjson(out.stdout)] == [ok, partial]


def test_wait_with_nothing_on_stdin_is_exit_0_with_a_note(api):
    out = spine("run", "wait", "--json", input=" \n")
    assert out.exit_code == 0, out
    assert out.stdout == ""
    assert "No run ids on stdin: nothing to wait for." in out.stderr
    assert api.requests() == []


def test_timeout_is_exit_6_and_says_how_to_resume(api):
    run_id = make_run(api, duration=3600)
    time = FakeTime(emulator=api.emulator)
    out = spine("run", "wait", run_id, "--timeout", "10m", seams=time.seams())
    assert out.exit_code == 6, out
    assert time.now - 1000.0 == pytest.approx(600)  # stopped at the timeout, not before or after
    assert f"spine run wait {run_id}" in out.stderr
    assert "goes on server-side" in out.stderr and "(10m00s)" in out.stderr


def test_several_runs_time_out_together_each_with_its_resume_command(api):
    runs = [make_run(api, duration=3600) for _ in range(3)]
    done = finished_run(api)
    time = FakeTime(emulator=api.emulator)
    out = spine("run", "wait", *runs, done, "--timeout", "5m", seams=time.seams())
    assert out.exit_code == 6, out
    for run_id in runs:
        assert f"Resume with: spine run wait {run_id}" in out.stderr
        assert f"{run_id}  running" in out.stdout and "(exit 6)" in out.stdout
    assert f"{done}  completed" in out.stdout and "(exit 0)" in out.stdout


def test_unknown_run_is_exit_9(api):
    missing = str(uuid.uuid4())
    out = spine("run", "wait", missing)
    assert out.exit_code == 9, out
    assert f"Run not found: {missing}" in out.stderr
    assert spine("run", "get", missing).exit_code == 9


def test_other_tenants_run_is_not_found(api):
    theirs = api.emulator.create_run(api.emulator.new_key(), "their run")["run_id"]
    assert spine("run", "get", theirs).exit_code == 9


def test_malformed_run_id_is_refused_without_a_request(api):
    out = spine("run", "get", "not-a-run-id")
    assert out.exit_code == 2, out
    assert api.requests() == []


def test_wait_rides_out_a_burst_of_5xx_and_reports_it(api):
    run_id = finished_run(api)
    api.emulator.fault("status", method="GET", path=f"/v1/run/{run_id}", status=503, count=2)
    time = FakeTime()
    out = spine("run", "wait", run_id, seams=time.seams())
    assert out.exit_code == 0, out
    assert len(time.sleeps) == 2 and 1.0 <= time.sleeps[0] <= 2.0  # the policy's first backoff
    assert "poll failed (HTTP 503" in out.stderr
    gets = [r["status"] for r in api.requests() if r["path"] == f"/v1/run/{run_id}"]
    assert gets == [503, 503, 200]


def test_wait_honours_retry_after(api):
    run_id = finished_run(api)
    api.emulator.fault("status", method="GET", path=f"/v1/run/{run_id}", status=429, retry_after=7)
    time = FakeTime()
    out = spine("run", "wait", run_id, seams=time.seams())
    assert out.exit_code == 0, out
    first, second = [r for r in api.requests() if r["path"] == f"/v1/run/{run_id}"]
    assert first["status"] == 429 and second["status"] == 200
    assert time.sleeps == [7.0]  # exactly what the server asked for, not the backoff


def test_dropped_connection_is_not_the_end_of_a_run(api):
    run_id = make_run(api, duration=3600)
    api.emulator.fault("drop_after", method="GET", path=f"/v1/run/{run_id}", count=2)
    out = spine("run", "wait", run_id, "--timeout", "3m", seams=FakeTime().seams())
    assert out.exit_code == 6, out
    assert "poll failed (Cannot reach the Spine API" in out.stderr
    polls = [r for r in api.requests() if r["path"] == f"/v1/run/{run_id}"]
    assert len(polls) > 3 and polls[-1]["status"] == 200  # it kept polling after the drops


def test_outage_beyond_max_outage_is_exit_8(api):
    run_id = make_run(api, duration=3600)
    api.emulator.fault("status", method="GET", path=f"/v1/run/{run_id}", status=502, count=1000)
    time = FakeTime()
    out = spine("run", "wait", run_id, "--max-outage", "2m", seams=time.seams())
    assert out.exit_code == 8, out
    assert "gave up" in out.stderr and f"spine run wait {run_id}" in out.stderr
    assert "after 2m00s of failed polls" in out.stderr  # the true time, never overshot
    assert time.now - 1000.0 == pytest.approx(120)


def test_get_retries_5xx_burst(api):
    run_id = finished_run(api)
    api.emulator.fault("status", method="GET", path=f"/v1/run/{run_id}", status=500, count=2)
    time = FakeTime()
    out = spine("run", "get", run_id, "--json", seams=time.seams())
    assert out.exit_code == 0, out
    assert len(time.sleeps) == 2
    assert json.loads(out.stdout)["run_id"] == run_id


def test_get_beyond_retry_budget_is_exit_8(api):
    run_id = finished_run(api)
    api.emulator.fault("status", method="GET", path=f"/v1/run/{run_id}", status=503, count=50)
    time = FakeTime()
    out = spine("run", "get", run_id, seams=time.seams())
    assert out.exit_code == 8, out
    assert len(time.sleeps) == 4  # the policy's retries, on the injected clock
    assert "HTTP 503" in out.stderr and "request id" in out.stderr


def test_get_human_view_piped_is_plain_markdown(api):
    run_id = finished_run(api)
    out = spine("run", "get", run_id)
    assert out.exit_code == 0
    assert out.stdout.startswith(f"Run:     {run_id}  completed in ")
    assert "\n# " in out.stdout  # raw Markdown heading, not rendered
    assert "\nFiles:\n  docx " in out.stdout
    assert out.stdout.count("Artifacts") <= 1  # the final output's own section only
    assert "\x1b" not in out.stdout + out.stderr
    assert spine("run", "get", run_id, "-q").stdout == "completed\n"


def test_get_running_run_shows_progress(api):
    run_id = make_run(api, duration=100)
    api.emulator.advance(50)
    out = spine("run", "get", run_id)
    assert out.exit_code == 0, out  # get reports; it does not gate on the status
    assert "running" in out.stdout and "tasks" in out.stdout


def test_failed_run_shows_its_errors(api):
    run_id = finished_run(api, "failed")
    out = spine("run", "get", run_id)
    assert out.exit_code == 0, out
    assert "Errors:" in out.stdout and "failed" in out.stdout


def test_create_wait_chains_and_keeps_stdout_for_data(api):
    out = spine("run", "create", "--prompt", "Memo [emulate:duration=20]", "--wait",
                seams=FakeTime(emulator=api.emulator).seams())
    assert out.exit_code == 0, out
    lines = out.stdout.splitlines()
    assert len(lines[0]) == 36 and lines[1].startswith("Run:")
    assert "completed" in out.stderr  # progress lines live on stderr
    assert "\x1b" not in out.stdout + out.stderr


def test_create_wait_json_is_one_ndjson_line(api):
    out = spine("run", "create", "--json", "--prompt",
                "x [emulate:duration=20] [emulate:outcome=failed]", "--wait",
                seams=FakeTime(emulator=api.emulator).seams())
    assert out.exit_code == 3, out
    (data,) = ndjson(out.stdout)
    assert data["status"] == "failed"
    assert "failed" in out.stderr


def test_watch_json_streams_ndjson_events(api):
    out = spine("run", "create", "--json", "--prompt", "x [emulate:duration=30]", "--watch",
                seams=FakeTime(emulator=api.emulator).seams())
    assert out.exit_code == 0, out
    events = [json.loads(line) for line in out.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "created" and kinds[-1] == "result"
    assert "state" in kinds and "progress" in kinds
    assert events[-1]["run"]["status"] == "completed"


def test_watch_off_a_terminal_prints_plain_lines(api):
    run_id = make_run(api, duration=20)
    out = spine("run", "watch", run_id, seams=FakeTime(emulator=api.emulator).seams())
    assert out.exit_code == 0, out
    assert "\r" not in out.stderr and "\x1b" not in out.stderr
    assert f"run {run_id[:8]}: completed" in out.stderr


def test_wait_download_failure_is_exit_7_and_reported_to_github_as_7(api, tmp_path, monkeypatch):
    run_id = finished_run(api)
    (art,) = api.emulator.get_run(api.key, run_id)["result"]["artifacts"]
    api.emulator.fault("status", "GET", f"/_artifacts/{run_id}/{art['id']}/*", count=50,
                       status=503, retry_after=0)
    gh_out = tmp_path / "gh_output"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(gh_out))
    out = spine("run", "wait", run_id, "--download", str(tmp_path / "dl"))
    assert out.exit_code == 7, out
    assert art["name"] in out.stderr
    import re

    assert re.search(r"^exit_code<<(\S+)\n7\n\1$", gh_out.read_text(), re.M), gh_out.read_text()


def test_a_failed_run_is_stated_once_with_its_errors_and_the_next_step(api):
    run_id = finished_run(api, "failed")
    human = spine("run", "wait", run_id)
    assert human.exit_code == 3, human
    assert human.stdout.count(f"{run_id}  failed") == 1
    assert "Errors:\n  - " in human.stdout
    assert human.stdout.rstrip().endswith(f"See what failed: spine canvas tasks {run_id}")
    assert f"Run {run_id} failed" not in human.stderr  # the view on stdout says it
    for mode in ("-q", "--json"):
        out = spine("run", "wait", run_id, mode)
        assert out.exit_code == 3, out
        assert out.stderr.count(f"Run {run_id} failed") == 1, out
        lines = out.stderr.splitlines()
        start = lines.index(f"Run {run_id} failed.")
        assert lines[start + 1].startswith("  - ")
        assert lines[-1] == f"See what failed: spine canvas tasks {run_id}"


def test_a_partial_run_says_why_it_exits_5_once(api):
    run_id = finished_run(api, "partial")
    human = spine("run", "wait", run_id)
    assert human.exit_code == 5, human
    assert "Exit 5: the run ended partial; --partial-ok makes it 0." in human.stdout
    assert f"spine run download {run_id} -d DIR" in human.stdout
    assert "partial" not in human.stderr.replace(f"run {run_id[:8]}: partial", "")
    quiet = spine("run", "wait", run_id, "-q")
    assert quiet.exit_code == 5 and quiet.stdout == ""
    assert f"Run {run_id} ended partial (exit 5; --partial-ok makes it 0)." in quiet.stderr
    assert f"spine run download {run_id} -d DIR" in quiet.stderr
    ok = spine("run", "wait", run_id, "--partial-ok")
    assert ok.exit_code == 0 and "Exit 5" not in ok.stdout


class Recording(httpx.BaseTransport):
    """The real HTTP transport, noting (fake time, path, status) of every poll it carries."""

    def __init__(self, clock) -> None:
        self.inner, self.clock, self.seen = httpx.HTTPTransport(), clock, []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        self.seen.append((self.clock(), request.url.path, response.status_code))
        return response

    def close(self) -> None:
        self.inner.close()


def test_a_429_on_one_run_pauses_every_poll_under_the_key(api):
    """One request budget per key, end to end: the emulator answers one run's poll 429 with
    Retry-After 25; no poll of any run goes out until those 25 s have passed."""
    runs = [make_run(api, duration=600) for _ in range(3)]
    api.emulator.fault("status", method="GET", path=f"/v1/run/{runs[1]}", status=429,
                       retry_after=25)
    time = FakeTime(emulator=api.emulator)
    wire = Recording(time.clock)
    out = spine("run", "wait", *runs, "--timeout", "3m", seams=time.seams(transport=wire))
    assert out.exit_code == 6, out
    limited = next(t for t, path, status in wire.seen if status == 429)
    after = [(t, path) for t, path, status in wire.seen if t > limited]
    assert {path.rsplit("/", 1)[1] for _, path in after} == set(runs)
    assert min(t for t, _ in after) >= limited + 25  # all three waited, not just the one
