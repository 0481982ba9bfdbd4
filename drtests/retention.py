"""Retention of what drills leave on production (`drtests prune`): every drill keeps its backup
file and its snapshot, and they pile up. Only what a drill of this target recorded on the target
when it made it (drtests.drill_state) is ever deleted, and only a backup file drtests names
(stackstate.backup_dir/drtests-<the line's drill>.graph), so a line someone added to that record
without a signing key can name no nightly backup, no user's file, only a drill's own; never
another snapshot, or anything a kept drill used.
The newest `retention.keep_drill_artifacts` drills keep theirs, and so does the newest passing
gate (the rollback point) until a newer gate passed. A drill whose evidence folder does not
verify (its files against its statement) is not taken at its word: what it names is kept."""

from __future__ import annotations

import getpass
import json
import posixpath
import socket
from pathlib import Path

from drtests.config import DrillConfig
from drtests.drill_state import Made, backup_file
from drtests.es import snapshots
from drtests.evidence import attest
from drtests.evidence.proven import proven
from drtests.hosts.host import TargetHost, quote
from drtests.record import store
from drtests.record.clock import utc_now
from drtests.record.store import Artifact
from drtests.words import Verdict, is_drill_id

PRUNES = "prunes.jsonl"


def drills_of(cfg: DrillConfig, report_dir: Path) -> list[store.StoredDrill]:
    """This target's drills the ledger holds, newest first (DrillError when the ledger is broken:
    prune then deletes nothing)."""
    return [d for d in proven(report_dir)[0] if d.summary.target_name == cfg.target_name][::-1]


def plan(cfg: DrillConfig, report_dir: Path, made: list[Made]) -> tuple[list[Artifact], list[Artifact]]:
    """(to delete, to keep) for this target: `made` is what the target's drill state records."""
    drills = drills_of(cfg, report_dir)
    trusted = {
        d.summary.drill_id for d in drills if not attest.verify_folder(d.folder, None, allow_unsigned=True).problems
    }
    # the drills that made something, newest first: from the target's record, so an empty or
    # replaced report folder changes nothing about which drills are the newest
    newest = cfg.retention.keep_drill_artifacts
    makers = list(dict.fromkeys(m.drill for m in sorted(made, key=lambda m: m.at, reverse=True)))
    keep_ids = set(makers[:newest])
    gates = [d.summary for d in drills if d.summary.gate and d.summary.verdict == Verdict.PASS]
    if gates:
        keep_ids.add(gates[0].drill_id)  # the rollback point, until a newer gate passed
    recent = {d.summary.drill_id for d in drills[:newest]} | keep_ids  # also the newest drills that made nothing
    kept_drills = [d for d in drills if d.summary.drill_id in recent or d.summary.drill_id not in trusted]
    used = {name for d in kept_drills for name in d.summary.references}
    delete, keep = [], []
    for entry in made:
        artifact = Artifact(entry.kind, entry.name, entry.drill)
        deletable = (
            entry.proven
            and entry.drill not in keep_ids
            and entry.name not in used
            and is_drill_id(entry.drill)
            and (entry.kind == "snapshot" or own_backup_file(cfg, entry))
            and (entry.kind == "backup file" or entry.name.startswith(f"{cfg.elasticsearch.repository}/"))
        )
        (delete if deletable else keep).append(artifact)
    return delete, keep


def own_backup_file(cfg: DrillConfig, entry: Made) -> bool:
    """The line's drill's own file, directly in stackstate.backup_dir as written (no '..')."""
    folder, name = posixpath.normpath(cfg.path(cfg.stackstate.backup_dir)), entry.name
    return (
        name == backup_file(cfg, entry.drill) and posixpath.normpath(name) == name and posixpath.dirname(name) == folder
    )


def prune(cfg: DrillConfig, report_dir: Path, host: TargetHost, es, made: list[Made]) -> tuple[list[str], list[str]]:
    """Delete what plan() names (when it still exists); (deleted, refused), one line each, recorded.
    A snapshot is deleted only when its own metadata names the drill and target that made it."""
    delete, keep = plan(cfg, report_dir, made)
    done, refused = [], []
    for artifact in delete:
        if artifact.kind == "backup file":
            if host.exists(artifact.name):
                host.run(f"rm -f -- {quote(artifact.name)}", 60, sudo=True)
                done.append(f"deleted {artifact}")
        elif es is not None:
            repository, snapshot = artifact.name.split("/", 1)
            if snapshots.made_by(es, repository, snapshot) != (artifact.drill_id, cfg.target_name):
                # the drill state is a file on the target; the snapshot's own metadata is the proof
                refused.append(f"kept {artifact}: its metadata in Elasticsearch does not say that drill of "
                               f"{cfg.target_name} made it")  # fmt: skip
            elif snapshots.delete_snapshot(es, repository, snapshot):
                done.append(f"deleted {artifact}")
    record = {"at": utc_now(), "by": f"{getpass.getuser()}@{socket.gethostname()}", "target": cfg.target_name,
              "deleted": done, "kept": [str(a) for a in keep], "refused": refused}  # fmt: skip
    with (report_dir / PRUNES).open("a") as log:
        log.write(json.dumps(record, sort_keys=True) + "\n")
    return done, refused
