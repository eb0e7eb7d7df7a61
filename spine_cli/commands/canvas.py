"""`spine canvas dag | tasks | task`: the block graph and the task tree of a canvas.

CANVAS|RUN: both ids are UUIDs, so a full UUID is first tried as a run
(GET /v1/run/{id}); when that is 404 it is taken as a canvas id. Anything else
(a run-id prefix, @last, @last~N) is a run reference from the local history.
`--canvas` skips the run lookup. See docs/downloads.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from spine_cli.commands.options import JsonOpt, QuietOpt, complete_run
from spine_cli.commands.shared import command, invocation
from spine_cli.context import Invocation

if TYPE_CHECKING:
    from spine_cli.api.client import SpineClient
    from spine_cli.api.models import Run
    from spine_cli.errors import NotFoundError
    from spine_cli.ui.output import Output
    from spine_cli.ui.render_canvas import Node

app = typer.Typer(help="Show a run's canvas: block graph and task tree.", no_args_is_help=True)

CanvasArg = Annotated[str, typer.Argument(
    metavar="CANVAS|RUN", help="Canvas id, or a run id / unique prefix / @last.",
    autocompletion=complete_run)]
CanvasOnlyOpt = Annotated[bool, typer.Option(
    "--canvas", help="The argument is a canvas id: skip the run lookup.")]
ContentOpt = Annotated[bool, typer.Option(
    "--content", help="Show an excerpt of each block's content.")]


def canvas_of_run(inv: Invocation, client: "SpineClient", run_id: str,
                  got: "Run | None" = None) -> str:
    """The canvas id of a run (GETs it unless given); exit 9 when it has none yet."""
    from spine_cli.errors import NotFoundError

    if got is None:
        got = client.get_run(run_id)
    inv.history.observe(inv.settings, got)
    if not got.canvas_id:
        raise NotFoundError(
            f"Run {run_id} has no canvas yet ({got.status_text}).", 404,
            hint=f"The canvas appears shortly after a run starts; retry, or follow it with "
            f"`spine run watch {run_id}`.")
    return got.canvas_id


def resolve_canvas(inv: Invocation, client: "SpineClient", ref: str,
                   canvas_only: bool = False) -> str:
    """CANVAS|RUN → canvas id (see the module docstring for the rule)."""
    from spine_cli.api.models import is_uuid
    from spine_cli.errors import NotFoundError, UsageError

    uuid = is_uuid(ref.strip())
    if canvas_only:
        if not uuid:
            raise UsageError(f"Not a canvas id: {ref!r} (expected a UUID).")
        return ref.strip().lower()
    (run_id,) = inv.resolve_runs([ref])
    try:
        got = client.get_run(run_id)
    except NotFoundError:
        if uuid:
            return run_id  # no run of this key has that id: take it as a canvas id
        raise
    return canvas_of_run(inv, client, run_id, got)


def _not_found(exc: "NotFoundError", what: str, ref: str) -> "NotFoundError":
    """A 404 from a canvas endpoint, saying what was looked for (a new error, from exc)."""
    from spine_cli.errors import NotFoundError

    message = exc.message if ref in exc.message else f"{exc.message} ({what} {ref})"
    return NotFoundError(message, 404, exc.request_id,
                         hint=exc.hint or (f"No run or {what} {ref} for this key; check the id "
                                           "(`spine run list` shows your runs)."))


@app.command("dag")
@command
def canvas_dag(ctx: typer.Context, target: CanvasArg, content: ContentOpt = False,
               canvas: CanvasOnlyOpt = False, json_: JsonOpt = False,
               quiet: QuietOpt = False) -> None:
    """Show the block graph of a canvas as a tree.

    Roots are blocks nothing feeds into; each block shows its status, type and
    name, and a block fed by several others appears in full once ("see above"
    elsewhere). A rich tree on a terminal, a plain indented listing when piped;
    --json prints the API's data; -q prints the block ids.

    Examples:

        spine canvas dag @last

        spine canvas dag 3f2a1b4c --content

        spine canvas dag --canvas 7d9e0c1a-... --json | jq '.nodes | length'
    """
    from spine_cli.errors import NotFoundError
    from spine_cli.ui import render_canvas as rc

    inv = invocation(ctx, json_=json_, quiet=quiet)
    output = inv.output
    with inv.client() as client:
        canvas_id = resolve_canvas(inv, client, target, canvas)
        try:
            dag = client.get_dag(canvas_id)
        except NotFoundError as exc:
            raise _not_found(exc, "canvas", canvas_id) from exc
    nodes = rc.dag_nodes(dag, content)

    def human() -> None:
        if output.mode.rich_stdout:
            output.out.print(rc.dag_tree(dag, nodes))
        else:
            output.lines(rc.plain_dag(dag, nodes))

    output.show(json=dag.raw, human=human,
                quiet=list(dict.fromkeys(n.ident for n in rc.walk(nodes) if n.ident)))


@app.command("tasks")
@command
def canvas_tasks(ctx: typer.Context, target: CanvasArg, canvas: CanvasOnlyOpt = False,
                 json_: JsonOpt = False, quiet: QuietOpt = False) -> None:
    """Show the task tree of a canvas: parent → persona → tool call.

    Root tasks are split into completed subtrees and not-completed ones
    (still running or failed); each line has the status, the task type, the
    name and the task id (for `spine canvas task`). --json prints the API's
    data; -q prints every task id.

    Examples:

        spine canvas tasks @last

        spine canvas tasks 3f2a1b4c | grep -F '\\[error]'

        spine canvas tasks @last --json | jq '.not_completed[].name'
    """
    from spine_cli.errors import NotFoundError
    from spine_cli.ui import render_canvas as rc

    inv = invocation(ctx, json_=json_, quiet=quiet)
    with inv.client() as client:
        canvas_id = resolve_canvas(inv, client, target, canvas)
        try:
            tasks = client.get_tasks(canvas_id)
        except NotFoundError as exc:
            raise _not_found(exc, "canvas", canvas_id) from exc
    _show_tasks(inv.output, tasks.raw, rc.task_sections(tasks))


@app.command("task")
@command
def canvas_task(ctx: typer.Context, target: CanvasArg,
                task: Annotated[str, typer.Argument(metavar="TASK", help="Task id.")],
                canvas: CanvasOnlyOpt = False, json_: JsonOpt = False,
                quiet: QuietOpt = False) -> None:
    """Show one task of a canvas with its direct children.

    CANVAS may also be a run reference. --json prints the API's data; -q the
    ids of the task and its children.

    Examples:

        spine canvas task @last 9b1c2d3e-...

        spine canvas task --canvas 7d9e0c1a-... 9b1c2d3e-... --json
    """
    from spine_cli.errors import NotFoundError
    from spine_cli.ui import render_canvas as rc

    inv = invocation(ctx, json_=json_, quiet=quiet)
    with inv.client() as client:
        canvas_id = resolve_canvas(inv, client, target, canvas)
        try:
            one = client.get_task(canvas_id, task.strip())
        except NotFoundError as exc:
            raise _not_found(exc, "task", task) from exc
    _show_tasks(inv.output, one.raw, [("", [rc.task_node(one)])])


def _show_tasks(output: "Output", raw: dict[str, object],
                sections: "list[tuple[str, list[Node]]]") -> None:
    from spine_cli.ui import render_canvas as rc

    def human() -> None:
        if output.mode.rich_stdout:
            for tree in rc.tasks_trees(sections):
                output.out.print(tree)
        else:
            output.lines(rc.plain_tasks(sections))

    ids = [node.ident for _, roots in sections for node in rc.walk(roots) if node.ident]
    output.show(json=raw, quiet=ids, human=human)
