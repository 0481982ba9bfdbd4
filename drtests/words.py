"""The drill's own words, typed: phases, their statuses, verdicts and modes. Each is a StrEnum,
so the evidence JSON keeps the same strings and a typo is an AttributeError, not a silent miss."""

from __future__ import annotations

import re
from enum import StrEnum

# what a drill id may hold (a timestamp, the drill's and target's names, a salt): it names folders,
# files and snapshots, so it never holds a '/' or '..', wherever it is read from
DRILL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")


def is_drill_id(value: object) -> bool:
    return isinstance(value, str) and DRILL_ID.fullmatch(value) is not None and ".." not in value


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


UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """ "35d", "12h", "90m", "2w" or seconds; ValueError with the accepted forms otherwise."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text)
    if not match or float(match[1]) <= 0:
        raise ValueError(f"{text!r} is not an age: write a positive number with s, m, h, d or w (e.g. 35d)")
    return float(match[1]) * UNITS[match[2] or "s"]
