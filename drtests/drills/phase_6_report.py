"""Report: write the evidence (rewritten at session end with the safety steps' outcome)."""

from pathlib import Path

import pytest

from drtests.config import DrillConfig
from drtests.options import DrillOptions
from drtests.report.finish import read_register_ahead, write_folder
from drtests.steps import Declared, Planned

pytestmark = pytest.mark.dr_phase("report")
PHASE = "report"
EVIDENCE = Declared("output", "evidence")


def plan(cfg: DrillConfig, options: DrillOptions) -> list[Planned]:
    folder = f"{options.report_dir}/<drill-id>/"
    files = f"evidence.json, report.html and their signed statement under {folder}; latest points at it"
    return [EVIDENCE.planned(PHASE, f"{files}; rewritten after the safety steps")]


def test_report(dr_drill, dr_options, dr_say):
    folder = write_folder(dr_drill, Path(dr_options.report_dir)).folder
    dr_say(f"evidence written to {folder}")
    read_register_ahead(dr_drill, Path(dr_options.report_dir))  # beside the safety steps
