"""Backup: stop the node, export the graph, start the node again (always); snapshot ES."""

from functools import partial

import pytest

from drtests import drill_state, modes
from drtests.config import DrillConfig
from drtests.drill_state import backup_file
from drtests.es import client, digests, snapshots
from drtests.hosts.service import change_state
from drtests.options import DrillOptions
from drtests.parallel import Beside, OtherPathFailed, graph_path, step_beside, watch
from drtests.proof_beside import FULL_AT_SNAPSHOT, ProofBeside, digest_beside
from drtests.record.results import Snapshot
from drtests.steps import (
    FILE_FACTS,
    FILE_NON_EMPTY,
    NODE_ACTIVE_AGAIN,
    SHA256_RECORDED,
    SNAPSHOT_FAILED_SHARDS,
    SNAPSHOT_HOLDS_EVERY_INDEX,
    SNAPSHOT_STATE,
    START_NODE,
    STOP_NODE,
    Planned,
    assert_checks,
    check,
    expect,
    full_step,
    full_verify_choice,
    node_commands,
    require,
    restart_node,
    restore_share_choice,
    step,
)
from drtests.topology.commands import export_graph
from drtests.waiting import Every

pytestmark = pytest.mark.dr_phase("backup")
PHASE = "backup"
EXPORT = step("export graph")
READY_AT_SNAPSHOT = step("refresh before the snapshot")
COUNT_AT_SNAPSHOT = step("count and fingerprint docs at snapshot time")
SNAPSHOT = step("snapshot")
STOPPED_FOR_EXPORT = check("node stopped for the whole export")
EXPORT_EXIT = check("export exit code")
NODE_SAMPLE_S = 1.0  # how often the node's state is looked at during the export


def plan(cfg: DrillConfig, options: DrillOptions) -> list[Planned]:
    if not (mode := modes.of(cfg)).takes_backup:
        return mode.backup_plan(cfg)
    st, es, unit = cfg.stackstate, cfg.elasticsearch, cfg.service.unit
    stop, start = node_commands(cfg)
    export = cfg.command(st.export_command, file=backup_file(cfg, "<drill-id>"))
    when = "beside the export" if cfg.drill.parallel_paths else "after the export"
    planned = [
        STOP_NODE.planned(PHASE, f"`{stop}` and wait until inactive (timeout {cfg.service.timeout:g}s)", unit=unit),
        EXPORT.planned(PHASE, f"`{export}` (timeout {st.export_timeout:g}s)"),
    ]
    if es.enabled:
        planned += [
            READY_AT_SNAPSHOT.planned(PHASE, f"{when}: health (no red index), _refresh of {es.indices}"),
            COUNT_AT_SNAPSHOT.planned(PHASE, "beside the snapshot: count, hash the first and last "
                 f"{es.fingerprint_sample} docs per index"),
            None if digest_beside(cfg) else full_step(cfg, PHASE, FULL_AT_SNAPSHOT, f"{when}, before the snapshot: "),
            SNAPSHOT.planned(PHASE, f"{when}, the node stopped: {es.indices} into {es.repository} "
                 "(include_global_state=false)"),
        ]  # fmt: skip
    planned += [
        START_NODE.planned(
            PHASE, unit=unit, detail=f"`{start}`, always, if it was running, once export and snapshot ended"
        ),
        NODE_ACTIVE_AGAIN.planned(PHASE),
        STOPPED_FOR_EXPORT.planned(PHASE, f"{unit} sampled every {NODE_SAMPLE_S:g}s"),
        EXPORT_EXIT.planned(PHASE, "0"),
        FILE_FACTS.planned(PHASE, "size, sha256, owner, mode, mtime"),
        FILE_NON_EMPTY.planned(PHASE),
        SHA256_RECORDED.planned(PHASE),
    ]
    if es.enabled:
        planned += [
            SNAPSHOT_STATE.planned(PHASE, "SUCCESS"),
            SNAPSHOT_FAILED_SHARDS.planned(PHASE, "0"),
            SNAPSHOT_HOLDS_EVERY_INDEX.planned(PHASE),
        ]
    return [p for p in planned if p]


def snapshot_name(drill) -> str:
    return f"drtests-{drill.id}".lower()


