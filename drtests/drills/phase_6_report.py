"""Report: write the evidence (rewritten at session end with the safety steps' outcome)."""

import json
from pathlib import Path

import pytest

from drtests.report.evidence import write_evidence

pytestmark = pytest.mark.dr_phase("report")


def test_report(dr_drill, dr_options, dr_say):
    folder = write_evidence(dr_drill, Path(str(dr_options["report_dir"])))
    evidence = json.loads((folder / "evidence.json").read_text())
    assert evidence["drill_id"] == dr_drill.id
    assert (folder / "report.html").stat().st_size > 0
    dr_say(f"evidence written to {folder}")
