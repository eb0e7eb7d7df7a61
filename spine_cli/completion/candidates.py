"""The values a <Tab> offers that come from local state, read at <Tab> time.

- `--template`, `--block`: the API's templates and block types;
- every `--profile`: the profile names in config.toml;
- every RUN argument: run ids from the local history for the active profile
  and base URL, most recent first, described by status, age and prompt.

Nothing here touches the network or imports Typer, httpx or rich at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spine_cli.local.settings import Settings

RUN_CANDIDATES = 30

Candidate = tuple[str, "str | None"]


# --- value candidates --------------------------------------------------------

def template_candidates(incomplete: str) -> list[Candidate]:
    from spine_cli.api.catalog import TEMPLATES

    return [(t, None) for t in TEMPLATES if t.startswith(incomplete)]


def block_candidates(incomplete: str) -> list[Candidate]:
    from spine_cli.api.catalog import BLOCK_TYPES

    return [(b, None) for b in BLOCK_TYPES if b.startswith(incomplete)]


def profile_candidates(incomplete: str) -> list[Candidate]:
    """Profile names from config.toml (none when it is missing or unreadable)."""
    try:
        from spine_cli.local.settings import load_config

        # No warnings: they would land in the middle of the user's prompt.
        profiles = load_config(warn=None).get("profiles", {})
    except Exception:  # completion never fails the shell
        return []
    return [(name, None) for name in sorted(profiles) if name.startswith(incomplete)]


def run_candidates(incomplete: str, profile: str | None = None,
                   base_url: str | None = None) -> list[Candidate]:
    """Run ids from the local history, most recent first, with a description."""
    try:
        rows = _history_rows(profile, base_url)
    except Exception:
        return []
    prefix = incomplete.lower()
    out: list[Candidate] = []
    if incomplete.startswith("@") and rows and "@last".startswith(incomplete):
        out.append(("@last", f"latest: {_describe(rows[0])}"))
    for row in rows:
        rid = row.get("run_id")
        if rid and rid.startswith(prefix):
            out.append((rid, _describe(row)))
    return out


def _history_rows(profile: str | None, base_url: str | None) -> list[dict[str, Any]]:
    from spine_cli.local.history import History, history_path

    path = history_path()
    if not path.exists():
        return []  # completing never creates the history
    scope = _scope(profile, base_url)
    quiet = History(path, warn=lambda message: None)
    return quiet.recent(scope, limit=RUN_CANDIDATES, all_profiles=scope is None)


def _scope(profile: str | None, base_url: str | None) -> "Settings | None":
    """The settings `resolve_run_ref` will use (None, for all profiles, when config is unreadable)."""
    from spine_cli.local.settings import load_settings

    try:
        # A profile missing from config.toml still scopes the history (it may hold its runs).
        return load_settings(profile, base_url, allow_new_profile=True)
    except Exception:
        return None


def _describe(row: dict[str, Any]) -> str:
    from spine_cli.local.history import UNCONFIRMED

    status = UNCONFIRMED if row.get("unconfirmed") else str(row.get("status") or "?")
    when = str(row.get("created_at") or "")[:16].replace("T", " ")
    prompt = " ".join(str(row.get("prompt") or "").split())
    if len(prompt) > 48:
        prompt = prompt[:47] + "…"
    text = f"{status}, {when}, {prompt}" if prompt else f"{status}, {when}"
    # Shells print descriptions raw; Typer would also read [..] as rich markup.
    text = "".join(ch for ch in text if ch.isprintable())
    return text.replace("[", "(").replace("]", ")")
