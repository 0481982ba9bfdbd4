"""Restore: stop the node, import the backup while following the log, start the node; restore the
ES snapshot (renamed by default). The phase's wall time is the drill's RTO."""

import time

import pytest

from drtests import modes, recovery
from drtests.config import DrillConfig
from drtests.drill_state import backup_file
from drtests.errors import DrillError
from drtests.es import client, forecast, recovered, snapshots
from drtests.hosts.logtail import LogWindow
from drtests.hosts.service import change_state
from drtests.modes.isolated import copy_artifact
from drtests.options import DrillOptions
from drtests.parallel import Beside, Cancelled, OtherPathFailed, graph_path, watch
from drtests.proof_beside import ProofBeside, removes_copies_once_read
from drtests.record.results import RestoredTelemetry, RestoreLog, RestoreShare
from drtests.steps import (
    COPY_BACKUP,
    COPY_INTACT,
    NODE_ACTIVE_AGAIN,
    RESTORE_SNAPSHOT,
    START_NODE,
    STOP_NODE,
    VERSIONS_MATCH,
    Planned,
    assert_checks,
    check,
    expect,
    node_commands,
    require,
    restart_node,
    restore_leaves_source,
    restore_share_choice,
    stackstate_version,
    step,
)
from drtests.topology.commands import import_graph
from drtests.topology.probes import make_probe, probe_description, wait_until_answering

pytestmark = pytest.mark.dr_phase("restore")
PHASE = "restore"
IMPORT = step("import graph")
WRITE_LEDGER = step("write the restore ledger")
IMPORT_ENDED = check("import ended")
IMPORT_EXIT = check("import exit code")
START_LINE = check("restore start line in log")
RECOVERY_POINT = check("recovery point in log")
NO_ERROR_LINES = check("no error lines in the import's log window")
RESTORE_FAILED_SHARDS = check("restore failed shards")
RESTORED_HEALTH = check("restored indices health")
NODE_ANSWERS = check("node answers the topology probe")


def plan(cfg: DrillConfig, options: DrillOptions) -> list[Planned]:
    es, lock = cfg.elasticsearch, cfg.path(cfg.target.lock_file)
    file = backup_file(cfg, "<drill-id>")
    mode = modes.of(cfg)
    planned, file = mode.restore_plan(cfg, options, file)
    cfg = mode.site_config(cfg)
    st, unit = cfg.stackstate, cfg.service.unit
    stop, start = node_commands(cfg)
    early = es.enabled and starts_early(cfg)
    when_node = ("once the import ended (the snapshot restore goes on beside: the node never reads its copies)"
                 if early else "once the import and the snapshot restore ended")  # fmt: skip
    start_node = START_NODE.planned(PHASE, unit=unit, detail=f"`{start}`, {when_node}")
    planned += [
        STOP_NODE.planned(PHASE, f"`{stop}`", unit=unit),
        IMPORT.planned(PHASE, f"`{cfg.command(st.import_command, file=file)}` (timeout {st.import_timeout:g}s), "
             f"following {cfg.path(st.log_file)}"),
        *([start_node] if early else []),
    ]  # fmt: skip
    if es.enabled:
        when = "beside the import" if cfg.drill.parallel_paths else "after the import"
        when = f"from the phase's first moment, beside {mode.graph_restore}" if early else when
        cleanup = f"kept ({options.flag('keep')})" if options.keep else "deleted at the end"
        if removes_copies_once_read(cfg, options, set()):
            cleanup = ("each deleted once read, from the restore's end on (unless a check of yours follows), "
                       "the rest at the end")  # fmt: skip
        if cfg.restore_cluster.url:
            how = (f"{when}: into the restore cluster {cfg.restore_cluster.url} under the original names (production "
                   f"gets no restore traffic and no new index); restored indices {cleanup}")  # fmt: skip
        elif es.restore == "rename":
            how = (f"{when}: renamed {es.rename_pattern} -> {es.rename_replacement} (never over live "
                   f"indices); restored indices {cleanup}")  # fmt: skip
        else:
            how = f"{when}: DELETE the live indices {es.indices}, wait for 404, restore them"
        if es.restore_share != "1/1":
            how += (
                f"; restore share {es.restore_share}: the indices in this drill's slots (rotating drill "
                "by drill, as full verification) and each group's newest, the others left for later drills"
            )
        planned.append(RESTORE_SNAPSHOT.planned(PHASE, how))
        if es.restore == "rename" or cfg.restore_cluster.url:
            ledger = f"before the restore request: the names it creates, in {lock}.restored on the target"
            planned.append(WRITE_LEDGER.planned(PHASE, f"{ledger} (only those are ever deleted)"))
    planned += [
        *([] if early else [start_node]),
        NODE_ACTIVE_AGAIN.planned(PHASE),
        NODE_ANSWERS.planned(
            PHASE,
            f"{probe_description(cfg)}: asked until it answers, within {cfg.service.timeout:g}s "
            "(the RTO ends when the node serves, not when it is active)",
        ),
        IMPORT_EXIT.planned(PHASE, "0, within the timeout"),
        START_LINE.planned(PHASE, st.restore_start_pattern),
        RECOVERY_POINT.planned(PHASE, st.watermark_pattern),
        NO_ERROR_LINES.planned(PHASE, st.error_pattern),
    ]
    if es.enabled:
        planned += [RESTORE_FAILED_SHARDS.planned(PHASE, "0"), RESTORED_HEALTH.planned(PHASE, "green|yellow")]
    return [p for p in planned if p]


