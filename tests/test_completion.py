"""Shell completion as a shell drives it: the committed scripts, the protocol, the candidates."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spine_cli.completion import candidates as completion
from spine_cli.completion import fast as completion_fast
from support.history import record as record_row
from tools import completion_spec, gen_completion
from spine_cli.app import app
from spine_cli.api.catalog import BLOCK_TYPES, TEMPLATES
from spine_cli.local.settings import load_settings

REPO = Path(__file__).resolve().parent.parent
COMPLETIONS = REPO / "completions"
SPINE_EXE = Path(sys.executable).with_name("spine")
runner = CliRunner()


# --- helpers: the two ways `spine` answers a <Tab> -------------------------------

@pytest.fixture(scope="module")
def spec_in_click_order(tmp_path_factory) -> Path:
    """The committed spec, with -h/--help in the order Click gives them in this process.

    Click collects the help option's names in a set, so Typer offers `-h --help`
    or `--help -h` depending on the process's hash seed; the spec fixes one order.
    """
    import json

    import typer.main

    root = typer.main.get_command(app)
    click_order = root.get_help_option(typer.Context(root, **root.context_settings)).opts
    spec = completion_fast.load_spec()

    def reorder(node: dict) -> None:
        for opt in node["options"]:
            if sorted(opt["opts"]) == sorted(click_order):
                opt["opts"] = list(click_order)
        for sub in node.get("commands", []):
            reorder(sub)

    reorder(spec["root"])
    path = tmp_path_factory.mktemp("spec") / "completion_spec.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _fast_path_uses_click_order(spec_in_click_order):
    global CLICK_ORDER_SPEC
    CLICK_ORDER_SPEC = str(spec_in_click_order)


CLICK_ORDER_SPEC = ""  # the spec the fast path is compared with Typer on (set per test)


def protocol_env(shell: str, line: str) -> dict[str, str]:
    """The variables the committed script for `shell` sets for the words typed so far."""
    env = {completion_fast.COMPLETE_VAR: f"complete_{shell}"}
    if shell == "bash":
        words = line.split()
        cword = len(words) if line.endswith(" ") else len(words) - 1
        env.update(COMP_WORDS=line, COMP_CWORD=str(cword))
    elif shell == "powershell":
        words = line.split()
        incomplete = "" if line.endswith(" ") else words[-1]
        env.update(_TYPER_COMPLETE_ARGS=line.rstrip(), _TYPER_COMPLETE_WORD_TO_COMPLETE=incomplete)
    else:
        env.update(_TYPER_COMPLETE_ARGS=line, _TYPER_COMPLETE_FISH_ACTION="get-args")
    return env


def fast(shell: str, line: str, capsys) -> tuple[int | None, str]:
    """spine's own fast path from the static spec (what the `spine` executable runs)."""
    capsys.readouterr()
    code = completion_fast.fast_complete(env=protocol_env(shell, line), spec_path=CLICK_ORDER_SPEC)
    return code, capsys.readouterr().out


def typer_answer(shell: str, line: str) -> tuple[int, str]:
    """Typer's own completion of the same words (the reference)."""
    result = runner.invoke(app, [], prog_name="spine", env=protocol_env(shell, line))
    return result.exit_code, result.stdout


def values(shell: str, line: str, capsys) -> list[str]:
    code, out = fast("bash" if shell == "bash" else shell, line, capsys)
    assert code == 0
    return [v for v in out.splitlines() if v]


def described(line: str, capsys) -> list[tuple[str, str]]:
    """(value, description) pairs as fish shows them."""
    code, out = fast("fish", line, capsys)
    assert code == 0
    return [tuple(row.split("\t", 1)) if "\t" in row else (row, "")
            for row in out.splitlines() if row]


def record(prompt: str, status: str = "completed", profile: str | None = None) -> str:
    run_id = str(uuid.uuid4())
    record_row(load_settings(profile), run_id, prompt=prompt, status=status)
    return run_id


@pytest.fixture
def profiles(isolated_env):
    cfg = isolated_env["config_dir"]
    cfg.mkdir(parents=True, exist_ok=True)
    path = cfg / "config.toml"
    path.write_text("[profiles.default]\n[profiles.staging]\n[profiles.local]\n"
                    'base_url = "http://127.0.0.1:8787"\n', encoding="utf-8")
    path.chmod(0o600)
    return ["default", "local", "staging"]


