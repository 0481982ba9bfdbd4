"""Existing-backup drills, the pure logic: which backup is picked, and how a restore is judged
without a drill-time baseline."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import pytest

from drtests.config import load, parse_overrides
from drtests.errors import ConfigError, DrillError
from drtests.existing import Candidate, pick_backup
from drtests.modes.existing import AT_MOST, EXACT, GONE, compare_telemetry, compare_topology, index_day
from drtests.record.drill import Drill
from drtests.record.results import RestoredTelemetry, Snapshot

NOW = 1_800_000_000.0
DAY = 86400


def config(tmp_path: Path, *sets: str):
    (tmp_path / "d.toml").write_text('[drill]\nmode = "existing"\n[isolated]\nimage = "lab"\n')
    return load(tmp_path / "d.toml", parse_overrides(list(sets)))


def candidates(*ages_days: float) -> list[Candidate]:
    return [Candidate(f"/b/sts-backup-{n}.graph", NOW - age * DAY, 10) for n, age in enumerate(ages_days)]


def test_the_newest_candidate_is_picked_and_the_evidence_lists_them(tmp_path: Path) -> None:
    picked = pick_backup(config(tmp_path), candidates(0.5, 1.5, 2.5), NOW, random.Random(1))
    assert picked.picked == "/b/sts-backup-0.graph" and picked.candidates == 3
    assert picked.why == "the newest file named like the install's backups"
    assert [c["path"] for c in picked.shown] == [f"/b/sts-backup-{n}.graph" for n in range(3)]


def test_a_random_pick_stays_within_the_window_and_covers_it(tmp_path: Path) -> None:
    cfg = config(tmp_path, "existing.pick=random", "existing.window_days=3")
    rng = random.Random(7)
    seen = {pick_backup(cfg, candidates(0.5, 1.5, 2.5, 9), NOW, rng).picked for _ in range(200)}
    assert seen == {f"/b/sts-backup-{n}.graph" for n in range(3)}  # never the 9-day-old one


def test_no_candidate_in_the_window_is_a_clear_error(tmp_path: Path) -> None:
    cfg = config(tmp_path, "existing.pick=random", "existing.window_days=1")
    with pytest.raises(DrillError, match=r"no backup to verify: no file named sts-backup-\*\.graph in "
                       r"/opt/stackstate/backups was written within the last 1 days"):  # fmt: skip
        pick_backup(cfg, candidates(4), NOW, random.Random(1))


@pytest.mark.parametrize(
    ("sets", "key", "problem"),
    [
        (["isolated.image="], "isolated.image", 'is required when drill.mode = "existing"'),
        (["elasticsearch.restore=replace"], "elasticsearch.restore", 'must be "rename" when drill.mode = "existing"'),
        (["existing.backup_pattern=x/*.graph"], "existing.backup_pattern", "is a file name pattern inside"),
        (["existing.backup_file=b.graph"], "existing.backup_file", "must be an absolute path"),
        (["existing.topology_tolerance=1.5"], "existing.topology_tolerance", "must be <= 1"),
        (["existing.pick=oldest"], "existing.pick", "must be one of newest, random"),
    ],
)
def test_bad_existing_settings_are_refused(tmp_path: Path, sets: list[str], key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, *sets)
    assert caught.value.key == key and caught.value.problem.startswith(problem), str(caught.value)


def test_index_days_are_read_from_the_daily_suffix() -> None:
    assert index_day("sts_metrics-2026.11.25") == date(2026, 11, 25)
    assert index_day("sts_metrics-2026-11-25") == date(2026, 11, 25)
    assert index_day("sts_metrics") is None and index_day("sts_x-2026.13.40") is None


def test_topology_within_the_tolerance_passes_and_beyond_it_or_emptied_fails(tmp_path: Path) -> None:
    drill = Drill(config(tmp_path, "existing.topology_tolerance=0.1"), target="local://")
    drill.baseline.topology = {"Component": 100, "Relation": 200, "Layer": 5}
    compare_topology(drill, {"Component": 91, "Relation": 170, "Layer": 0})
    verdicts = {c.name: c.verdict for c in drill.checks}
    assert verdicts == {"topology Component": "pass", "topology Relation": "fail", "topology Layer": "fail"}
    assert drill.verify.topology_drift == {"Component": -0.09, "Relation": -0.15, "Layer": -1.0}
    assert drill.failed_checks()[0].message.startswith("topology type Layer: 5 live, 0 restored (-100.0%, tolerance")


def test_recorded_facts_make_the_topology_comparison_exact(tmp_path: Path) -> None:
    drill = Drill(config(tmp_path), target="local://")
    drill.baseline.topology = {"Component": 100}
    drill.backup.recorded = {"topology": {"Component": 95}, "sha256": "x", "recorded": "2026-11-26T01:00:00Z"}
    compare_topology(drill, {"Component": 96})
    (only,) = drill.checks
    assert (only.expected, only.actual, only.verdict) == (95, 96, "fail")
    assert only.message.endswith("96 restored (+1)")


def test_past_days_compare_exactly_the_snapshot_day_at_most_and_gone_indices_are_listed(tmp_path: Path) -> None:
    drill = Drill(config(tmp_path), target="local://")
    names = ["m-2026.11.24", "m-2026.11.25", "m-2026.11.26", "m-2026.11.20"]
    drill.backup.snapshot = Snapshot("r", "nightly", None, "SUCCESS", names, False, {"failed": 0}, [],
                                     "2026-11-26T00:30:00.000Z", None, None)  # fmt: skip
    drill.restore.telemetry = RestoredTelemetry("rename", {n: f"r-{n}" for n in names}, {"failed": 0}, "green")
    drill.baseline.docs = {"m-2026.11.24": 10, "m-2026.11.25": 10, "m-2026.11.26": 50}  # .20: gone (retention)
    drill.baseline.fingerprints = {"m-2026.11.24": "a", "m-2026.11.25": "b", "m-2026.11.26": "c"}
    counts = {"r-m-2026.11.24": 10, "r-m-2026.11.25": 9, "r-m-2026.11.26": 20, "r-m-2026.11.20": 3}
    compare_telemetry(drill, counts, {"r-m-2026.11.24": "a", "r-m-2026.11.25": "b", "r-m-2026.11.26": "z"})
    assert drill.verify.index_rules == {"m-2026.11.20": GONE, "m-2026.11.24": EXACT, "m-2026.11.25": EXACT,
                                        "m-2026.11.26": AT_MOST}  # fmt: skip
    assert [c.name for c in drill.failed_checks()] == ["docs m-2026.11.25"]
    assert drill.failed_checks()[0].message == ("index m-2026.11.25 (a day before the snapshot, no longer written): "
                                                "10 docs live, 9 in restored r-m-2026.11.25 (-1)")  # fmt: skip


def test_full_verification_shares_cover_every_index_once_per_cycle() -> None:
    from drtests.es.digests import chosen_for_full_verify

    names = [f"sts_metrics-2026.11.{day:02d}" for day in range(1, 31)]
    for spec, cycle in (("1/7", 7), ("2/7", 4), ("3/3", 1)):
        seen = [name for sequence in range(cycle) for name in chosen_for_full_verify(names, spec, sequence)]
        assert sorted(set(seen)) == sorted(names), spec
    first = chosen_for_full_verify(names, "1/7", 0)
    assert first == chosen_for_full_verify(list(reversed(names)), "1/7", 7)[::-1]  # stable: by name and sequence
    assert chosen_for_full_verify(names, "off", 3) == []


def test_full_coverage_counts_the_indices_of_the_last_cycle() -> None:
    from drtests.record.store import DrillSummary
    from drtests.report.history import full_coverage

    line = {"drill_id": "d", "started": "2026-11-26T00:00:00Z", "verdict": "pass", "target": "t"}
    drills = [DrillSummary.of_line({**line, "full_verify": "1/3", "indices": 5, "full_verified": names})
              for names in (["a"], ["b", "c"], ["d"])]  # fmt: skip
    assert full_coverage(drills) == "4 of 5 indices in the last 3 drills"
    assert full_coverage(drills[:1]) == "1 of 5 indices in the last 1 drills"
    assert full_coverage([DrillSummary.of_line(line)]) is None


@pytest.mark.parametrize("spec", ["1/0", "8/7", "0/7", "1-7", "half"])
def test_a_bad_full_verify_share_is_refused(tmp_path: Path, spec: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, f"elasticsearch.full_verify={spec}")
    assert caught.value.key == "elasticsearch.full_verify" and 'must be "off" or "n/t"' in caught.value.problem


def test_a_document_hash_ignores_key_order_and_takes_integers_beyond_64_bits() -> None:
    from drtests.es.digests import doc_hash

    assert doc_hash("a", {"x": 1, "y": {"b": 2, "a": 1}}) == doc_hash("a", {"y": {"a": 1, "b": 2}, "x": 1})
    assert doc_hash("a", {"x": 1}) != doc_hash("b", {"x": 1}) != doc_hash("a", {"x": 2})
    assert doc_hash("a", {"big": 2**70}) != doc_hash("a", {"big": 2**70 + 1})  # orjson refuses; json takes it


def test_restore_coverage_counts_the_indices_restored_in_the_last_cycle() -> None:
    from drtests.record.store import DrillSummary
    from drtests.report.history import restore_coverage

    line = {"drill_id": "d", "started": "2026-11-26T00:00:00Z", "verdict": "pass", "target": "t"}
    drills = [DrillSummary.of_line({**line, "restore_share": "1/2", "snapshot_indices": 4, "restored": names})
              for names in (["a", "new"], ["b", "new"], ["c", "new"])]  # fmt: skip
    assert restore_coverage(drills) == "every index restored within the last 2 drills: 3 of 4"
    assert DrillSummary.of_line(drills[0].as_line()) == drills[0]  # the history line keeps it
    assert restore_coverage([DrillSummary.of_line(line)]) is None
