"""A run's whole timeline, derived deterministically from its stored record.

`build_plan(run)` gives the blocks (DAG nodes and edges), the task tree with
absolute start/end times on the emulator clock, the outcome and the metadata.
Every view (`views.py`) is a pure function of a plan and a time, so every poll
agrees with every other and with the canvas endpoints.
"""

from __future__ import annotations

import hashlib
import random
import re
import uuid
from dataclasses import dataclass, field

from spine_cli.emulator.catalog import AUTO_KEYWORDS, BLOCK_TYPES, FILE_TYPES, PIPELINES, STAGE
from spine_cli.emulator.store import RunRecord

_PERSONAS = ["Research Analyst", "Writer", "Editor", "Data Analyst", "Designer", "Reviewer"]
_TOOLS = ["web_search", "read_url", "read_file", "run_python", "write_section",
          "generate_chart", "render_html", "summarise"]
MODELS = ["anthropic/claude-sonnet-4-6", "openai/gpt-5", "google/gemini-2.5-pro"]
MAX_DIRECTIVE_DURATION = 7 * 24 * 3600.0
MAX_DIRECTIVE_TASKS = 1000


class DirectiveError(ValueError):
    """An `[emulate:…]` directive with an unknown name or a bad value."""


_DIRECTIVE = re.compile(r"\[emulate:([A-Za-z_]+)=([^\]]*)\]")


def parse_directives(*texts: str | None) -> dict[str, object]:
    """The `[emulate:name=value]` directives of the prompt and agent instructions."""
    found: dict[str, object] = {}
    for text in texts:
        for name, raw in _DIRECTIVE.findall(text or ""):
            found[name.lower()] = _directive_value(name.lower(), raw.strip())
    return found


def _directive_value(name: str, raw: str) -> object:
    if name == "outcome":
        if raw not in ("completed", "partial", "failed"):
            raise DirectiveError(f"Invalid emulator directive: outcome={raw} "
                                 "(expected completed, partial or failed)")
        return raw
    if name in ("duration", "tasks"):
        try:
            value = float(raw) if name == "duration" else int(raw)
        except ValueError:
            value = -1
        top = MAX_DIRECTIVE_DURATION if name == "duration" else MAX_DIRECTIVE_TASKS
        if not 0 <= value <= top or value != value:
            raise DirectiveError(f"Invalid emulator directive: {name}={raw} "
                                 f"(expected a number from 0 to {top:g})")
        return value
    raise DirectiveError(f"Unknown emulator directive: {name} (known: duration, outcome, tasks)")


def seeded_rng(run_id: str, prompt: str, created_at: float) -> random.Random:
    digest = hashlib.sha256(f"{run_id}|{prompt}|{created_at!r}".encode()).digest()
    return random.Random(digest)


def default_duration(rng: random.Random, speed: float) -> float:
    """A typical run lasts 10–30 s of emulator time at speed 1."""
    return (10.0 + 20.0 * rng.random()) / speed


def stable_uuid(*parts: str) -> str:
    return str(uuid.UUID(bytes=hashlib.sha256("|".join(parts).encode()).digest()[:16], version=4))


@dataclass
class Block:
    id: str
    type: str
    name: str
    stage: int
    is_input: bool = False
    start: float = 0.0
    end: float = 0.0
    fails: bool = False
    file: dict | None = None  # the upload behind an input block
    segment: int = 0  # index of the parent task (time window) that builds it


@dataclass
class Task:
    id: str
    name: str
    type: str
    start: float
    end: float
    fails: bool = False
    children: list["Task"] = field(default_factory=list)

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class Plan:
    run: RunRecord
    topic: str
    template_used: str
    blocks: list[Block]
    edges: list[tuple[str, str]]
    roots: list[Task]
    ready_at: float
    estimate_factor: float
    models: list[str]

    @property
    def all_tasks(self) -> list[Task]:
        return [t for root in self.roots for t in root.walk()]


def topic_of(prompt: str) -> str:
    text = _DIRECTIVE.sub("", prompt)
    words = re.findall(r"[A-Za-z0-9][A-Za-z0-9'-]*", text)[:6]
    return " ".join(words).strip() or "Untitled"


def _generated_types(run: RunRecord) -> tuple[list[str], str]:
    """The block types the run builds, and the template it resolves to."""
    if run.blocks is not None:
        wanted = [t for t in BLOCK_TYPES if t in run.blocks and t != "file-block"]
        return sorted(wanted, key=lambda t: (STAGE[t], t)), run.template
    if run.template != "auto":
        return list(PIPELINES[run.template]), run.template
    outputs, resolved = [], None
    for pattern, block, template in AUTO_KEYWORDS:
        if re.search(pattern, run.prompt, re.I):
            outputs.append(block)
            resolved = resolved or template
    outputs = outputs or ["document-block"]
    return ["prompt-block", "web-block", *outputs, "text-block"], resolved or "report"


