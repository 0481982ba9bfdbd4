"""The backups an installation already keeps: which one a drill verifies, and the facts
`drtests record-backup` wrote beside it at backup time.

A drill in mode "existing" never makes a backup: it picks the install's own graph backup (the
file the nightly `sts-backup.sh` wrote) and its own snapshot, and says what it picked, from
which candidates and why.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from fnmatch import fnmatch
from importlib import metadata

from drtests.config import DrillConfig
from drtests.errors import DrillError
from drtests.es_errors import es_errors
from drtests.hosts.host import FileFacts, TargetHost, quote
from drtests.record.clock import utc_at, utc_now
from drtests.record.results import Selection, Snapshot

SHOWN_CANDIDATES = 20  # the evidence lists this many newest candidates (and how many there were)
FACTS_SUFFIX = ".facts.json"


@dataclass
class Candidate:
    path: str
    mtime_epoch: float
    size: int

    @property
    def mtime(self) -> str:
        return utc_at(self.mtime_epoch)


def backup_candidates(cfg: DrillConfig, host: TargetHost) -> list[Candidate]:
    """The installation's own backups, newest first: the files in the backup folder named like
    existing.backup_pattern (what the nightly sts-backup.sh writes). Drill-made files (drtests-*)
    only with existing.include_drill_backups. The one definition: the stale-backup warning and
    an existing-backup drill look at the same files."""
    folder = cfg.path(cfg.stackstate.backup_dir)
    listing = host.run(f"find {quote(folder)} -maxdepth 1 -mindepth 1 -printf '%T@ %s %p\\n'", 120)
    if listing.rc != 0:
        raise DrillError(f"cannot list the backup folder {folder} on {host.url}: {listing.tail(3)}")
    found = []
    for line in listing.stdout.splitlines():
        mtime, size, path = line.split(" ", 2)
        name = path.rsplit("/", 1)[-1]
        if name.endswith(FACTS_SUFFIX) or not fnmatch(name, cfg.existing.backup_pattern):
            continue
        if name.startswith("drtests-") and not cfg.existing.include_drill_backups:
            continue
        found.append(Candidate(path, float(mtime), int(size)))
    return sorted(found, key=lambda c: (-c.mtime_epoch, c.path))


def named_backup(host: TargetHost, path: str) -> Candidate:
    """existing.backup_file as a candidate of its own."""
    stat = host.run(f"stat -L -c '%Y %s' {quote(path)}", 30)
    if stat.rc != 0:
        raise DrillError(f"the backup {path} (existing.backup_file) is not there on {host.url}: {stat.tail(1)}")
    mtime, size = stat.stdout.split()
    return Candidate(path, float(mtime), int(size))


def pick_backup(cfg: DrillConfig, candidates: list[Candidate], now: float, rng: random.Random,
                pick: str = "") -> Selection:  # fmt: skip
    """The newest candidate, or (existing.pick, or `pick`, = "random") any one written within
    window_days."""
    ex = cfg.existing
    pick = pick or ex.pick
    shown = [{"path": c.path, "mtime": c.mtime, "size": c.size} for c in candidates[:SHOWN_CANDIDATES]]
    folder = cfg.path(cfg.stackstate.backup_dir)
    if not candidates:
        raise DrillError(f"no backup to verify: no file named {ex.backup_pattern} in {folder} (is the nightly "
                         "sts-backup.sh running? set existing.backup_pattern or existing.backup_file)")  # fmt: skip
    if pick == "newest":
        return Selection(candidates[0].path, "the newest file named like the install's backups", len(candidates), shown)
    window = [c for c in candidates if now - c.mtime_epoch <= ex.window_days * 86400]
    if not window:
        raise DrillError(f"no backup to verify: no file named {ex.backup_pattern} in {folder} was written within "
                         f"the last {ex.window_days:g} days (existing.window_days); the newest is "
                         f"{candidates[0].path} ({candidates[0].mtime})")  # fmt: skip
    chosen = rng.choice(window)
    return Selection(chosen.path, f"picked at random among the {len(window)} written within the last "
                     f"{ex.window_days:g} days", len(candidates), shown)  # fmt: skip


def snapshot_of(repository: str, snap: dict, patterns: list[str]) -> Snapshot:
    """A repository's snapshot as the drill records it; only the indices the drill covers."""
    indices = sorted(i for i in snap["indices"] if any(fnmatch(i, p) for p in patterns))
    return Snapshot(
        repository=repository,
        snapshot=snap["snapshot"],
        uuid=snap.get("uuid"),
        state=snap["state"],
        indices=indices,
        include_global_state=snap.get("include_global_state", False),
        shards=snap.get("shards", {"total": 0, "failed": 0, "successful": 0}),
        failures=snap.get("failures", []),
        start_time=snap.get("start_time"),
        end_time=snap.get("end_time"),
        duration_ms=snap.get("duration_in_millis"),
    )


