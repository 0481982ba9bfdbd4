"""Verify: nothing was lost. Counts and fingerprints equal, RTO and RPO within objectives."""

from dataclasses import asdict

import pytest

from drtests import modes
from drtests.config import DrillConfig
from drtests.es import client, digests
from drtests.modes.base import FULL_LIVE
from drtests.options import DrillOptions
from drtests.proof_beside import (
    COUNT_RESTORED,
    COUNT_TOPOLOGY_AFTER,
    FULL_AT_SNAPSHOT,
    FULL_RESTORED,
    MAX_VIEWS,
    digest_beside,
    graph_work_beside_restore,
)
from drtests.record.drill import Drill
from drtests.steps import (
    EACH_INDEX,
    FULL,
    Planned,
    assert_checks,
    check,
    compare_full,
    full_step,
    require,
)
from drtests.topology import checks as graph_checks
from drtests.topology.probes import make_probe, probe_description, read_graph

pytestmark = pytest.mark.dr_phase("verify")
PHASE = "verify"
RTO = check("RTO (s)")
RPO = check("RPO (s)")
RTO_FORECAST = check("RTO forecast of a full restore (s)")


def plan(cfg: DrillConfig, options: DrillOptions) -> list[Planned]:
    mode = modes.of(cfg)
    planned = [COUNT_TOPOLOGY_AFTER.planned(PHASE, probe_description(mode.site_config(cfg)))]
    count_docs = [COUNT_RESTORED.planned(PHASE)] if cfg.elasticsearch.enabled else []
    if digest_beside(cfg):
        count_docs[:0] = [full_step(cfg, PHASE, FULL_AT_SNAPSHOT, f"begun in the backup on points in time opened "
                                    f"before the snapshot (at most {MAX_VIEWS} indices, else in the backup before "
                                    "it), read beside the rest of the drill: ")]  # fmt: skip
    planned += mode.verify_plan(cfg, count_docs)
    planned += graph_checks.plan(mode.site_config(cfg), PHASE, mode.live_before)
    if cfg.elasticsearch.enabled and cfg.elasticsearch.full_verify != "off":
        if mode.full_verify_live(cfg):
            planned.append(FULL_LIVE.planned(PHASE, f"{cfg.elasticsearch.full_verify} of the "
                                "past-day indices, every document"))  # fmt: skip
        planned += [
            FULL_RESTORED.planned(PHASE, "every document of the same indices"),
            FULL.planned(
                PHASE, index=EACH_INDEX, detail="digest of every document restored == source (order-independent)"
            ),
        ]
    objectives = cfg.objectives
    rpo = mode.rpo_rule(cfg)
    planned += [
        RTO.planned(PHASE, f"restore phase wall time <= {objectives.rto_seconds:g}s"),
        *(
            [
                RTO_FORECAST.planned(
                    PHASE,
                    "the snapshot restore of every index, forecast from this restore's recovery spans (a fixed "
                    "part, a part per index and per byte, the recoveries' overlap; never below the cluster's "
                    f"recovery throttle) <= {objectives.rto_seconds:g}s "
                    f"(restore_share {cfg.elasticsearch.restore_share})",
                )
            ]
            if cfg.elasticsearch.enabled and cfg.elasticsearch.restore_share != "1/1"
            else []
        ),
        RPO.planned(PHASE, f"{rpo} <= {objectives.rpo_seconds:g}s"),
    ]
    return planned


def test_verify(dr_config, dr_drill, dr_say, dr_options, dr_proof_beside, request):
    cfg, drill = dr_config, dr_drill
    require(drill, "restore")
    site, mode = request.getfixturevalue("dr_restore_site"), modes.of(cfg)
    read_beside = dr_proof_beside.graph_read(drill.steps, dr_say)  # read beside the snapshot restore
    if read_beside is not None:
        after, listings = read_beside
    else:
        with drill.timed_step(PHASE, COUNT_TOPOLOGY_AFTER()):
            keep = graph_checks.kept_by(drill.baseline.listings)
            after, listings = read_graph(make_probe(site.config, site.host), keep)
    drill.verify.topology = after
    mode.compare_topology(drill, after)
    drill.verify.graph = graph_checks.prove_graph(
        drill, PHASE, site.config, drill.baseline.listings, listings, mode.live_before
    )

    if cfg.elasticsearch.enabled and drill.restore.telemetry is not None:
        es = request.getfixturevalue("dr_restore_es")  # where the copies are
        mapping = drill.restore.telemetry.indices
        if (source := dr_proof_beside.source_digest(drill.steps, dr_say)) is not None:  # begun at snapshot time
            drill.backup.full_verify.source = source
        reads = dr_proof_beside.restored_reads(drill.steps, dr_say)  # each index read as it became usable
        if reads is not None:
            restored_counts, restored_prints = reads.counts, reads.prints
        else:
            with drill.timed_step(PHASE, COUNT_RESTORED()):
                restored_counts = client.doc_counts(es, list(mapping.values()))
                sample = cfg.elasticsearch.fingerprint_sample
                restored_prints = digests.fingerprints(es, sorted(mapping.values()), sample)
        drill.verify.docs = {orig: restored_counts.get(new, 0) for orig, new in mapping.items()}
        drill.verify.fingerprints = {orig: restored_prints.get(new) for orig, new in mapping.items()}
        mode.compare_telemetry(drill, restored_counts, restored_prints)
        mode.compare_still_written(drill, request.getfixturevalue("dr_es"), es)
        verify_in_full(cfg, drill, es, mapping, reads.full if reads is not None else {}, dr_options, request)

    rto, objectives = drill.rto_seconds, cfg.objectives
    if (share := drill.restore.share) is not None:
        forecast_full_rto(drill, share, objectives.rto_seconds)
    rpo, rpo_of = mode.rpo(cfg, drill)
    drill.check(
        PHASE,
        RTO(),
        f"<= {objectives.rto_seconds:g}",
        rto,
        ok=rto is not None and rto <= objectives.rto_seconds,
        message=f"restore took {rto}s, objective {objectives.rto_seconds:g}s",
    )
    drill.check(
        PHASE,
        RPO(),
        f"<= {objectives.rpo_seconds:g}",
        rpo,
        ok=rpo is not None and rpo <= objectives.rpo_seconds,
        message=f"{rpo_of.format(rpo=rpo)}, objective {objectives.rpo_seconds:g}s",
    )
    failed = drill.failed_checks(PHASE)
    dr_say(f"verify: {len(failed)} difference(s)" if failed else "verify: nothing lost")
    assert_checks(drill, PHASE)


