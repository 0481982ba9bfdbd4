"""Starting the node again: "node active again" is read after the start's wait, on the host, by
real commands (a unit that reads active and then dies fails it)."""

from __future__ import annotations

from pathlib import Path

from drtests.config import load
from drtests.hosts.host import TargetHost
from drtests.hosts.service import CommandService
from drtests.record.drill import Drill
from drtests.steps import restart_node


def test_a_node_that_reads_active_and_then_dies_fails_node_active_again(tmp_path: Path) -> None:
    (tmp_path / "d.toml").write_text("[service]\ntimeout = 5\n")
    cfg = load(tmp_path / "d.toml")
    drill = Drill(cfg, target="local://")
    reads = tmp_path / "status-reads"
    # active for the start's wait (its first read), gone on the read after it: a process that died
    status = f"echo x >> {reads}; test $(wc -l < {reads}) -le 1"
    service = CommandService(TargetHost("local://"), "stackstate", "true", "true", status)
    restart_node("backup", drill, service, cfg, lambda _: None, was_active=True)
    check = next(c for c in drill.checks if c.name == "node active again")
    assert (check.expected, check.actual, check.verdict) == ("active", "inactive", "fail")
    assert reads.read_text().count("x") == 2  # the wait's read and the check's own


def test_a_node_that_stays_active_passes_node_active_again(tmp_path: Path) -> None:
    (tmp_path / "d.toml").write_text("[service]\ntimeout = 5\n")
    cfg = load(tmp_path / "d.toml")
    drill = Drill(cfg, target="local://")
    service = CommandService(TargetHost("local://"), "stackstate", "true", "true", "true")
    restart_node("backup", drill, service, cfg, lambda _: None, was_active=True)
    assert [(c.name, c.verdict) for c in drill.checks] == [("node active again", "pass")]