def test_restore(dr_config, dr_drill, dr_target, dr_safety, dr_options, dr_say, dr_proof_beside, request):
    drill = dr_drill
    require(drill, "backup")
    cfg = modes.of(dr_config).site_config(dr_config)  # where the graph is restored; its telemetry as the target's

    def restore_now() -> Beside | None:
        if not (cfg.elasticsearch.enabled and drill.backup.snapshot is not None):  # no snapshot to restore
            return None
        return restore_beside(cfg, drill, dr_config, dr_target, dr_safety, dr_options, dr_say, request, dr_proof_beside)

    early, t0 = starts_early(cfg), time.monotonic()
    # copies the node never reads: no wait for the restore host, the copy of the backup or the node's stop
    telemetry_path = restore_now() if early else None
    with graph_path(telemetry_path, drill.steps, wait=True):  # what the restore creates is registered first
        site = request.getfixturevalue("dr_restore_site")
        host, service, st = site.host, site.service, cfg.stackstate
        artifact = check_version_and_copy(drill, site, dr_target, dr_say)
        dr_say(f"stopping {service.name} on {host.url} for the import")
        drill.step(PHASE, STOP_NODE(unit=service.name), change_state(service, "inactive", cfg.service.timeout, dr_say))
    window = LogWindow.open_at_end(host, cfg.path(st.log_file))
    if not early:
        telemetry_path, t0 = restore_now(), time.monotonic()
    node_up = False
    try:
        with graph_path(telemetry_path, drill.steps, wait=True):
            dr_say(f"importing {artifact} into graph {st.graph} (timeout {st.import_timeout:g}s)")
            try:
                imported = import_graph(cfg, host, artifact, window, dr_say, drill.id, watch(telemetry_path))
            except OtherPathFailed as stopped:  # the snapshot restore failed: the import was ended on the target
                drill.step(PHASE, IMPORT(), outcome="failed")
                raise stopped.cause from None
            drill.step(PHASE, IMPORT(), imported, "done" if imported.rc == 0 else "failed")
            graph_s = imported.duration_s
            if telemetry_path is not None:
                if imported.rc != 0:  # the restore failed already: the snapshot restore goes no further
                    telemetry_path.cancel()
                elif early:  # the node serves again while the snapshot restore goes on
                    node_up = True
                    serve_again(drill, site, imported, window, dr_say, dr_proof_beside)
                    graph_s = time.monotonic() - t0
                telemetry_path.join_into(drill.steps, every=lambda: dr_say("waiting for the snapshot restore"))
    finally:
        if not node_up:
            restart_node(PHASE, drill, service, cfg, dr_say, site.node_was_active)
    if telemetry_path is not None:
        drill.restore.paths_s = {"graph": round(graph_s, 3), "telemetry": telemetry_path.duration_s}
    drill.restore.log = RestoreLog(window.path, window.offset, window.excerpt())
    if not node_up:
        check_import(drill, host, st, imported, window)
        if site.node_was_active and not drill.failed_checks(PHASE):  # a failed import: no node to wait for
            check_node_answers(drill, site, dr_say)
    if telemetry_path is not None:
        try:
            restored = telemetry_path.result()  # its failure (a name taken, failed shards) fails here
        except Cancelled:  # stopped because the import failed: that failure is the phase's
            restored = None
        if restored is not None:
            check_restored(drill, restored)
    assert_checks(drill, PHASE)


