"""Renderers for a canvas: the block graph (DAG) and the task tree.

Both are first turned into a small tree of `Node`s, then drawn either as a rich
`Tree` (stdout is a terminal) or as plain indented text (piped: no colour, no
box-drawing, one line per node, greppable). Every string from the server goes
through `textsafe.sanitize` and into rich `Text` objects, never into markup.
Rich is imported only by the rich renderers, so --json, -q and piped output
never pay for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from spine_cli.api.canvas import Dag, NodeStatus, Task, TaskTree
from spine_cli.ui.styles import node_style
from spine_cli.ui.textsafe import sanitize

if TYPE_CHECKING:
    from rich.text import Text
    from rich.tree import Tree

EXCERPT = 160


@dataclass
class Node:
    state: NodeStatus
    status: str  # the server's word, shown as it is
    kind: str
    name: str
    ident: str = ""
    note: str | None = None
    repeat: bool = False  # a DAG block with several parents, already drawn above
    children: list["Node"] = field(default_factory=list)


def clean(value: Any, limit: int | None = None) -> str:
    text = " ".join(sanitize(str(value or ""), keep_newlines=False).split())
    if limit and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


# -- DAG -----------------------------------------------------------------------
def dag_nodes(dag: Dag, content: bool = False) -> list[Node]:
    """Roots are blocks with no incoming edge; each block appears in full once."""
    blocks = {n.id: n for n in dag.nodes}
    kids: dict[str, list[str]] = {}
    incoming: set[str] = set()
    for src, dst in dag.edges:
        if src in blocks and dst in blocks and src != dst:
            kids.setdefault(src, []).append(dst)
            incoming.add(dst)
    shown: set[str] = set()

    def build(ident: str) -> Node:
        block = blocks[ident]
        node = Node(block.status, clean(block.status_text), clean(block.type), clean(block.name),
                    ident, clean(block.content, EXCERPT) if content else None)
        if ident in shown:
            node.repeat, node.note = True, None
            return node
        shown.add(ident)
        node.children = [build(k) for k in kids.get(ident, [])]
        return node

    roots = [build(i) for i in blocks if i not in incoming]
    # A cycle has no root: draw whatever the roots did not reach, so no block is lost.
    roots += [build(i) for i in blocks if i not in shown]
    return roots


# -- tasks ---------------------------------------------------------------------
def task_node(task: Task) -> Node:
    kind = clean(task.task_type).removesuffix("-task")
    node = Node(task.status, clean(task.status_text), kind, clean(task.name), clean(task.task_id))
    node.children = [task_node(c) for c in task.children]
    return node


def task_sections(tasks: TaskTree) -> list[tuple[str, list[Node]]]:
    """("Completed", roots) and ("Not completed", roots): finished vs running or failed."""
    return [("Completed", [task_node(t) for t in tasks.completed]),
            ("Not completed", [task_node(t) for t in tasks.not_completed])]


def walk(nodes: Iterable[Node]) -> Iterable[Node]:
    for node in nodes:
        yield node
        yield from walk(node.children)


# -- plain text ------------------------------------------------------------------
def plain_lines(nodes: Iterable[Node], depth: int = 0, ids: bool = False) -> list[str]:
    lines = []
    for node in nodes:
        pad = "  " * depth
        line = f"{pad}[{node.status or 'unknown'}] {node.kind or '?'}  {node.name or '(unnamed)'}"
        if ids and node.ident:
            line += f"  {node.ident}"
        if node.repeat:
            line += "  (see above)"
        lines.append(line)
        if node.note:
            lines.append(f"{pad}    | {node.note}")
        lines.extend(plain_lines(node.children, depth + 1, ids))
    return lines


# -- rich ----------------------------------------------------------------------
def label(node: Node, ids: bool = False) -> Text:
    from rich.text import Text

    look = node_style(node.state)
    mark, style = look.mark, look.colour
    text = Text.assemble((f"{mark} ", style), (node.status or NodeStatus.UNKNOWN.value, style), "  ",
                         (node.kind or "?", "cyan"), "  ", (node.name or "(unnamed)", "bold"))
    if ids and node.ident:
        text.append(f"  {node.ident}", style="dim")
    if node.repeat:
        text.append("  (see above)", style="dim italic")
    if node.note:
        text.append(f"\n{node.note}", style="dim")
    return text


def add_nodes(tree: Tree, nodes: Iterable[Node], ids: bool = False) -> Tree:
    for node in nodes:
        add_nodes(tree.add(label(node, ids)), node.children, ids)
    return tree


def dag_tree(dag: Dag, nodes: list[Node]) -> Tree:
    from rich.text import Text
    from rich.tree import Tree

    title = Text.assemble(("Canvas ", "bold"), (clean(dag.canvas_name) or "(unnamed)", "bold"),
                          (f"  {clean(dag.canvas_id)}", "dim"))
    return add_nodes(Tree(title, guide_style="dim"), nodes)


def tasks_trees(sections: list[tuple[str, list[Node]]]) -> list[Tree]:
    """One tree per section; an untitled section (one task) is drawn from its root."""
    from rich.text import Text
    from rich.tree import Tree

    trees = []
    for title, roots in sections:
        if not title:
            trees += [add_nodes(Tree(label(r, ids=True), guide_style="dim"), r.children, True)
                      for r in roots]
            continue
        style = node_style(NodeStatus.COMPLETED if title == "Completed"
                           else NodeStatus.RUNNING).colour
        head = Text.assemble((title, f"bold {style}"), (f" ({len(roots)})", "dim"))
        trees.append(add_nodes(Tree(head, guide_style=style), roots, ids=True))
    return trees


def plain_dag(dag: Dag, nodes: list[Node]) -> list[str]:
    head = f"Canvas {clean(dag.canvas_name) or '(unnamed)'}  {clean(dag.canvas_id)}"
    return [head] + plain_lines(nodes, 1)


def plain_tasks(sections: list[tuple[str, list[Node]]]) -> list[str]:
    lines = []
    for title, roots in sections:
        if title:
            lines.append(f"{title} ({len(roots)})")
        lines.extend(plain_lines(roots, 1 if title else 0, ids=True))
    return lines
