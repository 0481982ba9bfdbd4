"""Retention of what drills leave on production (`drtests prune`): every drill keeps its backup
file and its snapshot, and they pile up. Only what earlier drills recorded in their evidence is
ever deleted (the evidence is the ledger), never a nightly backup or another snapshot; the newest
`retention.keep_drill_artifacts` drills keep theirs, and so does the newest passing gate (the
rollback point) until a newer gate passed."""

from __future__ import annotations

import getpass
import json
import socket
from pathlib import Path

from drtests.config import DrillConfig
from drtests.es import snapshots
from drtests.hosts.host import TargetHost, quote
from drtests.record.clock import utc_now
from drtests.report import store
from drtests.report.store import Artifact, DrillSummary
from drtests.words import Verdict

PRUNES = "prunes.jsonl"


def drills_of(cfg: DrillConfig, report_dir: Path) -> list[DrillSummary]:
    """This target's drills from their evidence, newest first."""
    found = [d.summary for d in store.scan(report_dir).drills if d.summary.target_name == cfg.target_name]
    return found[::-1]


def plan(cfg: DrillConfig, report_dir: Path) -> tuple[list[Artifact], list[Artifact]]:
    """(to delete, to keep) for this target."""
    drills = [d for d in drills_of(cfg, report_dir) if d.artifacts]
    keep_ids = {d.drill_id for d in drills[: cfg.retention.keep_drill_artifacts]}
    gates = [d for d in drills if d.gate and d.verdict == Verdict.PASS]
    if gates:
        keep_ids.add(gates[0].drill_id)  # the rollback point, until a newer gate passed
    delete = [a for d in drills if d.drill_id not in keep_ids for a in d.artifacts]
    keep = [a for d in drills if d.drill_id in keep_ids for a in d.artifacts]
    return delete, keep


def prune(cfg: DrillConfig, report_dir: Path, host: TargetHost, es) -> list[str]:
    """Delete what plan() names (when it still exists); one line per deletion, recorded."""
    delete, keep = plan(cfg, report_dir)
    done = []
    for artifact in delete:
        if artifact.kind == "backup file":
            if host.exists(artifact.name):
                host.run(f"rm -f -- {quote(artifact.name)}", 60, sudo=True)
                done.append(f"deleted {artifact}")
        elif es is not None:
            repository, snapshot = artifact.name.split("/", 1)
            if snapshots.delete_snapshot(es, repository, snapshot):
                done.append(f"deleted {artifact}")
    record = {"at": utc_now(), "by": f"{getpass.getuser()}@{socket.gethostname()}", "target": cfg.target_name,
              "deleted": done, "kept": [str(a) for a in keep]}  # fmt: skip
    with (report_dir / PRUNES).open("a") as log:
        log.write(json.dumps(record, sort_keys=True) + "\n")
    return done
