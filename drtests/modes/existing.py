"""Existing: verify the backups the installation already keeps (the newest nightly sts-backup.sh
file and the newest nightly snapshot), restored in a disposable host and under renamed indices
(or the restore cluster). Production is never stopped and never written.

The backup phase picks the install's own graph backup and snapshot, records their facts and
checks what can be checked before a restore: readable, not empty, not older than the RPO
objective, unchanged since `drtests record-backup` hashed it, the snapshot complete.

Without a drill-time baseline the restore is judged so:
- Topology: exactly against the counts `drtests record-backup` wrote beside the backup at backup
  time; without them, against the live graph within existing.topology_tolerance per type (and a
  type that has nodes live must have nodes restored).
- Telemetry: a daily index of a day before the snapshot started receives no writes any more, so
  its restored copy must equal the live index exactly (count and fingerprint); the snapshot's own
  day (and an index without a day in its name) may have grown since, so it is compared on what
  the snapshot held: the copy holds at least one document, as many as the live index wrote up to
  the copy's newest (_seq_no, per shard), and the same first and last of them; an index gone from
  the live cluster (retention) is listed, not compared.
"""

from __future__ import annotations

import random
import time
from datetime import date, datetime

from drtests import existing
from drtests.config import DrillConfig
from drtests.errors import DrillError
from drtests.es import client, digests
from drtests.es.shares import DAY
from drtests.hosts.host import TargetHost
from drtests.modes.base import DOCS, FINGERPRINT, FULL_LIVE, TOPOLOGY, Say
from drtests.modes.isolated import Isolated
from drtests.options import DrillOptions
from drtests.record.drill import Drill
from drtests.record.results import Selection
from drtests.steps import (
    EACH_INDEX,
    EACH_TYPE,
    FILE_FACTS,
    FILE_NON_EMPTY,
    SHA256_RECORDED,
    SNAPSHOT_FAILED_SHARDS,
    SNAPSHOT_HOLDS_EVERY_INDEX,
    SNAPSHOT_STATE,
    Planned,
    check,
    expect,
    full_verify_choice,
    step,
)
from drtests.words import Mode, Phase

BACKUP, VERIFY = Phase.BACKUP, Phase.VERIFY
SELECT_FILE = step("select backup file")
NEWEST_FRESH = check("newest backup within the RPO objective")
READ_FACTS = step("read backup-time facts")
SHA256_AS_RECORDED = check("backup sha256 as recorded at backup time")
SELECT_SNAPSHOT = step("select snapshot")
SNAPSHOT_FRESH = check("newest good snapshot within the RPO objective")

EXACT, AT_MOST, GONE = "exact (a past day)", "at most live (written since the snapshot)", "not compared: gone live"


class Existing(Isolated):
    mode = Mode.EXISTING
    takes_backup = False
    fingerprints_live = True  # past days must equal their restored copy
    kept_by_gate = True  # it restores away from the install too
    live_before = True  # the baseline reads the live graph, changed since the backup
    backup_name = "<the selected backup>"

    def backup_plan(self, cfg: DrillConfig) -> list[Planned]:
        return backup_plan(cfg)

    def run_backup(self, cfg: DrillConfig, drill: Drill, host: TargetHost, es, say: Say) -> None:
        run_backup(cfg, drill, host, es, say)

    def verify_plan(self, cfg: DrillConfig, count_docs: list[Planned]) -> list[Planned]:
        return [*count_docs, *verify_plan(cfg)]

    def compare_topology(self, drill: Drill, after: dict[str, int]) -> None:
        compare_topology(drill, after)

    def compare_telemetry(self, drill: Drill, restored_counts: dict[str, int], restored_prints: dict[str, str]) -> None:
        compare_telemetry(drill, restored_counts, restored_prints)

    def compare_still_written(self, drill: Drill, live_es, restored_es) -> None:
        compare_still_written(drill, live_es, restored_es)

    def full_verify_live(self, cfg: DrillConfig) -> bool:
        return cfg.elasticsearch.full_verify != "off"

    def hash_live_source(self, cfg: DrillConfig, drill: Drill, options: DrillOptions, es) -> str:
        """The past-day indices (compared exactly) of this drill's share, hashed live."""
        exact = [orig for orig, how in (drill.verify.index_rules or {}).items() if how == EXACT]
        full = drill.backup.full_verify = full_verify_choice(cfg, exact, drill.preflight.sequence)
        with drill.timed_step(VERIFY, FULL_LIVE(), f"{len(full.indices)} past-day indices"):
            full.source = digests.full_digests(es, full.indices, cfg.elasticsearch.full_verify_slices)
        return "live (a past day)"

    def rpo_rule(self, cfg: DrillConfig) -> str:
        return "the picked file's mtime - watermark" if judged_at_file_time(cfg) else super().rpo_rule(cfg)

    def rpo(self, cfg: DrillConfig, drill: Drill) -> tuple[float | None, str]:
        rpo, rpo_of = super().rpo(cfg, drill)
        if judged_at_file_time(cfg) and rpo is not None:
            written = drill.backup.artifact.mtime
            rpo = round(max(0.0, datetime.fromisoformat(written).timestamp() - drill.restore.watermark_ns / 1e9), 3)
            rpo_of = "the backup's newest change is {rpo}s older than the backup file " + f"({written})"
        return rpo, rpo_of


