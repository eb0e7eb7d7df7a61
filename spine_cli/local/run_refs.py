"""RUN arguments: a full run id, a unique prefix of one, `@last` or `@last~N`.

A full id needs no history. A prefix and `@last~N` are looked up in the
local history of the current profile and base URL (`local.history`); a bad,
unknown or ambiguous reference is a `UsageError` saying what to give instead.
An unconfirmed create (no run id) is named `#N`, its row number in the
history, for `spine run forget`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from spine_cli.errors import UsageError
from spine_cli.local.history import History, Row
from spine_cli.local.settings import canonical_base_url

if TYPE_CHECKING:
    from spine_cli.local.settings import Settings

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_PREFIX_RE = re.compile(r"^[0-9a-fA-F][0-9a-fA-F-]{0,35}$")
_LAST_RE = re.compile(r"^@last(?:~(\d{1,6}))?$")
_ROW_RE = re.compile(r"^#(\d{1,12})$")
HINT = ("Give a run id (550e8400-e29b-41d4-a716-446655440000), a unique prefix of one from "
        "`spine run list`, @last or @last~N.")


def resolve_run_ref(ref: str, settings: "Settings", history: History) -> str:
    """Turn a RUN argument into a full run id."""
    ref = ref.strip()
    if UUID_RE.match(ref):
        return ref.lower()
    last = _LAST_RE.match(ref)
    if last:
        return _nth_last(history, settings, int(last.group(1) or 0), ref)
    if _PREFIX_RE.match(ref):
        return _by_prefix(history, settings, ref.lower())
    raise UsageError(f"Not a run reference: {ref!r}.", hint=HINT)


def resolve_row(ref: str, settings: "Settings", history: History) -> tuple[int | str, Row | None]:
    """A RUN argument or `#N` (an unconfirmed create) → the key `History.forget` takes."""
    row = _ROW_RE.match(ref.strip())
    if row:
        return int(row.group(1)), history.row(int(row.group(1)))
    return resolve_run_ref(ref, settings, history), None


def _rows(history: History, settings: "Settings", what: str, condition: str, params: list[Any],
          page: str) -> list[Row]:
    rows = history.lookup(settings, condition, params, page)
    if rows is None:
        raise UsageError(f"Cannot resolve {what}: the run history is unusable.",
                         hint="Give the full run id.")
    return rows


def where(settings: "Settings") -> str:
    return f"profile '{settings.profile}' at {canonical_base_url(settings.base_url)}"


def emulator_ended(row: Row, settings: "Settings") -> bool:
    """A run made under `spine emulator exec` whose emulator is not the one in use.

    `emulator exec` keeps its emulator's state in a temporary directory and removes it
    when CMD ends, so such a run cannot be fetched again.
    """
    return row.get("origin") == "emulator" and \
        row["base_url"] != canonical_base_url(settings.base_url)


def elsewhere_lines(counts: dict[tuple[str, str, str | None], int], settings: "Settings") -> list[str]:
    """`History.counts_elsewhere` as sentences: where the other runs of this history are."""
    current = canonical_base_url(settings.base_url)
    ended = sum(n for (_, url, origin), n in counts.items()
                if origin == "emulator" and url != current)
    lines = []
    if ended:
        lines.append(f"{_runs(ended)} made under `spine emulator exec`, whose emulator has "
                     "stopped (those runs are gone with it)")
    for (profile, url, origin), n in counts.items():
        if not (origin == "emulator" and url != current):
            lines.append(f"{_runs(n)} of profile '{profile}' at {url}")
    return lines


def _runs(n: int) -> str:
    return f"{n} run{'s' if n != 1 else ''}"


def _nth_last(history: History, settings: "Settings", n: int, ref: str) -> str:
    rows = _rows(history, settings, ref, "run_id IS NOT NULL", [], f"LIMIT 1 OFFSET {n}")
    if not rows:
        count = "no runs" if n == 0 else f"fewer than {n + 1} runs"
        message = f"Cannot resolve {ref}: the local history has {count} for {where(settings)}."
        raise UsageError(message, hint=_elsewhere_hint(history, settings))
    return str(rows[0]["run_id"])


def _elsewhere_hint(history: History, settings: "Settings") -> str:
    """Where @last would have led: the newest run elsewhere, and how to reach it."""
    newest = history.newest_elsewhere(settings)
    if newest is None:
        return ("Create one: spine run create -p PROMPT --watch (or try the emulator: "
                "spine emulator exec -- spine run create -p PROMPT --watch).")
    short = str(newest["run_id"])[:8]
    when = str(newest["created_at"])[:16].replace("T", " ")
    if emulator_ended(newest, settings):
        return (f"The newest run, {short} ({when} UTC), was made under `spine emulator exec`; "
                "that emulator has stopped and its runs are gone with it. Run one again: "
                "spine emulator exec -- spine run create -p PROMPT --watch")
    flags = f"--profile {newest['profile']}" if newest["profile"] != settings.profile else ""
    if newest["base_url"] != canonical_base_url(settings.base_url):
        flags = f"{flags} --base-url {newest['base_url']}".strip()
    return (f"The newest run, {short} ({when} UTC), is of profile '{newest['profile']}' at "
            f"{newest['base_url']}: spine {flags} run get @last")


def _by_prefix(history: History, settings: "Settings", prefix: str) -> str:
    # LIKE treats _ and % as wildcards; the prefix regex admits neither.
    rows = _rows(history, settings, f"the prefix {prefix!r}", "run_id LIKE ?", [prefix + "%"],
                 "LIMIT 11")
    if not rows:
        raise UsageError(f"No run in the local history for {where(settings)} starts with "
                         f"{prefix!r}.", hint="See `spine run list`, or give the full run id.")
    if len(rows) > 1:
        shown = [f"  {r['run_id']}  {r['status']:<9}  {r['created_at'][:19]}" for r in rows[:10]]
        more = "\n  …" if len(rows) > 10 else ""
        raise UsageError(f"The prefix {prefix!r} is ambiguous; it matches:\n"
                         + "\n".join(shown) + more,
                         hint="Give more characters of the run id.")
    return str(rows[0]["run_id"])
