"""Full drills through `drtests run` against the simulator and the real Elasticsearch node."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime

import pytest

from fixtures.pytest_lab import LAB_COMPONENTS, LAB_RELATIONS
from tests.e2e.conftest import DRTESTS, DrillLab


def failed(evidence: dict) -> dict[str, str]:
    return {f"{c['phase']}/{c['name']}": c["message"] for c in evidence["checks"] if c["verdict"] == "fail"}


def phase(evidence: dict, name: str) -> dict:
    return next(p for p in evidence["phases"] if p["name"] == name)


def assert_target_healthy(drill_lab: DrillLab, counts_before: dict[str, int]) -> None:
    """What every drill must leave behind: node running, no lock, no restore index, no closed index."""
    assert drill_lab.node_active()
    assert not (drill_lab.home / "var" / "drtests.lock").exists()
    assert drill_lab.leftover_restored() == []
    assert drill_lab.closed_indices() == []
    assert drill_lab.doc_counts() == counts_before


def test_passing_drill_proves_nothing_was_lost(drill_lab: DrillLab) -> None:
    counts = drill_lab.doc_counts()
    result = drill_lab.run()
    assert result.returncode == 0, result.stdout[-3000:]
    assert "warnings summary" not in result.stdout  # drtests' own calls warn a user of nothing
    evidence = drill_lab.evidence()
    assert evidence["verdict"] == "pass"
    assert [p["status"] for p in evidence["phases"]] == ["pass"] * 6
    topology = evidence["topology"]
    assert topology["before"]["Component"] == LAB_COMPONENTS
    assert topology["before"]["Relation"] == LAB_RELATIONS
    assert all(n > 0 for n in topology["before"].values())
    assert topology["after"] == topology["before"]
    telemetry = evidence["telemetry"]
    assert telemetry["before"] == counts and len(counts) == 16
    assert telemetry["restored"] == telemetry["at_snapshot"] == counts
    assert evidence["fingerprints"]["restored"] == evidence["fingerprints"]["at_snapshot"]
    assert 0 < evidence["rto"]["measured_s"] <= evidence["rto"]["objective_s"]
    assert 0 <= evidence["rpo"]["measured_s"] <= evidence["rpo"]["objective_s"]
    assert evidence["snapshot"]["state"] == "SUCCESS" and evidence["snapshot"]["shards"]["failed"] == 0
    assert evidence["snapshot"]["include_global_state"] is False
    assert len(evidence["artifact"]["sha256"]) == 64 and evidence["artifact"]["size"] > 0
    assert "Contains changes till" in "\n".join(evidence["restore_log"]["excerpt"])
    safety = [s["name"] for s in evidence["steps"] if s["phase"] == "safety"]
    assert any("lock" in s for s in safety) and any("restored indices removed" in s for s in safety)
    assert "verdict PASS" in result.stdout
    paths = evidence["paths"]  # the graph and telemetry paths ran side by side; each is timed
    assert all(
        paths[phase_paths][path] > 0 for phase_paths in ("backup_s", "restore_s") for path in ("graph", "telemetry")
    )
    assert "stopped for the export" in paths["consistency"]
    steps = {(s["phase"], s["name"]): s for s in evidence["steps"]}
    import_started = datetime.fromisoformat(steps["restore", "import graph"]["started"]).timestamp()
    restore_started = datetime.fromisoformat(steps["restore", "restore snapshot"]["started"]).timestamp()
    assert restore_started < import_started + steps["restore", "import graph"]["duration_s"]  # side by side
    # the copies already read go from the restore's end on, beside the last checks, never during it
    # (ES counts a shard of an index deleted while it restores as failed); the safety step the rest
    removal = steps["safety", "restored copies removed once read"]
    restore_ended = restore_started + steps["restore", "restore snapshot"]["duration_s"]
    assert datetime.fromisoformat(removal["started"]).timestamp() >= restore_ended - 0.002
    assert 0 < int(removal["command"].split()[0]) <= len(counts)
    # the proof beside the work: the restored graph is read in the restore phase, once the node answers
    # (beside the snapshot restore when that lasts longer: tests/integration/test_restored_reads.py
    # proves the copies are read as each becomes usable), not after it
    restore_phase_ended = (
        datetime.fromisoformat(steps["restore", "stop stackstate"]["started"]).timestamp()
        + (evidence["rto"]["measured_s"])
    )
    graph_read = datetime.fromisoformat(steps["verify", "count topology after the restore"]["started"]).timestamp()
    assert graph_read < restore_phase_ended
    assert (
        steps["verify", "count and fingerprint restored docs"]["command"] == "each batch of indices as it became usable"
    )
    lanes = {(b["lane"], b["name"]) for b in evidence["timeline"]["bars"]}
    assert {("graph path", "import graph"), ("telemetry path", "restore snapshot"),
            ("checks", "count and fingerprint restored docs")} <= lanes  # fmt: skip
    assert (
        "Timeline: the two paths and the checks beside them"
        in (drill_lab.reports / "latest" / "report.html").read_text()
    )
    drill_lab.assert_drill_followed_its_plan(evidence)
    assert_target_healthy(drill_lab, counts)


def test_with_parallel_paths_off_the_telemetry_path_runs_after_the_graph_path(drill_lab: DrillLab) -> None:
    counts = drill_lab.doc_counts()
    result = drill_lab.run("--set", "drill.parallel_paths=false")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "restoring snapshot drtests-" in result.stdout and "after the import (drill.parallel_paths = false)" in (
        result.stdout
    )
    evidence = drill_lab.evidence()
    assert evidence["telemetry"]["restored"] == evidence["telemetry"]["at_snapshot"] == counts
    steps = {(s["phase"], s["name"]): s for s in evidence["steps"]}
    for phase, graph, telemetry in (
        ("backup", "export graph", "snapshot"),
        ("restore", "import graph", "restore snapshot"),
    ):
        ended = datetime.fromisoformat(steps[phase, graph]["started"]).timestamp() + steps[phase, graph]["duration_s"]
        assert datetime.fromisoformat(steps[phase, telemetry]["started"]).timestamp() >= ended - 0.01, phase
    drill_lab.assert_drill_followed_its_plan(evidence, "--set", "drill.parallel_paths=false")
    assert_target_healthy(drill_lab, counts)


FAULTS = [
    # fault, extra config, the failed check (phase/name) or phase that must name it, words of its message
    ("export_fail", {}, "backup", "export exited 1"),
    ("export_truncate", {}, "restore/import exit code", "corrupt"),
    ("import_drop=0.2", {}, "verify/topology Component", "200 before, 160 after restore (-40)"),
    ("import_error_log", {}, "restore/no error lines in the import's log window", "ERROR"),
    # restores that keep every type's count: the graph proof names what came back different
    ("import_rename=40", {}, "verify/topology content Component", "(name, data)"),
    ("import_new_ids=40", {}, "verify/topology ids Component", "40 missing (40, 41, 42"),
    ("import_rewire=40", {}, "verify/topology content Relation", "(source)"),
    ("import_hang", {"import_timeout": "3"}, "restore/import ended", "did not end within 3s"),
    ("stop_ignored", {"stop_timeout": "2"}, "backup", "did not stop within 2s"),
    ("stackgraph_down", {}, "preflight", "StackGraph (stackgraph) is inactive"),
]


@pytest.mark.parametrize(("fault", "extra", "caught_by", "words"), FAULTS, ids=[f[0] for f in FAULTS])
def test_each_lab_fault_fails_the_drill_and_leaves_the_target_healthy(
    drill_lab: DrillLab, fault: str, extra: dict, caught_by: str, words: str
) -> None:
    counts = drill_lab.doc_counts()
    drill_lab.configure(**extra)
    drill_lab.fault(fault)
    result = drill_lab.run()
    drill_lab.fault()  # mend the lab
    if fault == "stackgraph_down":
        drill_lab.lab.ctl("start", "stackgraph")
    assert result.returncode == 1, result.stdout[-3000:]
    evidence = drill_lab.evidence()
    assert evidence["verdict"] == "fail"
    if "/" in caught_by:
        assert words in failed(evidence).get(caught_by, ""), failed(evidence)
    else:
        assert phase(evidence, caught_by)["status"] == "fail"
        assert words in phase(evidence, caught_by)["message"], phase(evidence, caught_by)
        assert any(name.startswith(f"{caught_by}/") for name in failed(evidence))  # a failed phase is a failed check
    later = [p for p in evidence["phases"] if p["status"] == "skipped"]
    assert all(p["message"].startswith("blocked by ") for p in later)
    assert_target_healthy(drill_lab, counts)


def test_start_fail_is_reported_and_the_restart_attempt_recorded(drill_lab: DrillLab) -> None:
    drill_lab.fault("start_fail")
    result = drill_lab.run()
    drill_lab.fault()
    assert result.returncode == 1
    evidence = drill_lab.evidence()
    assert "backup/node active again" in failed(evidence)
    assert "stackstate failed to start" in failed(evidence)["backup/node active again"]
    restart = [s for s in evidence["steps"] if s["phase"] == "safety" and "active again" in s["name"]]
    assert restart and restart[0]["outcome"] == "failed"
    assert not (drill_lab.home / "var" / "drtests.lock").exists()
    assert drill_lab.leftover_restored() == []


def test_other_paths_units_probe_and_index_names_need_no_code_change(drill_lab: DrillLab) -> None:
    """A second lab prefix and port set (the fixture's), another unit name, the API probe and
    another rename replacement: configuration only."""
    drill_lab.configure(unit='"sts-node.service"', probe_kind='"api"', rename_replacement='"verify-$1"')
    result = drill_lab.run("--keep")
    assert result.returncode == 0, result.stdout[-3000:]
    evidence = drill_lab.evidence()
    assert evidence["verdict"] == "pass"
    assert evidence["topology"]["probe"] == "api"
    restored = evidence["restore"]["indices"]
    assert restored and all(new == f"verify-{orig}" for orig, new in restored.items())
    assert drill_lab.leftover_restored() == sorted(restored.values())  # --keep kept them
    assert any(s["name"] == "start sts-node.service" for s in evidence["steps"])


def test_in_place_drill_on_a_target_not_marked_disposable_is_refused(drill_lab: DrillLab) -> None:
    drill_lab.configure(disposable="false")
    result = drill_lab.run()
    assert result.returncode == 1
    message = phase(drill_lab.evidence(), "preflight")["message"]
    assert message.startswith("this drill would overwrite the graph on local:// with the backup: mark the target")
    assert "or pass --allow-destructive" in message  # the flag of drtests run, the command that was run
    assert [s["name"] for s in drill_lab.evidence()["steps"] if s["phase"] != "safety"] == []  # nothing was done
    assert drill_lab.run("--allow-destructive").returncode == 0


def test_a_second_drill_on_the_same_target_fails_fast_naming_the_holder(drill_lab: DrillLab) -> None:
    lock = drill_lab.home / "var" / "drtests.lock"
    lock.write_text("drill=other-drill operator=alice@ops pid=4242 started=2026-01-01T00:00:00Z\n")
    result = drill_lab.run()
    assert result.returncode == 1
    message = phase(drill_lab.evidence(), "preflight")["message"]
    assert "is held by: drill=other-drill operator=alice@ops" in message
    assert lock.read_text().startswith("drill=other-drill")  # someone else's lock is never removed
    lock.unlink()


def test_plan_prints_every_step_and_touches_nothing(drill_lab: DrillLab) -> None:
    log_before = (drill_lab.home / "var/log/stackstate.log").read_text()
    result = subprocess.run([DRTESTS, "plan", "--config", str(drill_lab.config)], capture_output=True, text=True)
    assert result.returncode == 0
    for phase_name in ("preflight", "baseline", "backup", "restore", "verify", "report"):
        assert f"\n{phase_name}\n" in result.stdout
    assert "sts-standalone.sh export --file" in result.stdout
    assert (drill_lab.home / "var/log/stackstate.log").read_text() == log_before
    assert not list((drill_lab.home / "backups").iterdir())
    assert not drill_lab.reports.exists()


def test_user_checks_run_in_their_phase_and_count_in_the_verdict(drill_lab: DrillLab) -> None:
    checks = drill_lab.config.parent / "test_my_checks.py"
    checks.write_text(
        "import pytest\n\n"
        "@pytest.mark.dr_check('verify')\n"
        "def test_views_survived(dr_drill):\n"
        "    assert dr_drill.facts['topology']['after']['QueryView'] == 4\n\n"
        "@pytest.mark.dr_check('baseline')\n"
        "def test_enough_components(dr_drill):\n"
        "    assert dr_drill.facts['topology']['before']['Component'] > 10_000, 'too few components'\n\n"
        "@pytest.mark.dr_check('verify')\n"
        "def test_copies_readable(dr_drill, dr_restore_es):\n"
        "    copies = list(dr_drill.restore.telemetry.indices.values())\n"
        "    assert sum(dr_restore_es.count(index=c)['count'] for c in copies) > 0\n"
    )
    result = drill_lab.run("--", str(checks))
    assert result.returncode == 1
    position = {n: result.stdout.index(f"::{n} ") for n in ("test_baseline", "test_enough_components", "test_backup")}
    assert position["test_baseline"] < position["test_enough_components"] < position["test_backup"]
    evidence = drill_lab.evidence()
    verdicts = {c["name"]: c["verdict"] for c in evidence["checks"] if c["name"].startswith("test_")}
    assert verdicts == {"test_enough_components": "fail", "test_views_survived": "pass", "test_copies_readable": "pass"}
    # a check of the user's after the restore may read the copies: none is removed before the end
    assert not [s for s in evidence["steps"] if s["name"] == "restored copies removed once read"]
    assert "too few components" in failed(evidence)["baseline/test_enough_components"]
    assert evidence["verdict"] == "fail"


def test_user_checks_outside_the_checkout_run_under_plain_pytest(drill_lab: DrillLab) -> None:
    """The README's route for user checks, started from a folder outside this checkout: the
    checkout's own conftest.py must not reach the run (it did, and stopped it with exit 4)."""
    checks = drill_lab.add_checks(
        "import pytest\n\n"
        "@pytest.mark.dr_check('verify')\n"
        "def test_views_survived(dr_drill):\n"
        "    assert dr_drill.verify.topology['QueryView'] == 4\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--dr-config", str(drill_lab.config), checks, "-p", "no:cacheprovider",
         "--dr-report-dir", str(drill_lab.reports)],
        capture_output=True, text=True, cwd=drill_lab.config.parent, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    evidence = drill_lab.evidence()
    assert {c["name"]: c["verdict"] for c in evidence["checks"]}["test_views_survived"] == "pass"
    assert evidence["verdict"] == "pass"
