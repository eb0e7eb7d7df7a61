"""Reading and validating batch files: formats, fields, paths, templates, keys, bounds."""

from __future__ import annotations

import os

import hashlib
import io
import json
from pathlib import Path

import pytest

from spine_cli.errors import ExitCode, UsageError
from spine_cli.runs.batch import formats as batch_formats
from spine_cli.runs.batch.formats import Limits
from spine_cli.runs.batch.input import BatchInputError, read_batch
from spine_cli.runs.batch.template import load_prompt_template, parse_prompt_template


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A batch directory with data files, and a cwd elsewhere (paths are FILE-relative)."""
    root = tmp_path / "proj"
    (root / "data").mkdir(parents=True)
    (root / "data" / "q3.csv").write_text("region,sales\nemea,3\n")
    (root / "data" / "notes.md").write_text("# notes\n")
    (root / "brief.md").write_text("Write the Q3 memo.\n")
    (root / "rules.txt").write_text("Be brief.")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return root


def write_jsonl(path: Path, *objs: object) -> str:
    path.write_text("".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objs))
    return str(path)


def fail(file: str, **kwargs: object) -> BatchInputError:
    with pytest.raises(BatchInputError) as excinfo:
        read_batch(file, **kwargs)  # type: ignore[arg-type]
    assert excinfo.value.exit_code == ExitCode.USAGE == 2
    return excinfo.value


# --- JSONL and CSV ----------------------------------------------------------------

def test_jsonl_rows_become_create_specs_with_paths_relative_to_the_file(project):
    file = write_jsonl(project / "rows.jsonl",
                       {"key": "acme", "prompt_file": "brief.md", "template": "memo",
                        "blocks": ["document", "excel-block"], "files": ["data/q3.csv", "./data/notes.md"],
                        "instructions_file": "rules.txt", "webhook_url": "https://example.com/hook"},
                       {"prompt": "Second", "blocks": "document;excel", "files": "data/q3.csv"})
    batch = read_batch(file)
    assert batch.format == "jsonl" and batch.file == file and batch.base_dir == project
    assert batch.sha256 == hashlib.sha256(Path(file).read_bytes()).hexdigest()
    first, second = batch.rows
    assert (first.line, first.key, first.key_given) == (1, "acme", True)
    spec = first.spec
    assert spec.prompt == "Write the Q3 memo.\n" and spec.template == "memo"
    assert spec.blocks == ["document-block", "excel-block"]
    assert [f.path for f in spec.files] == [project / "data" / "q3.csv", project / "data" / "notes.md"]
    assert spec.instructions == "Be brief." and spec.webhook_url == "https://example.com/hook"
    assert first.columns["files"] == ["data/q3.csv", "./data/notes.md"]
    assert first.upload_bytes() == (project / "data/q3.csv").stat().st_size + 8
    assert second.key.startswith("row-") and len(second.key) == 16 and not second.key_given
    assert second.spec.blocks == ["document-block", "excel-block"]
    assert second.spec.template is None and second.spec.instructions is None


def test_csv_rows_with_bom_quoted_multiline_cells_blank_rows_and_extra_columns(project):
    text = ("\ufeffkey , prompt,blocks,files,client,notes\r\n"
            'a,"Line one\nline two",document,data/q3.csv;data/notes.md,Acme,x\r\n'
            ",,,,,\r\n"
            "\r\n"
            "b,Plain,\"document,excel\",,Beta,\r\n")
    (project / "rows.csv").write_bytes(text.encode("utf-8"))
    batch = read_batch(str(project / "rows.csv"))
    assert batch.format == "csv"
    a, b = batch.rows
    assert (a.line, a.key, a.spec.prompt) == (2, "a", "Line one\nline two")
    assert [f.path for f in a.spec.files] == [project / "data/q3.csv", project / "data/notes.md"]
    assert (b.line, b.spec.blocks, b.spec.files) == (6, ["document-block", "excel-block"], [])
    assert batch.extra_columns == ["client", "notes"]


@pytest.mark.parametrize("name, fmt, expected", [
    ("r.jsonl", None, "jsonl"), ("r.NDJSON", None, "jsonl"), ("r.Csv", None, "csv"),
    ("r.txt", "csv", "csv"), ("r.csv", "ndjson", "jsonl"), ("-", None, "jsonl"), ("-", "CSV", "csv"),
])
def test_format_from_extension_or_flag(name, fmt, expected):
    assert batch_formats.input_format(name, fmt) == expected


def test_unknown_format_and_extension_are_usage_errors():
    with pytest.raises(UsageError, match=r"Cannot tell the format of rows\.txt") as excinfo:
        batch_formats.input_format("rows.txt")
    assert ".jsonl, .ndjson or .csv" in excinfo.value.hint
    with pytest.raises(UsageError, match=r"Unknown --format 'xml': use jsonl or csv\."):
        batch_formats.input_format("rows.csv", "xml")


def test_stdin_is_jsonl_and_relative_paths_are_relative_to_the_cwd(project, monkeypatch):
    monkeypatch.chdir(project)
    data = b'{"key": 7, "prompt": "p", "files": ["data/q3.csv"]}\n'
    batch = read_batch("-", stdin=io.BytesIO(data))
    assert batch.display == "<stdin>" and batch.base_dir == project
    assert batch.rows[0].key == "7" and [f.path for f in batch.rows[0].spec.files] == [project / "data/q3.csv"]
    csv_batch = read_batch("-", fmt="csv", stdin=io.BytesIO(b"prompt\nhello\n"))
    assert csv_batch.rows[0].spec.prompt == "hello"


def test_missing_unreadable_empty_and_non_utf8_files(project):
    with pytest.raises(UsageError, match=r"^Batch file not found: nope\.csv$"):
        read_batch("nope.csv")
    (project / "dir.csv").mkdir()
    with pytest.raises(UsageError, match=r"is a directory"):
        read_batch(str(project / "dir.csv"))
    (project / "empty.jsonl").write_text("\n\n")
    with pytest.raises(UsageError, match=r"empty\.jsonl has no rows\.$"):
        read_batch(str(project / "empty.jsonl"))
    (project / "head.csv").write_text("prompt,key\n")
    with pytest.raises(UsageError, match=r"has no rows"):
        read_batch(str(project / "head.csv"))
    (project / "latin.jsonl").write_bytes(b'{"prompt": "a"}\n{"prompt": "caf\xe9"}\n')
    with pytest.raises(UsageError, match=r"latin\.jsonl:2: not UTF-8 text\.") as excinfo:
        read_batch(str(project / "latin.jsonl"))
    assert excinfo.value.hint == "Save the file as UTF-8."


# --- validation: every problem, with FILE:line: field -------------------------------

def test_errors_name_file_line_and_field_and_are_all_collected(project, monkeypatch):
    monkeypatch.chdir(project)
    rows = ["key,prompt,template,blocks,files,webhook_url"]
    rows += [f"r{i},p{i},,,," for i in range(2, 14)]
    rows += ["r14,fine,,,data/q3.xlsx,",
             "r15,,nope,foo,data,ftp://x",
             "r16,p,,,data/q3.csv;pipe,"]
    (project / "batch.csv").write_text("\n".join(rows) + "\n")
    os.mkfifo(project / "pipe")  # refused without being opened: it would block
    err = fail("batch.csv")
    assert str(err).splitlines() == [
        "7 problems in batch.csv:",
        "  batch.csv:14: files: file not found: data/q3.xlsx",
        "  batch.csv:15: prompt: the prompt is empty.",
        "  batch.csv:15: template: unknown template 'nope'. Valid templates: app, auto, "
        "deep_research, excel, landing_page, memo, report, slides.",
        "  batch.csv:15: blocks: unknown block type 'foo'. Valid block types: "
        + ", ".join(__import__("spine_cli.api.catalog", fromlist=["x"]).BLOCK_TYPES) + ".",
        "  batch.csv:15: webhook_url: invalid URL 'ftp://x': it must be an http(s) URL.",
        "  batch.csv:15: files: data is a directory; attach files one by one with --file.",
        "  batch.csv:16: files: pipe is a FIFO, not a regular file; --file takes regular files "
        "(for piped bytes use --file '-;filename=NAME').",
    ]
    assert err.hint == "Nothing was sent: every row is checked before the first run is created."
    assert [(e.line, e.field) for e in err.errors][:2] == [(14, "files"), (15, "prompt")]


def test_one_problem_is_one_line_and_many_are_capped_at_twenty(project):
    one = fail(write_jsonl(project / "one.jsonl", {"prompt": "ok"}, {"prompt": ""}))
    assert str(one) == f"{project / 'one.jsonl'}:2: prompt: the prompt is empty."
    many = fail(write_jsonl(project / "many.jsonl", *[{"template": "x", "prompt": "p"}] * 30))
    lines = str(many).splitlines()
    assert lines[0] == f"30 problems in {project / 'many.jsonl'}:"
    assert len(lines) == 1 + 20 + 1 and lines[-1] == "  … and 10 more."
    assert len(many.errors) == 30


def test_prompt_rules(project):
    file = write_jsonl(
        project / "p.jsonl",
        {"prompt": "a", "prompt_file": "brief.md"}, {"template": "memo"}, {"prompt": "   \n"},
        {"prompt_file": "missing.md"}, {"prompt_file": "data"}, {"prompt": 5},
        {"prompt": "-"}, {"prompt_file": "latin.md"}, {"instructions": "a", "instructions_file": "rules.txt"},
        {"prompt": "x", "instructions_file": "nope.txt"})
    (project / "latin.md").write_bytes(b"caf\xe9")
    err = fail(file)
    assert [e.format("p") for e in err.errors] == [
        "p:1: prompt: give prompt or prompt_file, not both.",
        "p:2: prompt: a prompt is required: a prompt or prompt_file column, or --prompt-template.",
        "p:3: prompt: the prompt is empty.",
        "p:4: prompt_file: prompt file not found: missing.md",
        "p:5: prompt_file: prompt file data is a directory.",
        "p:6: prompt: expected text, got a number.",
        "p:8: prompt_file: prompt file latin.md is not UTF-8 text.",
        "p:9: prompt: a prompt is required: a prompt or prompt_file column, or --prompt-template.",
        "p:9: instructions: give instructions or instructions_file, not both.",
        "p:10: instructions_file: instructions file not found: nope.txt",
    ]


def test_lists_types_and_empty_blocks(project):
    file = write_jsonl(project / "l.jsonl",
                       {"prompt": "p", "blocks": []}, {"prompt": "p", "files": [1]},
                       {"prompt": "p", "files": {"a": 1}}, {"prompt": "p", "template": ["memo"]},
                       {"prompt": "p", "blocks": ";"})
    assert [e.format("l") for e in fail(file).errors] == [
        "l:1: blocks: an empty list is refused; leave blocks out to let the template choose.",
        "l:2: files: expected a list of strings.",
        "l:3: files: expected text, got an object.",
        "l:4: template: expected text, got a list.",
        "l:5: blocks: an empty list is refused; leave blocks out to let the template choose.",
    ]


def test_keys_given_must_be_printable_bounded_text_or_integers(project):
    file = write_jsonl(project / "k.jsonl",
                       {"key": "", "prompt": "p"}, {"key": "x" * 201, "prompt": "p"},
                       {"key": "a\tb", "prompt": "p"}, {"key": True, "prompt": "p"},
                       {"key": "  spaced  ", "prompt": "p"}, {"key": 12, "prompt": "p"})
    err = fail(file)
    assert [e.format("k") for e in err.errors] == [
        "k:1: key: the key is empty; give every row a key, or drop the key column to key rows "
        "by their content.",
        "k:2: key: the key is 201 characters long; the limit is 200.",
        "k:3: key: the key contains control characters.",
        "k:4: key: expected text or an integer, got a boolean.",
    ]


def test_duplicate_keys_name_both_lines(project):
    file = write_jsonl(project / "d.jsonl", {"key": "a", "prompt": "1"}, {"prompt": "same"},
                       {"key": "a", "prompt": "2"}, {"prompt": "same"})
    err = fail(file)
    hashed = read_batch(write_jsonl(project / "one.jsonl", {"prompt": "same"})).rows[0].key
    assert [e.format("d") for e in err.errors] == [
        "d:3: key: duplicate key 'a' (also on line 1).",
        f"d:4: key: this row is identical to line 2 (both are keyed {hashed}); add a key "
        "column to run both.",
    ]


def test_malformed_jsonl_lines(project):
    file = write_jsonl(project / "m.jsonl", '{"prompt": "ok"}', "{bad", "[1, 2]", '"text"',
                       json.dumps({"prompt": "x" * 80}))
    assert [e.format("m") for e in fail(file, limits=Limits(record_chars=60)).errors] == [
        "m:2: not valid JSON: Expecting property name enclosed in double quotes (column 2).",
        "m:3: expected a JSON object {...}, got a list.",
        "m:4: expected a JSON object {...}, got a string.",
        "m:5: the line is longer than 60 characters.",
    ]


def test_malformed_csv(project):
    (project / "cells.csv").write_text("prompt,key\nok,a\nonly\nx,b,extra\n")
    assert [e.format("c") for e in fail(str(project / "cells.csv")).errors] == [
        "c:3: 1 cells where the header has 2 columns.", "c:4: 3 cells where the header has 2 columns."]
    (project / "dupe.csv").write_text("prompt,prompt\na,b\n")
    with pytest.raises(UsageError, match=r"dupe\.csv:1: the header names 'prompt' more than once\."):
        read_batch(str(project / "dupe.csv"))
    (project / "unnamed.csv").write_text("prompt,\na,\nb,oops\n")
    assert [e.format("u") for e in fail(str(project / "unnamed.csv")).errors] == [
        "u:3: a value in a column without a header name."]
    (project / "huge.csv").write_text("prompt\n" + "x" * 200_000 + "\nfine\n")
    assert [e.format("h") for e in fail(str(project / "huge.csv")).errors] == [
        "h:2: a cell is longer than 131072 characters; put a long prompt in a prompt_file."]


# --- bounds -------------------------------------------------------------------------

def test_row_count_input_size_and_field_caps(project):
    file = write_jsonl(project / "b.jsonl", *[{"prompt": f"p{i}"} for i in range(5)])
    assert len(read_batch(file, limits=Limits(rows=5)).rows) == 5
    with pytest.raises(UsageError, match=r"b\.jsonl has more than 4 rows; split it"):
        read_batch(file, limits=Limits(rows=4))
    tiny = Limits(input_bytes=40)
    with pytest.raises(UsageError, match=r"larger than 0 MiB"):
        read_batch(file, limits=tiny)
    with pytest.raises(UsageError, match=r"<stdin> is larger"):
        read_batch("-", stdin=io.BytesIO(b"x" * 41), limits=tiny)
    assert [e.format("b") for e in fail(file, limits=Limits(field_chars=1)).errors][:1] == [
        "b:1: prompt: longer than 1 characters; put it in a file."]


def test_text_file_and_total_text_caps(project):
    file = write_jsonl(project / "t.jsonl", {"prompt_file": "brief.md"})
    assert [e.format("t") for e in fail(file, limits=Limits(text_file_bytes=5)).errors] == [
        "t:1: prompt_file: prompt file brief.md is larger than 5 bytes."]
    big = write_jsonl(project / "big.jsonl", *[{"prompt": "ten chars!"}, {"prompt": "ten chars?"},
                                               {"prompt": "ten chars."}])
    assert len(read_batch(big, limits=Limits(total_text_chars=30)).rows) == 3
    with pytest.raises(UsageError, match=r"prompts and instructions of .*big\.jsonl total more"):
        read_batch(big, limits=Limits(total_text_chars=25))


def test_too_many_files_per_row(project):
    file = write_jsonl(project / "f.jsonl", {"prompt": "p", "files": ["data/q3.csv"] * 3})
    assert [e.format("f") for e in fail(file, limits=Limits(files_per_row=2)).errors] == ["f:1: files: 3 files; the limit is 2 per row."]


# --- keys by content -----------------------------------------------------------------

def test_hash_keys_are_stable_and_depend_on_content_not_on_file_bytes(project, tmp_path):
    row = {"prompt": "p", "template": "memo", "blocks": ["document"], "files": ["./data/q3.csv"]}
    key = read_batch(write_jsonl(project / "a.jsonl", row)).rows[0].key
    reordered = dict(reversed(list(row.items())), files=["data/q3.csv"])
    assert read_batch(write_jsonl(project / "b.jsonl", reordered)).rows[0].key == key
    assert read_batch(write_jsonl(project / "c.jsonl", {**row, "blocks": ["document-block"]})
                      ).rows[0].key == key
    (project / "data" / "q3.csv").write_text("changed contents\n")
    again = read_batch(write_jsonl(project / "a.jsonl", row)).rows[0]
    assert again.key == key
    # A moved checkout keeps its keys: paths are hashed as written, not absolute.
    moved = tmp_path / "moved"
    (project).rename(moved)
    assert read_batch(str(moved / "a.jsonl")).rows[0].key == key
    for change in ({"prompt": "q"}, {"template": "report"}, {"blocks": ["excel"]},
                   {"files": ["data/notes.md"]}, {"instructions": "i"},
                   {"webhook_url": "https://h.example"}):
        other = read_batch(write_jsonl(moved / "d.jsonl", {**row, **change})).rows[0]
        assert other.key != key and other.digest != again.digest, change
    assert again.key == "row-" + again.digest[:12]


def test_given_keys_keep_the_content_digest(project):
    batch = read_batch(write_jsonl(project / "k.jsonl", {"key": "x", "prompt": "p"}, {"prompt": "p"}))
    assert batch.rows[0].digest == batch.rows[1].digest and batch.rows[0].key == "x"


# --- prompt templates ----------------------------------------------------------------

def test_template_fills_columns_with_literal_braces_and_json_values(project):
    (project / "t.csv").write_text("client name,topic,extra\nAcme,Q3,x\nBeta,,y\n")
    tpl = parse_prompt_template("Memo for {client name} on {topic}. Use {{json}} and {topic}.")
    assert tpl.columns == ("client name", "topic")
    batch = read_batch(str(project / "t.csv"), prompt_template=tpl)
    assert [r.spec.prompt for r in batch.rows] == [
        "Memo for Acme on Q3. Use {json} and Q3.", "Memo for Beta on . Use {json} and ."]
    assert batch.extra_columns == ["extra"] and batch.prompt_template is tpl
    file = write_jsonl(project / "t.jsonl", {"n": 3, "tags": ["a", "b"], "ok": True, "s": "é"})
    row = read_batch(file, prompt_template=parse_prompt_template("{n} {tags} {ok} {s}")).rows[0]
    assert row.spec.prompt == '3 ["a", "b"] true é'


def test_template_errors_name_row_and_column(project):
    file = write_jsonl(project / "t.jsonl", {"client": "A"}, {"other": "B"}, {"client": None},
                       {"client": "C", "prompt_file": "brief.md"}, {"client": "   "})
    tpl = parse_prompt_template("{client}")
    assert [e.format("t") for e in fail(file, prompt_template=tpl).errors] == [
        "t:2: prompt template: no column 'client' in this row (used as {client}).",
        "t:3: prompt template: no column 'client' in this row (used as {client}).",
        "t:4: prompt_file: cannot be used with a prompt template, which makes the prompt.",
        "t:5: prompt: the prompt is empty.",
    ]


@pytest.mark.parametrize("text, message", [
    ("a } b", r"malformed: Single '}' encountered in format string\."),
    ("a { b", r"malformed: expected '}' before end of string\."),
    ("x {} y", r"has an empty placeholder \{\}; name a column, e\.g\. \{client\}\."),
    ("{a!r}", r"has \{a!r\}: placeholders are plain column names"),
    ("{a:>5}", r"has \{a:>5\}: placeholders are plain column names"),
])
def test_template_syntax_errors(text, message):
    with pytest.raises(UsageError, match=message) as excinfo:
        parse_prompt_template(text)
    assert excinfo.value.exit_code == 2 and str(excinfo.value).startswith(
        "The prompt template (--prompt-template)")


def test_template_without_placeholders_gives_every_row_the_same_prompt(project):
    file = write_jsonl(project / "s.jsonl", {"files": ["data/q3.csv"]}, {"files": ["data/notes.md"]})
    batch = read_batch(file, prompt_template=parse_prompt_template("Summarise the attached file."))
    assert {r.spec.prompt for r in batch.rows} == {"Summarise the attached file."}
    assert len({r.key for r in batch.rows}) == 2


def test_template_from_file(project):
    (project / "tpl.md").write_bytes("\ufeffHello {client}".encode())
    tpl = load_prompt_template(None, str(project / "tpl.md"))
    assert tpl is not None and tpl.text == "Hello {client}" and tpl.source == str(project / "tpl.md")
    assert load_prompt_template(None, None) is None
    assert load_prompt_template("Hi {x}", None).columns == ("x",)  # type: ignore[union-attr]
    with pytest.raises(UsageError, match=r"not both"):
        load_prompt_template("a", "b")
    with pytest.raises(UsageError, match=r"^Prompt template file not found: nope\.md$"):
        load_prompt_template(None, "nope.md")
    with pytest.raises(UsageError, match=r"larger than 4 bytes"):
        load_prompt_template(None, str(project / "tpl.md"), max_bytes=4)
    with pytest.raises(UsageError, match=r"\(.*tpl\.md\) is malformed"):
        (project / "tpl.md").write_text("{")
        load_prompt_template(None, str(project / "tpl.md"))