def forecast_full_rto(drill: Drill, share, objective: float) -> None:
    """A drill that restored a share of the indices forecasts the RTO of restoring them all: its
    telemetry path forecast from the restore's recovery spans (drtests.es.forecast; without spans,
    scaled by the bytes), in place of the measured one (beside the graph path, or after it), the
    rest of the phase as measured."""
    rto, paths = drill.rto_seconds, drill.restore.paths_s or {}
    graph, telemetry = paths.get("graph") or 0.0, paths.get("telemetry")
    if rto is None or telemetry is None or not share.bytes_restored or share.bytes_total is None:
        drill.check(PHASE, RTO_FORECAST(), f"<= {objective:g}", None, ok=False,
                    message="no forecast of a full restore's RTO: the restore's bytes or time are unknown")  # fmt: skip
        return
    # from the restore's own recovery spans; without them (no recovery listed), scaled by the bytes
    full = share.telemetry_full_s or telemetry * share.bytes_total / share.bytes_restored
    if drill.config.drill.parallel_paths:
        forecast = rto - max(graph, telemetry) + max(graph, full)
    else:
        forecast = rto - telemetry + full
    share.forecast_full_s = forecast = round(forecast, 3)
    besides = ran_beside(drill, share)
    drill.check(PHASE, RTO_FORECAST(), f"<= {objective:g}", forecast, ok=forecast <= objective,
                message=f"forecast RTO of a full restore {forecast}s (this drill restored {len(share.restored)} of "
                f"{len(share.restored) + len(share.not_restored)} indices, {share.bytes_restored} of "
                f"{share.bytes_total} bytes, in {telemetry}s; a full snapshot restore {round(full, 3)}s"
                f"{throttled(share)}{besides}), objective {objective:g}s")  # fmt: skip


def ran_beside(drill: Drill, share) -> str:
    """How much of this share's restore the graph path and its checks ran beside (recorded in
    `share.beside_graph_s`), in words: the forecast scales the share's recoveries, so what slowed
    them (on a restore cluster that shares its cores with the graph work) it forecasts for every
    index, while a full restore runs most of its length after that work."""
    found = graph_work_beside_restore([asdict(s) for s in drill.steps])
    if found is None:
        return ""
    restore_s, share.beside_graph_s = found
    return (f"; the graph path and its checks ran beside {share.beside_graph_s:g}s of this restore's {restore_s:g}s, "
            "which a full restore outlasts: whatever they slowed here is forecast for all of it")  # fmt: skip


def throttled(share) -> str:
    """The cluster's recovery throttle, in words for the forecast's message."""
    throttle = share.throttle or {}
    if not throttle.get("max_bytes_per_sec"):
        return ""
    floor = f", at least {throttle['floor_s']:g}s for the snapshot's bytes" if throttle.get("floor_s") else ""
    return (f", recovery throttle indices.recovery.max_bytes_per_sec {throttle['max_bytes_per_sec']} on "
            f"{throttle['data_nodes']} data node(s){floor}")  # fmt: skip


def verify_in_full(cfg: DrillConfig, drill: Drill, es, mapping: dict[str, str], read: dict[str, dict], options,
                   request) -> None:  # fmt: skip
    """elasticsearch.full_verify: every document of this drill's share of the indices, restored
    against the source (at snapshot time; existing drills: the live past-day indices); `read`: the
    restored copies' digests already read beside the restore."""
    slices, rule = cfg.elasticsearch.full_verify_slices, "at snapshot time"
    if modes.of(cfg).full_verify_live(cfg):
        rule = modes.of(cfg).hash_live_source(cfg, drill, options, request.getfixturevalue("dr_es"))
    full = drill.backup.full_verify
    if full is None or full.source is None:
        return
    names = [mapping[orig] for orig in full.indices if orig in mapping]
    restored = {name: read[name] for name in names if name in read}
    missing = [name for name in names if name not in restored]
    if missing or not restored:  # the step is recorded once, as planned, also for a share of no index
        with drill.timed_step(PHASE, FULL_RESTORED(), f"every document of {len(missing)} indices"):
            restored |= digests.full_digests(es, missing, slices)
    full.restored = {orig: restored[mapping[orig]] for orig in full.indices if mapping.get(orig) in restored}
    compare_full(drill, PHASE, mapping, rule)
