"""The store reads what drills wrote before the record and the store existed: an evidence.json
and its history line, written by a real lab drill at commit a16901b (tests/unit/data)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from drtests import pages
from drtests.record import store
from drtests.record.evidence import validate
from drtests.report import history
from tests.unit import drills_on_disk

DATA = Path(__file__).parent / "data"
BEFORE = json.loads((DATA / "evidence-a16901b.json").read_text())
BEFORE_LINE = json.loads((DATA / "history-a16901b.jsonl").read_text())


def folder_of_before(tmp_path: Path) -> Path:
    reports = tmp_path / "reports"
    (reports / BEFORE["drill_id"]).mkdir(parents=True)
    shutil.copy(DATA / "evidence-a16901b.json", reports / BEFORE["drill_id"] / "evidence.json")
    shutil.copy(DATA / "history-a16901b.jsonl", reports / store.HISTORY)
    return reports


def test_evidence_written_before_still_validates_and_reads_as_its_history_line(tmp_path: Path) -> None:
    validate(BEFORE)  # the schema is unchanged
    scan = store.scan(folder_of_before(tmp_path))
    assert scan.malformed == [] and [d.summary.drill_id for d in scan.drills] == [BEFORE["drill_id"]]
    summary = scan.drills[0].summary
    assert summary.as_line() == BEFORE_LINE  # the old code's summary of the same evidence, key for key
    assert summary.full_verify == "1/3" and summary.full_verified and summary.artifacts
    assert [a.kind for a in summary.artifacts] == ["backup file", "snapshot"]


def test_the_history_and_pages_render_it(tmp_path: Path) -> None:
    reports = folder_of_before(tmp_path)
    assert store.history(reports) == [store.DrillSummary.of_line(BEFORE_LINE)]
    assert [e.drill_id for e in history.rebuild(reports, store.history(reports))] == [BEFORE["drill_id"]]
    index = history.write_index(reports, store.history(reports)).read_text()
    assert BEFORE["drill_id"] in index and "Verified in full" in index
    assert BEFORE["drill_id"] in pages.drill_page(BEFORE)  # StrictUndefined: every name the page uses is there


def test_a_folder_that_is_not_a_drill_is_named_not_read(tmp_path: Path) -> None:
    reports = folder_of_before(tmp_path)
    (reports / "notes").mkdir()
    (reports / "notes" / "evidence.json").write_text('{"drill_id": "x"}')
    (reports / "cut").mkdir()
    (reports / "cut" / "evidence.json").write_text('{"drill_id": ')
    (reports / "latest").symlink_to(BEFORE["drill_id"])
    scan = store.scan(reports)
    assert [d.folder.name for d in scan.drills] == [BEFORE["drill_id"]]  # latest is not read twice
    assert sorted((m.folder.name, m.why) for m in scan.malformed) == [
        ("cut", "evidence.json is not a drill's evidence"),
        ("notes", "evidence.json is not a drill's evidence"),
    ]


def test_a_summary_built_from_a_new_drill_record_has_the_same_keys(tmp_path: Path) -> None:
    cfg = drills_on_disk.config(tmp_path, "prod")
    record = drills_on_disk.drill(cfg, "d1", "2026-11-30T00:00:00Z")
    folder = drills_on_disk.write(tmp_path / "reports", record)
    line = store.scan(folder.parent).drills[0].summary.as_line()
    # the old line's keys, and what drills have said since: the target's open deficiencies after it
    assert set(line) == set(BEFORE_LINE) - {"full_verify", "full_verified", "indices"} | {"open_deficiencies"}
