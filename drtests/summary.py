"""The end of a drill: its final evidence, its webhook, and the lines the terminal summary (and a
release checklist, for a gate) shows."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from drtests.drill import Drill
from drtests.options import DrillOptions


@dataclass
class DrillOutcome:
    """What the controller needs of one finished drill (also sent back by xdist workers)."""

    target: str
    drill_id: str
    verdict: str
    infrastructure_error: str | None
    evidence: str
    lines: list[str] = field(default_factory=list)


def finish_drill(drill: Drill, options: DrillOptions) -> DrillOutcome:
    """Write one drill's final evidence, send its webhook and notifications; its outcome and summary lines."""
    for record in drill.phases.values():
        if record.status == "running":  # Ctrl-C or SIGTERM ended it
            drill.phase_ended(record.name, "fail", "interrupted: the drill was stopped (SIGINT/SIGTERM)")
    from drtests.report.evidence import write_evidence

    folder = write_evidence(drill, Path(options.report_dir), final=True)
    problem = None
    if drill.config.alerts.webhook_url_env:
        from drtests import alerts
        from drtests.report import history

        evidence = json.loads((folder / "evidence.json").read_text())
        summary = {**history.summary(evidence), "report": str((folder / "report.html").resolve()),
                   "warnings": evidence["warnings"]}  # fmt: skip
        url = os.environ.get(drill.config.alerts.webhook_url_env, "")
        problem = alerts.send_webhook(url, summary, drill.config.alerts.webhook_timeout)
    problems = [problem] if problem else []
    alerts_cfg = drill.config.alerts
    if alerts_cfg.notify_env and (alerts_cfg.notify_on == "always" or drill.verdict != "pass"):
        from drtests import notify

        title, body = notify.message(drill, str((folder / "report.html").resolve()))
        urls = os.environ.get(alerts_cfg.notify_env, "")
        if said := notify.notify(urls, title, body, drill.verdict != "pass", alerts_cfg.notify_timeout):
            problems.append(said)
    return DrillOutcome(drill.config.target_name, drill.id, drill.verdict, drill.infrastructure_error, str(folder),
                        summary_lines(drill, folder, options.gate, problems))  # fmt: skip


def summary_lines(drill: Drill, folder: Path, gate: bool, alert_problems: list[str]) -> list[str]:
    lines = [f"drill {drill.id} ({drill.config.target_name}): verdict {drill.verdict.upper()}"]
    lines += [f"  FAILED {c.phase}/{c.name}: {c.message}" for c in drill.failed_checks()]
    lines += [f"  phase {r.name} failed: {r.message}" for r in drill.phases.values() if r.status == "fail"]
    if drill.rto_seconds is not None:
        lines.append(f"  RTO {drill.rto_seconds:.1f}s (objective {drill.config.objectives.rto_seconds:g}s)")
    if drill.rpo_seconds is not None:
        lines.append(f"  RPO {drill.rpo_seconds:.1f}s (objective {drill.config.objectives.rpo_seconds:g}s)")
    lines += [f"  WARNING: {warning}" for warning in drill.warnings]
    lines += [f"  WARNING: {problem}" for problem in alert_problems]
    lines.append(f"  report: {folder / 'report.html'}")
    if gate:
        lines.append(gate_line(drill))
    lines.append(f"  evidence: {folder / 'evidence.json'}")
    return lines


def gate_line(drill: Drill) -> str:
    """One line a release checklist can paste: verdict, RTO, the rollback point."""
    artifact, snapshot = drill.backup.artifact, drill.backup.snapshot
    rto = f"{drill.rto_seconds:.1f}s" if drill.rto_seconds is not None else "n/a"
    snap = f"{snapshot.repository}/{snapshot.snapshot}" if snapshot else "n/a"
    return (f"GATE {drill.verdict.upper()} stackstate={drill.preflight.stackstate_version or 'unknown'} rto={rto} "
            f"artifact={artifact.path if artifact else 'n/a'} sha256={artifact.sha256 if artifact else 'n/a'} "
            f"snapshot={snap} target={drill.config.target_name} drill={drill.id}")  # fmt: skip
