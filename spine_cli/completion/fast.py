"""Answer a <Tab> from the static spec, without importing Typer or the app.

The completion scripts run `spine` with `_SPINE_COMPLETE=complete_<shell>` and
the words typed so far in `COMP_WORDS`/`COMP_CWORD` (bash) or
`_TYPER_COMPLETE_ARGS` (zsh, fish, PowerShell). `fast_complete` walks the
command tree in `spec.json` (beside this module) the way Click's parser would (without
coercing any value), asks `spine_cli.completion.candidates` for profile names and run
ids, and prints exactly what Typer would print: tests compare the two answers
for many command lines in every shell.

Imports here stay light (json, shlex; sqlite3 and tomllib only when run ids or
profiles are wanted): the entry point calls this before anything else.
"""

from __future__ import annotations

import json
import os
import re
import sys

# typing and pathlib cost a <Tab> ~10 ms; annotations are never evaluated here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    Candidate = tuple[str, str | None]
    Node = dict[str, Any]

COMPLETE_VAR = "_SPINE_COMPLETE"
SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")
SPEC_FORMAT = 1
SPEC_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "spec.json")
_WS = re.compile(r"\s")


def fast_complete(env: Any = None, spec_path: str | None = None) -> int | None:
    """Answer `_SPINE_COMPLETE=complete_<shell>` on stdout; return the exit code.

    None means "not handled here" (another instruction, an unknown shell, a
    missing or unreadable spec, an unexpected failure): the caller lets Typer
    answer instead.
    """
    env = os.environ if env is None else env
    verb, _, shell = env.get(COMPLETE_VAR, "").partition("_")
    if verb != "complete" or shell not in SHELLS:
        return None
    try:
        spec = load_spec(spec_path or SPEC_PATH)
        args, incomplete = protocol_args(shell, env)
        items = complete_args(spec["root"], args, incomplete)
        text, code = format_items(shell, items, env)
    except Exception:  # fall back to Typer rather than break the user's shell
        if env.get("SPINE_DEBUG") == "1":
            raise
        return None
    sys.stdout.write(text + "\n" if text is not None else "")
    sys.stdout.flush()
    return code


def load_spec(path: str | None = None) -> dict[str, Any]:
    path = path or SPEC_PATH
    with open(path, encoding="utf-8") as fh:
        spec = json.load(fh)
    if spec.get("format") != SPEC_FORMAT:
        raise ValueError(f"{path}: unknown spec format {spec.get('format')!r}")
    return dict(spec)


# --- the protocol: what the shell sends, what it expects back --------------------

def split_arg_string(string: str) -> list[str]:
    """Split like a POSIX shell, keeping an unterminated last word."""
    import shlex

    lex = shlex.shlex(string, posix=True)
    lex.whitespace_split = True
    lex.commenters = ""
    out: list[str] = []
    try:
        for token in lex:
            out.append(token)
    except ValueError:
        out.append(lex.token)
    return out


def protocol_args(shell: str, env: Any) -> tuple[list[str], str]:
    """The words before the one being completed, and that word."""
    if shell == "bash":
        words = split_arg_string(env.get("COMP_WORDS", ""))
        cword = int(env.get("COMP_CWORD", "0"))
        return words[1:cword], (words[cword] if cword < len(words) else "")
    line = env.get("_TYPER_COMPLETE_ARGS", "")
    words = split_arg_string(line)
    if shell in ("powershell", "pwsh"):
        incomplete = env.get("_TYPER_COMPLETE_WORD_TO_COMPLETE", "")
        return (words[1:-1] if incomplete else words[1:]), incomplete
    args = words[1:]
    if args and not line.endswith(" "):
        return args[:-1], args[-1]
    return args, ""


def format_items(shell: str, items: list[Candidate], env: Any) -> tuple[str | None, int]:
    """Typer's output for `shell` (None: print nothing) and exit code."""
    if shell == "bash":
        return "\n".join(v for v, _ in items), 0
    if shell == "zsh":
        if not items:
            return "_files", 0
        body = "\n".join(f'"{zsh_escape(v)}":"{zsh_escape(h)}"' if h
                         else f'"{zsh_escape(v)}"' for v, h in items)
        return f"_arguments '*: :(({body}))'", 0
    if shell == "fish":
        lines = [f"{v}\t{_WS.sub(' ', h)}" if h else v for v, h in items]
        if env.get("_TYPER_COMPLETE_FISH_ACTION") == "is-args":
            return None, 0 if lines else 1
        if env.get("_TYPER_COMPLETE_FISH_ACTION") == "get-args" and lines:
            return "\n".join(lines), 0
        return "", 0
    return "\n".join(f"{v}:::{h or ' '}" for v, h in items), 0


def zsh_escape(s: str) -> str:
    return (s.replace('"', '""').replace("'", "''").replace("$", "\\$")
            .replace("`", "\\`").replace(":", r"\\:"))


# --- walking the command tree ----------------------------------------------------

class _Walk:
    """What one command's part of the line gave."""

    def __init__(self) -> None:
        self.used: set[str] = set()      # options given
        self.filled: set[str] = set()    # arguments given
        self.values: dict[str, Any] = {}


