"""Verify: nothing was lost. Counts and fingerprints equal, RTO and RPO within objectives."""

import pytest

from drtests import telemetry
from drtests.topology import make_probe

pytestmark = pytest.mark.dr_phase("verify")
PHASE = "verify"


def test_verify(dr_config, dr_drill, dr_say, request):
    cfg, drill = dr_config, dr_drill
    drill.require("restore")
    site = request.getfixturevalue("dr_restore_site")
    before = drill.facts["topology"]["before"]
    after = make_probe(site.config, site.host).counts()
    drill.facts["topology"]["after"] = after
    for node_type in sorted(set(before) | set(after)):
        b, a = before.get(node_type, 0), after.get(node_type, 0)
        drill.check(
            PHASE,
            f"topology {node_type}",
            b,
            a,
            message=f"topology type {node_type}: {b} before, {a} after restore ({a - b:+d})",
        )

    if cfg.elasticsearch.enabled and "restore" in drill.facts:
        es = request.getfixturevalue("dr_es")
        mapping = drill.facts["restore"]["indices"]
        expected = drill.facts["telemetry"]["at_snapshot"]
        restored_counts = telemetry.doc_counts(es, list(mapping.values()))
        restored_prints = telemetry.fingerprints(es, sorted(mapping.values()), cfg.elasticsearch.fingerprint_sample)
        drill.facts["telemetry"]["restored"] = {orig: restored_counts.get(new, 0) for orig, new in mapping.items()}
        drill.facts["fingerprints"]["restored"] = {orig: restored_prints.get(new) for orig, new in mapping.items()}
        for orig in sorted(expected):
            new = mapping.get(orig, "<not restored>")
            n, m = expected[orig], restored_counts.get(new, 0)
            drill.check(
                PHASE,
                f"docs {orig}",
                n,
                m,
                message=f"index {orig}: {n} docs at snapshot time, {m} in restored {new} ({m - n:+d})",
            )
            fp_before, fp_after = drill.facts["fingerprints"]["at_snapshot"].get(orig), restored_prints.get(new)
            drill.check(
                PHASE,
                f"fingerprint {orig}",
                fp_before,
                fp_after,
                message=f"index {orig}: content fingerprint differs in restored {new}",
            )

    rto, rpo, objectives = drill.rto_seconds, drill.rpo_seconds, cfg.objectives
    drill.check(
        PHASE,
        "RTO (s)",
        f"<= {objectives.rto_seconds:g}",
        rto,
        ok=rto is not None and rto <= objectives.rto_seconds,
        message=f"restore took {rto}s, objective {objectives.rto_seconds:g}s",
    )
    drill.check(
        PHASE,
        "RPO (s)",
        f"<= {objectives.rpo_seconds:g}",
        rpo,
        ok=rpo is not None and rpo <= objectives.rpo_seconds,
        message=f"the backup's newest change is {rpo}s older than the drill, objective {objectives.rpo_seconds:g}s",
    )
    failed = drill.failed_checks(PHASE)
    dr_say(f"verify: {len(failed)} difference(s)" if failed else "verify: nothing lost")
    drill.assert_checks(PHASE)
