"""Batch results: per-row exit codes, the results file, merging shards, the Markdown table."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from spine_cli.errors import UsageError
from spine_cli.local.batch_state import BatchMeta, BatchState
from spine_cli.runs.batch.keys import shard_of
from spine_cli.runs.batch.merge import (BatchMergeError, build_results, merge, read_results,
                                        render_markdown, row_exit_code, row_result, write_results)

NOW = datetime(2025, 1, 31, 12, 0, tzinfo=timezone.utc)
SHA = "c" * 64


def run_rows(st: BatchState, outcomes: dict[str, tuple]) -> None:
    """Drive each row to an outcome: (state, status, exit_code, download_ok)."""
    for key, (state, status, code, download_ok) in outcomes.items():
        if state == "pending":
            continue
        st.mark_creating(key)
        if state == "creating":
            continue
        if state == "uncertain":
            st.mark_uncertain(key, "connection dropped after sending")
            continue
        if state == "not_created":
            st.mark_not_created(key, "Invalid blocks", code)
            continue
        st.mark_created(key, f"run-{key}", canvas_id=f"canvas-{key}")
        if state == "created":
            continue
        st.mark_finished(key, status, code, errors=[{"error": "Agent execution failed"}]
                         if status == "failed" else ())
        if download_ok is not None:
            st.record_download(key, f"out/{key}", download_ok, None if download_ok else "x.docx: 403")


def results_for(tmp_path: Path, name: str, outcomes: dict[str, tuple], *,
                shard: tuple[int, int] | None = None, sha: str = SHA,
                template: str | None = None) -> str:
    path = tmp_path / f"{name}.sqlite"
    with BatchState(path) as st:
        st.bind(BatchMeta("rows.csv", sha, "csv", shard, template),
                [(k, i + 2, "d" + k) for i, k in enumerate(outcomes)])
        run_rows(st, outcomes)
        out = tmp_path / f"{name}.json"
        write_results(str(out), build_results(st, now=NOW))
    return str(out)


ALL = {
    "ok": ("done", "completed", 0, True),
    "part": ("done", "partial", 5, None),
    "bad": ("done", "failed", 3, None),
    "nodl": ("done", "completed", 0, False),
    "wait": ("created", None, None, None),
    "todo": ("pending", None, None, None),
    "unsure": ("uncertain", None, None, None),
    "mid": ("creating", None, None, None),
    "refused": ("not_created", None, 2, None),
}


def test_results_of_a_state(tmp_path):
    data = json.loads(Path(results_for(tmp_path, "r", ALL, template="Hi {x}")).read_text())
    assert data["kind"] == "spine.batch.results" and data["version"] == 1
    assert data["batch"] == {
        "input": "rows.csv", "input_sha256": SHA, "format": "csv",
        "prompt_template_sha256": hashlib.sha256(b"Hi {x}").hexdigest(),
        "shard": None, "shards": [], "generated_at": "2025-01-31T12:00:00.000000Z"}
    codes = {r["key"]: r["exit_code"] for r in data["rows"]}
    assert codes == {"ok": 0, "part": 5, "bad": 3, "nodl": 7, "wait": 6, "todo": 6, "unsure": 8,
                     "mid": 8, "refused": 2}
    assert data["summary"] == {
        "rows": 9, "exit_code": 2,
        "states": {"pending": 1, "creating": 1, "created": 1, "uncertain": 1, "not_created": 1,
                   "done": 4},
        "statuses": {"completed": 2, "partial": 1, "failed": 1, "running": 1}}
    bad = next(r for r in data["rows"] if r["key"] == "bad")
    assert bad == {"key": "bad", "line": 4, "state": "done", "run_id": "run-bad",
                   "canvas_id": "canvas-bad", "status": "failed", "exit_code": 3,
                   "download_dir": None, "attempts": 1,
                   "errors": [{"stage": "run", "error": "Agent execution failed"}]}
    assert [r["line"] for r in data["rows"]] == list(range(2, 11))
    assert not list(tmp_path.glob("*.part"))


def test_a_partial_run_whose_download_failed_is_a_download_error(tmp_path):
    with BatchState(tmp_path / "s.sqlite") as st:
        st.bind(BatchMeta("f", SHA, "csv"), [("a", 1, "d")])
        run_rows(st, {"a": ("done", "partial", 5, False)})
        row = st.row("a")
        assert row is not None and row_exit_code(row) == 7
        assert row_result(row)["exit_code"] == 7 and row_result(row)["download_dir"] == "out/a"


def test_writing_results_is_atomic_and_errors_are_clear(tmp_path):
    with pytest.raises(UsageError, match=r"^Cannot write the results to .*/no/such/r\.json: "
                                         r"No such file or directory\.$") as excinfo:
        write_results(str(tmp_path / "no" / "such" / "r.json"), {"a": 1})
    assert excinfo.value.exit_code == 2
    target = tmp_path / "r.json"
    target.write_text("old")
    with pytest.raises(TypeError):
        write_results(str(target), {"a": object()})  # a failed write leaves the old file whole
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


@pytest.mark.parametrize("content, message", [
    (None, r"^Results file not found: "), ("{not json", r"is not JSON"),
    ('{"kind": "other"}', r"is not a spine batch results file\."),
    ('{"kind": "spine.batch.results", "version": 2}', r"has results version 2; this spine reads version 1\."),
    ('{"kind": "spine.batch.results", "version": 1, "batch": {}, "rows": [{"key": 1}]}',
     r"is a damaged results file"),
])
def test_unreadable_results_files(tmp_path, content, message):
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(BatchMergeError, match=message) as excinfo:
        read_results(str(path))
    assert excinfo.value.exit_code == 2


# --- merging shards -------------------------------------------------------------------------

def sharded(n: int, count: int = 40) -> dict[int, dict[str, tuple]]:
    """`count` keys split into n shards, every fifth row failed."""
    shards: dict[int, dict[str, tuple]] = {k: {} for k in range(1, n + 1)}
    for i in range(count):
        key = f"client-{i:02d}"
        outcome = ("done", "failed", 3, None) if i % 5 == 0 else ("done", "completed", 0, True)
        shards[shard_of(key, n)][key] = outcome
    return shards


def shard_files(tmp_path: Path, n: int, **kwargs) -> list[str]:
    return [results_for(tmp_path, f"s{k}", rows, shard=(k, n), **kwargs)
            for k, rows in sharded(n).items()]


def test_merging_every_shard(tmp_path):
    files = shard_files(tmp_path, 3)
    report = merge(list(reversed(files)), now=NOW)
    assert report.missing_shards == [] and report.exit_code == 3
    assert sorted(r["key"] for r in report.rows) == [f"client-{i:02d}" for i in range(40)]
    out = report.to_json()
    assert out["batch"]["shards"] == [{"k": 1, "n": 3}, {"k": 2, "n": 3}, {"k": 3, "n": 3}]
    assert out["batch"]["shard"] is None and out["batch"]["sources"] == list(reversed(files))
    assert out["summary"]["statuses"] == {"completed": 32, "failed": 8}
    assert [r["line"] for r in out["rows"]] == sorted(r["line"] for r in out["rows"])
    # A merged report is itself a results file: it merges again, alone.
    merged = tmp_path / "merged.json"
    write_results(str(merged), out)
    assert len(merge([str(merged)]).rows) == 40


def test_a_missing_shard_is_reported_and_makes_the_batch_unfinished(tmp_path):
    files = shard_files(tmp_path, 4)
    report = merge([files[0], files[2]], now=NOW)
    assert report.missing_shards == [2, 4] and report.to_json()["batch"]["missing_shards"] == [2, 4]
    assert report.exit_code == 3  # worst wins: a failed row outranks the unfinished shards
    assert "**Missing shards:** 2/4, 4/4; their rows are not in this report." in report.markdown()
    (tmp_path / "ok").mkdir()
    good = [results_for(tmp_path / "ok", f"s{k}", {key: ALL["ok"] for key in rows}, shard=(k, 2))
            for k, rows in sharded(2).items()]
    assert merge(good).exit_code == 0 and merge(good[:1]).exit_code == 6


def test_refusals(tmp_path):
    (tmp_path / "a").mkdir()
    three = shard_files(tmp_path / "a", 3)
    with pytest.raises(BatchMergeError, match=r"^Shard 1/3 is in both .*s1\.json and .*s1\.json\.$"):
        merge([three[0], three[0]])
    (tmp_path / "b").mkdir()
    other_batch = shard_files(tmp_path / "b", 3, sha="d" * 64)
    with pytest.raises(BatchMergeError, match=r"are results of different batches \(their input "
                                              r"file differs\)\.") as excinfo:
        merge([three[0], other_batch[1]])
    assert "same FILE and prompt template" in excinfo.value.hint
    (tmp_path / "c").mkdir()
    templated = shard_files(tmp_path / "c", 3, template="{x}")
    with pytest.raises(BatchMergeError, match=r"their prompt template differs"):
        merge([three[0], templated[1]])
    (tmp_path / "d").mkdir()
    two = shard_files(tmp_path / "d", 2)
    with pytest.raises(BatchMergeError, match=r"^The results come from different shard counts: "
                                              r"1/2 \(.*\), 1/3 \(.*\)$"):
        merge([three[0], two[0]])
    whole = results_for(tmp_path, "whole", {"client-00": ALL["ok"]})
    with pytest.raises(BatchMergeError, match=r"mix a sharded and an unsharded run"):
        merge([three[0], whole])
    again = results_for(tmp_path / "d", "again", {"client-00": ALL["ok"]})
    with pytest.raises(BatchMergeError, match=r"^Row 'client-00' is in both .*whole\.json and "
                                              r".*again\.json\.$"):
        merge([whole, again])
    with pytest.raises(BatchMergeError, match=r"at least one results file"):
        merge([])


def test_a_mislabelled_shard_file_is_refused(tmp_path):
    files = shard_files(tmp_path, 3)
    data = json.loads(Path(files[0]).read_text())
    data["batch"]["shard"] = data["batch"]["shards"][0] = {"k": 2, "n": 3}
    Path(files[0]).write_text(json.dumps(data))
    with pytest.raises(BatchMergeError, match=r"does not belong to its shard\(s\) 2/3\."):
        merge([files[0]])


# --- Markdown -----------------------------------------------------------------------------

def test_markdown_table(tmp_path):
    report = merge([results_for(tmp_path, "r", {"ok": ALL["ok"], "bad": ALL["bad"]})], now=NOW)
    assert report.markdown() == (
        "**Batch rows.csv**: 2 rows (1 completed, 1 failed), exit code 3.\n"
        "\n"
        "| Key | Line | State | Status | Exit | Run | Download | Error |\n"
        "|---|---:|---|---|---:|---|---|---|\n"
        "| ok | 2 | done | completed | 0 | run-ok | out/ok |  |\n"
        "| bad | 3 | done | failed | 3 | run-bad |  | Agent execution failed |\n")


def test_markdown_cells_are_inert(tmp_path):
    results = {"batch": {"input": "a|b.csv", "shards": []},
               "summary": {"rows": 1, "exit_code": 3, "statuses": {}},
               "rows": [{"key": "k|<img src=x>", "line": 1, "state": "done", "status": "failed",
                         "exit_code": 3, "run_id": None, "download_dir": None,
                         "errors": [{"error": "line1\nline2 **bold** `code` \x1b[31mred" + "x" * 200}]}]}
    text = render_markdown(results)
    row = text.splitlines()[-1]
    assert row.startswith("| k\\|\\<img src=x\\> | 1 | done | failed | 3 |  |  | line1 line2 "
                          "\\*\\*bold\\*\\* \\`code\\` \\[31mred")
    assert "\x1b" not in text and "\n" not in row and row.endswith("… |")
    assert "**Batch a\\|b.csv**" in text


def test_markdown_keeps_failures_when_rows_are_capped(tmp_path):
    outcomes = {f"k{i:02d}": (ALL["bad"] if i in (3, 7) else ALL["ok"]) for i in range(10)}
    results = json.loads(Path(results_for(tmp_path, "r", outcomes)).read_text())
    text = render_markdown(results, max_rows=4)
    keys = [line.split(" | ")[0][2:] for line in text.splitlines() if line.startswith("| k")]
    assert keys == ["k00", "k01", "k03", "k07"]
    assert text.endswith("… and 6 more rows (all exit code 0): see the results JSON.\n")
    text = render_markdown(results, max_rows=1)
    assert text.endswith("… and 9 more rows (1 of them with a non-zero exit code): see the "
                         "results JSON.\n")


def test_the_documented_results_shape_is_the_one_written(tmp_path):
    doc = (Path(__file__).parent.parent / "docs" / "batch.md").read_text()
    example = doc.split("## Results", 1)[1].split("```json\n", 1)[1].split("```", 1)[0]
    documented = json.loads(example.replace("…", ""))
    written = json.loads(Path(results_for(tmp_path, "r", {"acme": ALL["ok"]}, shard=(1, 1)))
                         .read_text())
    assert documented.keys() == written.keys() and documented["kind"] == written["kind"]
    for part in ("batch", "summary"):
        assert documented[part].keys() == written[part].keys(), part
    assert documented["summary"]["states"].keys() == written["summary"]["states"].keys()
    assert documented["rows"][0].keys() == written["rows"][0].keys()
