"""How a drill in mode "existing" judges a restore without a drill-time baseline.

- Topology: exactly against the counts `drtests record-backup` wrote beside the backup at backup
  time; without them, against the live graph within existing.topology_tolerance per type (and a
  type that has nodes live must have nodes restored).
- Telemetry: a daily index of a day before the snapshot started receives no writes any more, so
  its restored copy must equal the live index exactly (count and fingerprint); the snapshot's own
  day (and an index without a day in its name) may have grown since: restored <= live; an index
  gone from the live cluster (retention) is listed, not compared.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from drtests.config import DrillConfig
from drtests.drill import Drill
from drtests.drills.common import Planned, check

PHASE = "verify"
DAY = re.compile(r"(\d{4})[.-](\d{2})[.-](\d{2})$")  # the daily suffix: sts_metrics-2026.11.25
EXACT, AT_MOST, GONE = "exact (a past day)", "at most live (written since the snapshot)", "not compared: gone live"


def plan(cfg: DrillConfig) -> list[Planned]:
    tolerance = cfg.existing.topology_tolerance
    rule = (f"restored == counts recorded at backup time (drtests record-backup); without them: live count "
            f"±{tolerance:.0%} and > 0 where live has nodes")  # fmt: skip
    planned = [check(PHASE, "topology <each type>", rule)]
    if cfg.elasticsearch.enabled:
        planned += [
            check(PHASE, "docs <each index>", "days before the snapshot: restored == live; its own day: restored "
                  "<= live; indices gone live: listed, not compared"),
            check(PHASE, "fingerprint <each index>", "days before the snapshot: restored sample == live"),
        ]  # fmt: skip
    return planned


def judged_at_file_time(cfg: DrillConfig) -> bool:
    """A backup picked at random (for coverage) has its RPO measured against when it was
    written, not against now."""
    return cfg.drill.mode == "existing" and cfg.existing.pick == "random" and not cfg.existing.backup_file


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
            drill.check(PHASE, f"topology {node_type}", b, a,
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
        drill.check(PHASE, f"topology {node_type}", f"{b} live ±{tolerance:.0%}", a, ok=ok,
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
            drill.check(PHASE, f"docs {orig}", n, m,
                        message=f"index {orig} (a day before the snapshot, no longer written): {n} docs live, {m} "
                        f"in restored {new} ({m - n:+d})")  # fmt: skip
            drill.check(PHASE, f"fingerprint {orig}", live_prints.get(orig), restored_prints.get(new),
                        message=f"index {orig} (a day before the snapshot): content fingerprint of restored {new} "
                        "differs from the live index")  # fmt: skip
        else:
            rules[orig] = AT_MOST
            drill.check(PHASE, f"docs {orig}", f"<= {n}", m, ok=m <= n,
                        message=f"index {orig}: {m} docs in restored {new}, more than the {n} live: the snapshot "
                        "holds documents the live index lost")  # fmt: skip
    drill.verify.index_rules = rules
