"""Baseline: what the target holds before the drill touches it."""

import pytest

from drtests import modes
from drtests.config import DrillConfig
from drtests.es import client, digests
from drtests.options import DrillOptions
from drtests.steps import Planned, check, expect, require, step
from drtests.topology import checks as graph_checks
from drtests.topology.probes import make_probe, probe_description, read_graph

pytestmark = pytest.mark.dr_phase("baseline")
PHASE = "baseline"
COUNT_TOPOLOGY = step("count topology ({probe} probe)")
NODES_FOUND = check("topology nodes found")
COUNT_DOCS = step("count docs")
INDICES_FOUND = check("telemetry indices found")
FINGERPRINT_LIVE = step("fingerprint live docs")


def plan(cfg: DrillConfig, options: DrillOptions) -> list[Planned]:
    planned = [
        COUNT_TOPOLOGY.planned(PHASE, probe_description(cfg), probe=cfg.probe.kind),
        NODES_FOUND.planned(PHASE, "> 0 nodes"),
    ]
    if cfg.elasticsearch.enabled:
        planned += [
            COUNT_DOCS.planned(PHASE, f"_refresh, then count docs per index of {cfg.elasticsearch.indices}"),
            INDICES_FOUND.planned(PHASE, "> 0 indices"),
        ]
        if modes.of(cfg).fingerprints_live:
            sample = cfg.elasticsearch.fingerprint_sample
            how = f"hash the first and last {sample} docs per index (past days must equal their restored copy)"
            planned.append(FINGERPRINT_LIVE.planned(PHASE, how))
    return planned


def test_baseline(dr_config, dr_drill, dr_target, dr_say, request):
    cfg, drill = dr_config, dr_drill
    require(drill, "preflight")
    probe = make_probe(cfg, dr_target)
    dr_say(f"topology probe ({probe.kind}) ...")
    with drill.timed_step(PHASE, COUNT_TOPOLOGY(probe=probe.kind)):
        counts, drill.baseline.listings = read_graph(probe, graph_checks.choice_for(cfg, drill))
    drill.baseline.probe, drill.baseline.topology = probe.kind, counts
    expect(
        drill,
        PHASE,
        NODES_FOUND(),
        "> 0",
        sum(counts.values()),
        ok=sum(counts.values()) > 0,
        message=f"the topology probe ({probe.kind}) found no nodes on {dr_target.url}: nothing to prove",
    )
    if cfg.elasticsearch.enabled:
        es = request.getfixturevalue("dr_es")
        with drill.timed_step(PHASE, COUNT_DOCS(), f"POST {cfg.elasticsearch.indices}/_refresh, _search"):
            docs = client.doc_counts(es, cfg.elasticsearch.indices)
        # Fingerprints are taken at snapshot time, the moment the restore is compared with: live
        # indices keep changing until then, so fingerprints taken here would prove nothing. An
        # existing-backup drill takes no snapshot: the live fingerprints of past days are its measure.
        drill.baseline.indices, drill.baseline.docs = cfg.elasticsearch.indices, docs
        if modes.of(cfg).fingerprints_live:
            with drill.timed_step(PHASE, FINGERPRINT_LIVE()):
                sample = cfg.elasticsearch.fingerprint_sample
                drill.baseline.fingerprints = digests.fingerprints(es, sorted(docs), sample)
        expect(
            drill,
            PHASE,
            INDICES_FOUND(),
            "> 0",
            len(docs),
            ok=bool(docs),
            message=f"no open index matches {cfg.elasticsearch.indices} on {cfg.elasticsearch.url}: "
            "set elasticsearch.indices",
        )
    dr_say(
        f"baseline: {sum(counts.values())} nodes in {len(counts)} types"
        + (f", {sum(docs.values())} docs in {len(docs)} indices" if cfg.elasticsearch.enabled else "")
    )