def starts_early(cfg: DrillConfig) -> bool:
    """The node may start once the import ended, before the snapshot restore did, when the restore
    writes copies the node never reads (renamed, or into a restore cluster); a replace-mode restore
    rewrites the node's own indices, so the node waits for it."""
    return cfg.drill.parallel_paths and restore_leaves_source(cfg)


def serve_again(drill, site, imported, window, say, proof: ProofBeside) -> None:
    """Right after a good import: start the node, check the import, wait until the node answers,
    then read the restored graph beside the snapshot restore (the verify phase compares it)."""
    cfg = site.config
    restart_node(PHASE, drill, site.service, cfg, say, site.node_was_active)
    check_import(drill, site.host, cfg.stackstate, imported, window)
    if site.node_was_active and not drill.failed_checks(PHASE):
        check_node_answers(drill, site, say)
        if not drill.failed_checks(PHASE):
            say("reading the restored graph beside the snapshot restore")
            proof.start_graph(drill, site)


def check_node_answers(drill, site, say) -> None:
    """The restore ends when the node serves again: the topology probe is asked until it answers
    (service.timeout), inside the restore phase, so the RTO includes the node's start-up."""
    timeout = site.config.service.timeout
    try:
        took = wait_until_answering(make_probe(site.config, site.host), timeout, say)
    except DrillError as exc:
        drill.check(PHASE, NODE_ANSWERS(), f"within {timeout:g}s", "no answer", False, str(exc))
        return
    drill.check(PHASE, NODE_ANSWERS(), f"within {timeout:g}s", f"after {took:g}s", took <= timeout)


