"""The batch state: transitions, resume rules, input changes, file problems, processes."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from spine_cli.errors import ExitCode, UsageError
from spine_cli.local import batch_db
from spine_cli.local.batch_state import (RESUME_NOTE, BatchMeta, BatchState, BatchStateError,
                                         StateConflictError, state_path)

META = BatchMeta("/w/rows.csv", "a" * 64, "csv")
ROWS = [("acme", 2, "d-acme"), ("beta", 3, "d-beta"), ("gamma", 4, "d-gamma")]
T0 = 1_735_689_600.0  # 2025-01-01T00:00:00Z


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        self.t += 1
        return self.t


@pytest.fixture
def state(tmp_path):
    with BatchState(tmp_path / "rows.csv.spine-batch.sqlite", now=Clock()) as st:
        st.bind(META, ROWS)
        yield st


def states(st: BatchState) -> dict[str, str]:
    return {r.key: r.state for r in st.rows()}


# --- where ---------------------------------------------------------------------------

def test_state_path_beside_the_file_per_shard_or_given(tmp_path):
    assert state_path("data/rows.csv", None) == Path("data/rows.csv.spine-batch.sqlite")
    assert state_path("rows.csv", None, (2, 5)) == Path("rows.csv.shard-2-of-5.spine-batch.sqlite")
    assert state_path("rows.csv", "~/s.sqlite") == Path.home() / "s.sqlite"
    assert state_path("-", "s.sqlite", (1, 2)) == Path("s.sqlite")
    with pytest.raises(UsageError, match=r"^A batch read from stdin needs --state PATH") as excinfo:
        state_path("-", None)
    assert excinfo.value.exit_code == 2


# --- the row lifecycle ------------------------------------------------------------------

def test_a_row_from_pending_to_done_with_its_record(state):
    assert states(state) == dict.fromkeys(["acme", "beta", "gamma"], "pending")
    assert state.mark_creating("acme") is True
    assert state.mark_creating("acme") is False  # claimed once only
    state.mark_created("acme", "run-1")
    state.observe("acme", "running", canvas_id="canvas-1")
    state.observe("acme", "running")  # a poll without canvas_id keeps the known one
    state.mark_finished("acme", "partial", 5, errors=[{"error": "block failed", "block_id": "b1"}])
    state.record_download("acme", "out/acme", False, "report.docx: size mismatch")
    row = state.row("acme")
    assert row is not None
    assert (row.state, row.run_id, row.canvas_id, row.status, row.exit_code) == \
        ("done", "run-1", "canvas-1", "partial", 5)
    assert (row.download_dir, row.download_ok, row.attempts, row.line) == ("out/acme", False, 1, 2)
    assert row.errors == [
        {"stage": "run", "error": "block failed", "block_id": "b1"},
        {"stage": "download", "message": "report.docx: size mismatch", "exit_code": 7}]
    assert row.added_at == "2025-01-01T00:00:01.000000Z"
    assert row.added_at < row.created_at < row.finished_at < row.updated_at  # type: ignore[operator]
    state.record_download("acme", "out/acme", True)
    assert state.row("acme").download_ok is True  # type: ignore[union-attr]
    assert state.summary() == {"pending": 2, "creating": 0, "created": 0, "uncertain": 0,
                               "not_created": 0, "done": 1}


def test_a_create_that_made_no_run_is_sent_again_by_a_plain_resume(state):
    state.mark_creating("beta")
    state.mark_not_created("beta", "Invalid template", 2)
    row = state.row("beta")
    assert (row.state, row.exit_code, row.run_digest) == ("not_created", 2, None)  # type: ignore[union-attr]
    assert row.errors == [{"stage": "create", "message": "Invalid template", "exit_code": 2}]  # type: ignore[union-attr]
    assert state.plan(["beta"])["create"] == ["beta"]
    assert state.mark_creating("beta") is True
    assert state.row("beta").attempts == 2  # type: ignore[union-attr]


def test_transitions_from_the_wrong_state_are_conflicts(state):
    with pytest.raises(StateConflictError, match=r"Row 'acme' is pending, not creating") as excinfo:
        state.mark_created("acme", "run-1")
    assert excinfo.value.exit_code == ExitCode.INTERNAL
    with pytest.raises(StateConflictError, match=r"No row 'nope'"):
        state.mark_uncertain("nope", "why")
    for call in (lambda: state.mark_finished("acme", "completed", 0),
                 lambda: state.record_download("acme", "d", True),
                 lambda: state.observe("acme", "running"),
                 lambda: state.mark_not_created("acme", "x", 2)):
        with pytest.raises(StateConflictError):
            call()
    assert states(state)["acme"] == "pending" and state.row("acme").errors == []  # type: ignore[union-attr]


# --- resume ----------------------------------------------------------------------------

def test_on_resume_turns_creating_uncertain_and_they_are_never_resent(state):
    state.mark_creating("acme")
    state.mark_creating("beta")
    state.mark_created("beta", "run-b")
    with pytest.raises(StateConflictError, match=r"needs the runner lock"):
        state.on_resume()
    state.lock()
    assert state.on_resume() == ["acme"]
    row = state.row("acme")
    assert (row.state, row.note) == ("uncertain", RESUME_NOTE)  # type: ignore[union-attr]
    assert row.errors == [{"stage": "create", "message": RESUME_NOTE, "exit_code": 8}]  # type: ignore[union-attr]
    assert state.mark_creating("acme") is False
    assert state.plan(["acme", "beta", "gamma"]) == {
        "create": ["gamma"], "wait": ["beta"], "download": [], "skip": [], "uncertain": ["acme"]}
    assert state.retry_uncertain() == ["acme"]
    row = state.row("acme")
    assert (row.state, row.note, row.errors, row.attempts) == ("pending", None, [], 1)  # type: ignore[union-attr]
    assert state.mark_creating("acme") is True and state.row("acme").attempts == 2  # type: ignore[union-attr]


def test_an_ambiguous_create_is_uncertain(state):
    state.mark_creating("gamma")
    state.mark_uncertain("gamma", "the connection dropped after the request was sent")
    row = state.row("gamma")
    assert (row.state, row.note) == ("uncertain", "the connection dropped after the request was sent")  # type: ignore[union-attr]
    assert state.retry_failed() == []


def test_retry_failed_recreates_only_failed_runs_and_keeps_their_ids(state):
    for key, status, code in (("acme", "failed", 3), ("beta", "partial", 5), ("gamma", "completed", 0)):
        state.mark_creating(key)
        state.mark_created(key, f"run-{key}", canvas_id=f"c-{key}")
        state.mark_finished(key, status, code, errors=[{"error": "x"}] if code else ())
        state.record_download(key, f"out/{key}", True)
    assert state.retry_failed() == ["acme"]
    row = state.row("acme")
    assert row is not None and row.state == "pending" and row.previous_runs == ["run-acme"]
    assert (row.run_id, row.canvas_id, row.status, row.exit_code, row.download_dir,
            row.download_ok, row.errors, row.created_at, row.finished_at) == \
        (None, None, None, None, None, None, [], None, None)
    assert states(state) == {"acme": "pending", "beta": "done", "gamma": "done"}


def test_plan_downloads_only_what_is_missing(state):
    for key, status in (("acme", "completed"), ("beta", "failed"), ("gamma", "partial")):
        state.mark_creating(key)
        state.mark_created(key, f"run-{key}")
        state.mark_finished(key, status, 0)
    state.record_download("gamma", "out/gamma", True)
    assert state.plan(["acme", "beta", "gamma"], download=True) == {
        "create": [], "wait": [], "download": ["acme"], "skip": ["beta", "gamma"], "uncertain": []}
    assert state.plan(["acme", "new"])["skip"] == ["acme"]
    assert state.plan(["acme", "new"])["create"] == ["new"]


# --- the input changes ----------------------------------------------------------------

def test_rows_added_removed_restored_and_changed(state):
    state.mark_creating("acme")
    state.mark_created("acme", "run-a")
    state.mark_creating("beta")
    state.mark_created("beta", "run-b")
    edited = BatchMeta(META.input, "b" * 64, "csv")
    rows = [("acme", 5, "d-acme-2"), ("gamma", 6, "d-gamma-2"), ("delta", 7, "d-delta")]
    preview = state.compare(edited, rows)
    assert state.rows()[0].line == 2  # compare writes nothing
    diff = state.bind(edited, rows)
    assert diff == preview
    assert (diff.fresh, diff.input_changed, diff.added, diff.removed, diff.restored, diff.changed) \
        == (False, True, ["delta"], ["beta"], [], ["acme"])
    assert state.last_diff() == diff
    assert [(r.key, r.line, r.state) for r in state.rows()] == [
        ("acme", 5, "created"), ("gamma", 6, "pending"), ("delta", 7, "pending")]
    assert state.row("acme").changed and not state.row("gamma").changed  # type: ignore[union-attr]
    assert state.summary()["created"] == 1  # beta's run is not counted, nor touched
    assert state.row("beta").run_id == "run-b" and state.mark_creating("beta") is False  # type: ignore[union-attr]
    assert [r.key for r in state.rows(include_removed=True)][-1] == "beta"
    back = state.bind(META, ROWS)
    assert (back.restored, back.removed, back.input_changed) == (["beta"], ["delta"], True)
    assert state.meta() == META


def test_a_new_state_and_an_unchanged_input(tmp_path):
    with BatchState(tmp_path / "s.sqlite") as st:
        assert st.meta() is None and st.last_diff() is None
        assert st.compare(META, ROWS).fresh
        first = st.bind(META, ROWS)
        assert first.fresh and first.added == ["acme", "beta", "gamma"]
        again = st.bind(META, ROWS)
        assert not again.fresh and not again.input_changed and again.added == again.removed == []


@pytest.mark.parametrize("other, message", [
    (BatchMeta(META.input, META.input_sha256, "csv", (2, 5)),
     r"belongs to a batch without --shard, not shard 2/5\."),
    (BatchMeta(META.input, META.input_sha256, "csv", None, "Hi {x}"),
     r"The prompt template differs from the one the batch state .* was started with\."),
])
def test_another_shard_or_prompt_template_is_refused(state, other, message):
    with pytest.raises(BatchStateError, match=message) as excinfo:
        state.bind(other, ROWS)
    assert excinfo.value.exit_code == 2 and excinfo.value.hint
    with pytest.raises(BatchStateError, match=message):
        state.compare(other, ROWS)
    assert state.meta() == META


def test_a_shard_state_refuses_another_shard(tmp_path):
    with BatchState(tmp_path / "s.sqlite") as st:
        st.bind(BatchMeta("f", "x", "csv", (1, 3)), [])
        with pytest.raises(BatchStateError, match=r"belongs to shard 1/3, not shard 2/3\."):
            st.bind(BatchMeta("f", "x", "csv", (2, 3)), [])
        st.bind(BatchMeta("moved/f", "y", "jsonl", (1, 3)), [])  # a moved or edited FILE is fine


# --- the file ----------------------------------------------------------------------------

def test_wal_full_sync_and_busy_timeout(state):
    conn = state._db.conn  # noqa: SLF001 - the pragmas are per connection
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == batch_db.BUSY_TIMEOUT_S * 1000 >= 5000


def test_unusable_state_files(tmp_path):
    with pytest.raises(BatchStateError, match=r"^No batch state at .*nope\.sqlite: this batch has "
                                              r"not run yet\.$"):
        BatchState(tmp_path / "nope.sqlite", create=False)
    assert not (tmp_path / "nope.sqlite").exists()
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(BatchStateError, match=r"unusable: file is not a database") as excinfo:
        BatchState(junk)
    assert "a new state forgets which rows already have runs" in excinfo.value.hint
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(BatchStateError, match=r"other\.sqlite is not a spine batch state file\."):
        BatchState(other)
    newer = tmp_path / "newer.sqlite"
    BatchState(newer).close()
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(BatchStateError, match=r"written by a newer spine"):
        BatchState(newer)
    with pytest.raises(BatchStateError, match=r"Cannot open the batch state"):
        BatchState(junk / "sub" / "s.sqlite")


def test_the_runner_lock_is_exclusive_and_released_on_close(tmp_path):
    path = tmp_path / "s.sqlite"
    first = BatchState(path)
    first.lock()
    second = BatchState(path)
    with pytest.raises(BatchStateError, match=rf"Another `spine batch run` \(pid {os.getpid()}\) "
                                              rf"is using {path}\.") as excinfo:
        second.lock()
    assert excinfo.value.exit_code == 2 and "--state" in excinfo.value.hint
    first.close()
    second.lock()
    second.close()


# --- several processes ----------------------------------------------------------------------

_HAMMER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from spine_cli.local.batch_state import BatchMeta, BatchState
    path, start, n = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    keys = [f"k{i:03d}" for i in range(n)]
    time.sleep(max(0.0, start - time.time()))  # every process opens a new file at once
    with BatchState(path) as st:
        st.bind(BatchMeta("rows.jsonl", "x", "jsonl"), [(k, i, "d" + k) for i, k in enumerate(keys)])
        mine = []
        for key in keys:
            if st.mark_creating(key):
                st.mark_created(key, f"run-{key}-{sys.argv[4]}")
                st.observe(key, "running")
                st.mark_finished(key, "completed", 0)
                mine.append(key)
    print(" ".join(mine))
""")


