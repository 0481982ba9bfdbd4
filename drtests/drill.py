"""The Drill record: what one drill did, checked and measured, phase by phase.

Phases record themselves (the plugin's report hook); checks are recorded by the phase code
with expected and actual values, so the evidence shows every comparison, not only failures.
"""

from __future__ import annotations

import getpass
import hashlib
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import pytest

from drtests.config import DrillConfig

PHASES = ("preflight", "baseline", "backup", "restore", "verify", "report")


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Check:
    phase: str
    name: str
    expected: object
    actual: object
    verdict: str  # pass | fail
    message: str = ""


@dataclass
class Step:
    phase: str
    name: str
    command: str = ""
    rc: int | None = None
    duration_s: float = 0.0
    output_tail: str = ""
    outcome: str = "done"  # done | failed


@dataclass
class PhaseRecord:
    name: str
    status: str = "pending"  # pending | running | pass | fail | skipped
    started: str = ""
    ended: str = ""
    duration_s: float = 0.0
    message: str = ""
    _t0: float = 0.0


@dataclass
class Drill:
    config: DrillConfig
    target: str
    id: str = ""
    operator: str = ""
    started: str = field(default_factory=utc_now)
    started_epoch_ns: int = field(default_factory=time.time_ns)
    ended: str = ""
    phases: dict[str, PhaseRecord] = field(default_factory=lambda: {p: PhaseRecord(p) for p in PHASES})
    checks: list[Check] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    facts: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.id:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            salt = hashlib.sha256(f"{self.started_epoch_ns}{self.target}".encode()).hexdigest()[:6]
            name = "-".join(filter(None, (self.config.drill.name, self.config.target.name)))
            self.id = f"{stamp}-{name}-{salt}"
        if not self.operator:
            self.operator = f"{getpass.getuser()}@{socket.gethostname()}"

    # phases -------------------------------------------------------------------------------
    def phase_started(self, phase: str) -> None:
        record = self.phases[phase]
        record.status, record.started, record._t0 = "running", utc_now(), time.monotonic()

    def phase_ended(self, phase: str, status: str, message: str = "") -> None:
        record = self.phases[phase]
        if record.status == "running":
            record.duration_s = round(time.monotonic() - record._t0, 3)
            record.ended = utc_now()
        record.status, record.message = status, message

    def require(self, *needed: str) -> None:
        """Skip the calling phase when a phase it builds on did not pass."""
        for phase in needed:
            record = self.phases[phase]
            if record.status != "pass":
                reason = record.message or record.status
                if record.status == "skipped" and reason.startswith("blocked by "):
                    pytest.skip(reason)
                pytest.skip(f"blocked by {phase}: {reason}")

    # checks and steps ---------------------------------------------------------------------
    def check(self, phase: str, name: str, expected: object, actual: object, ok: bool | None = None,
              message: str = "") -> bool:  # fmt: skip
        passed = (expected == actual) if ok is None else ok
        self.checks.append(
            Check(phase, name, expected, actual, "pass" if passed else "fail", "" if passed else message)
        )
        return passed

    def expect(self, phase: str, name: str, expected: object, actual: object, ok: bool | None = None,
               message: str = "") -> None:  # fmt: skip
        """A check the phase cannot go on without: record it, and fail the phase at once if it fails."""
        if not self.check(phase, name, expected, actual, ok, message):
            pytest.fail(message or f"{name}: expected {expected}, got {actual}", pytrace=False)

    def checks_after_preflight(self) -> bool:
        return any(c.phase != "preflight" for c in self.checks)

    def failed_checks(self, phase: str | None = None) -> list[Check]:
        return [c for c in self.checks if c.verdict == "fail" and (phase is None or c.phase == phase)]

    def assert_checks(self, phase: str) -> None:
        """Fail the phase with every failed check's message, one per line."""
        failed = self.failed_checks(phase)
        if failed:
            pytest.fail(
                "\n".join(c.message or f"{c.name}: expected {c.expected}, got {c.actual}" for c in failed),
                pytrace=False,
            )

    def step(self, phase: str, name: str, result=None, outcome: str = "done") -> Step:
        entry = Step(phase, name, outcome=outcome)
        if result is not None:
            entry.command, entry.rc = result.command, result.rc
            entry.duration_s, entry.output_tail = round(result.duration_s, 3), result.tail()
        self.steps.append(entry)
        return entry

    @contextmanager
    def timed_step(self, phase: str, name: str, command: str = "") -> Iterator[Step]:
        """Record a step that is not a target command (an ES call), with its wall time."""
        entry = Step(phase, name, command=command, outcome="failed")
        self.steps.append(entry)
        t0 = time.monotonic()
        try:
            yield entry
            entry.outcome = "done"
        finally:
            entry.duration_s = round(time.monotonic() - t0, 3)

    # measures -----------------------------------------------------------------------------
    @property
    def rto_seconds(self) -> float | None:
        restore = self.phases["restore"]
        return restore.duration_s if restore.status in ("pass", "fail") and restore.duration_s else None

    @property
    def rpo_seconds(self) -> float | None:
        """Drill start minus the backup's newest change; 0 when the backup holds changes made after
        the drill started (the node kept writing until it was stopped for the export)."""
        watermark = self.facts.get("watermark_ns")
        return round(max(0, self.started_epoch_ns - watermark) / 1e9, 3) if watermark else None

    @property
    def verdict(self) -> str:
        core = [self.phases[p] for p in PHASES if p != "report"]
        if any(p.status == "fail" for p in self.phases.values()) or self.failed_checks():
            return "fail"
        return "pass" if all(p.status == "pass" for p in core) else "incomplete"

    def to_dict(self) -> dict:
        return {
            "drill_id": self.id,
            "name": self.config.drill.name,
            "config": {"file": self.config.source, "sha256": self.config.sha256},
            "operator": self.operator,
            "target": self.target,
            "target_name": self.config.target_name,
            "mode": self.config.drill.mode,
            "started": self.started,
            "ended": self.ended or utc_now(),
            "verdict": self.verdict,
            "phases": [{k: v for k, v in asdict(p).items() if not k.startswith("_")} for p in self.phases.values()],
            "checks": [asdict(c) for c in self.checks],
            "steps": [asdict(s) for s in self.steps],
            "warnings": list(self.warnings),
            "rto": {"measured_s": self.rto_seconds, "objective_s": self.config.objectives.rto_seconds},
            "rpo": {"measured_s": self.rpo_seconds, "objective_s": self.config.objectives.rpo_seconds},
            **self.facts,
        }
