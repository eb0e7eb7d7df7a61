"""What `spine webhook …` shows: deliveries as they arrive, triggered requests and answers.

`webhook listen` prints one line per accepted event on stdout: on a terminal a
readable line (time, type, run id, status, run duration, then what the app and
the command did); piped or with --json the verified event itself, one JSON
object per line (NDJSON); with -q the event id. Refused deliveries and events
that could not be handled are warnings on stderr, in every mode. Text from the
sender or the app is sanitised before it is shown. Called from the listener's
threads: writes are serialised.
"""

from __future__ import annotations

import shlex
import threading
import time
from typing import TYPE_CHECKING, Any

from spine_cli.ui.output import Output
from spine_cli.ui.textsafe import sanitize

if TYPE_CHECKING:
    from spine_cli.api.outbound import Answer
    from spine_cli.webhooks.execute import ExecResult
    from spine_cli.webhooks.listener import Received, Rejected


def _clean(value: Any, limit: int = 200) -> str:
    return sanitize("" if value is None else str(value), keep_newlines=False)[:limit]


def _clock(unix: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(unix))


def _ms(value: float) -> str:
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.1f} s"


def _run_duration(ms: Any) -> str:
    if not isinstance(ms, (int, float)):
        return "-"
    seconds = ms / 1000
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


class ListenView:
    """Renders `webhook listen` (the listener's callbacks call `event` and `rejected`)."""

    def __init__(self, output: Output, ndjson: bool) -> None:
        self.output, self.ndjson = output, ndjson
        self._lock = threading.Lock()

    def started(self, url: str, *, exposed: bool, host: str, forward_to: str | None,
                command: str | None, only: list[str] | None) -> None:
        if exposed:
            self.output.warn(f"listening on {_clean(host)}, not on loopback: other machines "
                             "can reach this listener (deliveries are still verified).")
        # Printed even with -q: the URL is what makes the listener usable (--port 0).
        self.output.note(f"Listening for Spine webhooks on {url} (Ctrl-C stops).")
        lines = [f"Give the sender this URL, e.g. spine emulator serve --webhook {url}"]
        if only:
            lines.append("Only: " + ", ".join(only))
        if forward_to:
            lines.append(f"Forwarding verified events to {forward_to}")
        if command:
            lines.append(f"Running for each verified event: {command}")
        for line in lines:
            self.output.info(line)

    def event(self, received: "Received") -> None:
        if received.filtered:
            return
        with self._lock:
            if received.ok:
                self._accepted(received)
            else:
                self.output.warn(self._failure(received))
            self._exec_output(received.executed)

    def rejected(self, rejected: "Rejected") -> None:
        who = f" from {_clean(rejected.client)}" if rejected.client else ""
        with self._lock:
            self.output.warn(f"{_clock(rejected.received_at)} refused a delivery{who}: "
                             f"{_clean(rejected.message)} (answered {rejected.status}, "
                             f"{rejected.reason})")

    def stopped(self) -> None:
        self.output.info("Stopped listening.")

    def _accepted(self, received: "Received") -> None:
        info = received.summary
        if self.output.json or self.ndjson:
            self.output.record(received.event)
            actions = self._actions(received)
            if actions:  # stdout holds only events: what the app and command did goes to stderr
                self.output.info(f"{_clock(received.received_at)} {_clean(info['type'], 40)} "
                                 f"{_clean(info['id'])}  {actions}")
        elif self.output.quiet:
            self.output.data(_clean(info["id"]))
        else:
            self.output.data(self._line(received, info))

    def _line(self, received: "Received", info: dict[str, Any]) -> str:
        parts = [_clock(received.received_at), f"{_clean(info['type'], 40):<13}",
                 _clean(info["run_id"], 60) or "-", f"{_clean(info['status'], 20) or '-':<9}",
                 f"{_run_duration(info['duration_ms']):>6}"]
        actions = self._actions(received)
        return "  ".join([*parts, actions] if actions else parts)

    @staticmethod
    def _actions(received: "Received") -> str:
        """The app's answer and the command's exit, for an accepted event."""
        parts = []
        if received.forward is not None:
            parts.append(f"→ {received.forward.status} ({_ms(received.forward.elapsed_ms)})")
        if received.executed is not None:
            parts.append(f"exec 0 ({_ms(received.executed.elapsed_ms)})")
        return "  ".join(parts)

    def _failure(self, received: "Received") -> str:
        info = received.summary
        head = f"{_clock(received.received_at)} {_clean(info['type'], 40)} {_clean(info['id'])}"
        forward, executed = received.forward, received.executed
        if forward is not None and not forward.ok:
            what = (f"forward to {forward.url} failed: "
                    + (f"HTTP {forward.status}" if forward.status else _clean(forward.error))
                    + f" ({_ms(forward.elapsed_ms)})")
        elif executed is not None and executed.timed_out:
            what = f"--exec timed out after {_ms(executed.elapsed_ms)} and was killed"
        elif executed is not None and executed.error:
            what = f"--exec could not start: {_clean(executed.error)}"
        elif executed is not None:
            what = f"--exec exited {executed.exit_code} ({_ms(executed.elapsed_ms)})"
        else:
            what = "not handled"
        return f"{head}: {what}; answered {received.answer}, so the sender retries."

    def _exec_output(self, executed: "ExecResult | None") -> None:
        if executed is None or not executed.output.strip() or self.output.quiet:
            return
        for line in sanitize(executed.output).rstrip("\n").splitlines():
            self.output.info(f"  | {line}")


class TriggerView:
    """Renders `webhook trigger`: the signed request (--print), or the endpoint's answer."""

    def __init__(self, output: Output) -> None:
        self.output = output

    def request(self, url: str, headers: dict[str, str], body: bytes) -> None:
        text = body.decode()
        if self.output.json:
            self.output.document({"method": "POST", "url": url, "headers": headers,
                                   "body": text})
            return
        words = ["curl", "-sS", "-X", "POST", url]
        for name, value in headers.items():
            words += ["-H", f"{name}: {value}"]
        words += ["--data-binary", text]
        self.output.data(" ".join(shlex.quote(w) for w in words))

    def answer(self, url: str, event: dict[str, Any], answer: "Answer") -> None:
        if self.output.json:
            self.output.document({"url": url, "event_id": event["id"], "type": event["type"],
                                   "status": answer.status, "accepted": answer.ok,
                                   "elapsed_ms": answer.elapsed_ms, "response": answer.excerpt,
                                   "response_truncated": answer.truncated})
            return
        if self.output.quiet:
            self.output.data(event["id"])
            return
        self.output.data(f"{event['type']} {event['id']} → {url}: HTTP {answer.status} "
                         f"in {_ms(answer.elapsed_ms)}")
        excerpt = sanitize(answer.excerpt).strip()
        lines = excerpt.splitlines() if excerpt else []
        for line in lines[:20]:
            self.output.data(f"  {line}")
        if answer.truncated or len(lines) > 20:
            self.output.data("  …")
