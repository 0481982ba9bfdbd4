"""Retention of what drills leave on production (`drtests prune`): every drill keeps its backup
file and its snapshot, and they pile up. Only what earlier drills recorded in their evidence is
ever deleted (the evidence is the ledger), never a nightly backup or another snapshot; the newest
`retention.keep_drill_artifacts` drills keep theirs, and so does the newest passing gate (the
rollback point) until a newer gate passed."""

from __future__ import annotations

import getpass
import json
import socket
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from drtests import telemetry
from drtests.config import DrillConfig
from drtests.drill import utc_now
from drtests.hosts.host import TargetHost, quote

PRUNES = "prunes.jsonl"


@dataclass(frozen=True)
class Artifact:
    kind: str  # "backup file" | "snapshot"
    name: str  # the file's path, or repository/snapshot
    drill_id: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name} (drill {self.drill_id})"


def drills_of(cfg: DrillConfig, report_dir: Path) -> list[dict]:
    """This target's drills from their evidence, newest first."""
    found = []
    for path in report_dir.glob("*/evidence.json"):
        if path.parent.is_symlink():
            continue
        try:
            evidence = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(evidence, dict) and evidence.get("target_name") == cfg.target_name and "started" in evidence:
            found.append(evidence)
    return sorted(found, key=lambda e: e["started"], reverse=True)


def artifacts_of(evidence: dict) -> list[Artifact]:
    """What one drill made on production, by the names drtests gives its own files and snapshots."""
    made = []
    path = (evidence.get("artifact") or {}).get("path", "")
    if PurePosixPath(path).name.startswith("drtests-") and path.endswith(".graph"):
        made.append(Artifact("backup file", path, evidence["drill_id"]))
    snapshot = evidence.get("snapshot") or {}
    if str(snapshot.get("snapshot", "")).startswith("drtests-"):
        made.append(Artifact("snapshot", f"{snapshot['repository']}/{snapshot['snapshot']}", evidence["drill_id"]))
    return made


def plan(cfg: DrillConfig, report_dir: Path) -> tuple[list[Artifact], list[Artifact]]:
    """(to delete, to keep) for this target."""
    drills = [e for e in drills_of(cfg, report_dir) if artifacts_of(e)]
    keep_ids = {e["drill_id"] for e in drills[: cfg.retention.keep_drill_artifacts]}
    gates = [e for e in drills if e.get("gate") and e.get("verdict") == "pass"]
    if gates:
        keep_ids.add(gates[0]["drill_id"])  # the rollback point, until a newer gate passed
    delete = [a for e in drills if e["drill_id"] not in keep_ids for a in artifacts_of(e)]
    keep = [a for e in drills if e["drill_id"] in keep_ids for a in artifacts_of(e)]
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
            if telemetry.delete_snapshot(es, repository, snapshot):
                done.append(f"deleted {artifact}")
    record = {"at": utc_now(), "by": f"{getpass.getuser()}@{socket.gethostname()}", "target": cfg.target_name,
              "deleted": done, "kept": [str(a) for a in keep]}  # fmt: skip
    with (report_dir / PRUNES).open("a") as log:
        log.write(json.dumps(record, sort_keys=True) + "\n")
    return done
