"""The drill's own words, typed: phases, their statuses, verdicts and modes. Each is a StrEnum,
so the evidence JSON keeps the same strings and a typo is an AttributeError, not a silent miss."""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    PREFLIGHT = "preflight"
    BASELINE = "baseline"
    BACKUP = "backup"
    RESTORE = "restore"
    VERIFY = "verify"
    REPORT = "report"


PHASES: tuple[Phase, ...] = tuple(Phase)


class Status(StrEnum):
    """A phase's status."""

    PENDING = "pending"
    RUNNING = "running"
    PASS = "pass"
    FAIL = "fail"
    SKIPPED = "skipped"


class Verdict(StrEnum):
    """A check's verdict (pass | fail | unproven: it was skipped) and a drill's (pass | fail |
    incomplete: a phase or a check did not run, so the drill proved less than it says)."""

    PASS = "pass"
    FAIL = "fail"
    UNPROVEN = "unproven"
    INCOMPLETE = "incomplete"


class Mode(StrEnum):
    """Where a drill restores and what it compares against (drtests.modes)."""

    IN_PLACE = "in-place"
    ISOLATED = "isolated"
    EXISTING = "existing"
