"""Verify: nothing was lost. Counts and fingerprints equal, RTO and RPO within objectives."""

from datetime import datetime

import pytest

from drtests import restore_site, telemetry
from drtests.config import DrillConfig
from drtests.drill import Drill
from drtests.drills import existing_verify
from drtests.drills.common import Planned, assert_checks, check, compare_full, full_verify_choice, require, step
from drtests.options import DrillOptions
from drtests.topology import make_probe, probe_description

pytestmark = pytest.mark.dr_phase("verify")
PHASE = "verify"


def plan(cfg: DrillConfig, options: DrillOptions) -> list[Planned]:
    site_cfg = restore_site.isolated_config(cfg) if cfg.drill.mode != "in-place" else cfg
    existing = cfg.drill.mode == "existing"
    planned = [step(PHASE, "count topology after the restore", probe_description(site_cfg))]
    if not existing:
        planned.append(check(PHASE, "topology <each type>", "counts per type after == before"))
    if cfg.elasticsearch.enabled:
        planned.append(step(PHASE, "count and fingerprint restored docs"))
    if existing:
        planned += existing_verify.plan(cfg)
    elif cfg.elasticsearch.enabled:
        planned += [
            check(PHASE, "docs <each index>", "restored doc count == at snapshot time"),
            check(PHASE, "fingerprint <each index>", "restored sample == at snapshot time"),
        ]
    if cfg.elasticsearch.enabled and cfg.elasticsearch.full_verify != "off":
        if existing:
            planned.append(step(PHASE, "full digest of the live indices", f"{cfg.elasticsearch.full_verify} of the "
                                "past-day indices, every document"))  # fmt: skip
        planned += [
            step(PHASE, "full digest of the restored copies", "every document of the same indices"),
            check(PHASE, "full <each index>", "digest of every document restored == source (order-independent)"),
        ]
    objectives = cfg.objectives
    rpo = "drill start - watermark"
    if existing_verify.judged_at_file_time(cfg):
        rpo = "the picked file's mtime - watermark"
    planned += [
        check(PHASE, "RTO (s)", f"restore phase wall time <= {objectives.rto_seconds:g}s"),
        check(PHASE, "RPO (s)", f"{rpo} <= {objectives.rpo_seconds:g}s"),
    ]
    return planned


def test_verify(dr_config, dr_drill, dr_say, dr_options, request):
    cfg, drill = dr_config, dr_drill
    require(drill, "restore")
    site = request.getfixturevalue("dr_restore_site")
    existing = cfg.drill.mode == "existing"
    with drill.timed_step(PHASE, "count topology after the restore"):
        after = drill.verify.topology = make_probe(site.config, site.host).counts()
    if existing:
        existing_verify.compare_topology(drill, after)
    else:
        compare_topology(drill, after)

    if cfg.elasticsearch.enabled and drill.restore.telemetry is not None:
        es = request.getfixturevalue("dr_restore_es")  # where the copies are
        mapping = drill.restore.telemetry.indices
        with drill.timed_step(PHASE, "count and fingerprint restored docs"):
            restored_counts = telemetry.doc_counts(es, list(mapping.values()))
            restored_prints = telemetry.fingerprints(es, sorted(mapping.values()), cfg.elasticsearch.fingerprint_sample)
        drill.verify.docs = {orig: restored_counts.get(new, 0) for orig, new in mapping.items()}
        drill.verify.fingerprints = {orig: restored_prints.get(new) for orig, new in mapping.items()}
        if existing:
            existing_verify.compare_telemetry(drill, restored_counts, restored_prints)
        else:
            compare_telemetry(drill, restored_counts, restored_prints)
        verify_in_full(cfg, drill, es, mapping, dr_options, request)

    rto, rpo, objectives = drill.rto_seconds, drill.rpo_seconds, cfg.objectives
    rpo_of = "the backup's newest change is {rpo}s older than the drill"
    if existing_verify.judged_at_file_time(cfg) and rpo is not None:
        written = drill.backup.artifact.mtime
        rpo = round(max(0.0, datetime.fromisoformat(written).timestamp() - drill.restore.watermark_ns / 1e9), 3)
        rpo_of = "the backup's newest change is {rpo}s older than the backup file " + f"({written})"
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
        message=f"{rpo_of.format(rpo=rpo)}, objective {objectives.rpo_seconds:g}s",
    )
    failed = drill.failed_checks(PHASE)
    dr_say(f"verify: {len(failed)} difference(s)" if failed else "verify: nothing lost")
    assert_checks(drill, PHASE)


def verify_in_full(cfg: DrillConfig, drill: Drill, es, mapping: dict[str, str], options, request) -> None:
    """elasticsearch.full_verify: every document of this drill's share of the indices, restored
    against the source (at snapshot time; existing drills: the live past-day indices)."""
    slices, rule = cfg.elasticsearch.full_verify_slices, "at snapshot time"
    if cfg.drill.mode == "existing" and cfg.elasticsearch.full_verify != "off":
        rules = drill.verify.index_rules or {}
        exact = [orig for orig, how in rules.items() if how == existing_verify.EXACT]
        full = drill.backup.full_verify = full_verify_choice(cfg, options, exact)
        with drill.timed_step(PHASE, "full digest of the live indices", f"{len(full.indices)} past-day indices"):
            full.source = telemetry.full_digests(request.getfixturevalue("dr_es"), full.indices, slices)
        rule = "live (a past day)"
    full = drill.backup.full_verify
    if full is None or full.source is None:
        return
    with drill.timed_step(PHASE, "full digest of the restored copies", f"every document of {len(full.indices)} "
                          "indices"):  # fmt: skip
        restored = telemetry.full_digests(es, [mapping[orig] for orig in full.indices if orig in mapping], slices)
    full.restored = {orig: restored[mapping[orig]] for orig in full.indices if mapping.get(orig) in restored}
    compare_full(drill, PHASE, mapping, rule)


def compare_topology(drill: Drill, after: dict[str, int]) -> None:
    """Counts per type after the restore == the baseline's."""
    before = drill.baseline.topology
    for node_type in sorted(set(before) | set(after)):
        b, a = before.get(node_type, 0), after.get(node_type, 0)
        drill.check(PHASE, f"topology {node_type}", b, a,
                    message=f"topology type {node_type}: {b} before, {a} after restore ({a - b:+d})")  # fmt: skip


def compare_telemetry(drill: Drill, restored_counts: dict[str, int], restored_prints: dict[str, str]) -> None:
    """Each restored index == its index at snapshot time (count and fingerprint)."""
    mapping, expected = drill.restore.telemetry.indices, drill.backup.docs_at_snapshot or {}
    for orig in sorted(expected):
        new = mapping.get(orig, "<not restored>")
        n, m = expected[orig], restored_counts.get(new, 0)
        drill.check(PHASE, f"docs {orig}", n, m,
                    message=f"index {orig}: {n} docs at snapshot time, {m} in restored {new} ({m - n:+d})")  # fmt: skip
        fp_before, fp_after = drill.backup.fingerprints_at_snapshot.get(orig), restored_prints.get(new)
        drill.check(PHASE, f"fingerprint {orig}", fp_before, fp_after,
                    message=f"index {orig}: content fingerprint differs in restored {new}")  # fmt: skip
