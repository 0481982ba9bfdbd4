"""Fleets on pytest-xdist workers: all of one target's tests go to one worker, in order.

A drill's phases share state (the Drill record, the lock, the safety steps), so they cannot be
spread over workers; the targets of a fleet can. xdist's own ``--dist loadgroup`` relies on
rewriting node ids, which pytest 9.2 no longer honours (pytest-xdist issue #1386), so the
scheduler groups by the target name in the test's parameter id instead.
"""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling


def target_in(nodeid: str, names: list[str]) -> str | None:
    """The fleet target a test belongs to, from its parameter id ("test_x[alpha]", "test_y[alpha-1]")."""
    if not nodeid.endswith("]") or "[" not in nodeid:
        return None
    params = nodeid[nodeid.rfind("[") + 1 : -1]
    for name in sorted(names, key=len, reverse=True):  # "eu-1" before "eu"
        if params == name or params.startswith(f"{name}-") or params.endswith(f"-{name}") or f"-{name}-" in params:
            return name
    return None


class TargetScheduling(LoadScopeScheduling):
    """LoadScopeScheduling with one scope per target (a fleet of one: a single scope)."""

    def __init__(self, config, log, names: list[str]) -> None:
        super().__init__(config, log)
        self.names = names

    def _split_scope(self, nodeid: str) -> str:
        if len(self.names) == 1:
            return "drill"
        target = target_in(nodeid, self.names)
        return f"target:{target}" if target else super()._split_scope(nodeid)
