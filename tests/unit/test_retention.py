"""What `drtests prune` would delete, from the evidence of earlier drills (pure logic on files)."""

from __future__ import annotations

from pathlib import Path

from drtests.config import with_overrides
from drtests.retention import plan
from tests.unit import drills_on_disk


def test_the_newest_keep_and_the_newest_passing_gate_stay(tmp_path: Path) -> None:
    cfg = drills_on_disk.config(tmp_path, "prod", extra="[retention]\nkeep_drill_artifacts = 2\n")
    reports = tmp_path / "reports"

    def drill(reports: Path, n: int, gate: bool = False, verdict: str = "pass", path: str = "") -> None:
        started = f"2026-01-{n:02d}T00:00:00Z"
        drills_on_disk.write(reports, drills_on_disk.drill(cfg, f"d{n}", started, verdict, gate, path))

    drill(reports, 1, gate=True)  # an older passing gate: superseded by d3
    drill(reports, 2)
    drill(reports, 3, gate=True)  # the rollback point
    drill(reports, 4, gate=True, verdict="fail")  # a failed gate is no rollback point
    drill(reports, 5)
    drill(reports, 6)
    drill(reports, 7, path="/opt/stackstate/backups/sts-backup-20260107.graph")  # not a drill-made file
    delete, keep = plan(cfg, reports)
    assert sorted({a.drill_id for a in keep}) == ["d3", "d6", "d7"]
    assert sorted({a.drill_id for a in delete}) == ["d1", "d2", "d4", "d5"]
    assert not any("sts-backup-2026" in a.name for a in delete + keep)  # never a nightly backup
    other = with_overrides(cfg, target={"name": "other"})
    assert plan(other, reports) == ([], [])  # another target's drills are not this one's
