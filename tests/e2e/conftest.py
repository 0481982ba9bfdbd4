"""End-to-end harness: a fresh simulator and its own index set on the session's real ES node,
a drill config written for them, and `drtests run` as a user runs it (a subprocess)."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from drtests.errors import WaitTimeout
from drtests.record.evidence import validate
from drtests.waiting import wait_until
from fixtures.data import generate
from fixtures.lab import Lab

DRTESTS = str(Path(sys.executable).parent / "drtests")
_labs = itertools.count()


@dataclass
class DrillRunner:
    """A drill config and its report folder, run with `drtests run` as a user runs it."""

    config: Path
    reports: Path

    def command(self, *args: str) -> list[str]:
        return [DRTESTS, "run", "--config", str(self.config), "--report-dir", str(self.reports), *args]

    def run(self, *args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(*args), capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=self.config.parent)  # fmt: skip

    def start(self, *args: str, background_job: bool = False) -> subprocess.Popen:
        """`drtests run` in the background, to interrupt it; `background_job`: started as cron or
        `nohup ... &` start it, with SIGINT ignored."""
        preexec = ignore_sigint if background_job else None
        return subprocess.Popen(self.command(*args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                cwd=self.config.parent, preexec_fn=preexec)  # fmt: skip

    def plan(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([DRTESTS, "plan", "--config", str(self.config), *args], capture_output=True, text=True,
                              timeout=60, cwd=self.config.parent)  # fmt: skip

    def assert_drill_followed_its_plan(self, evidence: dict, *args: str) -> None:
        """`drtests plan` with the same config names the drill's recorded steps, in order, and
        every check it recorded (a "<each ...>" check: one per type or index)."""
        result = self.plan(*args)
        assert result.returncode == 0, result.stderr
        planned_steps = re.findall(r"^ +\d+\. (.+?)(?:: .*)?$", result.stdout, re.MULTILINE)
        planned_checks = re.findall(r"^ +check (.+?)(?:: .*)?$", result.stdout, re.MULTILINE)
        done = [s["name"] for s in evidence["steps"] if s["phase"] != "safety" and not s["name"].startswith("recover")]
        assert done == planned_steps
        checked = {c["name"] for c in evidence["checks"]}
        for name in planned_checks:
            prefix = name.split("<each ")[0]
            if prefix == "full " and not (evidence.get("full_verification") or {}).get("indices"):
                continue  # this drill's share held no index (a lab of 8 indices, full_verify 1/7): none to check
            assert name in checked or (prefix != name and any(c.startswith(prefix) for c in checked)), name

    def evidence(self) -> dict:
        """The newest drill's evidence; every read also checks it against the shipped schema."""
        evidence = json.loads((self.reports / "latest" / "evidence.json").read_text())
        validate(evidence)
        return evidence


@dataclass
class DrillLab(DrillRunner):
    lab: Lab = None
    es: Elasticsearch = None
    es_url: str = ""
    repo_root: Path = None
    index_prefix: str = ""

    @property
    def home(self) -> Path:
        return self.lab.prefix / "stackstate"

    def configure(self, **extra: str) -> Path:
        """(Re)write the drill config; `extra` as in lab_config."""
        self.config.write_text(lab_config(self.lab, self.es_url, self.repo_root, self.index_prefix, **extra))
        return self.config

    def add_checks(self, source: str) -> str:
        """A user check file (dr_check markers) next to the config; pass it to run() after '--'."""
        path = self.config.parent / "test_injected.py"
        path.write_text(source)
        return str(path)

    def target_commands(self) -> list[str]:
        return lab_commands(self.lab)

    def log_text(self) -> str:
        return (self.home / "var/log/stackstate.log").read_text()

    def fault(self, *faults: str) -> None:
        (self.home / "etc" / "faults").write_text("".join(f + "\n" for f in faults))

    def doc_counts(self) -> dict[str, int]:
        self.es.indices.refresh(index=f"{self.index_prefix}*")
        return {i: self.es.count(index=i)["count"] for i in self.es.indices.get(index=f"{self.index_prefix}*")}

    def leftover_restored(self) -> list[str]:
        """Copies of this lab's indices under another name (whatever the rename replacement)."""
        found = self.es.indices.get(index=f"*{self.index_prefix}*", allow_no_indices=True, expand_wildcards="all")
        return sorted(name for name in found if not name.startswith(self.index_prefix))

    def closed_indices(self) -> list[str]:
        rows = self.es.cat.indices(format="json", expand_wildcards="all")
        return sorted(r["index"] for r in rows if r["status"] != "open")

    def node_active(self) -> bool:
        return self.lab.ctl("status", "stackstate", check=False).returncode == 0