def snapshot_path(
    path: Beside, es, cfg: DrillConfig, drill, options: DrillOptions, host, proof: ProofBeside
) -> Snapshot:
    """The refresh, the full digest (or the points in time it reads later) and the snapshot, in
    the telemetry path's thread; the counts and fingerprints at snapshot time beside the snapshot:
    the refresh came first and nothing writes while the node is stopped, so they read what the
    snapshot holds, as the counts read before it did. It says nothing: the terminal belongs to
    the main thread."""
    with path.timed_step(PHASE, READY_AT_SNAPSHOT()):
        ready = client.ready_to_count(es, cfg.elasticsearch.indices)
    sample = cfg.elasticsearch.fingerprint_sample

    def count(beside: Beside) -> tuple[dict[str, int], dict[str, str]]:
        return count_at_snapshot(es, ready, sample, lambda: (path.check_cancelled(), beside.check_cancelled()))

    counting = step_beside(path.steps, PHASE, COUNT_AT_SNAPSHOT(), count)
    try:
        snap = snapshot_of(path, es, cfg, drill, host, proof, sorted({n for names in ready.values() for n in names}))
    except BaseException:
        counting.cancel()
        raise
    finally:
        counting.wait()
    drill.backup.docs_at_snapshot, drill.backup.fingerprints_at_snapshot = counting.result()
    return snap


def count_at_snapshot(es, ready: dict[str, list[str]], sample: int, check) -> tuple[dict[str, int], dict[str, str]]:
    """(doc counts, fingerprints) of the indices made ready; `check` before each request."""
    check()
    counts = client.counts_of(es, ready)
    check()
    return counts, digests.fingerprints(es, sorted(counts), sample)


def snapshot_of(path: Beside, es, cfg: DrillConfig, drill, host, proof: ProofBeside, names: list[str]) -> Snapshot:
    """The full digest of this drill's share of `names` (or its points in time, read later), then the snapshot."""
    if (share := restore_share_choice(cfg, names, drill.preflight.sequence)) is not None:
        names = share.restored  # an index this drill does not restore is not read in full either
    full = drill.backup.full_verify = full_verify_choice(cfg, names, drill.preflight.sequence)
    slices = cfg.elasticsearch.full_verify_slices
    if full is not None and digest_beside(cfg, len(full.indices)):
        path.check_cancelled()
        proof.start_source(es, digests.open_views(es, full.indices), slices)  # the snapshot's moment, read later
    elif full is not None:
        with path.timed_step(PHASE, FULL_AT_SNAPSHOT(), f"every document of {len(full.indices)} "
                             f"indices ({full.share}, drill #{full.sequence} of the target)"):  # fmt: skip
            full.source = digests.full_digests(es, full.indices, slices)
    name = snapshot_name(drill)
    drill_state.record(cfg, host, "snapshot", f"{cfg.elasticsearch.repository}/{name}", drill.id)
    with path.timed_step(PHASE, SNAPSHOT(), f"PUT _snapshot/{cfg.elasticsearch.repository}/{name}"):
        snap = drill.backup.snapshot = snapshots.create_snapshot(es, cfg, name, drill.id)
    return snap


def test_backup(dr_config, dr_drill, dr_target, dr_service, dr_say, dr_options, dr_safety, dr_proof_beside, request):
    cfg, drill, host = dr_config, dr_drill, dr_target
    require(drill, "baseline")
    es = request.getfixturevalue("dr_es") if cfg.elasticsearch.enabled else None
    if not (mode := modes.of(cfg)).takes_backup:  # the install's own backups: nothing stopped, nothing written
        mode.run_backup(cfg, drill, host, es, dr_say)
        assert_checks(drill, PHASE)
        return
    name = snapshot_name(drill)
    try:
        take_backup(cfg, drill, host, es, dr_service, dr_say, dr_options, dr_proof_beside)
    except BaseException:  # failed or interrupted: its snapshot (finished or still running) is of no use
        if es is not None and not dr_options.keep:
            repository = cfg.elasticsearch.repository
            dr_safety.register(f"snapshot {name} of the failed backup deleted",
                               partial(snapshots.delete_snapshot, es, repository, name),
                               f"the snapshot {repository}/{name}: DELETE _snapshot/{repository}/{name}")  # fmt: skip
        raise