def include_patterns(indices: str) -> list[str]:
    return [p.strip() for p in indices.split(",") if p.strip() and not p.strip().startswith("-")]


def install_snapshots(es, cfg: DrillConfig, drill_made: bool = False) -> list[dict]:
    """The installation's snapshots in any state, newest first: holding any of
    elasticsearch.indices (a repository shared by a fleet also holds the other installs'); a
    drill's own (drtests-*) only with `drill_made` (the stale-backup warning: a drill's snapshot can
    be restored too; an existing-backup drill verifies the install's own). Among the 500 newest."""
    patterns = include_patterns(cfg.elasticsearch.indices)
    listed = es.snapshot.get(repository=cfg.elasticsearch.repository, snapshot="_all",
                             params={"sort": "start_time", "order": "desc", "size": 500})["snapshots"]  # fmt: skip
    return [s for s in listed if (drill_made or not s["snapshot"].startswith("drtests-"))
            and any(fnmatch(i, p) for i in s["indices"] for p in patterns)]  # fmt: skip


def succeeded(snapshots: list[dict]) -> list[dict]:
    return [s for s in snapshots if s["state"] == "SUCCESS"]


def own_snapshots(es, cfg: DrillConfig, drill_made: bool = False) -> list[dict]:
    """The SUCCESS ones of install_snapshots."""
    return succeeded(install_snapshots(es, cfg, drill_made))


def pick_snapshot(es, cfg: DrillConfig, near_epoch: float | None) -> tuple[Snapshot, Selection]:
    """The named snapshot, or the newest SUCCESS one holding any of elasticsearch.indices (or,
    snapshot_pick = "nearest", the one that started nearest `near_epoch`). Drill-made snapshots
    (drtests-*) are the drills' own, not the install's: never candidates."""
    ex, repository = cfg.existing, cfg.elasticsearch.repository
    patterns = include_patterns(cfg.elasticsearch.indices)
    if ex.snapshot:
        try:
            found = es.snapshot.get(repository=repository, snapshot=ex.snapshot)["snapshots"]
        except es_errors.NotFoundError:
            missing = f"snapshot {ex.snapshot} (existing.snapshot) not found in repository {repository}"
            raise DrillError(missing) from None
        return snapshot_of(repository, found[0], patterns), Selection(ex.snapshot, "named by existing.snapshot", 1)
    candidates = own_snapshots(es, cfg)
    shown = [{"snapshot": s["snapshot"], "start_time": s.get("start_time"), "indices": len(s["indices"])}
             for s in candidates[:SHOWN_CANDIDATES]]  # fmt: skip
    if not candidates:
        raise DrillError(f"no snapshot to verify: repository {repository} holds no SUCCESS snapshot of "
                         f"{cfg.elasticsearch.indices} (is the nightly snapshot running? set "
                         "existing.snapshot)")  # fmt: skip
    if ex.snapshot_pick == "nearest" and near_epoch is not None:
        chosen = min(candidates, key=lambda s: abs(s["start_time_in_millis"] / 1000 - near_epoch))
        why = "the SUCCESS snapshot of the indices that started nearest the graph backup's time"
    else:
        chosen, why = candidates[0], "the newest SUCCESS snapshot of the indices"
    return snapshot_of(repository, chosen, patterns), Selection(chosen["snapshot"], why, len(candidates), shown)