def wait_for(condition, what: str, timeout: float = 60) -> None:
    """The tests' one wait: `condition` polled every 0.1 s until true, or the test fails naming `what`."""
    try:
        wait_until(condition, timeout, f"timed out waiting for {what}", interval=0.1)
    except WaitTimeout as exc:
        raise AssertionError(str(exc)) from None


def ignore_sigint() -> None:
    """What a shell does to a job it starts with `&` (and cron to its jobs): SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def lab_commands(lab: Lab) -> list[str]:
    """Export/import processes of a lab still running on the target (this machine)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "stslab.standalone" in cmdline and str(lab.prefix) in cmdline:
            found.append(cmdline)
    return found


def lab_config(lab: Lab, es_url: str, repo: Path, index_prefix: str, **extra: str) -> str:
    """A drill config for one test lab; `extra` replaces whole lines 'key = value' by key."""
    home = lab.prefix / "stackstate"
    values = {
        "import_timeout": "60", "export_timeout": "60", "service_timeout": "20", "stop_timeout": "10",
        "disposable": "true", "rename_replacement": '"drtests-restored-$1"', "probe_kind": '"api"',
        "api_all_path": '"/api/nodes"',
        "unit": '"stackstate"', "repository": "e2e-repo", "repository_location": "default", "restore": '"rename"',
    } | extra  # fmt: skip
    location = (
        repo / values["repository"] if values["repository_location"] == "default" else values["repository_location"]
    )
    return f"""
[drill]
name = "e2e"

[target]
url = "local://"
owner = "{os.environ.get("USER") or subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()}"
disposable = {values["disposable"]}
min_free_mb = 10

[stackstate]
home = "{home}"
import_timeout = {values["import_timeout"]}
export_timeout = {values["export_timeout"]}

[service]
backend = "command"
unit = {values["unit"]}
stackgraph_unit = "stackgraph"
start_command = "{{home}}/bin/stackstate-ctl start stackstate --timeout 10"
stop_command = "{{home}}/bin/stackstate-ctl stop stackstate --timeout {values["stop_timeout"]}"
status_command = "{{home}}/bin/stackstate-ctl status stackstate"
stackgraph_status_command = "{{home}}/bin/stackstate-ctl status stackgraph"
timeout = {values["service_timeout"]}

[probe]
kind = {values["probe_kind"]}
api_url = "http://127.0.0.1:{lab.settings()["api_port"]}"
api_all_path = {values["api_all_path"]}

[elasticsearch]
url = "{es_url}"
indices = "{index_prefix}*"
repository = "{values["repository"]}"
repository_location = "{location}"
restore = {values["restore"]}
rename_replacement = {values["rename_replacement"]}
timeout = 60

[isolated]
api_url = "http://127.0.0.1:7070"  # the lab image's node (this lab's own port is free-picked)

[objectives]
rto_seconds = 300
rpo_seconds = 3600
"""


@pytest.fixture
def drill_lab(sts_lab: Lab, es_url: str, es: Elasticsearch, es_repo_root: Path, tmp_path: Path) -> DrillLab:
    prefix = f"e2e{next(_labs)}_{os.getpid()}_"
    generate.seed_telemetry(es_url, docs=480, days=2, index_prefix=prefix)
    drill_lab = DrillLab(tmp_path / "drill.toml", tmp_path / "reports", sts_lab, es, es_url, es_repo_root, prefix)
    drill_lab.configure()
    yield drill_lab
    # an interrupted or killed drill's snapshot may still run in the cluster (it finishes on its
    # own); indices being snapshotted cannot be deleted
    wait_until(lambda: not es.snapshot.status()["snapshots"], 120, "snapshots still running after 120 s")
    es.indices.delete(index=f"*{prefix}*", ignore_unavailable=True)
