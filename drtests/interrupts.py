"""Interrupting a drill: SIGTERM (CI cancelling a job) unwinds like Ctrl-C, so the safety steps
run; an xdist controller passes the signal on to its workers (they hold the drills) and gives
them as long as their safety steps may take.

SIGINT is handled whatever the process inherited: a drill started by cron, `nohup ... &` or a CI
script that backgrounds it inherits SIGINT as ignored, and `kill -INT` (or a controller passing
the signal on) must still end it through its safety steps."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from drtests.config import DrillConfig


class Interrupts:
    def __init__(self, controller: bool) -> None:
        self.controller = controller  # this process hands drills to xdist workers
        self.previous: dict[int, object] = {}

    def install(self) -> None:
        self.previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, self.interrupt)
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # inherited from a background job
            self.previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)

    def uninstall(self) -> None:
        """Give the signals back (pytest runs in-process, e.g. under pytester, outlive the drill)."""
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        self.previous = {}

    def interrupt(self, signum: int, frame: object) -> None:
        for worker in self.workers():  # CI signals the controller only: the workers hold the drills
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker, signal.SIGINT)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    def workers(self) -> list[int]:
        """Child processes of an xdist controller (its workers); none elsewhere."""
        if not self.controller:
            return []
        children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []


def give_workers_time(configs: list[DrillConfig]) -> None:
    """An interrupted fleet: xdist gives its workers 10 s to end before killing them; a worker may
    be restarting a node or ending an export, so it gets as long as its safety steps may take."""
    try:
        from xdist.workermanage import NodeManager
    except ImportError:
        return
    patience = max(cfg.service.restart_timeout + cfg.service.timeout for cfg in configs) + 60
    NodeManager.EXIT_TIMEOUT = max(NodeManager.EXIT_TIMEOUT, patience)
