"""The end of a drill: its evidence folder (evidence.json, report.html, the signed statement
evidence.intoto.jsonl, `latest`, its ledger line, the history and index.html), its webhook and
notifications, and the lines the terminal summary (and a release checklist, for a gate) shows.
The summary is built once, in memory, from the evidence as written: the end of a drill never
reads its own files back."""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from drtests import notify, pages
from drtests.errors import DrillError
from drtests.evidence import attest, deficiencies, ledger
from drtests.options import DrillOptions
from drtests.record import store
from drtests.record.drill import Drill
from drtests.record.evidence import evidence_of, write_json
from drtests.report import history, metrics
from drtests.sign import keys, tsa
from drtests.words import Phase, Status, Verdict


@dataclass
class DrillOutcome:
    """What the controller needs of one finished drill (also sent back by xdist workers)."""

    target: str
    drill_id: str
    verdict: str
    infrastructure_error: str | None
    evidence: str
    lines: list[str] = field(default_factory=list)


class Written(NamedTuple):
    folder: Path
    evidence: dict  # as written (JSON types)
    statement: bytes  # the signed statement, as signed


class RegisterReadAhead:
    """The drills a drill's register change is counted against (deficiencies.counted_drills: every
    drill folder of the report folder read, each verified when signing) and the register they
    make, read and folded in a thread while the safety steps run instead of after them: both grow
    with the folder's drills (0.44 s and 0.12 s at 181, unsigned; the drill itself then adds 0.001 s).
    Its result serves only the same key; a failure is not kept: the final write reads again and
    records why there."""

    def __init__(self, report_root: Path, key_path: Path | None, target: str) -> None:
        self.read: tuple[list[deficiencies.SignedDrill], deficiencies.Fold] | None = None  # the drills, their fold
        self.public: bytes | None = None  # the key it verified with (None: unsigned)
        self._thread = threading.Thread(target=self._read, args=(report_root, key_path, target),
                                        name="drtests-register", daemon=True)  # fmt: skip
        self._thread.start()

    def _read(self, report_root: Path, key_path: Path | None, target: str) -> None:
        try:
            public = [keys.load_private(key_path).public_key()] if key_path else []
            self.public = public[0].public_bytes_raw() if public else None
            counted = deficiencies.counted_drills(report_root, public, target)[0]
            self.read = counted, deficiencies.folded(counted)
        except Exception:  # noqa: BLE001 - the final write reads again and records why
            self.read = None

    def result(self, public: list) -> tuple[list[deficiencies.SignedDrill], deficiencies.Fold] | None:
        """What it read, once done, if read with `public` (the final write's key)."""
        self._thread.join()
        same = (public[0].public_bytes_raw() if public else None) == self.public
        return self.read if same else None


_read_ahead: dict[str, RegisterReadAhead] = {}  # by drill id, until its final write


def read_register_ahead(drill: Drill, report_root: Path) -> None:
    """Start reading what the final write counts this drill's register change against."""
    target = drill.config.target_name or drill.target
    _read_ahead[drill.id] = RegisterReadAhead(report_root, drill.config.signing_key_path, target)


def write_folder(drill: Drill, report_root: Path, final: bool = False) -> Written:
    """Write evidence.json, report.html and the signed statement over them (evidence.intoto.jsonl);
    point `latest` here. The final write (after the safety steps) names the ledger's head in the
    statement and appends the drill's line to the ledger, then to the history, and refreshes
    index.html."""
    folder = report_root / drill.id
    folder.mkdir(parents=True, exist_ok=True)
    path = drill.config.signing_key_path
    key = keys.load_private(path) if path else None
    record = evidence_of(drill)
    if final:  # what it opened and closed, by the ledger as it stands before this drill's line
        public, ahead = [key.public_key()] if key else [], _read_ahead.pop(drill.id, None)
        counted = ahead.result(public) if ahead is not None else None
        record["deficiencies"] = deficiencies.change_by(report_root, public, record, counted)
    evidence = write_json(folder, record)
    (folder / "report.html").write_text(pages.drill_page(evidence))
    if not final:
        statement = attest.write(folder, evidence, key)
    latest = report_root / "latest"
    if latest.is_symlink() or not latest.exists():  # a real folder named latest is someone's: left alone
        tmp = report_root / f".latest-{os.getpid()}"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(drill.id)
        tmp.replace(latest)
    if final:
        with ledger.locked(report_root):
            previous = ledger.head(report_root)
            statement = attest.write(folder, evidence, key, previous)
            statement_sha256 = hashlib.sha256(statement).hexdigest()
            entry = ledger.next_entry(report_root, kind="drill", drill_id=drill.id, folder=drill.id,
                                      statement_sha256=statement_sha256, verdict=evidence["verdict"],
                                      target=evidence["target_name"], started=evidence["started"],
                                      ended=evidence["ended"])  # fmt: skip
            if drill.preflight.ledger_lost:  # signed with the line: who went on from an older copy, and why
                entry["lost_head"] = drill.preflight.ledger_lost
            ledger.append(report_root, entry, ledger.drill_signature(entry, key))
            history.append(report_root, store.DrillSummary.of_evidence(evidence))
            history.write_index(report_root, store.history(report_root))
    return Written(folder, evidence, statement)


