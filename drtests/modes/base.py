"""What a kind of drill decides, behind one interface: where the graph is restored, where
telemetry is restored, what the restore is compared against, and what the plan says about each.

The phases ask `drtests.modes.of(cfg)` and never look at `drill.mode` themselves. The defaults
here are the drill that takes its own backup and compares the restore with its own baseline and
snapshot; in_place, isolated and existing each change what differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from drtests.config import DrillConfig
from drtests.hosts.disposable import DisposableHost
from drtests.hosts.host import TargetHost
from drtests.hosts.service import Service
from drtests.options import DrillOptions
from drtests.record.drill import Drill
from drtests.steps import EACH_INDEX, EACH_TYPE, VERSIONS_MATCH, Planned, check, step
from drtests.words import Mode, Phase

VERIFY, PREFLIGHT = Phase.VERIFY, Phase.PREFLIGHT

Say = Callable[[str], None]
TOPOLOGY, DOCS, FINGERPRINT = check("topology {type}"), check("docs {index}"), check("fingerprint {index}")
FULL_LIVE = step("full digest of the live indices")  # full verification's source side, hashed live


@dataclass
class RestoreSite:
    """Where the graph is restored: its host, node service and the config as it applies there."""

    host: TargetHost
    service: Service
    config: DrillConfig  # the drill's config with this host's home, units and probe
    node_was_active: bool
    disposable: DisposableHost | None = None


class DrillMode:
    mode: ClassVar[Mode]
    takes_backup: ClassVar[bool] = True  # stops the node and exports; False: verifies the install's own backups
    fingerprints_live: ClassVar[bool] = False  # the baseline hashes the live indices (no snapshot-time sample)
    kept_by_gate: ClassVar[bool] = False  # `drtests gate` keeps this mode (others become isolated)
    live_before: ClassVar[bool] = False  # the graph is compared with the live graph read after the backup was made
    graph_restore: ClassVar[str] = "the node's stop and the import"  # what the graph path does first, in words

    # preflight ------------------------------------------------------------------------------
    def destructive_steps(self, cfg: DrillConfig) -> list[str]:
        """What this mode overwrites on the target, in words (empty: nothing)."""
        return []

    def preflight_plan(self, cfg: DrillConfig) -> list[Planned]:
        return []

    def check_preflight(self, cfg: DrillConfig, drill: Drill) -> None:
        """The mode's own preflight checks (recorded on `drill`; a failed one fails the phase)."""

    # restore --------------------------------------------------------------------------------
    def site_config(self, cfg: DrillConfig) -> DrillConfig:
        """The config as it applies where the graph is restored."""
        return cfg

    def open_site(self, cfg: DrillConfig, drill: Drill, target: TargetHost, service: Service, say: Say) -> RestoreSite:
        raise NotImplementedError

    def leftover_hosts(self, cfg: DrillConfig, stale_drill: str) -> list[str]:
        """Restore hosts an earlier drill left (none where a drill starts none)."""
        return []

    def remove_host(self, name: str) -> None:
        raise NotImplementedError

    def restore_plan(self, cfg: DrillConfig, options: DrillOptions, file: str) -> tuple[list[Planned], str]:
        """(the steps before the node is stopped, the file imported) for the plan."""
        return ([VERSIONS_MATCH.planned(Phase.RESTORE)] if cfg.stackstate.version_command else []), file

    # verify ---------------------------------------------------------------------------------
    def verify_plan(self, cfg: DrillConfig, count_docs: list[Planned]) -> list[Planned]:
        """The verify phase's comparisons, around `count_docs` (the step that counts the restored docs)."""
        planned = [TOPOLOGY.planned(VERIFY, "counts per type after == before", type=EACH_TYPE), *count_docs]
        if cfg.elasticsearch.enabled:
            planned += [
                DOCS.planned(VERIFY, "restored doc count == at snapshot time", index=EACH_INDEX),
                FINGERPRINT.planned(VERIFY, "restored sample == at snapshot time", index=EACH_INDEX),
            ]
        return planned

    def compare_topology(self, drill: Drill, after: dict[str, int]) -> None:
        """Counts per type after the restore == the baseline's."""
        before = drill.baseline.topology
        for node_type in sorted(set(before) | set(after)):
            b, a = before.get(node_type, 0), after.get(node_type, 0)
            drill.check(VERIFY, TOPOLOGY(type=node_type), b, a,
                        message=f"topology type {node_type}: {b} before, {a} after restore ({a - b:+d})")  # fmt: skip

    def compare_telemetry(self, drill: Drill, restored_counts: dict[str, int], restored_prints: dict[str, str]) -> None:
        """Each restored index == its index at snapshot time (count and fingerprint)."""
        mapping, expected = drill.restore.telemetry.indices, drill.backup.docs_at_snapshot or {}
        share = drill.restore.share  # restore_share: the others are another drill's to restore
        for orig in sorted(set(expected) & set(share.restored) if share else expected):
            new = mapping.get(orig, "<not restored>")
            n, m = expected[orig], restored_counts.get(new, 0)
            message = f"index {orig}: {n} docs at snapshot time, {m} in restored {new} ({m - n:+d})"
            drill.check(VERIFY, DOCS(index=orig), n, m, message=message)
            fp_before, fp_after = drill.backup.fingerprints_at_snapshot.get(orig), restored_prints.get(new)
            drill.check(VERIFY, FINGERPRINT(index=orig), fp_before, fp_after,
                        message=f"index {orig}: content fingerprint differs in restored {new}")  # fmt: skip

    def compare_still_written(self, drill: Drill, live_es, restored_es) -> None:
        """Indices written since the snapshot (existing-backup drills): compared on what the
        snapshot held. A drill that takes its own snapshot compares everything at snapshot time."""

    def full_verify_live(self, cfg: DrillConfig) -> bool:
        """True: the source side of full verification is hashed live in the verify phase (no
        snapshot-time digest), by hash_live_source."""
        return False

    def hash_live_source(self, cfg: DrillConfig, drill: Drill, options: DrillOptions, es) -> str:
        """Choose and hash the source side of full verification live; returns what it was (for messages)."""
        raise NotImplementedError

    def rpo_rule(self, cfg: DrillConfig) -> str:
        return "drill start - watermark"

    def rpo(self, cfg: DrillConfig, drill: Drill) -> tuple[float | None, str]:
        """(RPO in seconds, what it measures: a format string with {rpo})."""
        return drill.rpo_seconds, "the backup's newest change is {rpo}s older than the drill"
