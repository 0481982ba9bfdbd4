"""The Drill record: what one drill did, checked and measured, phase by phase.

Phases record themselves (the plugin's report hook); checks are recorded by the phase code
with expected and actual values, so the evidence shows every comparison, not only failures;
what each phase found is a typed result (drtests.results). The record only records: the phase
tests decide to skip or fail (drtests.drills.common).
"""

from __future__ import annotations

import getpass
import hashlib
import socket
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

from drtests.config import DrillConfig
from drtests.results import Backup, Baseline, Preflight, Restore, Verify

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
    outcome: str = "done"  # done | failed | skipped
    ran: str = ""  # the command exactly as the target was given it (timeout, sudo -n -u owner, ...)
    started: str = ""  # UTC, to the millisecond: which steps overlapped (the parallel paths), in what order


def utc_ms(epoch_s: float | None = None) -> str:
    moment = datetime.fromtimestamp(epoch_s, UTC) if epoch_s is not None else datetime.now(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@contextmanager
def timed_step(steps: list[Step], phase: str, name: str, command: str = "") -> Iterator[Step]:
    """Append a step to `steps` and time it; it stays "failed" unless its block ends normally."""
    entry = Step(phase, name, command=command, outcome="failed", started=utc_ms())
    steps.append(entry)
    t0 = time.monotonic()
    try:
        yield entry
        entry.outcome = "done"
    finally:
        entry.duration_s = round(time.monotonic() - t0, 3)


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
    warnings: list[str] = field(default_factory=list)
    preflight: Preflight = field(default_factory=Preflight)
    baseline: Baseline = field(default_factory=Baseline)
    backup: Backup = field(default_factory=Backup)
    restore: Restore = field(default_factory=Restore)
    verify: Verify = field(default_factory=Verify)
    infrastructure_error: str | None = None  # why the drill could not start (exit code 3)
    gate: bool = False  # a pre-upgrade gate: its backup and snapshot are a rollback point

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

    # checks and steps ---------------------------------------------------------------------
    def check(self, phase: str, name: str, expected: object, actual: object, ok: bool | None = None,
              message: str = "") -> bool:  # fmt: skip
        passed = (expected == actual) if ok is None else ok
        self.checks.append(
            Check(phase, name, expected, actual, "pass" if passed else "fail", "" if passed else message)
        )
        return passed

    def checks_after_preflight(self) -> bool:
        return any(c.phase != "preflight" for c in self.checks)

    def failed_checks(self, phase: str | None = None) -> list[Check]:
        return [c for c in self.checks if c.verdict == "fail" and (phase is None or c.phase == phase)]

    def step(self, phase: str, name: str, result=None, outcome: str = "done") -> Step:
        entry = Step(phase, name, outcome=outcome, started=utc_ms())
        if result is not None:
            entry.started = utc_ms(time.time() - result.duration_s)
            entry.command, entry.rc, entry.ran = result.command, result.rc, result.ran
            entry.duration_s, entry.output_tail = round(result.duration_s, 3), result.tail()
        self.steps.append(entry)
        return entry

    def timed_step(self, phase: str, name: str, command: str = ""):
        """Record a step that is not a target command (an ES call), with its wall time."""
        return timed_step(self.steps, phase, name, command)

    # measures -----------------------------------------------------------------------------
    @property
    def rto_seconds(self) -> float | None:
        restore = self.phases["restore"]
        return restore.duration_s if restore.status in ("pass", "fail") and restore.duration_s else None

    @property
    def rpo_seconds(self) -> float | None:
        """Drill start minus the backup's newest change; 0 when the backup holds changes made after
        the drill started (the node kept writing until it was stopped for the export)."""
        watermark = self.restore.watermark_ns
        return round(max(0, self.started_epoch_ns - watermark) / 1e9, 3) if watermark else None

    @property
    def verdict(self) -> str:
        core = [self.phases[p] for p in PHASES if p != "report"]
        if any(p.status == "fail" for p in self.phases.values()) or self.failed_checks():
            return "fail"
        return "pass" if all(p.status == "pass" for p in core) else "incomplete"

    @property
    def facts(self) -> Mapping[str, object]:
        """What the phases found, as evidence.json holds it (read-only): for user checks that
        prefer the evidence's names to the typed results (dr_drill.verify.topology)."""
        from drtests.report.evidence import facts_of

        return MappingProxyType(facts_of(self))