def finish_drill(drill: Drill, options: DrillOptions) -> DrillOutcome:
    """Write one drill's final evidence, send its webhook and notifications; its outcome and summary lines."""
    for record in drill.phases.values():
        if record.status == Status.RUNNING:  # Ctrl-C or SIGTERM ended it
            drill.phase_ended(record.name, Status.FAIL, "interrupted: the drill was stopped (SIGINT/SIGTERM)")
    folder, evidence, statement = write_folder(drill, Path(options.report_dir), final=True)
    report = str((folder / "report.html").resolve())
    problems = [said] if (said := stamp(drill.config, folder, statement)) else []
    problems += metrics.publish(drill.config, evidence, Path(options.report_dir))
    alerts_cfg = drill.config.alerts
    if alerts_cfg.webhook_url_env:
        body = {**store.DrillSummary.of_evidence(evidence).as_line(), "report": report,
                "warnings": evidence["warnings"]}  # fmt: skip
        url = os.environ.get(alerts_cfg.webhook_url_env, "")
        if problem := notify.send_webhook(url, body, alerts_cfg.webhook_timeout):
            problems.append(problem)
    if alerts_cfg.notify_env and (alerts_cfg.notify_on == "always" or drill.verdict != Verdict.PASS):
        title, body = notify.message(drill, report, evidence.get("deficiencies") or {})
        urls = os.environ.get(alerts_cfg.notify_env, "")
        if said := notify.notify(urls, title, body, drill.verdict != Verdict.PASS, alerts_cfg.notify_timeout):
            problems.append(said)
    return DrillOutcome(drill.config.target_name, drill.id, str(drill.verdict), drill.infrastructure_error, str(folder),
                        summary_lines(drill, folder, options.gate, problems))  # fmt: skip


def stamp(cfg, folder: Path, statement: bytes) -> str:
    """An RFC 3161 timestamp over the drill's statement ([evidence] tsa_url); what went wrong, in words."""
    if not cfg.evidence.tsa_url:
        return ""
    try:
        reply = tsa.timestamp(statement, cfg.evidence.tsa_url, cfg.evidence.tsa_timeout)
        (folder / attest.TIMESTAMP).write_bytes(reply)
    except DrillError as exc:
        return f"no trusted timestamp: {exc}"
    return ""


def summary_lines(drill: Drill, folder: Path, gate: bool, alert_problems: list[str]) -> list[str]:
    lines = [f"drill {drill.id} ({drill.config.target_name}): verdict {drill.verdict.upper()}"]
    lines += [f"  FAILED {c.phase}/{c.name}: {c.message}" for c in drill.failed_checks()]
    lines += [f"  phase {r.name} failed: {r.message}" for r in drill.phases.values() if r.status == Status.FAIL]
    lines += [f"  UNPROVEN {c.phase}/{c.name}: {c.message}" for c in drill.unproven_checks()]
    lines += [f"  unproven: phase {r.name} {r.status}: {r.message or 'did not run'}" for r in drill.phases.values()
              if r.status in (Status.SKIPPED, Status.PENDING) and r.name != Phase.REPORT]  # fmt: skip
    if drill.rto_seconds is not None:
        lines.append(f"  RTO {drill.rto_seconds:.1f}s (objective {drill.config.objectives.rto_seconds:g}s)")
    if drill.rpo_seconds is not None:
        lines.append(f"  RPO {drill.rpo_seconds:.1f}s (objective {drill.config.objectives.rpo_seconds:g}s)")
    if (path := drill.config.signing_key_path) is not None:
        note = drill.config.evidence.signing_key_note
        lines.append(f"  signed with {path}" + (f" ({note})" if note else ""))
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
