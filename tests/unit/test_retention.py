"""What `drtests prune` would delete: only what the target's drill state records a drill of
this target made, never what a kept drill used, never on evidence that does not verify (pure
logic on real report folders written from Drill records)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drtests.config import with_overrides
from drtests.drill_state import Made
from drtests.errors import DrillError
from drtests.retention import plan
from tests.unit import drills_on_disk

BACKUPS = "/opt/stackstate/backups"


def made_by(n: int) -> list[Made]:
    at = f"2026-01-{n:02d}T00:00:00Z"
    return [Made("backup file", f"{BACKUPS}/drtests-d{n}.graph", f"d{n}", at),
            Made("snapshot", f"sts-backup/drtests-d{n}", f"d{n}", at)]  # fmt: skip


def test_the_newest_keep_and_the_newest_passing_gate_stay(tmp_path: Path) -> None:
    cfg = drills_on_disk.config(tmp_path, "prod", extra="[retention]\nkeep_drill_artifacts = 2\n")
    cfg = with_overrides(cfg, elasticsearch={"repository": "sts-backup"})
    reports = tmp_path / "reports"

    def drill(n: int, gate: bool = False, verdict: str = "pass", path: str = "") -> None:
        started = f"2026-01-{n:02d}T00:00:00Z"
        drills_on_disk.write(reports, drills_on_disk.drill(cfg, f"d{n}", started, verdict, gate, path))

    drill(1, gate=True)  # an older passing gate: superseded by d3
    drill(2)
    drill(3, gate=True)  # the rollback point
    drill(4, gate=True, verdict="fail")  # a failed gate is no rollback point
    drill(5)
    drill(6)
    drill(7, path=f"{BACKUPS}/sts-backup-20260107.graph")  # used a nightly backup: made none
    made = [m for n in range(1, 7) for m in made_by(n)]
    delete, keep = plan(cfg, reports, made)
    assert sorted({a.drill_id for a in keep}) == ["d3", "d5", "d6"]
    assert sorted({a.drill_id for a in delete}) == ["d1", "d2", "d4"]
    assert not any("sts-backup-2026" in a.name for a in delete + keep)  # never a nightly backup
    other = with_overrides(cfg, target={"name": "other"})
    assert plan(other, reports, []) == ([], [])  # another target's drills are not this one's


def three_drills(tmp_path: Path):
    """A target that keeps one drill's artifacts, and the folders of its drills d1, d2, d3."""
    cfg = drills_on_disk.config(tmp_path, "prod", extra="[retention]\nkeep_drill_artifacts = 1\n")
    cfg = with_overrides(cfg, elasticsearch={"repository": "sts-backup"})
    reports = tmp_path / "reports"
    for n in (1, 2, 3):
        drills_on_disk.write(reports, drills_on_disk.drill(cfg, f"d{n}", f"2026-01-{n:02d}T00:00:00Z"))
    return cfg, reports


