"""`drtests status`: when recovery was last proven per target, from the drills a real report
folder's ledger holds (never from history.jsonl, which anyone can append to)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drtests.evidence import ledger
from drtests.record import store
from drtests.record.drill import Drill
from drtests.record.evidence import evidence_of
from drtests.report import history
from drtests.sign import keys
from tests.unit import drills_on_disk

DRTESTS = str(Path(sys.executable).parent / "drtests")


def drill(tmp_path: Path, target: str, verdict: str, days_ago: float, n: int) -> Drill:
    """A finished drill of `target` (as drills record it)."""
    started = (datetime.now(UTC) - timedelta(days=days_ago)).isoformat(timespec="seconds").replace("+00:00", "Z")
    cfg = drills_on_disk.config(tmp_path, target, "isolated", "[objectives]\nrto_seconds = 60\nrpo_seconds = 3600\n")
    return drills_on_disk.drill(cfg, f"d{n}-{target}", started, verdict)


def status(reports: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DRTESTS, "status", "--report-dir", str(reports), *args], capture_output=True, text=True)


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    folder = tmp_path / "reports"
    for record in [drill(tmp_path, "eu", "pass", 40, 1), drill(tmp_path, "eu", "pass", 3, 2),
                   drill(tmp_path, "us", "pass", 50, 3), drill(tmp_path, "us", "fail", 1, 4)]:  # fmt: skip
        drills_on_disk.write(folder, record)
    return folder


def test_one_line_per_target_and_exit_1_when_one_is_overdue(reports: Path) -> None:
    result = status(reports)
    assert result.returncode == 1
    eu, us = result.stdout.splitlines()
    assert eu.startswith("OK      eu: last drill d2-eu PASS 3.0 d ago; last pass d2-eu 3.0 d ago (max age 35.0 d)")
    assert us.startswith("OVERDUE us: last drill d4-us FAIL 24.0 h ago; last pass d3-us 50.0 d ago")


def test_exit_0_when_every_target_passed_within_the_age(reports: Path) -> None:
    assert status(reports, "--max-age", "60d").returncode == 0


def test_a_forged_history_line_changes_nothing(tmp_path: Path, reports: Path) -> None:
    forged = store.DrillSummary.of_evidence(evidence_of(drill(tmp_path, "us", "pass", 0, 9))).as_line()
    with (reports / history.HISTORY).open("a") as f:
        f.write(json.dumps(forged) + "\n")  # a pass of "us" an hour ago, in the history only
    result = status(reports)
    assert result.returncode == 1 and "OVERDUE us: last drill d4-us FAIL" in result.stdout


def test_a_deleted_failing_drill_or_an_edited_ledger_makes_status_refuse(reports: Path) -> None:
    shutil.rmtree(reports / "d4-us")  # the failing drill: without it, us would be OK
    deleted = status(reports, "--max-age", "60d")
    assert deleted.returncode == 1 and deleted.stdout == ""
    assert "drill d4-us (verdict fail, started " in deleted.stderr and "its folder is gone (deleted)" in deleted.stderr
    lines = (reports / ledger.LEDGER).read_text().splitlines()
    (reports / ledger.LEDGER).write_text("\n".join([lines[0], lines[2]]) + "\n")  # a line from the middle
    cut = status(reports, "--max-age", "60d")
    assert cut.returncode == 1 and "ledger.jsonl line 2: does not follow the line before it" in cut.stderr


def test_exit_3_when_the_folder_cannot_be_read_and_2_for_a_bad_age(tmp_path: Path, reports: Path) -> None:
    missing = status(tmp_path / "nope")
    assert missing.returncode == 3 and "cannot read the report folder" in missing.stderr
    bad = status(reports, "--max-age", "soon")
    assert bad.returncode == 2 and "'soon' is not an age" in bad.stderr


def test_a_folder_without_drills_is_overdue(tmp_path: Path) -> None:
    result = status(tmp_path)
    assert result.returncode == 1 and result.stdout.startswith("OVERDUE no drill recorded")


def test_index_marks_the_overdue_target(reports: Path) -> None:
    index = (reports / "index.html").read_text()
    rows = [row for row in index.split("<tr") if "#target-" in row]
    assert len(rows) == 2 and "overdue" not in rows[0] and 'class="overdue"' in rows[1]


def test_with_a_public_key_only_lines_it_signed_count(tmp_path: Path, reports: Path) -> None:
    keys.generate(tmp_path / "keys")  # the runner's key; these drills ran without one
    result = status(reports, "--max-age", "60d", "--public-key", str(tmp_path / "keys" / "drtests.pub"))
    assert result.returncode == 1 and "ledger.jsonl line 1 (drill d1-eu): UNSIGNED" in result.stderr


def test_verify_all_passes_a_report_folder_with_its_latest_link_and_names_any_other(reports: Path) -> None:
    """`latest` points at the newest drill (every drill makes it): verify-evidence --all reads it as
    that drill again, not as a drill the ledger lacks; a link planted under another name is named."""

    def verify() -> subprocess.CompletedProcess:
        return subprocess.run([DRTESTS, "verify-evidence", "--all", "--report-dir", str(reports), "--allow-unsigned"],
                              capture_output=True, text=True)  # fmt: skip

    assert (reports / "latest").is_symlink()
    done = verify()
    assert done.returncode == 0, done.stdout + done.stderr
    (reports / "newest").symlink_to("d2-eu")
    done = verify()
    assert (
        done.returncode == 1 and "newest: a symbolic link to d2-eu, not a drill folder the ledger holds" in done.stdout
    )


def test_verify_evidence_of_the_latest_link_verifies_the_drill_it_points_at(reports: Path) -> None:
    """README says `latest` points at the newest drill: verifying it verifies that drill."""
    done = subprocess.run([DRTESTS, "verify-evidence", str(reports / "latest"), "--allow-unsigned"],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    newest = (reports / "latest").resolve()
    assert f"{reports / 'latest'} is a link to {newest}: verifying that folder" in done.stdout
    (newest / "evidence.json").write_text("{}")  # the folder it points at, altered: still refused
    done = subprocess.run([DRTESTS, "verify-evidence", str(reports / "latest"), "--allow-unsigned"],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 1 and "NOT VERIFIED" in done.stdout


def test_a_folder_of_another_name_holding_a_real_drills_id_stands_in_for_nothing(reports: Path) -> None:
    """Readers match a drill to its folder by name: a folder `standin` whose evidence.json reuses
    d4-us's id with its verdict turned to pass (unsigned, edited) changes no reader's answer."""
    evidence = json.loads((reports / "d4-us" / "evidence.json").read_text())
    forged = reports / "standin"
    forged.mkdir()
    (forged / "evidence.json").write_text(json.dumps(evidence | {"verdict": "pass", "checks": []}))
    result = status(reports)
    assert result.returncode == 1 and "OVERDUE us: last drill d4-us FAIL" in result.stdout
    from drtests.record import store as stored

    found = stored.scan(reports)
    assert "standin" not in {d.folder.name for d in found.drills}
    assert any(m.folder.name == "standin" and "a copy or a stand-in" in m.why for m in found.malformed)