def test_processes_hammering_one_state_claim_each_row_once(tmp_path):
    path, n, workers = tmp_path / "s.sqlite", 60, 6
    start = time.time() + 1.5  # interpreter start-up of every worker must fit in this
    procs = [subprocess.Popen([sys.executable, "-c", _HAMMER, str(path), str(start), str(n), str(w)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in range(workers)]
    outputs = [p.communicate(timeout=90) for p in procs]
    assert [p.returncode for p in procs] == [0] * workers, outputs
    assert all(err == "" for _, err in outputs), outputs
    claimed = [out.split() for out, _ in outputs]
    every = [k for keys in claimed for k in keys]
    assert sorted(every) == [f"k{i:03d}" for i in range(n)]  # each row once, none lost
    with BatchState(path) as st:
        rows = {r.key: r for r in st.rows()}
        assert {r.state for r in rows.values()} == {"done"} and {r.attempts for r in rows.values()} == {1}
        for worker, keys in enumerate(claimed):
            assert all(rows[k].run_id == f"run-{k}-{worker}" for k in keys)


_MARK_AND_HANG = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from spine_cli.local.batch_state import BatchMeta, BatchState
    st = BatchState(Path(sys.argv[1]))
    st.bind(BatchMeta("rows.jsonl", "x", "jsonl"), [("acme", 1, "d1"), ("beta", 2, "d2")])
    st.lock()
    st.on_resume()
    assert st.mark_creating("acme")
    print("marked", flush=True)
    time.sleep(60)  # the POST would be in flight here
    st.mark_created("acme", "run-never-recorded")
""")


def test_sigkill_between_creating_and_created_resumes_uncertain(tmp_path):
    path = tmp_path / "s.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", _MARK_AND_HANG, str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "marked\n"  # type: ignore[union-attr]
        with BatchState(path) as watcher:
            with pytest.raises(BatchStateError, match=rf"pid {proc.pid}"):
                watcher.lock()  # the writer still holds the runner lock
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    with BatchState(path) as st:
        assert st.row("acme").state == "creating"  # type: ignore[union-attr]
        st.lock()  # the kernel dropped the dead writer's lock
        assert st.on_resume() == ["acme"]
        assert {r.key: r.state for r in st.rows()} == {"acme": "uncertain", "beta": "pending"}
        assert st.mark_creating("acme") is False and st.row("acme").run_id is None  # type: ignore[union-attr]


_RUNNER = textwrap.dedent("""
    import os, random, sys, time
    from pathlib import Path
    from spine_cli.local.batch_state import BatchMeta, BatchState
    path, posts, seed = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    rng = random.Random(seed)
    keys = [f"k{i:02d}" for i in range(30)]
    st = BatchState(path)
    st.bind(BatchMeta("rows.jsonl", "x", "jsonl"), [(k, i, "d" + k) for i, k in enumerate(keys)])
    st.lock()
    st.on_resume()
    def say(*words):
        print(*words, flush=True)
        time.sleep(rng.random() * 0.002)
    for key in st.plan(keys)["create"] + st.plan(keys)["wait"]:
        if st.row(key).state in ("pending", "not_created"):
            if not st.mark_creating(key):
                continue
            say("creating", key)
            with open(posts, "a") as log:  # the emulator's request log, in miniature
                log.write(key + "\\n")
            say("posted", key)
            st.mark_created(key, "run-" + key)
            say("created", key)
        st.mark_finished(key, "completed", 0)
        say("done", key)
""")
_ORDER = ["pending", "creating", "created", "done"]


def test_random_sigkills_never_lose_a_transition_nor_post_twice(tmp_path):
    path, posts = tmp_path / "s.sqlite", tmp_path / "posts.log"
    rng = random.Random(1414)
    deadline = time.monotonic() + 60
    for round_ in range(12):
        proc = subprocess.Popen([sys.executable, "-c", _RUNNER, str(path), str(posts), str(round_)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        said = []
        budget = rng.randint(0, 25) if round_ < 10 else 10_000  # the last rounds finish
        while len(said) < budget:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            said.append(line.split())
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode in (0, -signal.SIGKILL), err
        assert "Traceback" not in err, err
        with BatchState(path) as st:
            rows = {r.key: r for r in st.rows()}
        assert len(rows) == 30  # no row lost
        for what, key in said:  # every transition reported committed is still there
            if what in _ORDER:
                assert _ORDER.index(rows[key].state if rows[key].state != "uncertain" else "creating") \
                    >= _ORDER.index(what), (round_, what, key, rows[key].state)
        assert time.monotonic() < deadline
    post_counts = {}
    for key in posts.read_text().split():
        post_counts[key] = post_counts.get(key, 0) + 1
    with BatchState(path) as st:
        final = {r.key: r for r in st.rows()}
    assert max(post_counts.values()) == 1  # never a second POST for a row
    for key, row in final.items():
        assert row.state in ("done", "uncertain"), (key, row.state)
        if row.run_id is not None:
            assert post_counts.get(key) == 1  # every created run was posted exactly once
        assert row.attempts <= 1


# --- with a real batch file ---------------------------------------------------------------

def test_a_batch_file_bound_edited_and_resumed(tmp_path):
    from spine_cli.runs.batch.input import read_batch, state_rows
    from spine_cli.runs.batch.keys import parse_shard
    from spine_cli.runs.batch.template import parse_prompt_template

    file = tmp_path / "clients.csv"
    file.write_text("key,client\nacme,Acme\nbeta,Beta\ngamma,Gamma\n")
    template = parse_prompt_template("Memo for {client}")
    batch = read_batch(str(file), prompt_template=template)
    shard = parse_shard("1/1")
    path = state_path(str(file), None, (shard.k, shard.n))
    assert path == tmp_path / "clients.csv.shard-1-of-1.spine-batch.sqlite"
    with BatchState(path) as st:
        meta = batch.state_meta(shard)
        assert (meta.input, meta.shard, meta.prompt_template) == (str(file), (1, 1), "Memo for {client}")
        st.bind(meta, state_rows(batch.select(shard)))
        st.mark_creating("acme")
        st.mark_created("acme", "run-a")
    file.write_text("key,client\nacme,ACME Corp\ngamma,Gamma\ndelta,Delta\n")
    edited = read_batch(str(file), prompt_template=template)
    with BatchState(path) as st:
        diff = st.bind(edited.state_meta(shard), state_rows(edited.select(shard)))
        assert (diff.input_changed, diff.added, diff.removed, diff.changed) == \
            (True, ["delta"], ["beta"], ["acme"])
        assert st.plan([r.key for r in edited.rows]) == {
            "create": ["gamma", "delta"], "wait": ["acme"], "download": [], "skip": [],
            "uncertain": []}
        with pytest.raises(BatchStateError, match="prompt template differs"):
            st.bind(read_batch(str(file), prompt_template=parse_prompt_template("Hi {client}"))
                    .state_meta(shard), [])