def restore_beside(cfg, drill, dr_config, dr_target, dr_safety, dr_options, dr_say, request, proof) -> Beside:
    """The snapshot restore as the telemetry path beside the import; its restore ledger written on
    the target before the restore request, the removal of what it restores registered as a safety step."""
    es, snapshot = request.getfixturevalue("dr_restore_es"), drill.backup.snapshot
    elsewhere = bool(cfg.restore_cluster.url)
    drill.restore.share = restore_share_choice(dr_config, snapshot.indices, drill.preflight.sequence)

    def restore_path(path: Beside) -> RestoredTelemetry:
        """The snapshot restore, in the telemetry path's thread (it says nothing: the terminal
        belongs to the main thread)."""

        ledger, refused = recovery.ledger_path(dr_config), []

        def remove_later(targets: list[str]) -> None:  # before the restore request, never after
            with path.timed_step(PHASE, WRITE_LEDGER(), ledger):
                # on the target (where the lock is), with the cluster the copies go to
                recovery.write_ledger(dr_config, dr_target, targets, client.cluster_uuid(es), drill.id)
            if not dr_options.keep:

                def remove() -> None:
                    proof.end_removal(drill.steps)  # what it removed beside the last checks
                    if refused:  # the restore created nothing; a planned name may be someone else's index now
                        return
                    running = path.running()  # the drill failed while the restore goes on
                    client.delete_indices(es, targets)  # which ends a restore still running on them
                    if running:  # its request returns; what it created after the delete goes too
                        path.wait()
                        client.delete_indices(es, targets)
                    if left := client.existing_indices(es, targets):
                        raise DrillError(
                            f"{len(left)} restored index(es) still there after DELETE: {', '.join(left[:5])}"
                        )
                    dr_target.remove(ledger)

                where = cfg.restore_cluster.url or cfg.elasticsearch.url
                dr_safety.register(f"restored indices removed ({len(targets)})", remove,
                                   f"the restored indices listed in {ledger} on {dr_target.url}, in {where}: delete "
                                   f"them (DELETE <index>), then remove {ledger}")  # fmt: skip
            path.settle()
            path.check_cancelled()

        def not_created(targets: list[str]) -> None:
            """Elasticsearch refused the restore: nothing was created, so the ledger names nothing of ours."""
            refused.append(True)
            dr_target.remove(ledger)

        request_line = f"POST _snapshot/{snapshot.repository}/{snapshot.snapshot}/_restore"
        share = drill.restore.share
        originals = share.restored if share is not None else snapshot.indices
        reads = None  # drill.parallel_paths = false: the copies are read after the restore, in verify
        if cfg.drill.parallel_paths:
            remove = removes_copies_once_read(cfg, dr_options, request.getfixturevalue("dr_user_check_phases"))
            reads = proof.start_telemetry(cfg, drill, es, snapshots.restored_names(cfg, originals, elsewhere), remove)
        if share is not None:
            request_line += f" ({len(share.restored)} of {len(snapshot.indices)} indices: restore share {share.share})"
        with path.timed_step(PHASE, RESTORE_SNAPSHOT(), request_line) as restoring:
            restored = snapshots.restore_snapshot(es, cfg, snapshot, lambda _: None, before_restore=remove_later,
                                                  elsewhere=elsewhere, refused=not_created,
                                                  indices=share.restored if share else None,
                                                  ready=reads.submit if reads is not None else None)  # fmt: skip
            if share is not None:  # what a full restore would read, for the RTO forecast
                sizes = snapshots.index_sizes(es, snapshot.repository, snapshot.snapshot)
                share.bytes_restored = sum(sizes.get(i, 0) for i in share.restored)
                share.bytes_total = sum(sizes.values())
        if share is not None:
            forecast_telemetry(es, share, restored, sizes, restoring.duration_s)
        if proof.removal is not None:  # the restore and the forecast read no copy any more
            proof.removal.begin()
        return restored

    when = "beside the import" if cfg.drill.parallel_paths else "after the import (drill.parallel_paths = false)"
    when = f"beside {modes.of(dr_config).graph_restore}" if starts_early(cfg) else when
    into = f"into the restore cluster {cfg.restore_cluster.url}" if elsewhere else f"{cfg.elasticsearch.restore} mode"
    dr_say(f"restoring snapshot {snapshot.snapshot} ({into}), {when}")
    return Beside("restore", restore_path, cfg.drill.parallel_paths)


def forecast_telemetry(es, share: RestoreShare, restored: RestoredTelemetry, sizes: dict[str, int],
                       step_s: float) -> None:  # fmt: skip
    """The snapshot restore of every index, forecast from this one's recovery spans (its fixed part,
    per index, per byte, the recoveries' overlap) and never below what the cluster's recovery
    throttle allows for the snapshot's bytes."""
    spans = recovered.recovery_spans(es, list(restored.indices.values()))
    original = {new: orig for orig, new in restored.indices.items()}
    model = forecast.fit(list(spans.values()), step_s)
    setting, data_nodes = recovered.recovery_throttle(es)
    floor = forecast.throttle_floor_s(share.bytes_total or 0, forecast.byte_rate(setting), data_nodes)
    share.throttle = {"max_bytes_per_sec": setting, "data_nodes": data_nodes,
                      "floor_s": round(floor, 3) if floor is not None else None}  # fmt: skip
    if model is None:
        return
    read = {original.get(name, name): span.bytes for name, span in spans.items()}
    full = model.seconds([read.get(name, size) for name, size in sizes.items()])
    share.telemetry_full_s = round(max(full, floor or 0.0), 3)
    share.model = {"fixed_s": model.fixed_s, "per_index_s": round(model.per_index_s, 4),
                   "per_byte_s": model.per_byte_s, "overlap": round(model.overlap, 3)}  # fmt: skip


