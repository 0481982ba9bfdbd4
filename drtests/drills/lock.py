"""The drill lock on the target: one drill at a time. Taken atomically (noclobber); a stale lock
(its holder gone, or named with --recover-drill) taken over in one step by one recovering drill
at a time; released at the end only while it still holds this drill's line."""

from __future__ import annotations

import os

from drtests.errors import DrillError
from drtests.recovery import RECOVER_LOCK, runner_identity
from drtests.steps import check, expect, step

PHASE = "preflight"
TAKE_LOCK = step("take the drill lock")
LOCK_TAKEN = check("drill lock taken")


def take_lock(cfg, drill, host, dr_safety, stale: str = "") -> None:
    """The drill lock, taken atomically; its release registered as a safety step. `stale`: the
    text of a lock --recover may take over (its holder gone, or named): replaced in one step,
    only while it still holds that text, by one recovering drill at a time."""
    lock = cfg.path(cfg.target.lock_file)
    identity = runner_identity(os.getpid())  # more than a pid: a later drill proves this process gone, or not
    holder_line = f"drill={drill.id} operator={drill.operator} pid={os.getpid()} started={drill.started} {identity}\n"
    with drill.timed_step(PHASE, TAKE_LOCK(), lock):
        taken = take_over(host, lock, stale, holder_line) if stale else host.write_new(lock, holder_line)
    expect(
        drill,
        PHASE,
        LOCK_TAKEN(),
        True,
        taken,
        message=f"drill lock {lock} on {host.url} was taken by: {(host.read(lock) or '?').strip()}"
        + (f" (or another drill is recovering it: {lock}.recover exists)" if stale else ""),
    )
    if stale:
        drill.step(PHASE, RECOVER_LOCK(lock=lock))

    def release() -> None:
        held = host.read(lock)
        if held != holder_line:  # someone replaced it: theirs now, left alone
            raise DrillError(f"the drill lock no longer holds this drill's line but {(held or '(nothing)').strip()!r}: "
                             "another process replaced it while this drill held it; left as it is")  # fmt: skip
        host.remove(lock)
        if host.exists(lock):
            raise DrillError(f"{lock} is still there after rm -f")

    dr_safety.register(f"drill lock {lock} released", release, f"the lock {lock} on {host.url}: check no drill runs, "
                       "then remove it")  # fmt: skip


def take_over(host, lock: str, stale: str, holder_line: str) -> bool:
    """Replace the stale lock with this drill's line, holding `lock`.recover (created only if
    absent) meanwhile: two recovering drills cannot both take it, and a lock that changed since
    it was read (another drill took it over) is left to its new holder."""
    mutex = f"{lock}.recover"
    if not host.write_new(mutex, holder_line):
        return False
    try:
        return (host.read(lock) or "") == stale and host.replace(lock, holder_line)
    finally:
        host.remove(mutex)
