"""Cadence: a control declared `every = "7d"` has a finding for each stretch longer than that
without a validly signed passing drill of the target; in controls (markdown, JSON, OSCAL
validated by NIST's model) and in the pack. Pure rules on Proofs, then real drill folders."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from trestle.oscal.assessment_results import Model

from drtests.evidence.cadence import Proof, gaps
from drtests.record.clock import parse_utc
from drtests.sign import keys
from tests.unit import drills_on_disk

DRTESTS = str(Path(sys.executable).parent / "drtests")
WEEK = 7 * 86400.0


def proof(day: int, held: bool = True, target: str = "prod", every: float | None = WEEK) -> Proof:
    return Proof(day, f"d{day}-{target}", target, parse_utc(f"2026-03-{day:02d}T00:00:00Z"), frozenset({"DORA:Art.12"}),
                 held, {"DORA:Art.12": every} if every else {})  # fmt: skip


def at(day: int, month: int = 3) -> datetime:
    return parse_utc(f"2026-{month:02d}-{day:02d}T00:00:00Z")


def test_a_stretch_longer_than_every_without_a_held_drill_is_a_finding_and_one_within_it_is_not() -> None:
    found = gaps([proof(1), proof(6), proof(10, held=False), proof(20), proof(25)], at(1), at(2, 4), at(9, 4))
    assert [(f.at, f.drill_id, f.line) for f in found] == [("2026-03-20T00:00:00Z", "d20-prod", 20),
                                                           ("2026-04-02T00:00:00Z", "", 0)]  # fmt: skip
    assert gaps([proof(1), proof(8)], at(1), None, at(15)) == []  # exactly 7 days is within it
    assert found[0].text == ("no validly signed passing drill proved DORA:Art.12 on prod between 2026-03-06 00:00 and "
                             "2026-03-20 00:00 UTC (14.0 days; it must be proven every 7d)")  # fmt: skip
    assert {(f.kind, f.control, f.where) for f in found} == {("cadence", "DORA:Art.12", "cadence")}


def test_a_target_never_proven_has_one_gap_from_its_first_drill() -> None:
    (found,) = gaps([proof(1, held=False), proof(9, held=False)], at(1), None, at(20))
    assert "between 2026-03-01 00:00 and 2026-03-20 00:00 UTC (19.0 days" in found.text


def test_only_gaps_that_overlap_the_period_count_and_the_newest_drill_declares_the_cadence() -> None:
    drills = [proof(1), proof(20), proof(22)]
    assert [f.drill_id for f in gaps(drills, at(1), None, at(23))] == ["d20-prod"]
    assert gaps(drills, at(21), None, at(23)) == []  # the gap ended before the period
    assert gaps(drills, at(1), at(5), at(23)) == []  # ... or begins after it
    assert gaps([proof(1), proof(20), proof(22, every=None)], at(1), None, at(23)) == []  # no longer declared


def test_each_target_has_its_own_cadence() -> None:
    found = gaps([proof(1, target="prod"), proof(2, target="edge"), proof(5, target="edge")], at(1), None, at(13))
    assert sorted((f.target, f.text.split(" UTC ")[1]) for f in found) == [
        ("edge", "(8.0 days; it must be proven every 7d)"),
        ("prod", "(12.0 days; it must be proven every 7d)"),
    ]


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    """prod declares DORA:Art.12 every 7d: d1 passes, d2 fails, d3 passes (a 14-day gap), d4 unsigned."""
    keys.generate(tmp_path / "keys")
    extra = f'[evidence]\ncontrols = ["DORA:Art.12"]\nevery = ["DORA:Art.12=7d"]\nsigning_key_file = ' \
            f'"{tmp_path / "keys" / "drtests.key"}"\n'  # fmt: skip
    prod = drills_on_disk.config(tmp_path, "prod", "isolated", extra)
    folder = tmp_path / "reports"
    drills_on_disk.write(folder, drills_on_disk.drill(prod, "d1-prod", "2026-03-01T00:00:00Z"))
    drills_on_disk.write(folder, drills_on_disk.drill(prod, "d2-prod", "2026-03-08T00:00:00Z", "fail"))
    drills_on_disk.write(folder, drills_on_disk.drill(prod, "d3-prod", "2026-03-15T00:00:00Z"))
    return folder


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DRTESTS, *args], capture_output=True, text=True)


def test_controls_names_the_gap_in_markdown_json_and_oscal(reports: Path) -> None:
    key = str(reports.parent / "keys" / "drtests.pub")
    common = ["controls", "--report-dir", str(reports), "--since", "2026-03-01", "--until", "2026-03-16",
              "--public-key", key]  # fmt: skip
    markdown = run(*common)
    assert markdown.returncode == 0, markdown.stderr
    assert (
        "- **cadence** (2026-03-15T00:00:00Z): no validly signed passing drill proved DORA:Art.12 on prod between "
        "2026-03-01 00:00 and 2026-03-15 00:00 UTC (14.0 days; it must be proven every 7d)"
    ) in markdown.stdout
    (finding,) = json.loads(run(*common, "--format", "json").stdout)["findings"]
    assert (finding["kind"], finding["control"], finding["drill_id"]) == ("cadence", "DORA:Art.12", "d3-prod")
    document = json.loads(run(*common, "--format", "oscal").stdout)
    Model.model_validate(document)
    (outcome,) = document["assessment-results"]["results"]
    (gap,) = [o for o in outcome["observations"] if o["types"] == ["finding"]]
    assert gap["title"] == "DORA:Art.12 not proven on prod as often as declared"
    (control,) = outcome["findings"]
    assert control["target"]["status"]["state"] == "not-satisfied"  # d2 failed, and the gap
    assert {"observation-uuid": gap["uuid"]} in control["related-observations"]
    (risk,) = outcome["risks"]  # the deficiency d2 opened (d3 did not pass its index again), as in the POA&M
    assert (risk["title"], risk["status"]) == ("docs {index} on prod", "open")
    assert control["related-risks"] == [{"risk-uuid": risk["uuid"]}]
    later = json.loads(run(*common[:4], "2026-03-15", "--until", "2026-03-20", *common[7:], "--format", "json").stdout)
    assert later["findings"] == [] and later["controls"]["DORA:Art.12"][0]["satisfied"]


def test_without_a_public_key_the_gap_says_no_signature_was_checked(reports: Path) -> None:
    found = json.loads(run("controls", "--report-dir", str(reports), "--since", "2026-03-01", "--until", "2026-03-16",
                           "--format", "json").stdout)["findings"]  # fmt: skip
    assert len(found) == 1 and "no public key was given, so no drill's signature was checked" in found[0]["text"]
    assert "between 2026-03-01 00:00 and 2026-03-16 00:00 UTC" in found[0]["text"]  # nothing held: all one gap


def test_the_pack_summary_holds_the_gap(reports: Path, tmp_path: Path) -> None:
    out = tmp_path / "pack.zip"
    result = run("export", "--report-dir", str(reports), "--since", "2026-03-01", "--until", "2026-03-16", "--out",
                 str(out), "--key", str(reports.parent / "keys" / "drtests.key"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out) as pack:
        summary = json.loads(pack.read("summary.json"))
        page = pack.read("summary.html").decode()
    (finding,) = summary["findings"]
    assert finding["kind"] == "cadence" and finding["where"] == "cadence"
    assert "<b>cadence</b> (2026-03-15T00:00:00Z): no validly signed passing drill proved DORA:Art.12" in page
