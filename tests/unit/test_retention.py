"""What `drtests prune` would delete, from the evidence of earlier drills (pure logic on files)."""

from __future__ import annotations

import json
from pathlib import Path

from drtests.config import load, with_overrides
from drtests.retention import plan


def drill(reports: Path, n: int, gate: bool = False, verdict: str = "pass", path: str = "") -> None:
    folder = reports / f"d{n}"
    folder.mkdir(parents=True)
    evidence = {"drill_id": f"d{n}", "target_name": "prod", "started": f"2026-01-{n:02d}T00:00:00Z", "gate": gate,
                "verdict": verdict, "artifact": {"path": path or f"/opt/stackstate/backups/drtests-d{n}.graph"},
                "snapshot": {"repository": "sts-backup", "snapshot": f"drtests-d{n}"}}  # fmt: skip
    (folder / "evidence.json").write_text(json.dumps(evidence))


def test_the_newest_keep_and_the_newest_passing_gate_stay(tmp_path: Path) -> None:
    (tmp_path / "d.toml").write_text('[target]\nname = "prod"\n[retention]\nkeep_drill_artifacts = 2\n')
    cfg = load(tmp_path / "d.toml")
    reports = tmp_path / "reports"
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
