"""Safety steps: undo actions registered as a drill changes the target, run in reverse order at
the end of the session whatever happened (failure, Ctrl-C, SIGTERM). Each outcome is recorded,
and a step that failed is a failed check of the drill: a drill whose cleanup failed did not
pass, and its evidence says what was left and how to remove it."""

from __future__ import annotations

import signal
from collections.abc import Callable

from drtests.declared import check
from drtests.record.drill import Drill

SAFETY = "safety"
CLEANED = check("{step}")  # a failed safety step, as a check: what was left and how to remove it


class Safety:
    def __init__(self, drill: Drill, say: Callable[[str], None]) -> None:
        self.drill, self.say = drill, say
        self.actions: list[tuple[str, Callable[[], object], str]] = []

    def register(self, name: str, action: Callable[[], object], left: str = "") -> None:
        """`action` undoes something at the end; it raises when it could not. `left`: what is left
        on the target then, and how to remove it by hand."""
        self.actions.append((name, action, left))

    def run_all(self) -> str | None:
        """Every step, even when Ctrl-C or SIGTERM comes again meanwhile (an impatient user; xdist
        signalling a worker it wants gone): the signal is noted and returned, for the caller to
        stop the run once the target is safe."""
        received: list[int] = []

        def defer(signum: int, frame: object) -> None:
            received.append(signum)
            self.say(f"{signal.Signals(signum).name} received: the safety steps finish first (each has a timeout)")

        try:
            previous = {sig: signal.signal(sig, defer) for sig in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not the main thread: signals cannot reach these steps anyway
            previous = {}
        try:
            self._run_steps()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return signal.Signals(received[0]).name if received else None

    def _run_steps(self) -> None:
        while self.actions:
            name, action, left = self.actions.pop()
            try:
                with self.drill.timed_step(SAFETY, name) as step:
                    action()
            except Exception as exc:  # a safety step must not stop the others
                step.output_tail = str(exc)
                self.say(f"SAFETY STEP FAILED: {name}: {exc}")
                message = f"safety step failed: {name}: {exc}" + (f"; left: {left}" if left else "")
                self.drill.check(SAFETY, CLEANED(step=name), "done", f"failed: {exc}", ok=False, message=message)
            else:
                self.say(f"safety: {name}")
