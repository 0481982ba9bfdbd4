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
    lines = [line.strip() for command in found for line in command.replace("\\\n", " ").splitlines()]
    return [line for line in lines if line.startswith("drtests ")]


def expanded(command: str, variables: dict) -> str:
    for name, value in variables.items():
        command = command.replace(f'"${name}"', shlex.quote(value)).replace(f"${name}", value)
    return command


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_every_drtests_command_in_the_ci_examples_parses(name: str) -> None:
    example = yaml.safe_load((EXAMPLES / name).read_text())
    variables = example.get("env") or example.get("variables") or {}
    found = commands(example)
    assert {c.split()[1] for c in found} >= {"run", "verify-evidence", "export", "status"}
    for command in found:
        argv = shlex.split(
            expanded(command.split(" -- ")[0].replace("$(date -u -d '400 days ago' +%F)", "2026-01-01"), variables)
        )
        parser().parse_args(argv[1:])  # exits (SystemExit) on an unknown command/option


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_the_examples_keep_evidence_between_runs_and_install_drtests_from_its_repository(name: str) -> None:
    example = yaml.safe_load((EXAMPLES / name).read_text())
    variables = example.get("env") or example.get("variables") or {}
    reports = variables["DRTESTS_REPORTS"]
    assert reports.startswith("/var/lib/")  # on the runner, outside a workspace that starts empty
    found = commands(example)
    assert all('--report-dir "$DRTESTS_REPORTS"' in c for c in found if c.split()[1] in ("run", "status", "export"))
    assert any(c.split()[1] == "status" and "--max-age" in c for c in found)
    assert all('--key "$DRTESTS_SIGNING_KEY_FILE"' in c for c in found if c.split()[1] == "export")  # signed whole
    pip = variables["DRTESTS_PIP"]
    assert pip.startswith("drtests @ git+https://") and len(pip.rsplit("@", 1)[1]) == 40  # a pinned commit
    text = (EXAMPLES / name).read_text()
    assert "pip install drtests" not in text  # the index's "drtests" is not this project


def test_the_examples_are_scheduled_and_keep_reports() -> None:
    github = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    schedules = [s["cron"] for s in github[True]["schedule"]]  # YAML 1.1 reads the key `on` as True
    assert len(schedules) == 2 and set(github["jobs"]) == {"drill", "status"}
    steps = github["jobs"]["drill"]["steps"]
    assert any("dr-evidence.zip" in s.get("with", {}).get("path", "") for s in steps)
    gitlab = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())
    assert 'CI_PIPELINE_SOURCE == "schedule"' in gitlab["dr-drill"]["rules"][0]["if"]
    assert gitlab["dr-drill"]["artifacts"]["paths"] == ["dr-evidence.zip"] and "dr-status" in gitlab