def take_backup(cfg: DrillConfig, drill, host, es, service, say, options: DrillOptions, proof: ProofBeside) -> None:
    """Stop, export (and, beside it, snapshot), start again; then the checks."""
    file = backup_file(cfg, drill.id)
    say(f"stopping {service.name} for the export")
    drill.step(PHASE, STOP_NODE(unit=service.name), change_state(service, "inactive", cfg.service.timeout, say))
    # the node's state while the export runs (the stop's wait read the first): anything but inactive spoils it
    seen = {service.seen}
    sample = Every(NODE_SAMPLE_S, lambda: seen.add(service.state()))
    # The snapshot is taken beside the export, while the node is stopped: no telemetry is written
    # meanwhile, so the graph backup and the snapshot hold the same moment.
    telemetry_path = None
    if es is not None:
        when = "beside the export" if cfg.drill.parallel_paths else "after the export (drill.parallel_paths = false)"
        say(f"snapshot of {cfg.elasticsearch.indices} into {cfg.elasticsearch.repository}, {when}")
        work = partial(snapshot_path, es=es, cfg=cfg, drill=drill, options=options, host=host, proof=proof)
        telemetry_path = Beside("snapshot", work, cfg.drill.parallel_paths)
    try:
        with graph_path(telemetry_path, drill.steps):
            say(f"exporting graph {cfg.stackstate.graph} to {file}")
            drill_state.record(cfg, host, "backup file", file, drill.id)  # before a byte of it exists
            try:
                exported = export_graph(cfg, host, file, drill.id, watch(telemetry_path, sample))
            except OtherPathFailed as stopped:  # the snapshot path failed: the export was ended on the target
                drill.step(PHASE, EXPORT(), outcome="failed")
                raise stopped.cause from None
            drill.step(PHASE, EXPORT(), exported, "done" if exported.rc == 0 else "failed")
            if telemetry_path is not None:
                if exported.rc != 0:  # no backup to pair a snapshot with: the path takes none
                    telemetry_path.cancel()
                telemetry_path.join_into(drill.steps, every=lambda: (sample(), say("waiting for the snapshot")))
            seen.add(service.state())
    finally:
        restart_node(PHASE, drill, service, cfg, say, drill.preflight.node_was_active)
    if telemetry_path is not None:
        drill.backup.paths_s = {"graph": round(exported.duration_s, 3), "telemetry": telemetry_path.duration_s}
    expect(drill, PHASE, STOPPED_FOR_EXPORT(), ["inactive"], sorted(seen),
           message=f"{service.name} was {', '.join(sorted(seen - {'inactive'}))} during the export (sampled every "
           f"{NODE_SAMPLE_S:g}s): something started it, another drill's safety step or an operator; a backup "
           "taken while the node writes is not consistent")  # fmt: skip
    if exported.timed_out:
        pytest.fail(
            f"export did not end within {cfg.stackstate.export_timeout:g}s and was stopped: {exported.command}",
            pytrace=False,
        )
    expect(
        drill,
        PHASE,
        EXPORT_EXIT(),
        0,
        exported.rc,
        message=f"export exited {exported.rc} on {host.url}: {exported.tail(5)}",
    )
    check_backup_file(drill, host, file, say)
    if telemetry_path is not None:
        check_snapshot(drill, telemetry_path.result())  # its failure (a red index, a refused snapshot) fails here
    assert_checks(drill, PHASE)


def check_backup_file(drill, host, file: str, say) -> None:
    """The export's file: there, not empty, its sha256 recorded."""
    with drill.timed_step(PHASE, FILE_FACTS(), f"stat, sha256sum {file}"):
        facts = drill.backup.artifact = host.file_facts(file)
    expect(
        drill,
        PHASE,
        FILE_NON_EMPTY(),
        "> 0 bytes",
        facts.size,
        ok=facts.size > 0,
        message=f"export exited 0 but {file} is empty",
    )
    drill.check(PHASE, SHA256_RECORDED(), True, len(facts.sha256) == 64)
    say(f"backup file: {facts.size} bytes, sha256 {facts.sha256[:16]}...")


def check_snapshot(drill, snap: Snapshot) -> None:
    """The snapshot beside the export: SUCCESS, no failed shard, every index counted at snapshot time."""
    at_snapshot, name = drill.backup.docs_at_snapshot, snap.snapshot
    drill.check(
        PHASE,
        SNAPSHOT_STATE(),
        "SUCCESS",
        snap.state,
        message=f"snapshot {name} ended {snap.state}: {snap.failures or 'see the ES log'}",
    )
    drill.check(
        PHASE,
        SNAPSHOT_FAILED_SHARDS(),
        0,
        snap.shards["failed"],
        message=f"snapshot {name}: {snap.shards['failed']} shards failed: {snap.failures}",
    )
    missing = sorted(set(at_snapshot) - set(snap.indices))
    drill.check(
        PHASE,
        SNAPSHOT_HOLDS_EVERY_INDEX(),
        [],
        missing,
        message=f"snapshot {name} lacks indices {', '.join(missing)}",
    )
