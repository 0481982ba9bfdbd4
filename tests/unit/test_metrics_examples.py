"""The shipped alerting rules and dashboard use only series drtests exports, and promtool accepts
the rules."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from drtests.report.metrics import NAMES

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def series_in(expr: str) -> set[str]:
    return set(re.findall(r"\bdrtests_[a-z_]+", expr))


def test_the_rules_pass_promtool_and_name_only_exported_series() -> None:
    rules = EXAMPLES / "prometheus" / "drtests.rules.yml"
    checked = subprocess.run([shutil.which("promtool") or "promtool", "check", "rules", str(rules)],
                             capture_output=True, text=True)  # fmt: skip
    assert checked.returncode == 0 and "SUCCESS: 6 rules found" in checked.stdout, checked.stdout + checked.stderr
    exprs = [r["expr"] for group in yaml.safe_load(rules.read_text())["groups"] for r in group["rules"]]
    used = set().union(*map(series_in, exprs))
    assert used and used <= set(NAMES), used - set(NAMES)


def test_the_dashboard_queries_only_exported_series() -> None:
    dashboard = json.loads((EXAMPLES / "grafana" / "drtests.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = set().union(*map(series_in, exprs))
    assert len(used) >= 8 and used <= set(NAMES), used - set(NAMES)