# --- backup-time facts ------------------------------------------------------------------------


def facts_path(backup: str) -> str:
    return backup + FACTS_SUFFIX


def backup_time_facts(cfg: DrillConfig, artifact: FileFacts, topology: dict[str, int], host_name: str) -> dict:
    """What `drtests record-backup` writes beside a backup right after it was made."""
    return {
        "file": artifact.path,
        "sha256": artifact.sha256,
        "size": artifact.size,
        "topology": topology,
        "host": host_name,
        "target": cfg.target_name,
        "recorded": utc_now(),
        "recorded_epoch": round(time.time(), 3),
        "drtests": metadata.version("drtests"),
    }


def read_facts(host: TargetHost, backup: str) -> dict | None:
    """The facts recorded beside `backup`, None when there are none; a file that is there but
    not such facts is an error (a drill must not compare against it silently)."""
    path = facts_path(backup)
    if not host.exists(path):
        return None
    text = host.read(path)
    try:
        facts = json.loads(text or "")
    except ValueError as exc:
        raise DrillError(f"the backup-time facts {path} are not JSON ({exc}): write them again with "
                         "drtests record-backup, or remove the file") from None  # fmt: skip
    if not isinstance(facts, dict) or not isinstance(facts.get("topology"), dict) or "sha256" not in facts:
        raise DrillError(f"the backup-time facts {path} lack sha256 or topology: write them again with "
                         "drtests record-backup, or remove the file")  # fmt: skip
    return facts


# --- stale backups (preflight: alerts.stale_backup) ------------------------------------------


def newest_backup_age(cfg: DrillConfig, host: TargetHost) -> tuple[str, float] | None:
    """(path, age in seconds) of the newest of the installation's own backups (backup_candidates),
    or None (none, or a backup folder that cannot be listed: preflight names that on its own)."""
    try:
        newest = next(iter(backup_candidates(cfg, host)), None)
    except DrillError:
        return None
    if newest is None:
        return None
    now = host.run("date +%s", 60).stdout.strip()
    return newest.path, float(int(now) - int(newest.mtime_epoch))


def newest_snapshot_age(es, cfg: DrillConfig) -> tuple[str, float] | None:
    """(name, age in seconds) of the newest snapshot of the installation's indices, or None."""
    newest = next(iter(own_snapshots(es, cfg, drill_made=True)), None)
    return (newest["snapshot"], time.time() - newest["end_time_in_millis"] / 1000) if newest else None


def stale_backup_findings(cfg: DrillConfig, host: TargetHost, es) -> list[str]:
    """What is older than the RPO objective (or missing), in words for the evidence."""
    limit = cfg.objectives.rpo_seconds
    findings = []
    backup = newest_backup_age(cfg, host)
    if backup is None:
        folder = cfg.path(cfg.stackstate.backup_dir)
        findings.append(f"no backup of the installation's own (a file named {cfg.existing.backup_pattern}, as the "
                        f"nightly sts-backup.sh writes, not made by a drill) in {folder} on {host.url}")  # fmt: skip
    elif backup[1] > limit:
        findings.append(f"the newest backup file {backup[0]} is {backup[1] / 3600:.1f} h old, older than the RPO "
                        f"objective ({limit / 3600:.1f} h)")  # fmt: skip
    if es is not None:
        snapshot = newest_snapshot_age(es, cfg)
        if snapshot is None:
            findings.append(f"no successful snapshot of {cfg.elasticsearch.indices} in repository "
                            f"{cfg.elasticsearch.repository}")  # fmt: skip
        elif snapshot[1] > limit:
            findings.append(f"the newest snapshot {snapshot[0]} is {snapshot[1] / 3600:.1f} h old, older than the RPO "
                            f"objective ({limit / 3600:.1f} h)")  # fmt: skip
    return findings