def judged_at_file_time(cfg: DrillConfig) -> bool:
    """A backup picked at random (for coverage) has its RPO measured against when it was
    written, not against now."""
    return cfg.existing.pick == "random" and not cfg.existing.backup_file


def backup_plan(cfg: DrillConfig) -> list[Planned]:
    ex, es, limit = cfg.existing, cfg.elasticsearch, cfg.objectives.rpo_seconds
    folder = cfg.path(cfg.stackstate.backup_dir)
    if ex.backup_file:
        which = f"{ex.backup_file} (existing.backup_file)"
    elif ex.pick == "newest":
        which = f"the newest {ex.backup_pattern} in {folder}"
    else:
        which = f"a random {ex.backup_pattern} in {folder} written within the last {ex.window_days:g} days"
    planned = [
        SELECT_FILE.planned(
            BACKUP,
            which
            + ("" if ex.include_drill_backups else "; drill-made drtests-* files are not candidates")
            + "; nothing is stopped, nothing written",
        ),  # fmt: skip
        NEWEST_FRESH.planned(BACKUP, f"its mtime <= {limit:g}s before now"),
        FILE_FACTS.planned(BACKUP, "size, sha256, owner, mode, mtime"),
        FILE_NON_EMPTY.planned(BACKUP),
        SHA256_RECORDED.planned(BACKUP),
        READ_FACTS.planned(BACKUP, f"<file>{existing.FACTS_SUFFIX} (drtests record-backup), if present"),
        SHA256_AS_RECORDED.planned(BACKUP, "only when the facts file is present"),
    ]
    if es.enabled:
        which = f"{ex.snapshot} (existing.snapshot)"
        if not ex.snapshot:
            near = "newest" if ex.snapshot_pick == "newest" else "nearest to the backup file"
            which = (f"the {near} SUCCESS snapshot of {es.indices} in {es.repository}; drill-made drtests-* "
                     "snapshots are not candidates")  # fmt: skip
        planned += [
            SELECT_SNAPSHOT.planned(BACKUP, which),
            SNAPSHOT_FRESH.planned(BACKUP, f"the newest SUCCESS snapshot ended <= {limit:g}s before now"),
            SNAPSHOT_STATE.planned(BACKUP, "SUCCESS"),
            SNAPSHOT_FAILED_SHARDS.planned(BACKUP, "0"),
            SNAPSHOT_HOLDS_EVERY_INDEX.planned(BACKUP, "every live index created before the snapshot started"),
        ]
    return planned