def test_prune_deletes_only_what_the_target_recorded_as_a_drills_own_backup_file(tmp_path: Path) -> None:
    """Only stackstate.backup_dir/drtests-<the line's drill>.graph: a line added to the drill state
    by hand (no signing key to tell it) cannot name a nightly backup, or a file elsewhere."""
    cfg, reports = three_drills(tmp_path)
    forged = drills_on_disk.drill(cfg, "d4", "2026-01-04T00:00:00Z", backup_file="/home/ann/thesis.graph")
    drills_on_disk.write(reports, forged)  # evidence naming a user's own file: not recorded by any drill
    killed = [Made("backup file", f"{BACKUPS}/drtests-killed.graph", "killed", "2026-01-00T00:00:00Z")]  # no evidence
    outside = [Made("backup file", "/etc/drtests-d1.graph", "d1", "2026-01-01T00:00:00Z"),
               Made("backup file", f"{BACKUPS}/sts-backup-20260101.graph", "d1", "2026-01-01T00:00:00Z"),
               Made("backup file", f"{BACKUPS}/drtests-d3.graph", "d2", "2026-01-02T00:00:00Z")]  # fmt: skip
    made = made_by(1)[:1] + made_by(2) + made_by(3) + killed + outside
    delete, keep = plan(cfg, reports, made)
    assert sorted(a.name for a in delete) == [
        f"{BACKUPS}/drtests-d1.graph", f"{BACKUPS}/drtests-d2.graph", f"{BACKUPS}/drtests-killed.graph",
        "sts-backup/drtests-d2",
    ]  # fmt: skip
    kept = {a.name for a in keep}
    assert "/etc/drtests-d1.graph" in kept  # outside stackstate.backup_dir: never deleted
    assert f"{BACKUPS}/sts-backup-20260101.graph" in kept  # a nightly backup: not a drill's file name
    assert f"{BACKUPS}/drtests-d3.graph" in kept  # another drill's file (the newest's): not d2's to delete
    assert "/home/ann/thesis.graph" not in {a.name for a in delete + keep}


def test_what_a_kept_drill_used_and_what_unverified_evidence_names_stay(tmp_path: Path) -> None:
    cfg, reports = three_drills(tmp_path)
    existing = drills_on_disk.config(tmp_path, "prod", "existing", "[retention]\nkeep_drill_artifacts = 1\n")
    verified = drills_on_disk.drill(existing, "e5", "2026-01-05T00:00:00Z", backup_file=f"{BACKUPS}/drtests-d1.graph",
                                    snapshot="drtests-d1")  # fmt: skip
    drills_on_disk.write(reports, verified)  # the newest: it verified d1's backup, and made nothing
    made = made_by(1) + made_by(2) + made_by(3)
    delete, keep = plan(cfg, reports, made)
    assert {a.drill_id for a in delete} == {"d2"}  # d1: used by the newest drill; d3: the newest maker
    assert sorted({a.drill_id for a in keep}) == ["d1", "d3"]
    (reports / "d2" / "evidence.json").write_text((reports / "d2" / "evidence.json").read_text() + " ")  # altered
    with pytest.raises(DrillError, match=r"ledger.jsonl is broken.*drill d2 .*evidence.json: altered"):
        plan(cfg, reports, made)  # evidence that does not verify: nothing is deleted on the folder's word


def test_a_drill_id_that_climbs_out_of_the_backup_folder_names_nothing(tmp_path: Path) -> None:
    """A drill-state line added by hand (no signing key to tell it) whose drill id holds '/../'
    makes backup_file() name a nightly backup in another folder: it is never deleted, nor read."""
    cfg, reports = three_drills(tmp_path)
    sneaky = "x/../../nightly/sts-backup-20260101"
    target = f"{BACKUPS}/drtests-{sneaky}.graph"
    delete, keep = plan(cfg, reports, [Made("backup file", target, sneaky, "2026-01-00T00:00:00Z")])
    assert delete == [] and [a.name for a in keep] == [target]


def test_drill_state_lines_with_a_drill_id_that_is_not_one_are_left_out(tmp_path: Path) -> None:
    import json

    from drtests import drill_state
    from drtests.hosts.host import TargetHost

    cfg, _ = three_drills(tmp_path)
    cfg = with_overrides(cfg, target={"url": "local://"}, stackstate={"home": str(tmp_path / "home")})
    (tmp_path / "home").mkdir()
    state = Path(drill_state.path(cfg))
    state.parent.mkdir(parents=True, exist_ok=True)
    line = {"kind": "backup file", "name": "/x/drtests-ok.graph", "drill": "d-ok", "target": "prod", "at": "t"}
    lines = [line, {**line, "name": "/x/y.graph", "drill": "a/../../y"}]

    state.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert [m.drill for m in drill_state.made(cfg, TargetHost("local://"))] == ["d-ok"]
