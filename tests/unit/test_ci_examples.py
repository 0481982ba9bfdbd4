"""The CI examples call only drtests commands and options that exist, and keep the evidence."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from drtests.cli import parser

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ci"


def commands(example: dict) -> list[str]:
    found = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("run", "script", "after_script", "before_script"):
                    found.extend([value] if isinstance(value, str) else value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(example)
    return [line for command in found for line in command.splitlines() if line.strip().startswith("drtests ")]


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_every_drtests_command_in_the_ci_examples_parses(name: str) -> None:
    example = yaml.safe_load((EXAMPLES / name).read_text())
    found = commands(example)
    assert {c.split()[1] for c in found} >= {"run", "verify-evidence"}
    for command in found:
        parser().parse_args(shlex.split(command)[1:])  # exits (SystemExit) on an unknown command/option


def test_the_examples_are_scheduled_and_keep_reports() -> None:
    github = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    assert github[True]["schedule"][0]["cron"]  # YAML 1.1 reads the key `on` as True
    steps = github["jobs"]["drill"]["steps"]
    assert any(s.get("with", {}).get("path") == "reports/" for s in steps)
    gitlab = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())["dr-drill"]
    assert 'CI_PIPELINE_SOURCE == "schedule"' in gitlab["rules"][0]["if"]
    assert gitlab["artifacts"]["paths"] == ["reports/"] and gitlab["artifacts"]["when"] == "always"
