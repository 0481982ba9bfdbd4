"""The Drill record: what one drill did, checked and measured, phase by phase.

Phases record themselves (the plugin's report hook); checks are recorded by the phase code
with expected and actual values, so the evidence shows every comparison, not only failures;
what each phase found is a typed result (drtests.record.results). The record only records: the
phase tests decide to skip or fail (drtests.steps).
"""

from __future__ import annotations

import getpass
import hashlib
import socket
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

from drtests.config import DrillConfig
from drtests.record.clock import utc_ms, utc_now
from drtests.record.results import Backup, Baseline, Preflight, Restore, Verify
from drtests.words import PHASES, Mode, Phase, Status, Verdict

__all__ = ["PHASES", "Check", "Drill", "PhaseRecord", "Step", "facts_of", "timed_step", "utc_ms", "utc_now"]


@dataclass
class Check:
    phase: str
    name: str
    expected: object
    actual: object
    verdict: Verdict  # pass | fail
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
    name: Phase
    status: Status = Status.PENDING
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
    phases: dict[Phase, PhaseRecord] = field(default_factory=lambda: {p: PhaseRecord(p) for p in PHASES})
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
        record.status, record.started, record._t0 = Status.RUNNING, utc_now(), time.monotonic()

    def phase_ended(self, phase: str, status: str, message: str = "") -> None:
        record = self.phases[phase]
        if record.status == Status.RUNNING:
            record.duration_s = round(time.monotonic() - record._t0, 3)
            record.ended = utc_now()
        record.status, record.message = Status(status), message

    # checks and steps ---------------------------------------------------------------------
    def check(self, phase: str, name: str, expected: object, actual: object, ok: bool | None = None,
              message: str = "") -> bool:  # fmt: skip
        passed = (expected == actual) if ok is None else ok
        self.checks.append(
            Check(phase, name, expected, actual, Verdict.PASS if passed else Verdict.FAIL, "" if passed else message)
        )
        return passed

    def unproven(self, phase: str, name: str, why: str) -> None:
        """A check that was skipped: not passed, not failed, and the drill does not pass."""
        self.checks.append(Check(phase, name, "pass", "skipped", Verdict.UNPROVEN, f"unproven: {why}"))

    def unproven_checks(self) -> list[Check]:
        return [c for c in self.checks if c.verdict == Verdict.UNPROVEN]

    def checks_after_preflight(self) -> bool:
        return any(c.phase != Phase.PREFLIGHT for c in self.checks)

    def failed_checks(self, phase: str | None = None) -> list[Check]:
        return [c for c in self.checks if c.verdict == Verdict.FAIL and (phase is None or c.phase == phase)]

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
        restore = self.phases[Phase.RESTORE]
        return restore.duration_s if restore.status in (Status.PASS, Status.FAIL) and restore.duration_s else None

    @property
    def rpo_seconds(self) -> float | None:
        """Drill start minus the backup's newest change; 0 when the backup holds changes made after
        the drill started (the node kept writing until it was stopped for the export)."""
        watermark = self.restore.watermark_ns
        return round(max(0, self.started_epoch_ns - watermark) / 1e9, 3) if watermark else None

    @property
    def verdict(self) -> Verdict:
        core = [self.phases[p] for p in PHASES if p != Phase.REPORT]
        if any(p.status == Status.FAIL for p in self.phases.values()) or self.failed_checks():
            return Verdict.FAIL
        proven = all(p.status == Status.PASS for p in core) and not self.unproven_checks()
        return Verdict.PASS if proven else Verdict.INCOMPLETE

    @property
    def facts(self) -> Mapping[str, object]:
        """What the phases found, as evidence.json holds it (read-only): for user checks that
        prefer the evidence's names to the typed results (dr_drill.verify.topology)."""
        return MappingProxyType(facts_of(self))


