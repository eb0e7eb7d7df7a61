"""`spine doctor`'s checks of this machine: the config files, the history, completion.

Each check is a function of paths and the environment that returns a `Check`:
what was found, how bad it is, what to run next and the exit code it stands
for (README "Exit codes"). The checks that talk to the API live in
`runs.doctor`; `ui.doctor_view` prints them. Nothing here prints or raises.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import sys
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Mapping

from spine_cli.errors import ExitCode


class Status(str, Enum):
    OK = "ok"
    WARN = "warn"    # works, but something is worth fixing (exit code unaffected)
    FAIL = "fail"    # this will make commands fail (exit code: the check's)
    SKIP = "skip"    # could not be checked (an earlier check failed)


@dataclass
class Check:
    name: str                   # stable, for --json: version, config, profile, ...
    status: Status
    summary: str                # one line
    next: str | None = None     # what to run next, for a warn or a fail
    exit_code: int = 0          # what a failure stands for (0 unless FAIL)
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status.value, "summary": self.summary,
                "next": self.next, "exit_code": self.exit_code, "detail": self.detail}


def fail(name: str, summary: str, next_: str, code: int, **detail: Any) -> Check:
    return Check(name, Status.FAIL, summary, next_, int(code), dict(detail))


def check_version() -> Check:
    from spine_cli import __version__

    python = ".".join(map(str, sys.version_info[:3]))
    return Check("version", Status.OK, f"spine {__version__}, Python {python} ({sys.platform})",
                 detail={"spine": __version__, "python": python, "platform": sys.platform,
                         "executable": sys.executable})


def check_config(path: Path, directory: Path) -> Check:
    """config.toml readable, and neither it nor its directory open to other users."""
    from spine_cli.errors import ConfigError
    from spine_cli.local.config_file import read_config

    detail: dict[str, Any] = {"file": str(path), "directory": str(directory),
                              "exists": path.exists()}
    problems, fixes = [], []
    dir_mode = _mode(directory)
    if dir_mode is not None:
        detail["directory_mode"] = f"{dir_mode:04o}"
        if dir_mode & (stat.S_IWGRP | stat.S_IWOTH):
            problems.append(f"{directory} is writable by other users ({dir_mode:04o})")
            fixes.append(f"chmod 700 {directory}")
    if path.exists():
        file_mode = _mode(path)
        detail["file_mode"] = f"{file_mode:04o}" if file_mode is not None else None
        if file_mode is not None and file_mode & (stat.S_IRWXG | stat.S_IRWXO):
            problems.append(f"{path} is readable by other users ({file_mode:04o})")
            fixes.append(f"chmod 600 {path}")
        try:
            read_config(path)
        except ConfigError as exc:
            return fail("config", f"{path} cannot be used: {exc.message}",
                        exc.hint or f"Fix or move away {path}", ExitCode.CONFIG, **detail)
    if problems:
        return fail("config", "; ".join(problems) + " (it may hold API keys)",
                    " && ".join(fixes), ExitCode.CONFIG, **detail)
    where = str(path) if path.exists() else f"{path} (not created yet: nothing stored)"
    return Check("config", Status.OK, where, detail=detail)


def _mode(path: Path) -> int | None:
    if os.name != "posix":
        return None
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None


def check_history(path: Path) -> Check:
    """The run history opens, passes SQLite's quick check, and how many runs it holds."""
    detail: dict[str, Any] = {"file": str(path), "exists": path.exists()}
    if not path.exists():
        return Check("history", Status.OK, f"{path} (no runs recorded yet)", detail=detail)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
        try:
            verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
            runs = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        verdict, runs, version = str(exc), None, None
    detail.update(runs=runs, schema_version=version, quick_check=verdict)
    if verdict != "ok":
        # spine carries on without a history (a warning each time): not a failure.
        return Check("history", Status.WARN, f"{path} is unusable: {verdict}",
                     f"Move it away to start a new history: mv {path} {path}.old",
                     detail=detail)
    return Check("history", Status.OK, f"{path} ({runs} run{'' if runs == 1 else 's'})",
                 detail=detail)


# Where each shell loads a completion script from (docs/completion.md), and whether the
# shell looks there by itself. {prefix} is the environment spine runs in, where the wheel
# puts its copies: loaded only when that is /usr or /usr/local.
_SHELL_FILES: dict[str, list[str]] = {
    "bash": ["{home}/.bash_completions/spine.sh",  # spine --install-completion
             "{data}/bash-completion/completions/spine",
             "{usr}/share/bash-completion/completions/spine"],
    "zsh": ["{home}/.zfunc/_spine", "{usr}/share/zsh/site-functions/_spine"],
    "fish": ["{config}/fish/completions/spine.fish",
             "{usr}/share/fish/vendor_completions.d/spine.fish"],
}
_RC_FILES = {"bash": ".bashrc", "zsh": ".zshrc"}  # a script sourced from there counts too
_SYSTEM_PREFIXES = ("/usr/local", "/usr")


def check_completion(env: Mapping[str, str], prefix: str = sys.prefix) -> Check:
    """Is <Tab> completion installed where the current shell ($SHELL) loads it?"""
    shell = Path(env.get("SHELL", "")).name
    if shell not in _SHELL_FILES:
        return Check("completion", Status.SKIP,
                     f"not checked for shell {shell or '(SHELL unset)'}",
                     "See docs/completion.md", detail={"shell": shell or None})
    home = env.get("HOME") or str(Path.home())
    values = {"home": home, "data": env.get("XDG_DATA_HOME") or f"{home}/.local/share",
              "config": env.get("XDG_CONFIG_HOME") or f"{home}/.config"}
    loaded = [t.format(usr=usr, **values) for t in _SHELL_FILES[shell]
              for usr in _SYSTEM_PREFIXES if "{usr}" in t or usr == _SYSTEM_PREFIXES[0]]
    loaded = list(dict.fromkeys(loaded))
    found = [c for c in loaded if Path(c).is_file()] + _sourced(shell, home)
    bundled = [t.format(usr=prefix, **values) for t in _SHELL_FILES[shell] if "{usr}" in t]
    detail = {"shell": shell, "found": found, "looked_in": loaded + bundled}
    if found:
        return Check("completion", Status.OK, f"{shell}: {found[0]}", detail=detail)
    here = [b for b in bundled if Path(b).is_file()]
    why = f"{here[0]} is installed, but {shell} does not look there" if here \
        else "not installed"
    return Check("completion", Status.WARN, f"{shell}: {why}", "spine --install-completion",
                 detail=detail)


def _sourced(shell: str, home: str) -> list[str]:
    """The rc file, when it sources spine's completion (docs/completion.md's other way)."""
    rc = Path(home) / _RC_FILES.get(shell, ".none")
    try:
        text = rc.read_text(errors="replace")
    except OSError:
        return []
    marks = ("_SPINE_COMPLETE", "completions/spine.", ".bash_completions/spine")
    return [f"{rc} (sources it)"] if any(m in text for m in marks) else []
