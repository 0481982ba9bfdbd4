"""The drill's own evidence, report and notification say what it did to its target's deficiency
register: opened (new), reopened (recurring), closed, still open; written as drills write them."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from drtests import notify
from drtests.evidence import ledger
from drtests.report import finish
from drtests.sign import keys
from tests.unit import drills_on_disk

INDEX = "docs sts_metrics-2026.01.01"


def written(reports: Path, cfg, drill_id: str, started: str, fail: bool) -> dict:
    record = drills_on_disk.drill(cfg, drill_id, started, verdict="fail" if fail else "pass")
    if not fail:
        record.check("verify", INDEX, 10, 10)
    folder = drills_on_disk.write(reports, record)
    return json.loads((folder / "evidence.json").read_text())


def keys_of(change: dict) -> dict[str, list[str]]:
    kinds = ("opened", "recurring", "closed", "still_open")
    return {k: [d["key"] for d in change[k]] for k in kinds if change.get(k)}


def test_a_fault_opens_a_clean_drill_closes_and_the_same_fault_reopens_as_recurring(tmp_path: Path) -> None:
    private, _ = keys.generate(tmp_path / "keys")
    cfg = drills_on_disk.config(tmp_path, "prod", extra=f'[evidence]\nsigning_key_file = "{private}"\n')
    reports = tmp_path / "reports"
    first = written(reports, cfg, "d1", "2026-03-01T10:00:00Z", fail=True)
    assert keys_of(first["deficiencies"]) == {"opened": ["prod/verify/docs {index}"]}
    assert first["deficiencies"]["verified"] and first["deficiencies"]["opened"][0]["due"] == "2026-03-31"
    again = written(reports, cfg, "d2", "2026-03-02T10:00:00Z", fail=True)
    assert keys_of(again["deficiencies"]) == {"still_open": ["prod/verify/docs {index}"]}
    assert again["deficiencies"]["still_open"][0]["failed_again"]
    clean = written(reports, cfg, "d3", "2026-03-03T10:00:00Z", fail=False)
    assert keys_of(clean["deficiencies"]) == {"closed": ["prod/verify/docs {index}"]}
    back = written(reports, cfg, "d4", "2026-03-04T10:00:00Z", fail=True)
    assert keys_of(back["deficiencies"]) == {"recurring": ["prod/verify/docs {index}"]}
    page = (reports / "d4" / "report.html").read_text()
    assert "<h2>Deficiencies</h2>" in page and "reopened (recurring)" in page and "prod/verify/docs {index}" in page
    assert "<h2>Deficiencies</h2>" in (reports / "d3" / "report.html").read_text()
    record = drills_on_disk.drill(cfg, "d5", "2026-03-05T10:00:00Z", verdict="fail")
    _, body = notify.message(record, "report.html", back["deficiencies"])
    assert "RECURRING deficiency (fixed once, failing again): prod/verify/docs {index}" in body
    _, body = notify.message(record, "report.html", first["deficiencies"])
    assert "NEW deficiency: prod/verify/docs {index}" in body and "unverified" not in body


def test_an_unsigned_drill_says_its_register_is_unverified(tmp_path: Path) -> None:
    cfg = drills_on_disk.config(tmp_path, "prod")
    change = written(tmp_path / "reports", cfg, "d1", "2026-03-01T10:00:00Z", fail=True)["deficiencies"]
    assert (change["verified"], keys_of(change)) == (False, {"opened": ["prod/verify/docs {index}"]})
    assert "UNVERIFIED" in (tmp_path / "reports" / "d1" / "report.html").read_text()
    record = drills_on_disk.drill(cfg, "d2", "2026-03-02T10:00:00Z", verdict="fail")
    assert notify.message(record, "r", change)[1].endswith("(deficiencies counted from unsigned drills: unverified)\n"
                                                           "report: r")  # fmt: skip


def test_a_broken_ledger_is_said_in_the_report_and_the_drill_is_still_written(tmp_path: Path) -> None:
    cfg = drills_on_disk.config(tmp_path, "prod")
    reports = tmp_path / "reports"
    written(reports, cfg, "d1", "2026-03-01T10:00:00Z", fail=True)
    (reports / "d1" / "evidence.json").write_text("{}")
    change = written(reports, cfg, "d2", "2026-03-02T10:00:00Z", fail=True)["deficiencies"]
    assert change["verified"] is False and f"{ledger.LEDGER} is broken" in change["unavailable"]
    assert "The deficiency register could not be read" in (reports / "d2" / "report.html").read_text()


def test_the_index_shows_each_targets_open_deficiencies_after_its_last_drill(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    prod, edge = (drills_on_disk.config(tmp_path, t) for t in ("prod", "edge"))
    written(reports, prod, "d1", "2026-03-01T10:00:00Z", fail=True)
    written(reports, edge, "e1", "2026-03-01T11:00:00Z", fail=False)
    page = (reports / "index.html").read_text()
    rows = page.split("</table>")[0].split("<tr")
    assert next(r for r in rows if ">prod</a>" in r).rstrip().endswith('<span class="tag fail">1</span></td></tr>')
    assert next(r for r in rows if ">edge</a>" in r).rstrip().endswith('<td class="num">0</td></tr>')
    assert "Deficiencies open after the last drill: none." in page
    line = json.loads((reports / "history.jsonl").read_text().splitlines()[0])
    assert line["open_deficiencies"] == 1  # in history.jsonl, and so in the webhook's body


def test_the_pack_summary_holds_the_register_of_its_period(tmp_path: Path) -> None:
    """d1 opens a deficiency, d2 closes it, d3 opens another kind: a pack of d2's day holds the
    first (closed in it); a pack of the days after d2 holds only the second."""
    private, _ = keys.generate(tmp_path / "keys")
    cfg = drills_on_disk.config(tmp_path, "prod", extra=f'[evidence]\nsigning_key_file = "{private}"\n')
    reports = tmp_path / "reports"
    written(reports, cfg, "d1", "2026-03-01T10:00:00Z", fail=True)
    written(reports, cfg, "d2", "2026-03-02T10:00:00Z", fail=False)
    unproven = drills_on_disk.drill(cfg, "d3", "2026-03-04T10:00:00Z")
    unproven.check("verify", INDEX, 10, 10)
    unproven.check("verify", "RTO (s)", 60, 99)
    drills_on_disk.write(reports, unproven)

    def pack(since: str, until: str) -> dict:
        out = tmp_path / f"pack-{since}.zip"
        result = subprocess.run([str(Path(sys.executable).parent / "drtests"), "export", "--report-dir", str(reports),
                                 "--since", since, "--until", until, "--out", str(out), "--key", str(private)],
                                capture_output=True, text=True)  # fmt: skip
        assert result.returncode == 0, result.stderr
        with zipfile.ZipFile(out) as z:
            assert "Deficiencies of the period" in z.read("summary.html").decode()
            return json.loads(z.read("summary.json"))["deficiencies"]

    first = pack("2026-03-02", "2026-03-03")
    assert first["verified"] and [(d["key"], d["status"]) for d in first["deficiencies"]] == [
        ("prod/verify/docs {index}", "closed")]  # fmt: skip
    later = pack("2026-03-03", "2026-03-05")
    assert [(d["key"], d["status"], d["severity"]) for d in later["deficiencies"]] == [
        ("prod/verify/RTO (s)", "open", "objective")]  # fmt: skip


def test_the_register_read_beside_the_safety_steps_counts_as_the_final_write_would(tmp_path: Path) -> None:
    private, _ = keys.generate(tmp_path / "keys")
    other, _ = keys.generate(tmp_path / "other")
    cfg = drills_on_disk.config(tmp_path, "prod", extra=f'[evidence]\nsigning_key_file = "{private}"\n')
    reports = tmp_path / "reports"
    written(reports, cfg, "d1", "2026-03-01T10:00:00Z", fail=True)
    record = drills_on_disk.drill(cfg, "d2", "2026-03-02T10:00:00Z")
    record.check("verify", INDEX, 10, 10)
    finish.read_register_ahead(record, reports)  # as the report phase starts it
    ahead = finish._read_ahead[record.id]
    counted, fold = ahead.result([keys.load_private(private).public_key()])
    assert [d.drill_id for d in counted] == ["d1"]
    assert [d.key for d in fold.deficiencies()] == ["prod/verify/docs {index}"]  # folded ahead too
    assert ahead.result([keys.load_private(other).public_key()]) is None  # read with another key: not used
    change = json.loads((drills_on_disk.write(reports, record) / "evidence.json").read_text())["deficiencies"]
    assert keys_of(change) == {"closed": ["prod/verify/docs {index}"]} and change["verified"]
    assert record.id not in finish._read_ahead
