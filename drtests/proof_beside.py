"""The checks that start before the verify phase, when their inputs exist: the source's full
digest at snapshot time, read from points in time opened while the node was stopped (beside the
snapshot, the node's start and the restore), the graph read once the node answers after the
import (beside the snapshot restore), the restored copies read as each index became usable
(and deleted once read, from the restore's end on, when nothing later reads them).
The backup and restore phases start them; the verify phase takes their results and
compares, as if it had read them itself; the drill's end stops whatever still runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from drtests import modes
from drtests.config import DrillConfig
from drtests.declared import step
from drtests.es import digests
from drtests.es.as_restored import IndexChecks, RestoredReads
from drtests.es.copy_removal import CopyRemover
from drtests.options import DrillOptions
from drtests.parallel import Beside
from drtests.record import timeline
from drtests.record.drill import Drill, Step
from drtests.steps import RESTORE_SNAPSHOT, restore_leaves_source
from drtests.topology import checks as graph_checks
from drtests.topology.probes import make_probe, read_graph

PHASE = "verify"  # what they read is verified there; their steps say when they ran
FULL_AT_SNAPSHOT = step("full digest at snapshot time")  # the source as the snapshot holds it
COUNT_TOPOLOGY_AFTER = step("count topology after the restore")
COUNT_RESTORED = step("count and fingerprint restored docs")
FULL_RESTORED = step("full digest of the restored copies")
REMOVED_ONCE_READ = "restored copies removed once read"  # a safety step: named as it happens, in no plan
MAX_VIEWS = 100  # points in time held for a digest beside the drill (ES 8 allows 300 a node: max_open_pit_context)
READ_WORKERS = 2  # restored indices read at once: the cluster and a 2-core runner stay responsive


def graph_work_beside_restore(steps: list[dict]) -> tuple[float, float] | None:
    """(the snapshot restore's seconds, how many of them the graph path and its checks ran
    beside), from the drill's steps as the evidence holds them; the reads of the restored copies
    run beside any restore, so they are left out. None: no snapshot restore was timed."""
    return timeline.beside(steps, RESTORE_SNAPSHOT(), [COUNT_RESTORED(), FULL_RESTORED()])


def digest_beside(cfg: DrillConfig, indices: int = 0) -> bool:
    """The full digest at snapshot time reads points in time, opened while the node is stopped,
    beside the snapshot, the node's start and the restore (the node and production wait for the
    snapshot only), when the paths run side by side, the restore leaves the source indices alone
    and the share needs at most MAX_VIEWS of them; else it reads before the snapshot, as the node waits."""
    es = cfg.elasticsearch
    return (es.enabled and es.full_verify != "off" and modes.of(cfg).takes_backup and cfg.drill.parallel_paths
            and restore_leaves_source(cfg) and indices <= MAX_VIEWS)  # fmt: skip


def removes_copies_once_read(cfg: DrillConfig, options: DrillOptions, user_phases: set[str]) -> bool:
    """Whether each restored copy may be deleted once read, beside the drill's last checks: only
    copies (renamed, or in a restore cluster), read beside the restore, that nothing reads later:
    not kept (--keep), a drill that takes its own backup (an existing-backup drill compares the
    copies of indices still written, in verify), and no user's dr_check from the restore phase on
    (it may read a copy, or write to one)."""
    return (cfg.drill.parallel_paths and restore_leaves_source(cfg) and not options.keep
            and modes.of(cfg).takes_backup and not user_phases & {"restore", "verify", "report"})  # fmt: skip


@dataclass
class ProofBeside:
    source: Beside | None = None  # the full digest at snapshot time, of points in time: {index: digest}
    graph: Beside | None = None  # the topology read after the restore: (counts, listings)
    telemetry: IndexChecks | None = None  # the restored copies' counts, fingerprints, digests
    removal: CopyRemover | None = None  # the copies deleted once read, from the restore's end on

    def start_source(self, es, views: dict[str, str], slices: int) -> None:
        """Hash every document the points in time `views` (index -> id) hold, beside whatever runs
        next; each is closed once read, all of them if the reader is stopped."""

        def read(path: Beside):
            with path.timed_step(PHASE, FULL_AT_SNAPSHOT(), f"every document of {len(views)} indices, "
                                 "read from points in time opened at snapshot time"):  # fmt: skip
                return digests.digests_of_views(es, views, slices, path.check_cancelled)

        self.source = Beside("source-digest", read)

    def source_digest(self, steps: list[Step], say: Callable[[str], None]) -> dict[str, dict] | None:
        """The full digest at snapshot time begun in the backup, its step added to `steps`; None
        when it was not begun there."""
        if self.source is None:
            return None
        self.source.join_into(steps, every=lambda: say("waiting for the full digest at snapshot time"))
        return self.source.result()

    def start_graph(self, drill: Drill, site) -> None:
        """Read the restored graph now, beside what still runs (the node answers again)."""
        keep = graph_checks.kept_by(drill.baseline.listings)

        def read(path: Beside):
            with path.timed_step(PHASE, COUNT_TOPOLOGY_AFTER()):
                return read_graph(make_probe(site.config, site.host), keep)

        self.graph = Beside("graph-proof", read)

    def start_telemetry(self, cfg: DrillConfig, drill: Drill, es, restored: dict[str, str],
                        remove: bool = False) -> IndexChecks:  # fmt: skip
        """The reads of the restored copies (`restored`: original -> restored name), to be handed
        each index as it becomes usable; the full digest for this drill's full-verification share;
        `remove`: each copy deleted once read (removes_copies_once_read)."""
        full = drill.backup.full_verify
        chosen = full.indices if full is not None else []
        wanted = {restored[name] for name in chosen if name in restored}
        es_cfg = cfg.elasticsearch
        self.removal = CopyRemover(es) if remove else None
        self.telemetry = IndexChecks(es, es_cfg.fingerprint_sample, wanted, es_cfg.full_verify_slices, READ_WORKERS,
                                     self.removal.remove if self.removal is not None else None)  # fmt: skip
        return self.telemetry

    def graph_read(self, steps: list[Step], say: Callable[[str], None]):
        """(counts, listings) of the restored graph, its step added to `steps`; None when not started."""
        if self.graph is None:
            return None
        self.graph.join_into(steps, every=lambda: say("waiting for the read of the restored graph"))
        return self.graph.result()

    def restored_reads(self, steps: list[Step], say: Callable[[str], None]) -> RestoredReads | None:
        """The restored copies' reads, their steps added to `steps`; None when not started."""
        if self.telemetry is None:
            return None
        if self.telemetry.running():
            say("waiting for the reads of the restored copies (begun as each became usable)")
        reads = self.telemetry.result()
        for declared, span, detail in (
            (COUNT_RESTORED, reads.counted, "each batch of indices as it became usable"),
            (FULL_RESTORED, reads.digested, f"every document of {len(reads.full)} indices, each as it became usable"),
        ):
            if span.started:
                steps.append(Step(PHASE, declared(), detail, duration_s=span.duration_s, started=span.started))
        return reads

    def end_removal(self, steps: list[Step]) -> None:
        """The copies' removal beside the last checks ends (the safety step deletes what is left);
        its step is added to `steps` when it removed any."""
        if self.removal is None:
            return
        removed = self.removal.stop()
        if (span := self.removal.span).started:
            left = f"; not removed: {self.removal.error}" if self.removal.error else ""
            steps.append(Step("safety", REMOVED_ONCE_READ, f"{len(removed)} copies, each once read, from the "
                              f"restore's end on (beside the last reads, verify and the report){left}",
                              duration_s=span.duration_s, started=span.started))  # fmt: skip

    def stop(self) -> None:
        """The drill ends (or failed before verify): nothing more is read; the reads in flight end."""
        for beside in (self.source, self.graph):  # the source's reader closes its points in time
            if beside is not None:
                beside.cancel()
                beside.wait()
        if self.telemetry is not None:
            self.telemetry.cancel()