# --- 1. the committed scripts ---------------------------------------------------------

def test_committed_scripts_and_spec_are_what_the_app_generates_now():
    stale = gen_completion.stale_files(app, COMPLETIONS)
    assert stale == [], f"out of date: {stale}; regenerate with: python -m tools.gen_completion"


def test_the_spec_is_shipped_inside_the_package():
    assert completion_spec.SPEC_PATH.parent == Path(completion_fast.__file__).parent
    assert completion_fast.load_spec(str(completion_spec.SPEC_PATH))["root"]["name"] == "spine"


def test_check_command_fails_on_a_stale_script(tmp_path):
    gen_completion.write_scripts(app, tmp_path)
    assert gen_completion._main(["--check", str(tmp_path)]) == 0
    (tmp_path / "spine.fish").write_text("# edited by hand\n")
    assert gen_completion._main(["--check", str(tmp_path)]) == 1


@pytest.mark.parametrize("shell,name", list(gen_completion.SCRIPT_FILES.items()))
def test_each_script_calls_back_into_spine_with_its_shell(shell, name):
    text = (COMPLETIONS / name).read_text()
    assert (f"_SPINE_COMPLETE=complete_{shell}" in text
            or f'$Env:_SPINE_COMPLETE = "complete_{shell}"' in text)
    if shell == "zsh":
        assert text.startswith("#compdef spine\n")


def test_show_completion_prints_the_committed_script(monkeypatch):
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    for shell, name in gen_completion.SCRIPT_FILES.items():
        result = runner.invoke(app, ["--show-completion", shell], prog_name="spine")
        assert result.exit_code == 0, result.output
        committed = [line for line in (COMPLETIONS / name).read_text().splitlines()
                     if not line.startswith("# ")]
        assert result.stdout.strip().splitlines() == committed


def test_install_completion_writes_the_script_and_sources_it(monkeypatch, tmp_path):
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    monkeypatch.setenv("HOME", str(tmp_path))
    result = runner.invoke(app, ["--install-completion", "bash"], prog_name="spine")
    assert result.exit_code == 0, result.output
    installed = tmp_path / ".bash_completions" / "spine.sh"
    assert "_SPINE_COMPLETE=complete_bash" in installed.read_text()
    assert f"source '{installed}'" in (tmp_path / ".bashrc").read_text()


