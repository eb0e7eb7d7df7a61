"""Help that teaches: a summary and working examples for every command; the root epilog.

Every `spine ...` command line in an `Examples:` block, as `--help` shows it, is parsed the way
`spine` parses it (each command's own context, with its option types and
callbacks), so an unknown option, a missing argument or a bad value fails here.
Shell around the example (`RUN=$(...)`, pipes, `xargs`, quoting) is taken apart
with shlex first.
"""

from __future__ import annotations

import inspect
import re

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from spine_cli.app import ENV_VARS, app
from spine_cli.errors import EXIT_CODE_TABLE
from support.cmdline import (
    PLACEHOLDER_RUN, ROOT, parse_like_spine, parse_problems, spine_invocations,
)

runner = CliRunner()


def leaf_commands(cmd=ROOT, path=()):
    """(path, command) for every runnable command, depth first."""
    ctx = typer.Context(cmd, info_name=path[-1] if path else "spine")
    if hasattr(cmd, "list_commands"):
        for name in cmd.list_commands(ctx):
            yield from leaf_commands(cmd.get_command(ctx, name), (*path, name))
    else:
        yield path, cmd


def groups(cmd=ROOT, path=()):
    ctx = typer.Context(cmd, info_name="spine")
    if hasattr(cmd, "list_commands"):
        yield path, cmd
        for name in cmd.list_commands(ctx):
            yield from groups(cmd.get_command(ctx, name), (*path, name))


LEAVES = list(leaf_commands())
IDS = [" ".join(p) for p, _ in LEAVES]


def example_lines(help_text: str) -> list[str]:
    """The indented lines of the `Examples:` block of a docstring."""
    text = inspect.cleandoc(help_text or "").partition("\f")[0]
    _, found, block = text.partition("Examples:")
    if not found:
        return []
    lines = []
    for line in block.splitlines():
        if line.strip() and not line.startswith((" ", "\t")):
            break  # the block ends at the next unindented paragraph
        if line.strip():
            lines.append(line.strip())
    return lines


def shown_examples(path: tuple[str, ...], cmd) -> list[str]:
    """The example lines as `spine ... --help` shows them (after rich markup), unwrapped."""
    result = runner.invoke(app, [*path, "--help"], prog_name="spine", env={"COLUMNS": "500"})
    assert result.exit_code == 0, result.output
    _, found, block = result.stdout.partition("Examples:")
    shown = [line.strip() for line in block.splitlines() if line.strip()] if found else []
    return shown[:len(example_lines(cmd.help))]


# --- every command ------------------------------------------------------------------------

def test_the_walk_finds_every_command():
    assert {"run create", "run wait", "run watch", "run get", "run list", "run download",
            "run open", "canvas dag", "auth login", "config set", "emulator serve"} <= set(IDS)


@pytest.mark.parametrize("path,cmd", LEAVES, ids=IDS)
def test_summary_is_one_line(path, cmd):
    text = inspect.cleandoc(cmd.help or "")
    first = text.split("\n\n")[0]
    assert first, f"spine {' '.join(path)} has no help"
    assert "\n" not in first and len(first) <= 100, f"summary is not one line: {first!r}"


@pytest.mark.parametrize("path,cmd", LEAVES, ids=IDS)
def test_examples_exist_and_parse(path, cmd):
    lines = shown_examples(path, cmd)
    assert lines, f"spine {' '.join(path)} --help shows no Examples: block"
    invocations = [inv for line in lines for inv in spine_invocations(line)]
    assert invocations, f"no `spine ...` command in the examples of spine {' '.join(path)}"
    own = [inv for inv in invocations if _names(inv, path)]
    assert own, f"no example of spine {' '.join(path)} itself: {lines}"
    problems = parse_problems(lines)
    assert not problems, "\n".join(problems)


def _names(args: list[str], path: tuple[str, ...]) -> bool:
    words = [a for a in args if not a.startswith("-")]
    return any(tuple(words[i:i + len(path)]) == path for i in range(len(words)))


@pytest.mark.parametrize("path,cmd", LEAVES, ids=IDS)
def test_help_shows_the_examples_as_written(path, cmd):
    """Rich markup must not eat part of an example (e.g. `[emulate:...]` or `[error]`)."""
    shown = shown_examples(path, cmd)
    for line in example_lines(cmd.help):
        plain = line.replace("\\[", "[")  # `\[` is how a docstring shows a literal [
        assert plain in shown, f"--help shows {shown}, not {plain!r}"


@pytest.mark.parametrize("path,cmd", list(groups()), ids=lambda v: " ".join(v) if
                         isinstance(v, tuple) else "")
def test_every_group_has_a_summary(path, cmd):
    assert (cmd.help or "").strip(), f"spine {' '.join(path)} has no help"


# --- the checker itself -------------------------------------------------------------------

def test_extraction_handles_shell_around_the_command():
    assert spine_invocations('RUN=$(spine run create -q -t report --prompt-file brief.md)') == [
        ["run", "create", "-q", "-t", "report", "--prompt-file", "brief.md"]]
    assert spine_invocations("spine run list --json | jq '.[0].run_id'") == [
        ["run", "list", "--json"]]
    assert spine_invocations("spine run create -q --prompt hi | xargs spine run wait") == [
        ["run", "create", "-q", "--prompt", "hi"], ["run", "wait", PLACEHOLDER_RUN]]
    nested = spine_invocations("spine emulator exec -- sh -c 'spine run get @last'")
    assert ["run", "get", "@last"] in nested
    assert spine_invocations('"$EDITOR" "$(spine config path)"') == [["config", "path"]]


@pytest.mark.parametrize("bad", [["run", "create", "--prompt", "x", "--no-such-flag"],
                                 ["run", "watch"], ["run", "wait", "x", "--timeout", "soon"],
                                 ["run", "frobnicate"], ["--profile"]])
def test_the_parse_check_rejects_what_spine_rejects(bad):
    with pytest.raises(Exception):
        parse_like_spine(bad)


# --- the root help ----------------------------------------------------------------------------

def test_root_help_ends_with_exit_codes_and_environment():
    result = runner.invoke(app, ["--help"], prog_name="spine")
    assert result.exit_code == 0
    out = result.stdout
    codes_at, env_at = out.index("Exit codes"), out.index("Environment")
    assert out.index("Commands") < codes_at < env_at
    tail = out[codes_at:]
    for code, text in EXIT_CODE_TABLE:
        first_words = " ".join(text.split()[:3])
        assert re.search(rf"^\s+{code}\s+{re.escape(first_words)}", tail, re.M), code
    for name, _ in ENV_VARS:
        assert re.search(rf"^\s+{re.escape(name)}\s+\S", out[env_at:], re.M), name


def test_root_help_table_keeps_its_columns_when_wrapped():
    result = runner.invoke(app, ["--help"], prog_name="spine")
    assert result.exit_code == 0
    out = result.stdout
    tail = out[out.index("Exit codes"):]
    for line in tail.splitlines()[1:]:
        body = line.rstrip()
        if body.strip() and not body.strip().startswith(("Environment", "Exit codes")):
            # every row and continuation line is indented: nothing reflowed to column 0
            assert body.startswith("   "), repr(line)
