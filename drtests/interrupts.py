"""Interrupting a drill: SIGTERM (CI cancelling a job) unwinds like Ctrl-C, so the safety steps
run; an xdist controller passes the signal on to its workers (they hold the drills) and gives
them as long as their safety steps may take."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from drtests.config import DrillConfig


class Interrupts:
    def __init__(self, controller: bool) -> None:
        self.controller = controller  # this process hands drills to xdist workers
        self.previous: object = None

    def install(self) -> None:
        self.previous = signal.signal(signal.SIGTERM, self.interrupt)

    def uninstall(self) -> None:
        """Give SIGTERM back (pytest runs in-process, e.g. under pytester, outlive the drill)."""
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)

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