@pytest.mark.skipif(not shutil.which("bash") or not SPINE_EXE.exists(), reason="needs bash")
def test_real_bash_completes_through_the_committed_script(profiles):
    run_id = record("Quarterly memo")
    script = (
        f"source {COMPLETIONS / 'spine.bash'}\n"
        'COMP_WORDS=(spine run create --template r); COMP_CWORD=4; _spine_completion spine\n'
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
        'COMP_WORDS=(spine run wait ""); COMP_CWORD=3; _spine_completion spine\n'
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = dict(os.environ, PATH=f"{SPINE_EXE.parent}{os.pathsep}{os.environ['PATH']}")
    out = subprocess.run(["bash", "--norc", "-c", script], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["report", run_id]


# --- 2. what is offered -------------------------------------------------------------------

def test_subcommands_and_options(capsys):
    # Typer lists a top-level command (doctor) before the groups.
    assert values("bash", "spine ", capsys) == ["doctor", "run", "batch", "canvas", "auth",
                                               "config", "emulator", "webhook"]
    assert values("bash", "spine webhook trigger --event run.", capsys) == [
        "run.started", "run.completed", "run.failed"]
    assert values("bash", "spine run w", capsys) == ["wait", "watch"]
    opts = values("bash", "spine run create --", capsys)
    assert {"--prompt", "--template", "--block", "--wait", "--download"} <= set(opts)
    assert "--ci" in values("bash", "spine --c", capsys)


def test_an_option_already_given_is_not_offered_again_unless_repeatable(capsys):
    opts = values("bash", "spine run create --template report -b memo --", capsys)
    assert "--template" not in opts and "--block" in opts


def test_template_and_block_values(capsys):
    assert values("bash", "spine run create --template ", capsys) == list(TEMPLATES)
    assert values("bash", "spine run create -t d", capsys) == ["deep_research"]
    assert values("bash", "spine run create --template=l", capsys) == ["landing_page"]
    assert values("bash", "spine run create --block ", capsys) == list(BLOCK_TYPES)
    assert values("bash", "spine run create -b web", capsys) == ["web-block",
                                                                  "web-research-block"]


def test_ci_values(capsys):
    assert values("bash", "spine --ci ", capsys) == ["auto", "github", "none"]


def test_profile_names_from_config_toml(profiles, capsys):
    assert values("bash", "spine --profile ", capsys) == profiles
    assert values("bash", "spine --profile s", capsys) == ["staging"]


@pytest.mark.parametrize("command", ["auth login", "auth status", "auth logout", "config list",
                                     "config get base_url", "config set", "config unset"])
def test_every_profile_option_offers_profile_names(command, profiles, capsys):
    assert values("bash", f"spine {command} --profile ", capsys) == profiles
    assert values("bash", f"spine {command} --profile=l", capsys) == ["local"]


def test_profile_completion_without_a_config_offers_nothing(capsys):
    assert values("bash", "spine --profile ", capsys) == []


@pytest.mark.parametrize("command", ["run get", "run wait", "run watch", "run download",
                                     "run open", "run wait 0000 ", "canvas dag", "canvas tasks",
                                     "canvas task"])
def test_every_run_argument_offers_history_newest_first(command, profiles, capsys):
    older = record("An older memo", status="failed")
    newer = record("Write a Q4 [emulate:outcome=partial] market\nreport for the board, "
                   "with charts and an executive summary", status="partial")
    rows = described(f"spine {command.rstrip()} ", capsys)
    assert [v for v, _ in rows] == [newer, older]
    assert rows[1][1].startswith("failed, ") and rows[1][1].endswith("An older memo")
    desc = rows[0][1]
    assert desc.startswith("partial, ") and "Write a Q4 (emulate:outcome=partial) market" in desc
    assert "\n" not in desc and desc.endswith("…")


def test_run_prefix_and_at_last(profiles, capsys):
    a = record("first")
    b = record("second")
    assert values("bash", f"spine run get {a[:6]}", capsys) == [a] or a[:6] == b[:6]
    rows = described("spine run get @", capsys)
    assert rows[0][0] == "@last" and rows[0][1].startswith("latest: completed")


def test_run_ids_are_those_of_the_active_profile(profiles, capsys):
    here = record("default profile run")
    there = record("local profile run", profile="local")
    assert values("bash", "spine run get ", capsys) == [here]
    assert values("bash", "spine --profile local run get ", capsys) == [there]


def test_run_ids_follow_the_base_url_as_run_commands_resolve_it(profiles, monkeypatch, capsys):
    monkeypatch.setenv("SPINE_BASE_URL", "http://127.0.0.1:9999/")
    env_run = record("run against the env base URL")
    assert values("bash", "spine run get ", capsys) == [env_run]
    assert values("bash", "spine --base-url http://127.0.0.1:9999/v1 run get ", capsys) == [env_run]
    assert values("bash", "spine --base-url http://127.0.0.1:8787 run get ", capsys) == []
    monkeypatch.delenv("SPINE_BASE_URL")
    assert values("bash", "spine run get ", capsys) == []


def test_completing_creates_no_history_and_prints_no_warning(isolated_env, capsys):
    code, out = fast("bash", "spine run wait ", capsys)
    assert code == 0 and out == "\n"
    assert not (isolated_env["data_dir"] / "history.sqlite3").exists()


def test_an_unreadable_history_offers_nothing_and_stays_quiet(isolated_env, capsys):
    data = isolated_env["data_dir"]
    data.mkdir(parents=True)
    (data / "history.sqlite3").write_bytes(b"not a database" * 100)
    capsys.readouterr()
    assert completion_fast.fast_complete(env=protocol_env("bash", "spine run get "),
                                          spec_path=CLICK_ORDER_SPEC) == 0
    captured = capsys.readouterr()
    assert captured.out == "\n" and captured.err == ""


# --- the fast path answers exactly as Typer would ---------------------------------------

LINES = ["spine ", "spine r", "spine run ", "spine run create --", "spine run create --t",
         "spine run create -t ", "spine run create --template=r", "spine run create -b doc",
         "spine run create --template report -", "spine --profile ", "spine --ci ",
         "spine --json run wait ", "spine run get ", "spine run wait abc ", "spine config ",
         "spine emulator exec -- ", "spine canvas dag --", "spine auth login --",
         "spine --ci G", "spine --ci=n", "spine -qv -", "spine -v --", "spine run list --status ",
         "spine run list --status C", "spine run create -tr", "spine run create -b web -b ",
         "spine run create --prompt-file ", "spine --profile local run get ",
         "spine run get ABC", "spine run get @", "spine canvas tasks ", "spine canvas task x ",
         "spine auth status --profile s", "spine config list --profile ",
         "spine emulator serve --", "spine nosuch ", "spine run create -- --"]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish", "powershell"])
def test_fast_path_matches_typer_for_every_shell(shell, profiles, capsys):
    record("Quarterly [b]memo[/b]: revenue")
    for line in LINES:
        code, out = fast(shell, line, capsys)
        ref_code, ref_out = typer_answer(shell, line)
        # Typer wraps long descriptions at 80 columns; the fast path keeps them on one line.
        assert (code, out.split()) == (ref_code, ref_out.split()), line


def spec_lines(node=None, words=("spine",)) -> list[str]:
    """For every command in the spec: its subcommands, its options, each option's values."""
    node = node or completion_fast.load_spec()["root"]
    prefix = " ".join(words)
    lines = [f"{prefix} ", f"{prefix} -"]
    lines += [f"{prefix} {opt['opts'][0]} " for opt in node["options"] if opt["takes_value"]]
    for sub in node.get("commands", []):
        lines += spec_lines(sub, (*words, sub["name"]))
    return lines


def test_fast_path_matches_typer_on_every_command_and_option(profiles, capsys):
    record("a run")
    lines = spec_lines()
    assert len(lines) > 60
    for line in lines:
        code, out = fast("zsh", line, capsys)
        ref_code, ref_out = typer_answer("zsh", line)
        assert (code, out.split()) == (ref_code, ref_out.split()), line


def test_fish_is_args_says_whether_spine_has_candidates(capsys):
    env = protocol_env("fish", "spine run create --template ")
    env["_TYPER_COMPLETE_FISH_ACTION"] = "is-args"
    assert completion_fast.fast_complete(env=env, spec_path=CLICK_ORDER_SPEC) == 0
    env["_TYPER_COMPLETE_ARGS"] = "spine run create --prompt-file "
    assert completion_fast.fast_complete(env=env, spec_path=CLICK_ORDER_SPEC) == 1  # file names


def test_a_missing_or_foreign_spec_is_left_to_typer(tmp_path, capsys):
    env = protocol_env("bash", "spine run ")
    assert completion_fast.fast_complete(env=env, spec_path=tmp_path / "none.json") is None
    (tmp_path / "spec.json").write_text('{"format": 99}')
    assert completion_fast.fast_complete(env=env, spec_path=tmp_path / "spec.json") is None
    assert capsys.readouterr().out == ""


def test_the_entry_point_falls_back_to_typer(monkeypatch, tmp_path, capsys):
    from spine_cli import entry

    for name, value in protocol_env("bash", "spine run w").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["spine"])
    with pytest.raises(SystemExit) as exit_info:
        entry.main(spec_path=str(tmp_path / "none.json"))
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.split() == ["wait", "watch"]


# --- never the network, never heavy imports ------------------------------------------------

HEAVY = ("typer", "click", "rich", "httpx", "pydantic", "spine_cli.app", "spine_cli.commands",
         "spine_cli.context", "spine_cli.ui", "spine_cli.runs", "spine_cli.api.client", "tools")


@pytest.mark.skipif(not SPINE_EXE.exists(), reason="needs the installed spine script")
@pytest.mark.parametrize("line", ["spine run wait ", "spine --profile ", "spine run create -"])
def test_the_spine_executable_completes_without_typer_or_the_app(line, profiles, tmp_path):
    record("a run")
    assert "spine_cli.entry" in SPINE_EXE.read_text()
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write(repr(sorted(m for m, v in sys.modules.items()"
        f" if m.startswith({HEAVY!r}) and v is not None))))\n"  # None: a blocked import
        "from spine_cli.entry import main\nmain()\n")
    env = dict(os.environ, SPINE_API_KEY="sk_spine_" + "x" * 24, **protocol_env("bash", line))
    out = subprocess.run([sys.executable, str(probe)], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0
    assert out.stdout.split()
    assert out.stderr == "[]"