def complete_args(root: Node, args: list[str], incomplete: str) -> list[Candidate]:
    """The candidates for `incomplete` after `args`, as Typer/Click would offer."""
    args = list(args)
    if incomplete == "=":
        incomplete = ""
    elif "=" in incomplete and incomplete.startswith("-"):
        name, _, incomplete = incomplete.partition("=")
        args.append(name)
    node, walk, root_values = _descend(root, args)
    if "--" not in args and incomplete.startswith("-"):
        return _command_candidates(node, walk, incomplete)
    for opt in node["options"]:
        if _awaits_value(opt, args):
            return _value_candidates(opt, incomplete, root_values)
    for arg in node["arguments"]:
        if arg["nargs"] == -1 or arg["name"] not in walk.filled:
            return _value_candidates(arg, incomplete, root_values)
    return _command_candidates(node, walk, incomplete)


def _descend(root: Node, args: list[str]) -> tuple[Node, _Walk, dict[str, Any]]:
    """Follow subcommands through `args`: the last command, its walk, the root's values."""
    node, rest = root, list(args)
    walk, rest = _parse(node, rest)
    root_values = walk.values
    while rest and "commands" in node:
        sub = next((c for c in node["commands"] if c["name"] == rest[0]), None)
        if sub is None:
            break
        node = sub
        walk, rest = _parse(node, rest[1:])
    return node, walk, root_values


def _parse(node: Node, args: list[str]) -> tuple[_Walk, list[str]]:
    """Consume this command's options and arguments; return what is left for a subcommand."""
    walk = _Walk()
    by_name = {n: o for o in node["options"] for n in (*o["opts"], *o["secondary_opts"])}
    arguments = list(node["arguments"])
    i, only_args = 0, False
    while i < len(args):
        tok = args[i]
        if tok == "--" and not only_args:
            only_args, i = True, i + 1
            continue
        if tok.startswith("-") and len(tok) > 1 and not only_args:
            i = _take_option(tok, args, i, by_name, walk)
            continue
        if "commands" in node:
            return walk, args[i:]
        if arguments:
            walk.filled.add(arguments[0]["name"])
            if arguments[0]["nargs"] != -1:
                arguments.pop(0)
        i += 1
    return walk, []


def _take_option(tok: str, args: list[str], i: int, by_name: dict[str, Node], walk: _Walk) -> int:
    name, eq, value = tok.partition("=")
    if tok.startswith("--") or name in by_name:
        opt = by_name.get(name)
        if opt is not None:
            walk.used.add(opt["name"])
            if opt["takes_value"]:
                if eq:
                    walk.values[opt["name"]] = value
                else:
                    walk.values[opt["name"]] = args[i + 1] if i + 1 < len(args) else None
                    return i + 1 + int(opt["nargs"])
        return i + 1
    for pos, ch in enumerate(tok[1:], start=1):  # -qv, -tREPORT
        opt = by_name.get("-" + ch)
        if opt is None:
            continue
        walk.used.add(opt["name"])
        if opt["takes_value"]:
            rest = tok[pos + 1:]
            walk.values[opt["name"]] = rest or (args[i + 1] if i + 1 < len(args) else None)
            return i + 1 if rest else i + 1 + opt["nargs"]
    return i + 1


def _awaits_value(opt: Node, args: list[str]) -> bool:
    """The last words are this option's name and fewer values than it takes."""
    if not opt["takes_value"]:
        return False
    for index, arg in enumerate(reversed(args)):
        if index + 1 > opt["nargs"]:
            return False
        if arg.startswith("-"):
            return arg in opt["opts"]
    return False


def _command_candidates(node: Node, walk: _Walk, incomplete: str) -> list[Candidate]:
    out: list[Candidate] = [(c["name"], c["help"]) for c in node.get("commands", ())
                            if c["name"].startswith(incomplete) and not c["hidden"]]
    if incomplete and not incomplete[0].isalnum():
        for opt in node["options"]:
            if opt["hidden"] or (not opt["multiple"] and opt["name"] in walk.used):
                continue
            out.extend((n, opt["help"]) for n in (*opt["opts"], *opt["secondary_opts"])
                       if n.startswith(incomplete))
    return out


def _value_candidates(param: Node, incomplete: str, root_values: dict[str, Any]) -> list[Candidate]:
    complete = param.get("complete") or {}
    kind = complete.get("kind")
    if kind == "choices":
        if complete["case_sensitive"]:
            return [(v, h) for v, h in complete["values"] if v.startswith(incomplete)]
        low = incomplete.lower()
        return [(v, h) for v, h in complete["values"] if v.lower().startswith(low)]
    if kind in ("file", "dir"):
        return [(incomplete, None)]
    if kind is None:
        return []
    from spine_cli.completion import candidates as completion

    if kind == "profiles":
        items = completion.profile_candidates(incomplete)
    elif kind == "runs":
        items = completion.run_candidates(incomplete, profile=root_values.get("profile"),
                                          base_url=root_values.get("base_url"))
    else:
        raise ValueError(f"unknown completer {kind!r}")
    # Typer keeps only what starts with the word typed, case and all.
    return [(v, h) for v, h in items if v.startswith(incomplete)]
