"""Where the full digest at snapshot time runs (drtests.proof_beside.digest_beside): on points in
time beside the rest of the drill only when nothing can change what they hold before they are
read; the plan lists it in the phase that records it."""

from __future__ import annotations

from pathlib import Path

import pytest

from drtests.config import load, parse_overrides
from drtests.drills import phase_3_backup, phase_5_verify
from drtests.options import DrillOptions
from drtests.proof_beside import FULL_AT_SNAPSHOT, MAX_VIEWS, digest_beside

LAB = Path(__file__).resolve().parents[2] / "fixtures" / "drills" / "lab-local.toml"


def config(*sets: str):
    return load(LAB, parse_overrides(["isolated.image=lab:1", *sets]))


@pytest.mark.parametrize(
    ("sets", "beside"),
    [
        ((), True),
        (("elasticsearch.restore=replace",), False),  # the restore rewrites the indices the views hold
        (("elasticsearch.restore=replace", "restore_cluster.url=http://127.0.0.1:9299"), True),  # elsewhere
        (("drill.parallel_paths=false",), False),
        (("elasticsearch.full_verify=off",), False),
        (("drill.mode=existing",), False),  # the install's own backups: this drill takes no snapshot
    ],
)
def test_the_digest_reads_points_in_time_only_where_nothing_rewrites_them(sets: tuple[str, ...], beside: bool) -> None:
    cfg = config(*sets)
    assert digest_beside(cfg, 25) is beside
    assert digest_beside(cfg, MAX_VIEWS + 1) is False  # more than ES keeps open comfortably: before the snapshot


@pytest.mark.parametrize("sets", [(), ("drill.parallel_paths=false",)])
def test_the_plan_lists_the_digest_in_the_phase_that_records_it(sets: tuple[str, ...], tmp_path: Path) -> None:
    cfg, options = config(*sets), DrillOptions(report_dir=str(tmp_path))
    in_backup = FULL_AT_SNAPSHOT() in {p.name for p in phase_3_backup.plan(cfg, options)}
    in_verify = FULL_AT_SNAPSHOT() in {p.name for p in phase_5_verify.plan(cfg, options)}
    assert (in_backup, in_verify) == ((False, True) if digest_beside(cfg) else (True, False))
