"""`spine doctor` on screen: a table on a terminal, a line per check when piped, --json.

Piped, each check is printed as soon as it is known (a slow network check does
not hold back the others); on a terminal the table comes at the end. A check
that warns or fails is followed by what to run next.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spine_cli.local.diagnose import Check, Status
from spine_cli.ui.styles import CHECK_STYLES

if TYPE_CHECKING:
    from spine_cli.ui.output import Output

NAME_WIDTH = 10


class DoctorView:
    """`on_check` for each check as it comes, then `finish(exit_code)`."""

    def __init__(self, output: "Output") -> None:
        self._output = output
        self._checks: list[Check] = []

    def on_check(self, check: Check) -> None:
        self._checks.append(check)
        out = self._output
        if out.json or out.mode.rich_stdout:
            return  # one document / one table at the end
        if out.quiet:
            if check.status is Status.FAIL:
                out.note(f"{check.name}: {check.summary}" + _next(check, " — next: "))
            return
        out.data(f"{check.status.value:<5} {check.name:<{NAME_WIDTH}} {check.summary}")
        if check.next and check.status in (Status.WARN, Status.FAIL):
            out.data(f"{'':<5} {'':<{NAME_WIDTH}} next: {check.next}")

    def finish(self, exit_code: int) -> None:
        out = self._output
        if out.json:
            out.document({"checks": [c.as_json() for c in self._checks],
                          "exit_code": exit_code})
        elif out.mode.rich_stdout and not out.quiet:
            self._table()
        if not out.json:
            out.info(_verdict(self._checks, exit_code))

    def _table(self) -> None:
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
        table.add_column("", no_wrap=True)
        table.add_column("CHECK", no_wrap=True)
        table.add_column("RESULT")
        for check in self._checks:
            style = CHECK_STYLES[check.status]
            result = Text(check.summary)  # Text: no markup read in paths or server text
            if check.next and check.status in (Status.WARN, Status.FAIL):
                result.append(f"\n→ {check.next}", style="bold")
            table.add_row(Text(style.mark, style=style.colour), Text(check.name), result)
        self._output.out.print(table)


def _next(check: Check, lead: str) -> str:
    return f"{lead}{check.next}" if check.next else ""


def _verdict(checks: list[Check], exit_code: int) -> str:
    failed = [c.name for c in checks if c.status is Status.FAIL]
    warned = [c.name for c in checks if c.status is Status.WARN]
    if failed:
        return f"Failed: {', '.join(failed)} (exit {exit_code})."
    if warned:
        return f"No check failed; to look at: {', '.join(warned)}."
    return "All checks passed."
