"""The telemetry path beside the graph path: the Elasticsearch snapshot is taken while the node is
stopped for the export, and restored while the import runs (they touch different systems).

`Beside` runs one path in a thread; the graph path stays in the main thread, where Ctrl-C and
SIGTERM arrive and end the export or import on the target. The telemetry path records its steps
in a list of its own, which the phase adds to the drill's record after it joined, so the record's
order does not depend on which path finished first."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from drtests.errors import DrillError
from drtests.record.drill import Step, timed_step, utc_ms

T = TypeVar("T")


class Cancelled(DrillError):
    """The other path failed or was interrupted: this one does not start its next request."""


class OtherPathFailed(Cancelled):
    """The path beside the graph path failed: the graph path ends its command on the target and
    the phase fails with that path's own error (`cause`), as if it had waited for it."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class Beside(Generic[T]):
    """`work` in a thread of its own, started at once, or (start=False) when start() is called:
    the same path then runs after the graph path instead of beside it (drill.parallel_paths)."""

    def __init__(self, name: str, work: Callable[[Beside[T]], T], start: bool = True) -> None:
        self.name = name
        self.steps: list[Step] = []
        self.cancelled = threading.Event()
        self.settled = threading.Event()  # nothing it may create is left unregistered (settle())
        self.started = 0.0  # time.monotonic() when the thread started
        self.duration_s: float | None = None
        self._value: T | None = None
        self._error: BaseException | None = None
        self._joined = False  # its steps are in the drill's record
        self._thread = threading.Thread(target=self._run, args=(work,), name=f"drtests-{name}", daemon=True)
        if start:
            self.start()

    def start(self) -> None:
        if self._thread.ident is None:  # not started yet
            self.started = time.monotonic()
            self._thread.start()

    def _run(self, work: Callable[[Beside[T]], T]) -> None:
        try:
            self._value = work(self)
        except BaseException as exc:  # handed to the main thread by result()
            self._error = exc
        finally:
            self.duration_s = round(time.monotonic() - self.started, 3)
            self.settled.set()

    def check_failed(self) -> None:
        """Called by the graph path while it waits on the target: once this path failed, the
        graph path stops too (its command is ended on the target) instead of running on for
        nothing; the failure is named."""
        if self._error is not None and not self._thread.is_alive() and not isinstance(self._error, Cancelled):
            raise OtherPathFailed(self._error)

    def cancel(self) -> None:
        """The graph path failed without an exception (its command exited non-zero): this path
        starts no further request; the one in flight ends in the cluster by itself."""
        self.cancelled.set()

    def settle(self) -> None:
        """Called by the work once what its requests create has a safety step to remove it: a
        graph path that fails from then on need not wait for it (graph_path(wait=True))."""
        self.settled.set()

    def running(self) -> bool:
        """The work has not ended yet (a safety step may have to wait for its request)."""
        return self._thread.is_alive()

    def wait_settled(self) -> None:
        """Until settle() was called or the work ended; at once when it never started."""
        if self._thread.ident is not None:
            self.settled.wait()

    def check_cancelled(self) -> None:
        """Called before each request of the path: none starts once the other path gave up."""
        if self.cancelled.is_set():
            raise Cancelled("stopped: the other path of the drill failed or was interrupted")

    def timed_step(self, phase: str, name: str, command: str = ""):
        """A step of this path, in its own list; none starts once the path is cancelled."""
        self.check_cancelled()
        return timed_step(self.steps, phase, name, command)

    def wait(self, every: Callable[[], None] = lambda: None, interval: float = 1.0) -> None:
        """Join, calling `every` meanwhile (progress, sampling the node); Ctrl-C interrupts it."""
        while self._thread.is_alive():
            self._thread.join(interval)
            if self._thread.is_alive():
                every()

    def join_into(self, steps: list[Step], every: Callable[[], None], interval: float = 5.0) -> None:
        """Start the path if it waits for the graph path, wait for it, then add its steps to the
        drill's, after the graph path's."""
        self.start()
        self.wait(every, interval)
        self.add_steps_to(steps)

    def add_steps_to(self, steps: list[Step]) -> None:
        """Its steps into the drill's record, once: the same entries, so one still running gets
        its outcome and time when it ends."""
        if not self._joined:
            self._joined = True
            steps.extend(self.steps)

    def result(self) -> T:
        """The path's value, or its exception, raised here (after wait())."""
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


def watch(beside: Beside | None, also: Callable[[], None] = lambda: None) -> Callable[[], None]:
    """What the graph path calls while its command runs: `also`, and a stop once `beside` failed."""

    def meanwhile() -> None:
        if beside is not None:
            beside.check_failed()
        also()

    return meanwhile


@contextmanager
def graph_path(beside: Beside | None, steps: list[Step], wait: bool = False) -> Iterator[None]:
    """The graph path's block: when it fails or is interrupted, the path beside it starts no
    further request (the one in flight ends in the cluster by itself), and what it did so far goes
    into the drill's `steps` (the record shows a restore or snapshot that had begun). `wait`: the
    failure goes on only once that path settled (Beside.settle): what it may create has a safety
    step to remove it."""
    try:
        yield
    except BaseException:
        if beside is not None:
            beside.cancel()
            if wait:
                beside.wait_settled()
            beside.add_steps_to(steps)
        raise


def step_beside(steps: list[Step], phase: str, name: str, work: Callable[[Beside[T]], T]) -> Beside[T]:
    """`work` begun now in a thread of its own, beside what the caller does next, timed as one
    step recorded in `steps` here (so the record's order does not depend on which ends first);
    the step stays "failed" unless the work ends normally. Join it with wait(), then result()."""
    entry = Step(phase, name, outcome="failed", started=utc_ms())
    steps.append(entry)

    def timed(beside: Beside[T]) -> T:
        t0 = time.monotonic()
        try:
            value = work(beside)
            entry.outcome = "done"
            return value
        finally:
            entry.duration_s = round(time.monotonic() - t0, 3)

    return Beside(name, timed)
