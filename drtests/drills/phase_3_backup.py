"""Backup: stop the node, export the graph, start the node again (always); snapshot ES."""

import dataclasses

import pytest

from drtests import telemetry
from drtests.drills.common import restart_node
from drtests.hosts.service import change_state
from drtests.topology import export_graph

pytestmark = pytest.mark.dr_phase("backup")
PHASE = "backup"


def test_backup(dr_config, dr_drill, dr_target, dr_service, dr_say, request):
    cfg, drill, host = dr_config, dr_drill, dr_target
    drill.require("baseline")
    file = f"{cfg.path(cfg.stackstate.backup_dir).rstrip('/')}/drtests-{drill.id}.graph"
    dr_say(f"stopping {dr_service.name} for the export")
    drill.step(PHASE, f"stop {dr_service.name}", change_state(dr_service, "inactive", cfg.service.timeout, dr_say))
    try:
        dr_say(f"exporting graph {cfg.stackstate.graph} to {file}")
        exported = export_graph(cfg, host, file)
        drill.step(PHASE, "export graph", exported, "done" if exported.rc == 0 else "failed")
    finally:
        restart_node(PHASE, drill, dr_service, cfg, dr_say, drill.facts.get("node_state_at_start") == "active")
    if exported.timed_out:
        pytest.fail(
            f"export did not end within {cfg.stackstate.export_timeout:g}s and was stopped: {exported.command}",
            pytrace=False,
        )
    drill.expect(
        PHASE,
        "export exit code",
        0,
        exported.rc,
        message=f"export exited {exported.rc} on {host.url}: {exported.tail(5)}",
    )
    facts = host.file_facts(file)
    drill.facts["artifact"] = dataclasses.asdict(facts)
    drill.expect(
        PHASE,
        "backup file non-empty",
        "> 0 bytes",
        facts.size,
        ok=facts.size > 0,
        message=f"export exited 0 but {file} is empty",
    )
    drill.check(PHASE, "backup sha256 recorded", True, len(facts.sha256) == 64)
    dr_say(f"backup file: {facts.size} bytes, sha256 {facts.sha256[:16]}...")

    if cfg.elasticsearch.enabled:
        es = request.getfixturevalue("dr_es")
        at_snapshot = telemetry.doc_counts(es, cfg.elasticsearch.indices)
        drill.facts["telemetry"]["at_snapshot"] = at_snapshot
        drill.facts["fingerprints"]["at_snapshot"] = telemetry.fingerprints(
            es, sorted(at_snapshot), cfg.elasticsearch.fingerprint_sample
        )
        name = f"drtests-{drill.id}".lower()
        dr_say(f"snapshot {cfg.elasticsearch.repository}/{name} of {len(at_snapshot)} indices")
        with drill.timed_step(PHASE, "snapshot", f"PUT _snapshot/{cfg.elasticsearch.repository}/{name}"):
            snap = telemetry.create_snapshot(es, cfg, name)
        drill.facts["snapshot"] = snap
        drill.check(
            PHASE,
            "snapshot state",
            "SUCCESS",
            snap["state"],
            message=f"snapshot {name} ended {snap['state']}: {snap['failures'] or 'see the ES log'}",
        )
        drill.check(
            PHASE,
            "snapshot failed shards",
            0,
            snap["shards"]["failed"],
            message=f"snapshot {name}: {snap['shards']['failed']} shards failed: {snap['failures']}",
        )
        missing = sorted(set(at_snapshot) - set(snap["indices"]))
        drill.check(
            PHASE,
            "snapshot holds every index",
            [],
            missing,
            message=f"snapshot {name} lacks indices {', '.join(missing)}",
        )
    drill.assert_checks(PHASE)
