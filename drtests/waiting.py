"""One way to wait for a condition: every poll in drtests (a service's state, a disposable host's
systemd, indices to vanish, a command on the target) goes through `wait_until`, so each wait has
a deadline and says what it was waiting for when it expires."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from drtests.errors import WaitTimeout

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T],
    timeout: float,
    expired: str | Callable[[], str],
    interval: float = 0.5,
    on_wait: Callable[[], None] | None = None,
) -> T:
    """Call `condition` until it returns something truthy and return that. Between calls, call
    `on_wait` (progress, following a log) and sleep `interval` seconds (0: `condition` blocks by
    itself). After `timeout` seconds (math.inf: never) raise WaitTimeout with `expired` (a text or
    a function that describes the state at that moment)."""
    deadline = time.monotonic() + timeout if math.isfinite(timeout) else math.inf
    while not (result := condition()):
        if time.monotonic() >= deadline:
            raise WaitTimeout(expired() if callable(expired) else expired)
        if on_wait is not None:
            on_wait()
        if interval:
            time.sleep(interval)
    return result


class Every:
    """Calls `action` at most once per `seconds` (a progress line during a long wait)."""

    def __init__(self, seconds: float, action: Callable[[], None]) -> None:
        self.seconds, self.action = seconds, action
        self.next = time.monotonic() + seconds

    def __call__(self) -> None:
        if time.monotonic() >= self.next:
            self.action()
            self.next += self.seconds


def call_within(work: Callable[[], T], seconds: float, name: str = "drtests-call") -> tuple[bool, T | None]:
    """(True, its value) when `work` returned within `seconds`, else (False, None): a call that may
    hang (a receiver that never answers) without holding the caller. It runs in a daemon thread,
    so a late one does not keep the process alive; `work` must not raise (catch inside)."""
    outcome: list[T] = []
    thread = threading.Thread(target=lambda: outcome.append(work()), name=name, daemon=True)
    thread.start()
    thread.join(seconds)
    return (True, outcome[0]) if outcome else (False, None)
