"""Canvas renderers with fixed inputs: plain listings and rich trees."""

from __future__ import annotations

import io

from rich.console import Console

from spine_cli.api.canvas import Dag, TaskTree
from spine_cli.ui import render_canvas as rc

DAG = {
    "canvas_id": "cccc", "canvas_name": "Q1 [bold]plan[/bold]",
    "nodes": [
        {"id": "p", "name": "Prompt", "type": "prompt-block", "status": "completed",
         "content": "Research the\nmarket \x1b[31mnow\x1b[0m"},
        {"id": "w", "name": "Web", "type": "web-block", "status": "completed"},
        {"id": "d", "name": "Report [red]x[/red]", "type": "document-block", "status": "running"},
        {"id": "loose", "name": "Orphan", "type": "text-block", "status": "idle"},
    ],
    "edges": [{"source_id": "p", "target_id": "d"}, {"source_id": "w", "target_id": "d"},
              {"source_id": "ghost", "target_id": "p"}],
}

TASKS = {
    "canvas_id": "cccc",
    "completed": [{"task_id": "t1", "name": "Research", "task_type": "parent-task",
                   "status": "completed", "children": [
                       {"task_id": "t2", "name": "Analyst", "task_type": "persona-task",
                        "status": "completed", "children": [
                            {"task_id": "t3", "name": "web_search", "task_type": "tool-call-task",
                             "status": "completed", "children": None}]}]}],
    "not_completed": [{"task_id": "t4", "name": "Write", "task_type": "parent-task",
                       "status": "error", "children": []}],
}


def test_dag_plain_listing_roots_shared_children_and_content():
    dag = Dag.parse(DAG)
    nodes = rc.dag_nodes(dag, content=True)
    assert rc.plain_dag(dag, nodes) == [
        "Canvas Q1 [bold]plan[/bold]  cccc",
        "  [completed] prompt-block  Prompt",
        "      | Research the market now",
        "    [running] document-block  Report [red]x[/red]",
        "  [completed] web-block  Web",
        "    [running] document-block  Report [red]x[/red]  (see above)",
        "  [idle] text-block  Orphan",
    ]


def test_dag_cycle_still_shows_every_block():
    dag = {"nodes": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
           "edges": [{"source_id": "a", "target_id": "b"}, {"source_id": "b", "target_id": "a"}]}
    names = [n.name for n in rc.walk(rc.dag_nodes(Dag.parse(dag)))]
    assert set(names) == {"A", "B"}


def test_tasks_plain_listing_has_sections_types_and_ids():
    assert rc.plain_tasks(rc.task_sections(TaskTree.parse(TASKS))) == [
        "Completed (1)",
        "  [completed] parent  Research  t1",
        "    [completed] persona  Analyst  t2",
        "      [completed] tool-call  web_search  t3",
        "Not completed (1)",
        "  [error] parent  Write  t4",
    ]


def render(renderable) -> str:
    buf = io.StringIO()
    Console(file=buf, width=100, force_terminal=True, color_system="truecolor",
            markup=False).print(renderable)
    return buf.getvalue()


def test_rich_tree_shows_marks_and_never_interprets_server_markup():
    out = render(rc.dag_tree(Dag.parse(DAG), rc.dag_nodes(Dag.parse(DAG))))
    assert "Report [red]x[/red]" in out and "Q1 [bold]plan[/bold]" in out
    assert "✓" in out and "●" in out and ("└──" in out or "├──" in out)
    assert "\x1b[31mnow" not in out


def test_rich_task_trees_distinguish_completed_and_not_completed():
    completed, pending = rc.tasks_trees(rc.task_sections(TaskTree.parse(TASKS)))
    assert completed.guide_style != pending.guide_style
    text = render(pending)
    assert "Not completed" in text and "✗" in text and "t4" in text


def test_plain_listings_do_not_import_rich():
    import subprocess
    import sys

    code = ("import sys; from spine_cli.ui import render_canvas as rc\n"
            "from spine_cli.api.canvas import Dag, TaskTree\n"
            f"rc.plain_dag(Dag.parse({DAG!r}), rc.dag_nodes(Dag.parse({DAG!r})))\n"
            f"rc.plain_tasks(rc.task_sections(TaskTree.parse({TASKS!r})))\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'rich'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
