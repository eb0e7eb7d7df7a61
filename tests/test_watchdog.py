"""The exchange watchdog: one alarm thread for every exchange, firing only when due.

(Real time, well under a second each: the alarm is a thread on the real clock.)
"""

from __future__ import annotations

import socket
import threading
import time

from spine_cli.api.exchange import Watchdog


class Stream:
    """The part of an httpcore network stream the watchdog uses."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def get_extra_info(self, name: str) -> object:
        return self.sock if name == "socket" else None


def test_a_due_watchdog_cuts_a_blocked_read_at_once():
    ours, theirs = socket.socketpair()
    ours.settimeout(3.0)  # a watchdog that never fires fails the test, not hangs it
    try:
        start = time.monotonic()
        with Watchdog(0.3) as dog:
            dog.watch(Stream(ours))
            assert ours.recv(1) == b""  # blocked until the watchdog shut the socket down
        assert dog.fired and 0.25 <= time.monotonic() - start < 2.0
    finally:
        ours.close()
        theirs.close()


def test_an_exchange_over_in_time_is_never_cut_and_one_thread_serves_all():
    ours, theirs = socket.socketpair()
    try:
        dogs = []
        for _ in range(50):
            with Watchdog(0.2) as dog:
                dog.watch(Stream(ours))
            dogs.append(dog)
        late = Watchdog(0.2, after_sending=True)
        with late:  # never armed: its upload never finished
            late.watch(Stream(ours))
        time.sleep(0.5)
        assert not any(d.fired for d in dogs) and not late.fired
        theirs.sendall(b"x")
        assert ours.recv(1) == b"x"  # the socket still works
        alarms = [t for t in threading.enumerate() if t.name == "spine-watchdog"]
        assert len(alarms) == 1
    finally:
        ours.close()
        theirs.close()


def test_a_stream_learnt_after_the_deadline_is_cut_at_once():
    ours, theirs = socket.socketpair()
    try:
        ours.settimeout(3.0)
        with Watchdog(0.0) as dog:
            deadline = time.monotonic() + 2
            while not dog.fired and time.monotonic() < deadline:
                time.sleep(0.01)
            dog.watch(Stream(ours))
            assert ours.recv(1) == b""
    finally:
        ours.close()
        theirs.close()
