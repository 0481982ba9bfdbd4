"""Fleets: one run drills several installs, in parallel with pytest-xdist; each drill has its own
lock, safety steps and evidence, and a fault in one install does not touch the others."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from drtests.record.evidence import validate
from fixtures.data import generate
from fixtures.lab import Lab
from tests.e2e.conftest import DRTESTS, ignore_sigint, lab_commands, lab_config, wait_for

NAMES = ("alpha", "beta", "gamma")


@dataclass
class Member:
    name: str
    lab: Lab
    index_prefix: str
    components: int

    @property
    def home(self) -> Path:
        return self.lab.prefix / "stackstate"


@pytest.fixture
def fleet(tmp_path: Path, es_url: str, es: Elasticsearch, es_repo_root: Path):
    """Three simulators (own prefixes, own graph sizes) and three index sets on the one ES node,
    described by one config: shared sections plus a [[fleet]] entry per install."""
    members = []
    for number, name in enumerate(NAMES, 1):
        lab = Lab(tmp_path / f"lab-{name}")
        lab.install(heartbeat_seconds=0.5)
        lab.start_stackstate()
        lab.seed_graph(50 * number, 100 * number)  # graph sizes differ: each drill must count its own
        prefix = f"fleet{name}_{os.getpid()}_"
        generate.seed_telemetry(es_url, docs=120 * number, days=2, index_prefix=prefix)
        members.append(Member(name, lab, prefix, 50 * number))
    shared = lab_config(members[0].lab, es_url, es_repo_root, members[0].index_prefix)
    entries = "".join(
        f"""
[[fleet]]
target.name = "{m.name}"
stackstate.home = "{m.home}"
probe.api_url = "http://127.0.0.1:{m.lab.settings()["api_port"]}"
elasticsearch.indices = "{m.index_prefix}*"
"""
        for m in members
    )
    config = tmp_path / "fleet.toml"
    config.write_text(shared + entries)
    yield config, members
    for member in members:
        member.lab.down()
        es.indices.delete(index=f"*{member.index_prefix}*", ignore_unavailable=True)


def fleet_command(config: Path, *pytest_args: str) -> list[str]:
    return [DRTESTS, "run", "--config", str(config), "--report-dir", str(config.parent / "reports"), "--",
            *pytest_args]  # fmt: skip


def run_fleet(config: Path, *pytest_args: str) -> subprocess.CompletedProcess:
    return subprocess.run(fleet_command(config, *pytest_args), capture_output=True, text=True, timeout=600,
                          cwd=config.parent)  # fmt: skip


def exports_running(member: Member) -> bool:
    return bool(lab_commands(member.lab))


def evidence_by_target(reports: Path) -> dict[str, dict]:
    found = {}
    for path in reports.glob("*/evidence.json"):
        evidence = json.loads(path.read_text())
        validate(evidence)
        found[evidence["target_name"]] = evidence
    return found


def assert_left_healthy(member: Member) -> None:
    assert member.lab.ctl("status", "stackstate", check=False).returncode == 0, f"{member.name}: node not active"
    assert not (member.home / "var/drtests.lock").exists(), f"{member.name}: drill lock left behind"


def test_three_targets_drilled_in_parallel_each_with_its_own_evidence(fleet, es: Elasticsearch) -> None:
    config, members = fleet
    result = run_fleet(config, "-n", "3")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "fleet: alpha PASS, beta PASS, gamma PASS" in result.stdout
    for name in NAMES:  # workers' progress reaches the user, on stderr, named by install
        assert f"] {name}: preflight passed" in result.stderr, result.stderr[-2000:]
    evidence = evidence_by_target(config.parent / "reports")
    assert sorted(evidence) == list(NAMES)
    for member in members:
        own = evidence[member.name]
        text = json.dumps(own)
        assert own["verdict"] == "pass"
        assert str(member.home) in text and member.index_prefix in text and member.name in own["drill_id"]
        for other in members:
            if other is not member:  # the evidence of a drill names only its own install
                assert str(other.home) not in text and other.index_prefix not in text
                assert other.name not in own["drill_id"]
        assert own["topology"]["before"]["Component"] == own["topology"]["after"]["Component"] == member.components
        assert set(own["telemetry"]["at_snapshot"]) == {i for i in es.indices.get(index=f"{member.index_prefix}*")}, (
            "the drill counted exactly its own indices"
        )
        assert_left_healthy(member)
    # the drills overlapped in time: they ran in parallel, not one after the other
    spans = [(datetime.fromisoformat(e["started"]), datetime.fromisoformat(e["ended"])) for e in evidence.values()]
    assert max(start for start, _ in spans) < min(end for _, end in spans), spans
    index = (config.parent / "reports" / "index.html").read_text()
    for member in members:
        assert f'data-target="{member.name}"' in index
    history = [json.loads(x) for x in (config.parent / "reports" / "history.jsonl").read_text().splitlines()]
    assert sorted(h["target_name"] for h in history) == list(NAMES)


def test_a_fault_in_one_target_fails_only_its_drill(fleet) -> None:
    """Two workers for three targets (one worker drills two, one after the other); beta's export
    fails: beta's drill fails with the export's message, alpha and gamma pass, all left healthy."""
    config, members = fleet
    (members[1].home / "etc" / "faults").write_text("export_fail\n")
    result = run_fleet(config, "-n", "2")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    assert "fleet: alpha PASS, beta FAIL, gamma PASS" in result.stdout
    evidence = evidence_by_target(config.parent / "reports")
    failed = [p for p in evidence["beta"]["phases"] if p["status"] == "fail"]
    assert [p["name"] for p in failed] == ["backup"]
    assert "export exited 1" in failed[0]["message"], failed[0]["message"]
    for member in members:
        assert_left_healthy(member)


def test_sigterm_to_a_parallel_fleet_runs_every_installs_safety_steps(fleet) -> None:
    """CI cancels the job: SIGTERM reaches the xdist controller only. Every install's export is
    ended on the target, every node is active again, every lock released, every drill recorded,
    though the nodes take 8 s to come up (xdist alone gives a worker 10 s, after 5 s of waiting).
    Started as a CI script's background job: SIGINT arrives ignored, in the workers too."""
    config, members = fleet
    for member in members:
        (member.home / "etc" / "faults").write_text("export_slow=120\nstart_slow=8\n")
    run = subprocess.Popen(fleet_command(config, "-n", "3"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, cwd=config.parent, preexec_fn=ignore_sigint)  # fmt: skip

    def exports_started() -> bool:
        assert run.poll() is None, "the fleet ended before the three exports started"
        return all(exports_running(m) for m in members)

    wait_for(exports_started, "the three exports to start", timeout=120)
    run.send_signal(signal.SIGTERM)
    out, err = run.communicate(timeout=300)
    assert run.returncode != 0
    evidence = evidence_by_target(config.parent / "reports")
    assert sorted(evidence) == list(NAMES), out[-2000:] + err[-2000:]
    for member in members:
        assert not exports_running(member), f"{member.name}: the export still runs on the target"
        assert_left_healthy(member)
        backup = next(p for p in evidence[member.name]["phases"] if p["name"] == "backup")
        assert backup["status"] == "fail" and backup["message"].startswith("interrupted"), backup
