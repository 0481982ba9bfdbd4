"""The Drill record's pure logic: verdict, RPO, rename mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from drtests.config import load, with_overrides
from drtests.es.snapshots import java_replacement, renamed
from drtests.record.drill import Drill


@pytest.fixture
def drill(tmp_path: Path) -> Drill:
    (tmp_path / "d.toml").write_text("")
    return Drill(load(tmp_path / "d.toml"), target="local://")


def test_verdict_passes_only_when_every_core_phase_passed(drill: Drill) -> None:
    assert drill.verdict == "incomplete"
    for phase in ("preflight", "baseline", "backup", "restore", "verify"):
        drill.phase_started(phase)
        drill.phase_ended(phase, "pass")
    assert drill.verdict == "pass"
    drill.check("verify", "docs x", 10, 9, message="index x: 10 docs at snapshot time, 9 restored")
    assert drill.verdict == "fail"


def test_a_failed_phase_fails_the_drill(drill: Drill) -> None:
    drill.phase_started("preflight")
    drill.phase_ended("preflight", "fail", "StackGraph is inactive")
    assert drill.verdict == "fail"


def test_rpo_is_drill_start_minus_watermark_never_negative(drill: Drill) -> None:
    assert drill.rpo_seconds is None
    drill.restore.watermark_ns = drill.started_epoch_ns - 90_000_000_000
    assert drill.rpo_seconds == 90.0
    drill.restore.watermark_ns = drill.started_epoch_ns + 5_000_000_000
    assert drill.rpo_seconds == 0.0


def test_drill_ids_are_unique_and_name_the_drill(drill: Drill) -> None:
    other = Drill(drill.config, target="local://")
    assert drill.id != other.id
    assert f"-{drill.config.drill.name}-" in drill.id


def test_java_rename_replacement_maps_like_elasticsearch(drill: Drill) -> None:
    assert java_replacement("restored-$1") == r"restored-\g<1>"
    cfg = with_overrides(drill.config, elasticsearch={"rename_pattern": "sts_(.+)", "rename_replacement": "r_$1"})
    assert renamed(cfg, ["sts_metrics-2026.01.01"]) == {"sts_metrics-2026.01.01": "r_metrics-2026.01.01"}


def test_long_index_lists_are_split_to_fit_a_request_line() -> None:
    from drtests.es.client import URL_BUDGET, expressions

    names = [f"drtests-restored-sts_multi_metrics-2026.01.{i:03d}" for i in range(200)]
    parts = expressions(names)
    assert len(parts) > 1 and all(len(p) <= URL_BUDGET for p in parts)
    assert ",".join(parts).split(",") == names
    assert expressions("sts_*") == ["sts_*"]
