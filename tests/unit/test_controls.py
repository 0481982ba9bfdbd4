"""`drtests controls`: each control, with the period's drills that are evidence for it, from real
drill folders and their ledger; its OSCAL output validated by NIST's models (compliance-trestle)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from trestle.oscal.assessment_results import Model

from drtests.sign import keys
from tests.unit import drills_on_disk

DRTESTS = str(Path(sys.executable).parent / "drtests")
CONTROLS = '[objectives]\nrto_seconds = 60\n[evidence]\ncontrols = ["ISO27001-2022:A.8.13", "SOC2:A1.3"]\n'


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    keys.generate(tmp_path / "keys")
    signed = f'{CONTROLS}signing_key_file = "{tmp_path / "keys" / "drtests.key"}"\n'
    folder = tmp_path / "reports"
    prod = drills_on_disk.config(tmp_path, "prod", "isolated", signed)
    drills_on_disk.write(folder, drills_on_disk.drill(prod, "d1-prod", "2026-03-01T00:00:00Z"))
    drills_on_disk.write(folder, drills_on_disk.drill(prod, "d2-prod", "2026-03-08T00:00:00Z", "fail"))
    drills_on_disk.write(folder, drills_on_disk.drill(prod, "d3-prod", "2026-03-15T00:00:00Z", rto_s=9999))
    unsigned = drills_on_disk.config(tmp_path, "edge", "isolated", '[evidence]\ncontrols = ["SOC2:A1.3"]\n')
    drills_on_disk.write(folder, drills_on_disk.drill(unsigned, "d4-edge", "2026-03-20T00:00:00Z"))
    drills_on_disk.write(folder, drills_on_disk.drill(prod, "d5-prod", "2026-05-01T00:00:00Z"))  # after the period
    return folder


def controls(reports: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DRTESTS, "controls", "--report-dir", str(reports), "--since", "2026-03-01", "--until",
                           "2026-04-01", "--public-key", str(reports.parent / "keys" / "drtests.pub"), *args],
                          capture_output=True, text=True)  # fmt: skip


def test_each_control_lists_the_periods_drills_with_verdict_objectives_and_signature(reports: Path) -> None:
    result = controls(reports, "--format", "json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)["controls"]
    assert list(found) == ["ISO27001-2022:A.8.13", "SOC2:A1.3"]
    iso = {r["drill_id"]: r for r in found["ISO27001-2022:A.8.13"]}
    assert list(iso) == ["d1-prod", "d2-prod", "d3-prod"]  # d5 is after the period, d4 names only SOC2
    assert iso["d1-prod"]["satisfied"] and iso["d1-prod"]["signature"].startswith("valid (SHA256:")
    assert (iso["d2-prod"]["verdict"], iso["d2-prod"]["satisfied"]) == ("fail", False)
    assert (iso["d3-prod"]["rto_met"], iso["d3-prod"]["satisfied"]) == (False, False)
    edge = next(r for r in found["SOC2:A1.3"] if r["drill_id"] == "d4-edge")
    assert (edge["signature"], edge["signature_valid"], edge["satisfied"]) == ("UNSIGNED", False, False)
    markdown = controls(reports).stdout
    assert "## SOC2:A1.3" in markdown and "4 drill(s), 1 satisfied" in markdown and "| UNSIGNED |" in markdown


def test_without_the_public_key_no_signature_counts(reports: Path) -> None:
    result = subprocess.run([DRTESTS, "controls", "--report-dir", str(reports), "--since", "2026-03-01", "--format",
                             "json"], capture_output=True, text=True)  # fmt: skip
    rows = json.loads(result.stdout)["controls"]["SOC2:A1.3"]
    assert not any(r["signature_valid"] for r in rows) and "not checked: give --public-key" in rows[0]["signature"]


def test_the_oscal_output_is_valid_assessment_results(reports: Path) -> None:
    result = controls(reports, "--format", "oscal")
    assert result.returncode == 0, result.stderr
    assert "warning: no deficiency risks in the output: " in result.stderr  # d4-edge is unsigned: said, not fatal
    document = json.loads(result.stdout)
    Model.model_validate(document)  # NIST OSCAL's assessment-results model: raises on any invalid field
    (outcome,) = document["assessment-results"]["results"]
    states = {f["title"]: f["target"]["status"]["state"] for f in outcome["findings"]}
    assert states == {"ISO27001-2022:A.8.13": "not-satisfied", "SOC2:A1.3": "not-satisfied"}
    assert len(outcome["observations"]) == 4
    broken = json.loads(result.stdout)
    broken["assessment-results"]["results"][0]["findings"][0]["target"]["status"]["state"] = "fine"
    with pytest.raises(ValueError):
        Model.model_validate(broken)  # the model does reject what is not OSCAL


def test_a_broken_ledger_refuses_the_matrix(reports: Path) -> None:
    lines = (reports / "ledger.jsonl").read_text().splitlines()
    (reports / "ledger.jsonl").write_text("\n".join(lines[1:]) + "\n")
    result = controls(reports)
    assert result.returncode == 1 and "ledger.jsonl line 1: does not follow the line before it" in result.stderr


def test_a_lost_ledger_head_is_a_finding_in_every_format_and_the_oscal_stays_valid(tmp_path: Path) -> None:
    """A drill that went on from an older copy of the report folder (--ledger-lost) is named as a
    finding of the period: in markdown, JSON and OSCAL (an observation of type finding, related to
    the controls its target's drills serve), validated by NIST's model."""
    keys.generate(tmp_path / "keys")
    cfg = drills_on_disk.config(tmp_path, "prod", "isolated",
                                f'{CONTROLS}signing_key_file = "{tmp_path / "keys" / "drtests.key"}"\n')  # fmt: skip
    reports = tmp_path / "reports"
    drills_on_disk.write(reports, drills_on_disk.drill(cfg, "d1-prod", "2026-03-01T00:00:00Z"))
    went_on = drills_on_disk.drill(cfg, "d2-prod", "2026-03-08T00:00:00Z")
    went_on.preflight.ledger_lost = {"ledger": "ab" * 32, "seq": 4, "sha256": "cd" * 32, "drill": "d0-prod",
                                     "reason": "the runner's disk died"}  # fmt: skip
    drills_on_disk.write(reports, went_on)
    markdown = controls(reports).stdout
    assert "## Findings" in markdown and "**ledger line 2** (2026-03-08T00:00:00Z): prod: drill d2-prod went on" in (
        markdown
    )
    assert "the ledger's line 5 (drill d0-prod, sha256 cdcdcdcdcdcdcdcd...) is lost: the runner's disk died" in markdown
    (finding,) = json.loads(controls(reports, "--format", "json").stdout)["findings"]
    assert (finding["line"], finding["drill_id"], finding["target"]) == (2, "d2-prod", "prod")
    document = json.loads(controls(reports, "--format", "oscal").stdout)
    Model.model_validate(document)
    (outcome,) = document["assessment-results"]["results"]
    (gap,) = [o for o in outcome["observations"] if o["types"] == ["finding"]]
    assert "the runner's disk died" in gap["description"]
    assert all({"observation-uuid": gap["uuid"]} in f["related-observations"] for f in outcome["findings"])
    outside = subprocess.run([DRTESTS, "controls", "--report-dir", str(reports), "--since", "2026-03-09",
                              "--format", "json"], capture_output=True, text=True)  # fmt: skip
    assert json.loads(outside.stdout)["findings"] == []  # a finding of another period is not this one's
