"""The plugin's hooks and options, run in-process with pytester: no lab needed. The target is
this machine (local://) with service commands that say StackGraph is down, so preflight fails
the way it does on a real install and every later phase is blocked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drtests.config import load
from drtests.options import DrillOptions
from drtests.plan import render

CONFIG = """
[drill]
name = "unit"

[target]
url = "local://"
name = "unit-target"
disposable = true
lock_file = "{tmp}/drtests.lock"

[stackstate]
home = "{tmp}"

[service]
backend = "command"
start_command = "true"
stop_command = "true"
status_command = "true"
stackgraph_status_command = "false"

[elasticsearch]
enabled = false
"""

CHECKS = """
import pytest

@pytest.mark.dr_check("baseline")
def test_mine_in_baseline(dr_drill):
    pass

@pytest.mark.dr_check("preflight")
def test_mine_in_preflight(dr_drill):
    assert dr_drill.preflight.target_host, "no hostname recorded"
"""


@pytest.fixture
def drill_config(pytester: pytest.Pytester) -> Path:
    path = pytester.path / "drill.toml"
    path.write_text(CONFIG.format(tmp=pytester.path))
    return path


def test_a_user_check_runs_right_after_the_phase_it_names(pytester: pytest.Pytester, drill_config: Path) -> None:
    pytester.makepyfile(test_checks=CHECKS)
    result = pytester.runpytest("--dr-config", str(drill_config), "-v", "-p", "no:cacheprovider")
    order = [line.split("::")[1].split(" ")[0] for line in result.outlines if "::test_" in line and "%]" in line]
    assert order == ["test_preflight", "test_mine_in_preflight", "test_baseline", "test_mine_in_baseline",
                     "test_backup", "test_restore", "test_verify", "test_report"]  # fmt: skip
    result.assert_outcomes(passed=3, failed=1, skipped=4)  # the user's checks run even when their phase skips
    skipped = [line for line in result.outlines if "SKIPPED (blocked by preflight" in line]
    assert len(skipped) == 4


def test_a_dr_check_naming_no_phase_is_a_usage_error(pytester: pytest.Pytester, drill_config: Path) -> None:
    pytester.makepyfile(test_checks="import pytest\n\n@pytest.mark.dr_check('later')\ndef test_x():\n    pass\n")
    result = pytester.runpytest("--dr-config", str(drill_config), "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # raised from collection: pytest's usage error exit
    result.stderr.fnmatch_lines(["*dr_check phase 'later' is not one of preflight, baseline, backup, restore, *"])


def test_the_option_wins_over_the_ini_key(pytester: pytest.Pytester, drill_config: Path) -> None:
    pytester.makeini(f"[pytest]\ndr_config = {drill_config}\ndr_report_dir = from-ini\n")
    pytester.runpytest("-p", "no:cacheprovider")
    assert (pytester.path / "from-ini" / "latest" / "evidence.json").exists()  # the ini key alone
    pytester.runpytest("-p", "no:cacheprovider", "--dr-report-dir", "from-option")
    evidence = json.loads((pytester.path / "from-option" / "latest" / "evidence.json").read_text())
    assert evidence["target_name"] == "unit-target" and evidence["verdict"] == "fail"


def test_the_summary_names_the_failure_and_the_gate_line_the_rollback_point(
    pytester: pytest.Pytester, drill_config: Path
) -> None:
    result = pytester.runpytest("--dr-config", str(drill_config), "--dr-gate", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([
        "*drtests*",
        "drill *-unit-unit-target-* (unit-target): verdict FAIL",
        "  FAILED preflight/StackState version known (gate): the pre-upgrade gate compares StackState versions: *",
        "  phase preflight failed: the pre-upgrade gate compares StackState versions: *",
        "  report: */report.html",
        "GATE FAIL stackstate=unknown rto=n/a artifact=n/a sha256=n/a snapshot=n/a target=unit-target drill=*",
        "  evidence: */evidence.json",
    ])  # fmt: skip


def test_without_a_drill_config_the_drill_fixtures_skip(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(dr_drill):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no drill config: pass --dr-config*"])


def test_plan_shows_the_isolated_steps_and_what_blocks_an_in_place_drill(tmp_path: Path) -> None:
    path = tmp_path / "d.toml"
    path.write_text('[drill]\nmode = "isolated"\n[isolated]\nimage = "lab:1"\n')
    isolated = "\n".join(render(load(path), DrillOptions(keep=True)))
    assert "start restore host: a disposable container from lab:1" in isolated and "kept (--dr-keep)" in isolated
    assert "copy backup file to restore host: into /tmp" in isolated
    assert "destructive steps allowed" not in isolated  # an isolated drill overwrites nothing on the target
    path.write_text("")
    in_place = "\n".join(render(load(path), DrillOptions()))
    assert "(it is neither: the drill would stop here)" in in_place
    assert "start restore host" not in in_place


def test_messages_name_the_flags_of_the_command_that_was_run(pytester: pytest.Pytester, drill_config: Path) -> None:
    (pytester.path / "drtests.lock").write_text("drill=d-1 operator=ci@other-runner pid=4242 started=x\n")
    result = pytester.runpytest("--dr-config", str(drill_config), "--dr-set", "service.stackgraph_status_command=true",
                                "-p", "no:cacheprovider")  # fmt: skip
    result.stdout.fnmatch_lines(["*if you know that drill is dead, run with --dr-recover --dr-recover-drill d-1 *"])
    plan = "\n".join(render(load(drill_config), DrillOptions(command="drtests")))
    assert "refuse unless the target is disposable or --allow-destructive is given" in plan


@pytest.mark.parametrize("command", ["run", "gate"])
def test_run_help_lists_the_exit_codes(command: str) -> None:
    from drtests.cli import parser

    text = parser()._subparsers._group_actions[0].choices[command].format_help()
    assert "exit codes:" in text and "3  an infrastructure error" in text
