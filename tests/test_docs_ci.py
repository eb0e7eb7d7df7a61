"""The CI examples in the docs are real: valid workflows, spine lines that parse, a flow that works.

Every ```yaml block of docs/ci.md (and docs/batch.md, when it exists) starts with a
comment naming its file (`# .github/workflows/NAME.yml` or `# .gitlab-ci.yml`), which
picks the schema: check-jsonschema's vendored `github-workflows` or `gitlab-ci`, read
from the installed package (a proxy that refuses everything proves no network is used).
Every `spine …` line in the scripts is parsed the way spine parses it
(`support.cmdline.parse_like_spine`: each command's own context, option types and
callbacks, nothing run).
The two-job workflow is then played as a runner would, against the emulator: each job
on a fresh machine (its own config and history), step outputs through $GITHUB_OUTPUT,
job outputs through `needs`, and `${{ }}` expressions filled in from those.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from test_ci import parse_github_output
from support.cmdline import parse_problems

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "docs" / "ci.md", ROOT / "docs" / "batch.md"]
_FENCE = re.compile(r"^```yaml\n(.*?)^```", re.M | re.S)
_SPINE_LINE = re.compile(r"(?:^|[\s;&|($`\"'])spine\s")
_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_SCRIPT_KEYS = {"run", "script", "before_script", "after_script"}
_NO_NETWORK = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
               "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
               "NO_PROXY": "", "no_proxy": ""}


def yaml_blocks() -> list[tuple[str, str]]:
    """(id, text) of every ```yaml block in the CI docs."""
    found = []
    for doc in DOCS:
        if doc.exists():
            for n, text in enumerate(_FENCE.findall(doc.read_text(encoding="utf-8")), 1):
                found.append((f"{doc.name}#{n}", text))
    return found


BLOCKS = yaml_blocks()


def schema_for(text: str) -> str | None:
    first = text.splitlines()[0] if text.strip() else ""
    name = first.removeprefix("#").strip()
    if re.fullmatch(r"\.github/workflows/[\w.-]+\.ya?ml", name):
        return "vendor.github-workflows"
    if name == ".gitlab-ci.yml":
        return "vendor.gitlab-ci"
    return None


def load(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


def shell_lines(doc: Any) -> list[str]:
    """Each shell line of every `run:`/`script:` value, continuations joined."""
    lines: list[str] = []

    def walk(node: Any, key: str | None = None) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, str(k))
        elif isinstance(node, list):
            for item in node:
                walk(item, key)
        elif isinstance(node, str) and key in _SCRIPT_KEYS:
            lines.extend(node.replace("\\\n", " ").splitlines())

    walk(doc)
    return [line for line in lines if line.strip()]


def placeholder(expr: str) -> str:
    """A stand-in for a GitHub expression, shaped like what it yields."""
    return "3f2a1b4c-0000-4000-8000-000000000000" if "run_id" in expr else "value"


def validate(paths: list[Path], schema: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **_NO_NETWORK}
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema,
                           *map(str, paths)], capture_output=True, text=True, timeout=60, env=env)


# --- every block --------------------------------------------------------------------------------

def test_the_ci_docs_have_github_and_gitlab_examples():
    schemas = [schema_for(text) for _, text in BLOCKS]
    assert schemas.count("vendor.github-workflows") >= 2 and "vendor.gitlab-ci" in schemas, BLOCKS


@pytest.mark.parametrize("text", [t for _, t in BLOCKS], ids=[i for i, _ in BLOCKS])
def test_each_example_is_a_valid_workflow(text, tmp_path):
    schema = schema_for(text)
    assert schema, ("a CI example must start with `# .github/workflows/NAME.yml` or "
                    f"`# .gitlab-ci.yml`:\n{text}")
    path = tmp_path / "example.yml"
    path.write_text(text, encoding="utf-8")
    result = validate([path], schema)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("text", [t for _, t in BLOCKS], ids=[i for i, _ in BLOCKS])
def test_each_spine_line_parses_as_spine_parses_it(text):
    lines = [_EXPR.sub(lambda m: placeholder(m.group(1)), line) for line in shell_lines(load(text))]
    spine_lines = [line for line in lines if _SPINE_LINE.search(line)]
    assert spine_lines, f"no spine command in:\n{text}"
    problems = parse_problems(spine_lines)
    assert not problems, "\n".join(problems)


# --- the checkers can fail ----------------------------------------------------------------------

def test_the_validator_rejects_what_the_runner_rejects(tmp_path):
    steps_only = tmp_path / "fragment.yml"  # what docs/ci.md once showed as a "workflow"
    steps_only.write_text('- id: start\n  run: spine run create --prompt "x"\n')
    no_runner = tmp_path / "no-runs-on.yml"
    no_runner.write_text("on: push\njobs:\n  a:\n    steps:\n      - run: echo hi\n")
    assert validate([steps_only], "vendor.github-workflows").returncode == 1
    assert validate([no_runner], "vendor.github-workflows").returncode == 1
    bad_gitlab = tmp_path / "gitlab.yml"
    bad_gitlab.write_text("job:\n  script: 42\n  when: sometimes\n")
    assert validate([bad_gitlab], "vendor.gitlab-ci").returncode == 1