def run_backup(cfg: DrillConfig, drill: Drill, host: TargetHost, es, say: Say) -> None:
    ex, limit = cfg.existing, cfg.objectives.rpo_seconds
    backup = drill.backup
    with drill.timed_step(BACKUP, SELECT_FILE(), f"find {cfg.path(cfg.stackstate.backup_dir)} "
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
    expect(drill, BACKUP, NEWEST_FRESH(), f"<= {limit:g}", age,
           ok=age is not None and age <= limit,
           message=f"the newest backup {newest.path if newest else '(none)'} was written {age}s ago "
           f"({newest.mtime if newest else '-'}), more than the RPO objective ({limit:g}s): the nightly backup "
           "has stopped, or objectives.rpo_seconds is wrong")  # fmt: skip
    with drill.timed_step(BACKUP, FILE_FACTS(), f"stat, sha256sum {picked}"):
        facts = backup.artifact = host.file_facts(picked)
    expect(drill, BACKUP, FILE_NON_EMPTY(), "> 0 bytes", facts.size, ok=facts.size > 0,
           message=f"the backup {picked} is empty (0 bytes): the backup job wrote nothing")  # fmt: skip
    drill.check(BACKUP, SHA256_RECORDED(), True, len(facts.sha256) == 64)
    with drill.timed_step(BACKUP, READ_FACTS(), existing.facts_path(picked)):
        recorded = backup.recorded = existing.read_facts(host, picked)
    if recorded is not None:
        expect(drill, BACKUP, SHA256_AS_RECORDED(), recorded["sha256"], facts.sha256,
               message=f"the backup {picked} changed since it was written: sha256 {facts.sha256}, recorded "
               f"{recorded['sha256']} at {recorded.get('recorded', '?')} (it rotted or was replaced at rest)",
               )  # fmt: skip
    say(f"backup file: {facts.size} bytes, sha256 {facts.sha256[:16]}..."
        + (" (as recorded at backup time)" if recorded else " (no backup-time facts)"))  # fmt: skip
    if es is None:
        return
    with drill.timed_step(BACKUP, SELECT_SNAPSHOT(), f"GET _snapshot/{cfg.elasticsearch.repository}/_all"):
        near = next((c.mtime_epoch for c in candidates if c.path == picked), None)
        snap, backup.snapshot_selection = existing.pick_snapshot(es, cfg, near)
        backup.snapshot = snap
    say(f"verifying snapshot {snap.snapshot} ({backup.snapshot_selection.why})")
    name, failed = snap.snapshot, snap.shards.get("failed", 0)
    drill.check(BACKUP, SNAPSHOT_STATE(), "SUCCESS", snap.state,
                message=f"snapshot {name} ended {snap.state}: {snap.failures or 'see the ES log'}")  # fmt: skip
    drill.check(BACKUP, SNAPSHOT_FAILED_SHARDS(), 0, failed,
                message=f"snapshot {name}: {failed} shards failed: {snap.failures}")  # fmt: skip
    check_snapshot_age(cfg, drill, es, age)
    existed = client.created_before(es, cfg.elasticsearch.indices, snap.start_time)
    missing = sorted(set(existed) - set(snap.indices))
    drill.check(BACKUP, SNAPSHOT_HOLDS_EVERY_INDEX(), [], missing,
                message=f"snapshot {snap.snapshot} lacks {len(missing)} live index(es) that existed when it started: "
                f"{', '.join(missing[:5])}")  # fmt: skip
    if not snap.indices:
        raise DrillError(f"snapshot {snap.snapshot} holds none of {cfg.elasticsearch.indices}")


def check_snapshot_age(cfg: DrillConfig, drill: Drill, es, file_age: float | None) -> None:
    """The telemetry side meets the RPO objective too: the newest SUCCESS snapshot of the
    install's indices is not older than it. A nightly snapshot that stopped succeeding (its newest
    ended PARTIAL or FAILED) fails the drill, naming it and the age of the newest good one."""
    limit = cfg.objectives.rpo_seconds
    listed = existing.install_snapshots(es, cfg)  # one listing for the newest of any state and the newest good one
    newest, good = next(iter(listed), None), next(iter(existing.succeeded(listed)), None)
    age = round(time.time() - good["end_time_in_millis"] / 1000) if good else None
    drill.backup.ages_s = {"backup_file": file_age, "snapshot": age}
    if newest is not None and good is not None and newest["snapshot"] != good["snapshot"]:
        why = (f"the snapshots have stopped succeeding: the newest, {newest['snapshot']}, ended {newest['state']}, "
               f"and the newest SUCCESS one, {good['snapshot']}, ended {age}s ago")  # fmt: skip
    else:
        why = f"the newest snapshot {good['snapshot'] if good else '(none)'} ended {age}s ago"
    drill.check(BACKUP, SNAPSHOT_FRESH(), f"<= {limit:g}", age, ok=age is not None and age <= limit,
                message=f"{why}, more than the RPO objective ({limit:g}s): the nightly snapshot has stopped, or "
                "objectives.rpo_seconds is wrong")  # fmt: skip


def verify_plan(cfg: DrillConfig) -> list[Planned]:
    tolerance = cfg.existing.topology_tolerance
    rule = (f"restored == counts recorded at backup time (drtests record-backup); without them: live count "
            f"±{tolerance:.0%} and > 0 where live has nodes")  # fmt: skip
    planned = [TOPOLOGY.planned(VERIFY, rule, type=EACH_TYPE)]
    if cfg.elasticsearch.enabled:
        planned += [
            DOCS.planned(VERIFY, "days before the snapshot: restored == live; still written (its own day, or no "
                         "day): restored > 0 and == live up to the copy's newest document (_seq_no); indices gone "
                         "live: listed, not compared", index=EACH_INDEX),
            FINGERPRINT.planned(VERIFY, index=EACH_INDEX, detail="restored sample == live (still written: of the "
                                "part the snapshot held)"),
        ]  # fmt: skip
    return planned


def index_day(name: str) -> date | None:
    found = DAY.search(name)
    if not found:
        return None
    try:
        return date(*map(int, found.groups()))
    except ValueError:
        return None


def compare_topology(drill: Drill, after: dict[str, int]) -> None:
    recorded = drill.backup.recorded
    if recorded is not None:
        expected = {str(k): int(v) for k, v in recorded["topology"].items()}
        for node_type in sorted(set(expected) | set(after)):
            b, a = expected.get(node_type, 0), after.get(node_type, 0)
            drill.check(VERIFY, TOPOLOGY(type=node_type), b, a,
                        message=f"topology type {node_type}: {b} at backup time (recorded by drtests record-backup "
                        f"{recorded.get('recorded', '')}), {a} restored ({a - b:+d})")  # fmt: skip
        return
    tolerance, live = drill.config.existing.topology_tolerance, drill.baseline.topology
    drift: dict[str, float] = {}
    for node_type in sorted(set(live) | set(after)):
        b, a = live.get(node_type, 0), after.get(node_type, 0)
        share = (a - b) / b if b else (0.0 if a == 0 else 1.0)
        drift[node_type] = round(share, 4)
        ok = abs(share) <= tolerance and (b == 0 or a > 0)
        drill.check(VERIFY, TOPOLOGY(type=node_type), f"{b} live ±{tolerance:.0%}", a, ok=ok,
                    message=f"topology type {node_type}: {b} live, {a} restored ({share:+.1%}, tolerance "
                    f"{tolerance:.0%}, existing.topology_tolerance; record exact counts at backup time with "
                    "drtests record-backup)")  # fmt: skip
    drill.verify.topology_drift = drift


def compare_telemetry(drill: Drill, restored_counts: dict[str, int], restored_prints: dict[str, str]) -> None:
    """`restored_*` by restored index name; the live side is the baseline's."""
    snapshot, mapping = drill.backup.snapshot, drill.restore.telemetry.indices
    started = datetime.fromisoformat(snapshot.start_time).date() if snapshot.start_time else None
    live_counts, live_prints = drill.baseline.docs or {}, drill.baseline.fingerprints or {}
    rules: dict[str, str] = {}
    for orig in sorted(mapping):
        new = mapping[orig]
        m = restored_counts.get(new, 0)
        if orig not in live_counts:
            rules[orig] = GONE
            continue
        n, day = live_counts[orig], index_day(orig)
        if day is not None and started is not None and day < started:
            rules[orig] = EXACT
            drill.check(VERIFY, DOCS(index=orig), n, m,
                        message=f"index {orig} (a day before the snapshot, no longer written): {n} docs live, {m} "
                        f"in restored {new} ({m - n:+d})")  # fmt: skip
            drill.check(VERIFY, FINGERPRINT(index=orig), live_prints.get(orig), restored_prints.get(new),
                        message=f"index {orig} (a day before the snapshot): content fingerprint of restored {new} "
                        "differs from the live index")  # fmt: skip
        else:  # compared on what the snapshot held: compare_still_written
            rules[orig] = AT_MOST
    drill.verify.index_rules = rules


def compare_still_written(drill: Drill, live_es, restored_es) -> None:
    """An index still written (its day is the snapshot's, or it has no day) has more documents live
    than the snapshot held; its copy must hold at least one (0 restored proves nothing), exactly
    as many as the live index wrote up to the copy's newest document (_seq_no, per shard), and the
    same first and last documents of that part (fingerprint)."""
    mapping, sample = drill.restore.telemetry.indices, drill.config.elasticsearch.fingerprint_sample
    for orig, how in sorted((drill.verify.index_rules or {}).items()):
        if how != AT_MOST:
            continue
        new = mapping[orig]
        upto = digests.newest_seq_nos(restored_es, new)
        restored_docs, restored_print = digests.fingerprint_upto(restored_es, new, upto, sample)
        live_docs, live_print = digests.fingerprint_upto(live_es, orig, upto, sample)
        where = f"_seq_no <= {max(upto.values())}" if upto else "none"
        if restored_docs == 0:
            message = (f"index {orig} (still written): restored {new} holds no document: an empty copy proves nothing "
                       "(a snapshot of an index being written holds what it had so far)")  # fmt: skip
        else:
            message = (f"index {orig} (still written): {live_docs} docs live up to the snapshot's newest ({where}), "
                       f"{restored_docs} in restored {new} ({restored_docs - live_docs:+d})")  # fmt: skip
        drill.check(VERIFY, DOCS(index=orig), f"{live_docs} (live, up to the snapshot's newest), > 0", restored_docs,
                    ok=restored_docs == live_docs and restored_docs > 0, message=message)  # fmt: skip
        drill.check(VERIFY, FINGERPRINT(index=orig), live_print, restored_print,
                    message=f"index {orig} (still written): the documents it held at snapshot time ({where}) differ "
                    f"between the live index and restored {new}")  # fmt: skip
