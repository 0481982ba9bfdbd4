"""The series a drill exports, read back from the textfile it writes: last success comes from the
ledger's chain, so a line appended to history.jsonl cannot make recovery look proven."""

from __future__ import annotations

import json
from pathlib import Path

from drtests.record import store
from drtests.record.evidence import evidence_of
from drtests.report import history, metrics
from tests.unit import drills_on_disk


def series(folder: Path) -> dict[str, float]:
    (prom,) = folder.glob("drtests_*.prom")
    found = {}
    for line in prom.read_text().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            found[name.split("{")[0] + ("{" + name.split("{")[1] if "result=" in name else "")] = float(value)
    return found


def test_last_success_is_the_ledgers_and_a_forged_history_line_changes_nothing(tmp_path: Path) -> None:
    textfiles = tmp_path / "textfiles"
    textfiles.mkdir()
    cfg = drills_on_disk.config(tmp_path, "prod", extra=f'[metrics]\ntextfile_dir = "{textfiles}"\n')
    reports = tmp_path / "reports"
    drills_on_disk.write(reports, drills_on_disk.drill(cfg, "d1", "2026-11-01T00:00:00Z"))
    failed = drills_on_disk.drill(cfg, "d2", "2026-11-20T00:00:00Z", "fail")
    drills_on_disk.write(reports, failed)
    forged = store.DrillSummary.of_evidence(evidence_of(drills_on_disk.drill(cfg, "d9", "2026-11-30T00:00:00Z")))
    history.append(reports, forged)  # a pass on the 30th, in history.jsonl only
    assert metrics.publish(cfg, json.loads((reports / "d2" / "evidence.json").read_text()), reports) == []
    found = series(textfiles)
    assert found["drtests_drill_verified"] == 0
    assert found["drtests_last_success_timestamp_seconds"] == metrics.epoch("2026-11-01T00:00:00Z")
    assert found['drtests_checks{result="failed",target="prod"}'] == 1


def test_open_deficiencies_by_severity_and_their_due_day_follow_the_register(tmp_path: Path) -> None:
    """d1 fails an index (one data deficiency open, due 30 days on); d2 passes it (none open, no due series)."""
    textfiles = tmp_path / "textfiles"
    textfiles.mkdir()
    cfg = drills_on_disk.config(tmp_path, "prod", extra=f'[metrics]\ntextfile_dir = "{textfiles}"\n')
    reports = tmp_path / "reports"
    drills_on_disk.write(reports, drills_on_disk.drill(cfg, "d1", "2026-11-01T10:00:00Z", "fail"))
    metrics.publish(cfg, json.loads((reports / "d1" / "evidence.json").read_text()), reports)
    text = next(textfiles.glob("*.prom")).read_text()
    assert 'drtests_deficiencies_open{severity="data",target="prod"} 1.0' in text
    assert 'drtests_deficiencies_open{severity="objective",target="prod"} 0.0' in text
    (due,) = [line for line in text.splitlines() if line.startswith("drtests_deficiency_due_timestamp_seconds{")]
    assert float(due.rsplit(" ", 1)[1]) == metrics.epoch("2026-12-02T00:00:00Z")  # due 2026-12-01, through its end
    clean = drills_on_disk.drill(cfg, "d2", "2026-11-02T10:00:00Z")
    clean.check("verify", "docs sts_metrics-2026.01.01", 10, 10)
    drills_on_disk.write(reports, clean)
    metrics.publish(cfg, json.loads((reports / "d2" / "evidence.json").read_text()), reports)
    text = next(textfiles.glob("*.prom")).read_text()
    assert 'drtests_deficiencies_open{severity="data",target="prod"} 0.0' in text
    assert "drtests_deficiency_due_timestamp_seconds" not in text
