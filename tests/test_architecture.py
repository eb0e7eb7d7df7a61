"""The package's tiers, enforced: docs/architecture.md draws them.

Every `import` in every module counts — at the top, inside functions, and
under `if TYPE_CHECKING:` — because each one is a dependency a reader must
follow. The test fails on an import cycle between modules, and on an import
that breaks the dependency rule:

    entry, app → commands → context, ui, runs, webhooks, local, api, completion
    context → ui, local, api          ui → runs, webhooks, local, api
    runs → local, api                 webhooks → api        completion → local, api
    local → api (its vocabulary)      api → nothing above   errors → nothing

plus the hard lines: only api/ imports httpx (commands never do); api/ never
imports rich; runs/ never prints or touches sys.stdout/sys.stderr; nothing
outside ui/ writes to stdout/stderr (the entry's `--version` fast path and the
<Tab> answer excepted, which must not import ui); the emulator imports
nothing of the CLI and is imported only by commands/emulator.py.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "spine_cli"

# tier -> tiers it may import ("base" is spine_cli/__init__ and errors: everyone may).
ALLOWED = {
    "top": {"commands", "context", "completion", "ui", "base"},
    "commands": {"context", "ui", "runs", "webhooks", "local", "api", "completion", "base"},
    "context": {"ui", "local", "api", "base"},
    "ui": {"runs", "webhooks", "local", "api", "base"},
    "runs": {"local", "api", "base"},
    "webhooks": {"api", "base"},
    "completion": {"local", "api", "base"},
    "local": {"api", "base"},
    "api": {"base"},
    "base": set(),
    "emulator": set(),
}
# Writing to the process's streams is ui's job; these two answer before ui exists.
STREAM_WRITERS_OUTSIDE_UI = {"spine_cli.entry", "spine_cli.completion.fast"}


@dataclass(frozen=True)
class Import:
    module: str   # the importing module
    target: str   # the imported module (or package)
    line: int


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def tier(module: str) -> str:
    parts = module.split(".")
    if module in ("spine_cli", "spine_cli.errors"):
        return "base"
    if module in ("spine_cli.entry", "spine_cli.app", "spine_cli.__main__"):
        return "top"
    if module == "spine_cli.context":
        return "context"
    return parts[1]


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(encoding="utf-8"), str(p))
            for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(module: str, tree: ast.Module) -> list[Import]:
    found = []
    is_package = (PACKAGE.parent / Path(*module.split(".")) / "__init__.py").is_file()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + is_package]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # `from spine_cli.local import history` imports the module spine_cli.local.history
                candidate = f"{base}.{alias.name}"
                found.append(Import(module, candidate if _is_module(candidate) else base,
                                    node.lineno))
    return found


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (PACKAGE.parent / rel).with_suffix(".py").is_file() or \
        (PACKAGE.parent / rel / "__init__.py").is_file()


def internal_graph(mods: dict[str, ast.Module]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for module, tree in mods.items():
        for imp in imports_of(module, tree):
            if imp.target in mods and imp.target != module:
                graph[module].add(imp.target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def violations(mods: dict[str, ast.Module]) -> list[str]:
    problems = []
    for module, tree in mods.items():
        for imp in imports_of(module, tree):
            problems += _rule(module, imp)
        problems += _streams(module, tree)
    return problems


def _rule(module: str, imp: Import) -> list[str]:
    where = f"{module}:{imp.line} imports {imp.target}"
    top = imp.target.split(".")[0]
    mine = tier(module)
    if top == "httpx" and mine not in ("api", "emulator"):  # the emulator sends its webhooks
        return [f"{where}: only api/ talks HTTP"]
    if top == "rich" and mine in ("api", "runs", "local", "webhooks"):
        return [f"{where}: {mine}/ never draws"]
    if top != "spine_cli":
        return []
    theirs = tier(imp.target)
    if mine == "emulator" or theirs == "emulator":
        if mine == theirs or module == "spine_cli.commands.emulator":
            return []
        return [f"{where}: the emulator is a wing of its own"]
    if theirs == mine or theirs in ALLOWED[mine] or (mine == "top" and theirs == "top"):
        return []
    return [f"{where}: {mine}/ may not depend on {theirs}/"]


def _streams(module: str, tree: ast.Module) -> list[str]:
    if tier(module) in ("ui", "emulator") or module in STREAM_WRITERS_OUTSIDE_UI:
        return []
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("stdout", "stderr") and \
                isinstance(node.value, ast.Name) and node.value.id == "sys":
            problems.append(f"{module}:{node.lineno} uses sys.{node.attr}: only ui/ writes "
                            "to the streams")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id == "print":
            problems.append(f"{module}:{node.lineno} calls print(): only ui/ writes")
    return problems


# -- the tests ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mods() -> dict[str, ast.Module]:
    return modules()


def test_every_module_belongs_to_a_known_tier(mods):
    assert {tier(m) for m in mods} <= set(ALLOWED) | {"top"}


def test_no_import_cycles(mods):
    assert cycles(internal_graph(mods)) == []


def test_every_import_follows_the_dependency_rule(mods):
    assert violations(mods) == []


def test_the_rules_can_fail():
    """The checker itself, on code that breaks each rule (so a green run means something)."""
    bad = {
        "spine_cli.api.client": ast.parse("import rich\nfrom spine_cli.ui import output\n"),
        "spine_cli.runs.follow": ast.parse("import sys\nsys.stderr.write('x')\nprint('y')\n"),
        "spine_cli.commands.run": ast.parse("def f():\n    import httpx\n"),
        "spine_cli.emulator.server": ast.parse("from spine_cli.errors import UsageError\n"),
        "spine_cli.ui.render": ast.parse("from spine_cli.context import Invocation\n"),
    }
    found = violations(bad)
    assert len(found) == 7, found
    loop = {"spine_cli.ui.live": {"spine_cli.ui.reporters"},
            "spine_cli.ui.reporters": {"spine_cli.ui.live"}}
    assert cycles(loop) == [["spine_cli.ui.live", "spine_cli.ui.reporters"]]
