"""Restore: stop the node, import the backup while following the log, start the node; restore the
ES snapshot (renamed by default). The phase's wall time is the drill's RTO."""

import dataclasses

import pytest

from drtests import restore_site, telemetry
from drtests.drills.common import restart_node, stackstate_version
from drtests.hosts.logtail import LogWindow
from drtests.hosts.service import change_state
from drtests.topology import import_graph

pytestmark = pytest.mark.dr_phase("restore")
PHASE = "restore"


def test_restore(dr_config, dr_drill, dr_target, dr_safety, dr_options, dr_say, request):
    drill = dr_drill
    drill.require("backup")
    site = request.getfixturevalue("dr_restore_site")
    cfg, host, service, st = site.config, site.host, site.service, site.config.stackstate
    artifact = drill.facts["artifact"]["path"]
    versions = drill.facts["stackstate_version"]
    versions["restore_host"] = stackstate_version(cfg, host) if site.disposable is not None else versions["target"]
    if versions["target"] or versions["restore_host"]:
        drill.expect(PHASE, "StackState versions match", versions["target"], versions["restore_host"],
                     message=f"a backup restores only onto the StackState version it was taken from: target "
                     f"{versions['target']}, restore host {versions['restore_host']}")  # fmt: skip
    if site.disposable is not None:
        dr_say(f"copying {artifact} from {dr_target.url} to {host.url}")
        artifact, copied_by = restore_site.copy_artifact(dr_target, artifact, site)
        copied = host.file_facts(artifact)
        drill.facts["restore_host"]["artifact"] = {**dataclasses.asdict(copied), "copied_by": copied_by}
        drill.expect(PHASE, "backup file intact after the copy (sha256)", drill.facts["artifact"]["sha256"],
                     copied.sha256, message=f"the copy of the backup on {host.url} has sha256 {copied.sha256}, "
                     f"the original {drill.facts['artifact']['sha256']}")  # fmt: skip
    dr_say(f"stopping {service.name} on {host.url} for the import")
    drill.step(PHASE, f"stop {service.name}", change_state(service, "inactive", cfg.service.timeout, dr_say))
    window = LogWindow.open_at_end(host, cfg.path(st.log_file))
    try:
        dr_say(f"importing {artifact} into graph {st.graph} (timeout {st.import_timeout:g}s)")
        imported = import_graph(cfg, host, artifact, window, dr_say)
        drill.step(PHASE, "import graph", imported, "done" if imported.rc == 0 else "failed")
    finally:
        restart_node(PHASE, drill, service, cfg, dr_say, site.node_was_active)
    drill.facts["restore_log"] = {"file": window.path, "offset": window.offset, "excerpt": window.excerpt()}

    if imported.timed_out:
        drill.check(
            PHASE,
            "import ended",
            f"within {st.import_timeout:g}s",
            "timed out, stopped",
            message=f"import did not end within {st.import_timeout:g}s and was stopped "
            f"(stackstate.import_timeout); last log line: {(window.lines or ['<none>'])[-1]}",
        )
    else:
        drill.check(
            PHASE,
            "import exit code",
            0,
            imported.rc,
            message=f"import exited {imported.rc} on {host.url}: {imported.tail(5)}",
        )
    start = window.first(st.restore_start_pattern)
    drill.check(
        PHASE,
        "restore start line in log",
        True,
        start is not None,
        message=f"no line matching {st.restore_start_pattern!r} in {window.path} during the import",
    )
    watermark = window.first(st.watermark_pattern)
    if watermark:
        drill.facts["watermark_ns"] = int(watermark.group("ns"))
    drill.check(
        PHASE,
        "recovery point in log",
        True,
        watermark is not None,
        message=f"no line matching {st.watermark_pattern!r} in {window.path}: the backup's recovery point is unknown",
    )
    errors = window.matching(st.error_pattern)
    drill.check(
        PHASE,
        "no error lines in the import's log window",
        [],
        errors,
        message=f"the import logged {len(errors)} error line(s) in {window.path}: {errors[0] if errors else ''}",
    )

    if cfg.elasticsearch.enabled and "snapshot" in drill.facts:
        es = request.getfixturevalue("dr_es")
        snapshot = drill.facts["snapshot"]

        def remove_later(targets: list[str]) -> None:
            if not dr_options["keep"]:
                cleanup = f"restored indices removed ({len(targets)})"
                dr_safety.register(cleanup, lambda: telemetry.delete_indices(es, targets))

        dr_say(f"restoring snapshot {snapshot['snapshot']} ({cfg.elasticsearch.restore} mode)")
        with drill.timed_step(
            PHASE, "restore snapshot", f"POST _snapshot/{snapshot['repository']}/{snapshot['snapshot']}/_restore"
        ):
            restored = telemetry.restore_snapshot(es, cfg, snapshot, dr_say, before_restore=remove_later)
        drill.facts["restore"] = {
            "mode": cfg.elasticsearch.restore,
            "indices": restored.mapping,
            "shards": restored.shards,
            "health": restored.health,
        }
        drill.check(
            PHASE,
            "restore failed shards",
            0,
            restored.shards["failed"],
            message=f"restore of {snapshot['snapshot']}: {restored.shards['failed']} shards failed",
        )
        drill.check(
            PHASE, "restored indices health", "green|yellow", restored.health, ok=restored.health in ("green", "yellow")
        )
    drill.assert_checks(PHASE)
