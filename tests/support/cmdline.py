"""Spine command lines in docs and help: found in shell text, parsed as `spine` parses them.

`spine_invocations(line)` takes a shell line apart with shlex (pipes, `$(...)`,
`xargs`, `sh -c '...'`) and returns each `spine ...` argument list in it;
`parse_like_spine(args)` parses one with each command's own context (option types and
callbacks, nothing run); `parse_problems(lines)` does both for many lines and says
what failed, one line per problem.
"""

from __future__ import annotations

import shlex
from typing import Iterable

import typer.main

from spine_cli.app import app

ROOT = typer.main.get_command(app)
PLACEHOLDER_RUN = "3f2a1b4c-0000-4000-8000-000000000000"
_SEPARATORS = {"|", "||", "&&", ";", "&", "(", ")", "<", ">", ">>", "$(", "`"}


def spine_invocations(line: str) -> list[list[str]]:
    """Each `spine ...` argument list in a shell line, nested ones included."""
    lex = shlex.shlex(line, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    tokens = list(lex)
    found: list[list[str]] = []
    segment: list[str] = []
    for token in [*tokens, ";"]:
        if token in _SEPARATORS or set(token) <= set("|&;()<>"):
            found.extend(_from_segment(segment))
            segment = []
        else:
            segment.append(token)
    return found


def _from_segment(tokens: list[str]) -> list[list[str]]:
    out: list[list[str]] = []
    for i, token in enumerate(tokens):
        if token == "spine" and not out:
            args = tokens[i + 1:]
            if i > 0 and tokens[i - 1] == "xargs":
                args = [*args, PLACEHOLDER_RUN]  # xargs appends what the pipe gives it
            out.append(args)
        elif "spine " in token:  # a quoted command: sh -c '...', "$(spine ...)"
            out.extend(spine_invocations(token.replace("$(", " $( ")))
    return out


def parse_like_spine(args: list[str]) -> None:
    """Parse as `spine` does, down to the last subcommand; raise on any usage error."""
    cmd, name, ctx, rest = ROOT, "spine", None, list(args)
    while True:
        ctx = cmd.make_context(name, list(rest), parent=ctx)
        if not hasattr(cmd, "list_commands"):
            return
        # A group leaves `SUBCOMMAND ARGS...` unparsed, a suffix of what it was given.
        after = len(rest) - len(ctx.args) - 1
        sub = cmd.get_command(ctx, rest[after]) if 0 <= after < len(rest) else None
        assert sub is not None, f"`spine {' '.join(args)}` names no command"
        cmd, name, rest = sub, rest[after], ctx.args


def parse_problems(lines: Iterable[str], where: str = "") -> list[str]:
    """Each spine command in `lines` that does not parse, or a line that names none."""
    problems = []
    for line in lines:
        invocations = spine_invocations(line)
        if not invocations:
            problems.append(f"{where}{line!r}: no spine command found")
        for args in invocations:
            try:
                parse_like_spine(args)
            except (Exception, SystemExit) as exc:
                problems.append(f"{where}spine {shlex.join(args)}  ->  {type(exc).__name__}: {exc}")
    return problems
