"""The static completion spec: the command tree as data, generated from the Typer app.

A <Tab> must not import Typer or the command modules (about 0.1 s), so
`python -m tools.gen_completion` also writes `spine_cli/completion/spec.json`, and
`spine_cli.completion.fast` answers from it. Format 1:

    {"format": 1, "prog": "spine", "root": NODE}
    NODE     = {"name", "help", "hidden", "options": [OPTION], "arguments": [ARGUMENT],
                "commands": [NODE]}          # "commands" only for groups, in help order
    OPTION   = {"name", "opts", "secondary_opts", "takes_value", "nargs", "multiple",
                "hidden", "help", "complete"}
    ARGUMENT = {"name", "nargs", "complete"}  # nargs -1: takes every remaining word
    complete = null                                   # nothing to offer
             | {"kind": "choices", "values": [[value, help], ...], "case_sensitive": bool}
             | {"kind": "profiles"} | {"kind": "runs"}   # read at <Tab> time
             | {"kind": "file"}                        # the word itself, as Typer does

Which completer a parameter uses is found by asking the parameter, not by
reading Typer's internals: the completers that read local state at <Tab> time
(`DYNAMIC`) are swapped for markers while each parameter completes "", and any
other answer is static and stored as choices. A new completer that reads
state at <Tab> time must be added to `DYNAMIC`. Help texts are stored as Typer
prints them (rich markup rendered, whitespace collapsed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spine_cli.completion import fast as completion_fast
from spine_cli.completion.fast import SPEC_FORMAT, zsh_escape

SPEC_PATH = Path(completion_fast.SPEC_PATH)

# Completer kind -> the function in spine_cli.completion.candidates that reads state at <Tab> time.
DYNAMIC = {"profiles": "profile_candidates", "runs": "run_candidates"}
_MARKER = "\x00spine-completer:"


def build_spec(app: Any, prog_name: str = "spine") -> dict[str, Any]:
    """The spec of `app` as a JSON-ready dict."""
    import typer
    import typer.main

    root = typer.main.get_command(app)
    ctx = typer.Context(root, info_name=prog_name, **root.context_settings)
    with _markers():
        tree = _node(typer, root, ctx, prog_name)
    return {"format": SPEC_FORMAT, "prog": prog_name, "root": tree}


def render_spec(app: Any) -> str:
    return json.dumps(build_spec(app), indent=1, ensure_ascii=False) + "\n"


def _node(typer: Any, cmd: Any, ctx: Any, name: str) -> dict[str, Any]:
    params = cmd.get_params(ctx)
    node: dict[str, Any] = {
        "name": name,
        "help": plain_help(cmd.get_short_help_str()) if ctx.parent else None,
        "hidden": bool(getattr(cmd, "hidden", False)),
        "options": [_option(p, ctx, _is_help(cmd, p, ctx)) for p in params if _is_option(p)],
        "arguments": [{"name": p.name, "nargs": p.nargs, "complete": _completer(p, ctx)}
                      for p in params if not _is_option(p)],
    }
    if hasattr(cmd, "list_commands"):
        node["commands"] = []
        for sub_name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, sub_name)
            sub_ctx = typer.Context(sub, parent=ctx, info_name=sub_name, **sub.context_settings)
            node["commands"].append(_node(typer, sub, sub_ctx, sub_name))
    return node


def _option(param: Any, ctx: Any, is_help: bool = False) -> dict[str, Any]:
    takes_value = not param.is_flag and not param.count
    opts = list(param.opts)
    if is_help:  # Click builds these names from a set: keep the spec stable across runs
        opts = [n for n in ctx.help_option_names if n in opts]
    return {
        "name": param.name,
        "opts": opts,
        "secondary_opts": list(param.secondary_opts),
        "takes_value": takes_value,
        "nargs": param.nargs,
        "multiple": bool(param.multiple),
        "hidden": bool(param.hidden),
        "help": plain_help(param.help),
        "complete": _completer(param, ctx) if takes_value else None,
    }


def _is_help(cmd: Any, param: Any, ctx: Any) -> bool:
    return param is cmd.get_help_option(ctx)


def _is_option(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "option"


def _completer(param: Any, ctx: Any) -> dict[str, Any] | None:
    """What completing this parameter's value offers (see the module docstring)."""
    items = param.shell_complete(ctx, "")
    if len(items) == 1 and str(items[0].value).startswith(_MARKER):
        return {"kind": str(items[0].value)[len(_MARKER):]}
    probe = param.shell_complete(ctx, "probe")
    if [(i.value, i.type) for i in probe] in ([("probe", "file")], [("probe", "dir")]):
        return {"kind": probe[0].type}
    if any(i.type != "plain" for i in items):
        raise ValueError(f"unsupported completion item type for {param.name}: {items}")
    if not items:
        return None
    values = [[str(i.value), plain_help(i.help)] for i in items]
    return {"kind": "choices", "values": values,
            "case_sensitive": _case_sensitive(param, ctx, values)}


def _case_sensitive(param: Any, ctx: Any, values: list[list[Any]]) -> bool:
    for value, _ in values:
        other = value.swapcase()
        if other != value:
            return value not in [str(i.value) for i in param.shell_complete(ctx, other)]
    return True


class _markers:
    """Swap the DYNAMIC completers for functions that answer their own kind."""

    def __enter__(self) -> None:
        from spine_cli.completion import candidates as completion

        self._saved = {fn: getattr(completion, fn) for fn in DYNAMIC.values()}
        for kind, fn in DYNAMIC.items():
            setattr(completion, fn, lambda *a, _k=kind, **kw: [(_MARKER + _k, None)])

    def __exit__(self, *exc: object) -> None:
        from spine_cli.completion import candidates as completion

        for fn, saved in self._saved.items():
            setattr(completion, fn, saved)


def plain_help(text: str | None) -> str | None:
    """Help text as Typer's completion prints it: rich markup rendered, one line.

    Typer renders after zsh-escaping; the spec renders once, so a help text for
    which the order matters is refused here rather than printed differently.
    """
    if not text:
        return text
    rendered = _render(text)
    if _render(zsh_escape(text)) != zsh_escape(rendered):
        raise ValueError(f"help text renders differently after zsh escaping: {text!r}")
    return rendered


def _render(text: str) -> str:
    from typer import rich_utils

    # Typer's renderer wraps at the console width; a newline would split a zsh entry.
    return " ".join(rich_utils.rich_render_text(text).split())


def stale_spec(app: Any, path: Path = SPEC_PATH) -> bool:
    """Whether the spec at `path` differs from what the app generates now."""
    return not path.is_file() or path.read_text(encoding="utf-8") != render_spec(app)


def write_spec(app: Any, path: Path = SPEC_PATH) -> Path:
    path.write_text(render_spec(app), encoding="utf-8")
    return path