def test_the_line_finder_sees_spine_and_nothing_else():
    doc = load("jobs:\n  a:\n    steps:\n      - run: pipx install getspine-cli\n"
               "      - run: |\n          spine run wait \"$RUN\" \\\n"
               "            --timeout 2h\n          echo spine.env\n")
    found = [line.split() for line in shell_lines(doc) if _SPINE_LINE.search(line)]
    assert found == [["spine", "run", "wait", '"$RUN"', "--timeout", "2h"]]


def test_no_doc_installs_the_unrelated_spine_cli():
    """`spine-cli` on PyPI is another project; ours is getspine-cli."""
    wrong = re.compile(r"\binstall(?:\s+-\S+)*\s+['\"]?spine-cli\b|\"spine-cli\[")
    texts = {p: p.read_text(encoding="utf-8") for p in
             [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "pyproject.toml",
              *sorted((ROOT / "docs").glob("*.md"))]}
    assert not [f"{p.name}: {m.group(0)}" for p, t in texts.items() for m in wrong.finditer(t)]
    assert wrong.search("pip install 'spine-cli[emulator]'") and wrong.search("pip install -U spine-cli")
    assert not wrong.search("pipx install getspine-cli  # not spine-cli")
    assert not wrong.search("pip uninstall spine-cli")  # a stale dev install: fine to remove


# --- the two-job example, played ----------------------------------------------------------------

def _two_job_workflow() -> dict[str, Any]:
    for _, text in BLOCKS:
        doc = load(text)
        if schema_for(text) == "vendor.github-workflows" and any(
                "needs" in job for job in doc["jobs"].values()):
            return doc
    raise AssertionError("docs/ci.md has no workflow that hands a run from one job to another")


def _evaluate(text: str, context: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        node: Any = context
        for part in match.group(1).split("."):
            assert isinstance(node, dict) and part in node, f"cannot evaluate ${{{{ {match.group(1)} }}}}"
            node = node[part]
        return str(node)

    return _EXPR.sub(value, text)


def _spine_shim(directory: Path) -> Path:
    """A `spine` on PATH that runs this checkout's spine_cli with this interpreter."""
    directory.mkdir()
    shim = directory / "spine"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m spine_cli "$@"\n')
    shim.chmod(0o755)
    return directory


def test_a_run_started_in_one_job_is_collected_in_another(api, tmp_path):
    workflow = _two_job_workflow()
    shim = _spine_shim(tmp_path / "bin")
    secrets = {"SPINE_API_KEY": api.key}
    outputs: dict[str, dict[str, str]] = {}
    played: list[str] = []
    for name, job in workflow["jobs"].items():  # the docs list jobs in dependency order
        needs = job.get("needs", [])
        needs = [needs] if isinstance(needs, str) else needs
        assert set(needs) <= set(outputs), f"job {name} needs a later job"
        machine = tmp_path / name  # a fresh runner: no config, no history
        (machine / "work").mkdir(parents=True)
        steps: dict[str, Any] = {}
        context = {"secrets": secrets, "steps": steps,
                   "needs": {n: {"outputs": outputs[n]} for n in needs}}
        for number, step in enumerate(job["steps"]):
            script = step.get("run", "")
            if not _SPINE_LINE.search(script):
                continue  # checkout, the install, upload-artifact: not ours to play
            github_output = machine / f"output-{number}"
            github_output.touch()
            env = {k: v for k, v in os.environ.items() if not k.startswith("SPINE_")}
            for scope in (workflow, job, step):
                env.update({k: _evaluate(str(v), context) for k, v in scope.get("env", {}).items()})
            env.update(CI="true", GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(github_output),
                       SPINE_BASE_URL=api.base_url, PATH=f"{shim}{os.pathsep}{env['PATH']}",
                       SPINE_CONFIG_DIR=str(machine / "config"), SPINE_DATA_DIR=str(machine / "data"))
            proc = subprocess.run(["bash", "-e", "-c", _evaluate(script, context)], env=env,
                                  cwd=machine / "work", capture_output=True, text=True, timeout=60)
            assert proc.returncode == 0, f"{name}: {script}\n{proc.stdout}\n{proc.stderr}"
            played.append(f"{name}: {script}")
            if "id" in step:
                steps[step["id"]] = {"outputs": parse_github_output(github_output.read_text())}
        outputs[name] = {k: _evaluate(str(v), context) for k, v in job.get("outputs", {}).items()}
        api.emulator.advance(3 * 3600)  # the run ends while the next job queues
    run_id = outputs["start"]["run_id"]
    assert re.fullmatch(r"[0-9a-f-]{36}", run_id), outputs
    assert len(played) == 2, played
    notes = tmp_path / "collect" / "work" / "notes"
    assert (notes / "manifest.json").is_file() and (notes / "final_output.md").is_file()
    assert run_id in (notes / "manifest.json").read_text()
