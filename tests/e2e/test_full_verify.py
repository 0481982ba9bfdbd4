"""Rotating full verification on the real node: every document of the drill's share of the
indices is hashed, so a change in the middle of an index, outside the sampled ends, is caught."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.e2e.conftest import DRTESTS, DrillLab

# A user check that rewrites one restored index with the document in its middle changed, each
# document written in its original order into a fresh one-shard index, so every _seq_no (and with
# it the sampled first and last documents) stays as the snapshot had it.
TAMPER_THE_MIDDLE = """
import pytest

@pytest.mark.dr_check("restore")
def test_change_one_document_in_the_middle(dr_drill, dr_restore_es):
    es, restored = dr_restore_es, dr_drill.restore.telemetry.indices[{index!r}]
    docs = es.search(index=restored, size=10000, sort=[{{"_seq_no": "asc"}}])["hits"]["hits"]
    settings = {{"number_of_shards": 1, "number_of_replicas": 0}}
    es.indices.delete(index=restored)
    es.indices.create(index=restored, settings=settings)
    for position, doc in enumerate(docs):
        source = dict(doc["_source"], value=-1.0) if position == len(docs) // 2 else doc["_source"]
        es.index(index=restored, id=doc["_id"], document=source)
    es.indices.refresh(index=restored)
"""


def test_a_document_changed_in_the_middle_passes_the_sample_and_fails_the_full_check(drill_lab: DrillLab) -> None:
    index = sorted(drill_lab.doc_counts())[3]
    checks = drill_lab.add_checks(TAMPER_THE_MIDDLE.format(index=index))
    # the fault lands between the restore and the verify phase: with the paths one after the other the
    # checks read after the restore (side by side they read each copy as it becomes usable, before this check)
    args = (
        "--set",
        "elasticsearch.full_verify=1/1",
        "--set",
        "elasticsearch.fingerprint_sample=5",
        "--set",
        "drill.parallel_paths=false",
    )
    result = drill_lab.run(*args, "--", checks)
    assert result.returncode == 1, result.stdout[-3000:]
    evidence = drill_lab.evidence()
    verdicts = {c["name"]: c["verdict"] for c in evidence["checks"]}
    assert verdicts[f"fingerprint {index}"] == "pass" and verdicts[f"docs {index}"] == "pass"  # the sample passes
    failed = {c["name"]: c["message"] for c in evidence["checks"] if c["verdict"] == "fail"}
    assert list(failed) == [f"full {index}"], failed
    docs = evidence["telemetry"]["at_snapshot"][index]
    assert failed[f"full {index}"].startswith(f"index {index}: full verification differs: {docs} docs at snapshot time")
    assert set(evidence["full_verification"]["indices"]) == set(evidence["telemetry"]["at_snapshot"])
    assert drill_lab.leftover_restored() == []


def test_over_a_cycle_every_index_is_verified_in_full_once(drill_lab: DrillLab) -> None:
    indices = set(drill_lab.doc_counts())
    seen: list[str] = []
    for _ in range(3):  # 1/3: three drills cover every index, each drill a different third
        result = drill_lab.run("--set", "elasticsearch.full_verify=1/3")
        assert result.returncode == 0, result.stdout[-3000:]
        full = drill_lab.evidence()["full_verification"]
        assert all(full["source"][name] == full["restored"][name] for name in full["indices"])
        seen += full["indices"]
    assert sorted(seen) == sorted(indices)  # each index exactly once over the cycle
    history = [json.loads(line) for line in (drill_lab.reports / "history.jsonl").read_text().splitlines()]
    assert [entry["full_verify"] for entry in history] == ["1/3"] * 3
    index_html = (drill_lab.reports / "index.html").read_text()
    assert f"Verified in full (every document): {len(indices)} of {len(indices)} indices in the last 3 drills." in (
        index_html
    )


def test_drills_with_empty_report_folders_rotate_restore_shares_full_verification_and_prune(
    drill_lab: DrillLab, tmp_path: Path
) -> None:
    """A CI job starts each run with an empty workspace: the target's own drill state carries the
    drill count (rotation) and what each drill made (retention). With restore_share = "1/4" each
    drill restores its quarter of the indices plus each group's newest (counts, fingerprints and
    full digests checked on those only), forecasts a full restore's RTO from its own throughput,
    and passes; four drills restore, and verify in full, every index at least once."""
    indices = set(drill_lab.doc_counts())
    newest = {max(i for i in indices if i.rsplit("-", 1)[0] == name.rsplit("-", 1)[0]) for name in indices}
    restored_ever, verified, ids = set(), [], []
    shares = ("--set", "elasticsearch.restore_share=1/4", "--set", "elasticsearch.full_verify=1/4")
    for n in range(4):
        result = drill_lab.run(*shares, "--report-dir", str(tmp_path / f"run{n}"))
        assert result.returncode == 0, result.stdout[-3000:]
        evidence = json.loads((tmp_path / f"run{n}" / "latest" / "evidence.json").read_text())
        share, restored = evidence["restore_share"], set(evidence["restore"]["indices"])
        assert share["share"] == "1/4" and restored == set(share["restored"]) and set(share["newest"]) == newest
        # its quarter may hold no older index (8 of 16 are the newest): never all of them
        assert newest <= restored < indices and set(share["not_restored"]) == indices - restored
        checked = {c["name"] for c in evidence["checks"]}
        assert {f"docs {i}" for i in restored} <= checked and not {f"docs {i}" for i in indices - restored} & checked
        assert set(evidence["full_verification"]["indices"]) <= restored
        rto, forecast = evidence["rto"], next(c for c in evidence["checks"] if c["name"].startswith("RTO forecast"))
        assert rto["forecast_full_s"] >= rto["measured_s"] and forecast["verdict"] == "pass", forecast
        restoring = next(s for s in evidence["steps"] if s["name"] == "restore snapshot")  # beside the stop, import
        assert 0 <= share["beside_graph_s"] <= restoring["duration_s"], (share, restoring)
        assert 0 < share["bytes_restored"] < share["bytes_total"]
        report = (tmp_path / f"run{n}" / "latest" / "report.html").read_text()
        assert "RTO forecast for a full restore" in report
        assert f"the graph path and its checks ran beside {share['beside_graph_s']:g} s of\nthis restore" in report
        index = (tmp_path / f"run{n}" / "index.html").read_text()  # one drill in each folder: its own share
        assert f"every index restored within the last 1 drills: {len(restored)} of {len(indices)}" in index
        restored_ever |= restored
        verified += evidence["full_verification"]["indices"]
        ids.append(evidence["drill_id"])
    assert restored_ever == indices and sorted(verified) == sorted(indices)  # though each folder held one drill
    assert drill_lab.leftover_restored() == []
    plan = subprocess.run([DRTESTS, "prune", "--config", str(drill_lab.config), "--report-dir", str(tmp_path / "run3"),
                           "--set", "retention.keep_drill_artifacts=1"], capture_output=True, text=True)  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    assert f"would delete backup file {drill_lab.home}/backups/drtests-{ids[0]}" in plan.stdout
    assert f"keep   backup file {drill_lab.home}/backups/drtests-{ids[3]}" in plan.stdout