def check_import(drill, host, st, imported, window: LogWindow) -> None:
    """The import ended in time with exit 0, and its log window holds the start line and the
    recovery point (the backup's watermark) and no error line."""
    if imported.timed_out:
        drill.check(
            PHASE,
            IMPORT_ENDED(),
            f"within {st.import_timeout:g}s",
            "timed out, stopped",
            message=f"import did not end within {st.import_timeout:g}s and was stopped "
            f"(stackstate.import_timeout); last log line: {(window.lines or ['<none>'])[-1]}",
        )
    else:
        drill.check(
            PHASE,
            IMPORT_EXIT(),
            0,
            imported.rc,
            message=f"import exited {imported.rc} on {host.url}: {imported.tail(5)}",
        )
    start = window.first(st.restore_start_pattern)
    drill.check(
        PHASE,
        START_LINE(),
        True,
        start is not None,
        message=f"no line matching {st.restore_start_pattern!r} in {window.path} during the import",
    )
    watermark = window.first(st.watermark_pattern)
    if watermark:
        drill.restore.watermark_ns = int(watermark.group("ns"))
    drill.check(
        PHASE,
        RECOVERY_POINT(),
        True,
        watermark is not None,
        message=f"no line matching {st.watermark_pattern!r} in {window.path}: the backup's recovery point is unknown",
    )
    errors = window.matching(st.error_pattern)
    drill.check(
        PHASE,
        NO_ERROR_LINES(),
        [],
        errors,
        message=f"the import logged {len(errors)} error line(s) in {window.path}: {errors[0] if errors else ''}",
    )


def check_restored(drill, restored: RestoredTelemetry) -> None:
    """The snapshot restore: no failed shard, the restored indices green or yellow."""
    snapshot = drill.backup.snapshot
    drill.restore.telemetry = restored
    drill.restore.telemetry = restored
    drill.check(
        PHASE,
        RESTORE_FAILED_SHARDS(),
        0,
        restored.shards["failed"],
        message=f"restore of {snapshot.snapshot}: {restored.shards['failed']} shards failed",
    )
    drill.check(PHASE, RESTORED_HEALTH(), "green|yellow", restored.health, ok=restored.health in ("green", "yellow"))


def check_version_and_copy(drill, site, target, say) -> str:
    """The restore host runs the StackState version the backup was taken from; an isolated drill
    copies the backup onto it (sha256 checked). Returns the backup's path where it is imported."""
    cfg, host = site.config, site.host
    original = drill.backup.artifact
    artifact = original.path
    target_version = drill.preflight.stackstate_version
    # measured where the backup is restored, now: in place too (an upgrade since the backup shows)
    restored_version = drill.restore.stackstate_version = stackstate_version(cfg, host)
    if target_version or restored_version:
        expect(drill, PHASE, VERSIONS_MATCH(), target_version, restored_version,
               message=f"a backup restores only onto the StackState version it was taken from: target "
               f"{target_version}, restore host {restored_version}")  # fmt: skip
    if site.disposable is not None:
        say(f"copying {artifact} from {target.url} to {host.url}")
        with drill.timed_step(PHASE, COPY_BACKUP(), f"{target.url}:{artifact} -> {host.url}"):
            artifact, copied_by = copy_artifact(target, artifact, site)
            copied = host.file_facts(artifact)
        drill.restore.host.artifact, drill.restore.host.copied_by = copied, copied_by
        expect(drill, PHASE, COPY_INTACT(), original.sha256, copied.sha256,
               message=f"the copy of the backup on {host.url} has sha256 {copied.sha256}, "
               f"the original {original.sha256}")  # fmt: skip
    return artifact