def _block_name(btype: str, topic: str) -> str:
    label = btype.removesuffix("-block").replace("-", " ").title()
    return f"{label}: {topic}"


def _input_blocks(run: RunRecord) -> list[Block]:
    out = []
    for index, info in enumerate(run.files):
        btype = "image-block" if info["kind"] == "image" else "file-block"
        out.append(Block(stable_uuid(run.run_id, "input", str(index)), btype, info["name"],
                         0, is_input=True, file=info))
    return out


def _edges(blocks: list[Block]) -> list[tuple[str, str]]:
    stages = sorted({b.stage for b in blocks})
    edges = []
    for prev, nxt in zip(stages, stages[1:]):
        for src in (b for b in blocks if b.stage == prev):
            edges += [(src.id, dst.id) for dst in blocks if dst.stage == nxt]
    return edges


def split(start: float, end: float, parts: int) -> list[tuple[float, float]]:
    """`parts` consecutive windows covering [start, end]; the last ends exactly at end."""
    step = (end - start) / parts
    return [(start + i * step, end if i == parts - 1 else start + (i + 1) * step)
            for i in range(parts)]


def _task_shape(total: int, parents: int) -> list[list[int]]:
    """Tool calls per persona per parent, for exactly `total` tasks."""
    if total == 0:
        return []
    parents = max(1, min(parents, total))
    shape: list[list[int]] = [[] for _ in range(parents)]
    for i in range(total - parents):
        personas = shape[i % parents]
        if not personas or (min(personas) >= 2 and len(personas) < 3):
            personas.append(0)
        else:
            personas[personas.index(min(personas))] += 1
    return shape


def _build_tasks(run: RunRecord, rng: random.Random, shape: list[list[int]],
                 windows: list[tuple[float, float]], names: list[str]) -> list[Task]:
    roots = []
    for p, personas in enumerate(shape):
        ps, pe = windows[p]
        root = Task(stable_uuid(run.run_id, "task", str(p)), f"Build {names[p]}",
                    "parent-task", ps, pe)
        for q, (qs, qe) in enumerate(split(ps, pe, len(personas)) if personas else []):
            persona = Task(stable_uuid(run.run_id, "task", str(p), str(q)),
                           rng.choice(_PERSONAS), "persona-task", qs, qe)
            for r, (ts, te) in enumerate(split(qs, qe, personas[q]) if personas[q] else []):
                tool = rng.choice(_TOOLS)
                persona.children.append(Task(
                    stable_uuid(run.run_id, "task", str(p), str(q), str(r)),
                    f"{tool}: {names[p]}", "tool-call-task", ts, te))
            root.children.append(persona)
        roots.append(root)
    return roots


def _mark_failure(plan: Plan) -> None:
    outcome = plan.run.outcome
    generated = [b for b in plan.blocks if not b.is_input]
    if outcome == "completed" or not generated:
        return
    if outcome == "failed":
        last_end = max(b.end for b in generated)
        targets = [b for b in generated if b.end == last_end]
    else:
        files = [b for b in generated if b.type in FILE_TYPES]
        others = [b for b in generated if b.type != "text-block"]
        targets = [(files or others or generated)[0]]
    for block in targets:
        block.fails = True
    roots = plan.roots
    failing_root = roots[min(targets[0].segment, len(roots) - 1)] if roots else None
    if failing_root is not None:
        node = failing_root
        node.fails = True
        while node.children:
            node = node.children[-1]
            node.fails = True


def build_plan(run: RunRecord) -> Plan:
    rng = seeded_rng(run.run_id, run.prompt, run.created_at)
    rng.random()  # the draw that chose the default duration at creation
    topic = topic_of(run.prompt)
    types, template_used = _generated_types(run)
    generated = [Block(stable_uuid(run.run_id, "block", str(i), t), t, _block_name(t, topic),
                       STAGE[t]) for i, t in enumerate(types)]
    blocks = _input_blocks(run) + generated
    ready_at = run.created_at + min(1.5, 0.1 * run.duration_s)
    total = run.tasks if run.tasks is not None else 3 * len(generated) + rng.randint(
        len(generated), 3 * len(generated))
    shape = _task_shape(total, len(generated))
    segments = len(shape) or 1
    windows = split(ready_at, run.end_at, segments)
    for j, block in enumerate(generated):
        block.segment = j * segments // len(generated)
        block.start, block.end = windows[block.segment]
    names = [", ".join(b.type.removesuffix("-block") for b in generated if b.segment == p)
             or "canvas" for p in range(segments)]
    roots = _build_tasks(run, rng, shape, windows, names)
    models = [MODELS[0]] + [m for m in MODELS[1:] if rng.random() < 0.5]
    plan = Plan(run, topic, template_used, blocks, _edges(blocks), roots, ready_at,
                0.7 + 0.6 * rng.random(), models)
    _mark_failure(plan)
    return plan