def facts_of(drill: Drill) -> dict:
    """What the phases found, under the evidence's names; a part the drill never reached is absent."""
    pre, base, backup, restore, verify = drill.preflight, drill.baseline, drill.backup, drill.restore, drill.verify
    facts: dict = {}
    if pre.target_host is not None:
        facts["target_host"] = pre.target_host
    if drill.phases[Phase.PREFLIGHT].status != Status.PENDING:
        facts["stackstate_version"] = {"target": pre.stackstate_version}
        if drill.phases[Phase.RESTORE].status not in (Status.PENDING, Status.SKIPPED):
            facts["stackstate_version"]["restore_host"] = restore.stackstate_version
    if pre.elasticsearch is not None:
        facts["elasticsearch"] = asdict(pre.elasticsearch)
    if pre.restore_cluster is not None:
        facts["restore_cluster"] = asdict(pre.restore_cluster)
    if pre.leftovers:
        facts["leftovers"] = pre.leftovers
    if pre.node_state_at_start is not None:
        facts["node_state_at_start"] = pre.node_state_at_start
    if base.probe:
        facts["topology"] = {"probe": base.probe, "before": base.topology}
        if verify.topology is not None:
            facts["topology"]["after"] = verify.topology
        if verify.graph is not None:
            facts["topology"]["proof"] = verify.graph
    if base.docs is not None:
        facts["telemetry"] = {"indices": base.indices, "before": base.docs}
        facts["fingerprints"] = {}
        if backup.docs_at_snapshot is not None:
            facts["telemetry"]["at_snapshot"] = backup.docs_at_snapshot
        if base.fingerprints is not None:
            facts["fingerprints"]["live"] = base.fingerprints
        if backup.fingerprints_at_snapshot is not None:
            facts["fingerprints"]["at_snapshot"] = backup.fingerprints_at_snapshot
        if verify.docs is not None:
            facts["telemetry"]["restored"] = verify.docs
        if verify.fingerprints is not None:
            facts["fingerprints"]["restored"] = verify.fingerprints
    if backup.artifact is not None:
        facts["artifact"] = asdict(backup.artifact)
    if backup.snapshot is not None:
        facts["snapshot"] = asdict(backup.snapshot)
    if (host := restore.host) is not None:
        facts["restore_host"] = {"url": host.url, "image": host.image, "ready_s": host.ready_s}
        if host.kept:
            facts["restore_host"]["kept"] = True
        if host.artifact is not None:
            facts["restore_host"]["artifact"] = {**asdict(host.artifact), "copied_by": host.copied_by}
    if restore.log is not None:
        facts["restore_log"] = asdict(restore.log)
    if restore.watermark_ns is not None:
        facts["watermark_ns"] = restore.watermark_ns
    if restore.telemetry is not None:
        facts["restore"] = asdict(restore.telemetry)
    if backup.paths_s is not None or restore.paths_s is not None:
        consistency = (
            "the snapshot was taken while the node was stopped for the export: no telemetry was "
            "written in between, so the graph backup and the snapshot hold one moment"
        )
        facts["paths"] = {"backup_s": backup.paths_s, "restore_s": restore.paths_s, "consistency": consistency}
    if drill.config.drill.mode == Mode.EXISTING:  # the shape of its section, not a behaviour
        facts["existing"] = existing_facts(drill)
    if (full := backup.full_verify) is not None:
        facts["full_verification"] = asdict(full)
    if (share := restore.share) is not None:
        facts["restore_share"] = asdict(share)
    if drill.infrastructure_error:
        facts["infrastructure_error"] = drill.infrastructure_error
    return facts


def existing_facts(drill: Drill) -> dict:
    """What an existing-backup drill picked, from which candidates and why, and how it compared."""
    backup, verify = drill.backup, drill.verify
    found: dict = {"recorded": backup.recorded}
    if backup.file_selection is not None:
        found["backup_file"] = asdict(backup.file_selection)
    if backup.snapshot_selection is not None:
        found["snapshot"] = asdict(backup.snapshot_selection)
    if backup.ages_s is not None:
        found["age_s"] = backup.ages_s
    if verify.index_rules is not None:
        found["index_rules"] = verify.index_rules
    if verify.topology_drift is not None:
        found["topology_drift"] = verify.topology_drift
    return found
