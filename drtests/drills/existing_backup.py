"""The backup phase of a drill in mode "existing": nothing is backed up, nothing on the target is
stopped or written. It picks the install's own graph backup and snapshot, records their facts
and checks what can be checked before a restore: readable, not empty, not older than the RPO
objective, unchanged since `drtests record-backup` hashed it, the snapshot complete."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from drtests import existing, telemetry
from drtests.config import DrillConfig
from drtests.drill import Drill
from drtests.drills.common import Planned, check, expect, step
from drtests.errors import DrillError
from drtests.hosts.host import TargetHost
from drtests.results import Selection

PHASE = "backup"


def plan(cfg: DrillConfig) -> list[Planned]:
    ex, es, limit = cfg.existing, cfg.elasticsearch, cfg.objectives.rpo_seconds
    folder = cfg.path(cfg.stackstate.backup_dir)
    if ex.backup_file:
        which = f"{ex.backup_file} (existing.backup_file)"
    elif ex.pick == "newest":
        which = f"the newest {ex.backup_pattern} in {folder}"
    else:
        which = f"a random {ex.backup_pattern} in {folder} written within the last {ex.window_days:g} days"
    planned = [
        step(
            PHASE,
            "select backup file",
            which
            + ("" if ex.include_drill_backups else "; drill-made drtests-* files are not candidates")
            + "; nothing is stopped, nothing written",
        ),  # fmt: skip
        check(PHASE, "newest backup within the RPO objective", f"its mtime <= {limit:g}s before now"),
        step(PHASE, "backup file facts", "size, sha256, owner, mode, mtime"),
        check(PHASE, "backup file non-empty"),
        check(PHASE, "backup sha256 recorded"),
        step(PHASE, "read backup-time facts", f"<file>{existing.FACTS_SUFFIX} (drtests record-backup), if present"),
        check(PHASE, "backup sha256 as recorded at backup time", "only when the facts file is present"),
    ]
    if es.enabled:
        which = f"{ex.snapshot} (existing.snapshot)"
        if not ex.snapshot:
            near = "newest" if ex.snapshot_pick == "newest" else "nearest to the backup file"
            which = (f"the {near} SUCCESS snapshot of {es.indices} in {es.repository}; drill-made drtests-* "
                     "snapshots are not candidates")  # fmt: skip
        planned += [
            step(PHASE, "select snapshot", which),
            check(PHASE, "snapshot state", "SUCCESS"),
            check(PHASE, "snapshot failed shards", "0"),
            check(PHASE, "snapshot holds every index", "every live index created before the snapshot started"),
        ]
    return planned


def run(cfg: DrillConfig, drill: Drill, host: TargetHost, es, say: Callable[[str], None]) -> None:
    ex, limit = cfg.existing, cfg.objectives.rpo_seconds
    backup = drill.backup
    with drill.timed_step(PHASE, "select backup file", f"find {cfg.path(cfg.stackstate.backup_dir)} "
                          f"-name '{ex.backup_pattern}'"):  # fmt: skip
        now = float(host.run("date +%s", 30).stdout.strip() or time.time())
        if ex.backup_file:
            candidates = [existing.named_backup(host, ex.backup_file)]
            backup.file_selection = Selection(ex.backup_file, "named by existing.backup_file", 1)
        else:
            candidates = existing.backup_candidates(cfg, host)
            backup.file_selection = existing.pick_backup(cfg, candidates, now, random.Random())
    picked = backup.file_selection.picked
    say(f"verifying backup {picked} ({backup.file_selection.why})")
    newest = candidates[0] if candidates else None
    age = round(now - newest.mtime_epoch) if newest else None
    expect(drill, PHASE, "newest backup within the RPO objective", f"<= {limit:g}", age,
           ok=age is not None and age <= limit,
           message=f"the newest backup {newest.path if newest else '(none)'} was written {age}s ago "
           f"({newest.mtime if newest else '-'}), more than the RPO objective ({limit:g}s): the nightly backup "
           "has stopped, or objectives.rpo_seconds is wrong")  # fmt: skip
    with drill.timed_step(PHASE, "backup file facts", f"stat, sha256sum {picked}"):
        facts = backup.artifact = host.file_facts(picked)
    expect(drill, PHASE, "backup file non-empty", "> 0 bytes", facts.size, ok=facts.size > 0,
           message=f"the backup {picked} is empty (0 bytes): the backup job wrote nothing")  # fmt: skip
    drill.check(PHASE, "backup sha256 recorded", True, len(facts.sha256) == 64)
    with drill.timed_step(PHASE, "read backup-time facts", existing.facts_path(picked)):
        recorded = backup.recorded = existing.read_facts(host, picked)
    if recorded is not None:
        expect(drill, PHASE, "backup sha256 as recorded at backup time", recorded["sha256"], facts.sha256,
               message=f"the backup {picked} changed since it was written: sha256 {facts.sha256}, recorded "
               f"{recorded['sha256']} at {recorded.get('recorded', '?')} (it rotted or was replaced at rest)",
               )  # fmt: skip
    say(f"backup file: {facts.size} bytes, sha256 {facts.sha256[:16]}..."
        + (" (as recorded at backup time)" if recorded else " (no backup-time facts)"))  # fmt: skip
    if es is None:
        return
    with drill.timed_step(PHASE, "select snapshot", f"GET _snapshot/{cfg.elasticsearch.repository}/_all"):
        near = next((c.mtime_epoch for c in candidates if c.path == picked), None)
        snap, backup.snapshot_selection = existing.pick_snapshot(es, cfg, near)
        backup.snapshot = snap
    say(f"verifying snapshot {snap.snapshot} ({backup.snapshot_selection.why})")
    name, failed = snap.snapshot, snap.shards.get("failed", 0)
    drill.check(PHASE, "snapshot state", "SUCCESS", snap.state,
                message=f"snapshot {name} ended {snap.state}: {snap.failures or 'see the ES log'}")  # fmt: skip
    drill.check(PHASE, "snapshot failed shards", 0, failed,
                message=f"snapshot {name}: {failed} shards failed: {snap.failures}")  # fmt: skip
    existed = telemetry.created_before(es, cfg.elasticsearch.indices, snap.start_time)
    missing = sorted(set(existed) - set(snap.indices))
    drill.check(PHASE, "snapshot holds every index", [], missing,
                message=f"snapshot {snap.snapshot} lacks {len(missing)} live index(es) that existed when it started: "
                f"{', '.join(missing[:5])}")  # fmt: skip
    if not snap.indices:
        raise DrillError(f"snapshot {snap.snapshot} holds none of {cfg.elasticsearch.indices}")
