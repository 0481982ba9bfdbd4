"""Baseline: what the target holds before the drill touches it."""

import pytest

from drtests import telemetry
from drtests.topology import make_probe

pytestmark = pytest.mark.dr_phase("baseline")
PHASE = "baseline"


def test_baseline(dr_config, dr_drill, dr_target, dr_say, request):
    cfg, drill = dr_config, dr_drill
    drill.require("preflight")
    probe = make_probe(cfg, dr_target)
    dr_say(f"topology probe ({probe.kind}) ...")
    counts = probe.counts()
    drill.facts["topology"] = {"probe": probe.kind, "before": counts}
    drill.expect(
        PHASE,
        "topology nodes found",
        "> 0",
        sum(counts.values()),
        ok=sum(counts.values()) > 0,
        message=f"the topology probe ({probe.kind}) found no nodes on {dr_target.url}: nothing to prove",
    )
    if cfg.elasticsearch.enabled:
        es = request.getfixturevalue("dr_es")
        docs = telemetry.doc_counts(es, cfg.elasticsearch.indices)
        drill.facts["telemetry"] = {"indices": cfg.elasticsearch.indices, "before": docs}
        drill.expect(
            PHASE,
            "telemetry indices found",
            "> 0",
            len(docs),
            ok=bool(docs),
            message=f"no open index matches {cfg.elasticsearch.indices} on {cfg.elasticsearch.url}: "
            "set elasticsearch.indices",
        )
        # Fingerprints are taken at snapshot time, the moment the restore is compared with: live
        # indices keep changing until then, so fingerprints taken here would prove nothing.
        drill.facts["fingerprints"] = {}
    dr_say(
        f"baseline: {sum(counts.values())} nodes in {len(counts)} types"
        + (f", {sum(docs.values())} docs in {len(docs)} indices" if cfg.elasticsearch.enabled else "")
    )
