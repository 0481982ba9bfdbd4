"""The StackState 4.6 simulator behaves as the documented Linux install does."""

import gzip
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from fixtures.lab import Lab
from tests.e2e.conftest import wait_for

LOG_LINE = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \[main\] INFO  com\.stackvista\.graph\.migration\.Restore - "


def run(lab: Lab, command: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(lab.bin(command)), *args], capture_output=True, text=True, timeout=60, env=env)


def export(lab: Lab, file: Path) -> subprocess.CompletedProcess:
    return run(lab, "sts-standalone.sh", "export", "--file", str(file), "--graph", "default")


def import_(lab: Lab, file: Path, graph: str = "default", env: dict | None = None) -> subprocess.CompletedProcess:
    return run(lab, "sts-standalone.sh", "import", "--file", str(file), "--graph", graph, env=env)


def test_install_is_laid_out_as_under_opt(sts_lab: Lab) -> None:
    root = sts_lab.prefix
    for rel in (
        "stackstate/bin/sts-standalone.sh",
        "stackstate/bin/sts-backup.sh",
        "stackstate/bin/sts",
        "stackstate/var/log/stackstate.log",
        "stackstate/backups",
        "stackstate/etc",
        "stackgraph/data",
    ):
        assert (root / rel).exists(), rel


def test_export_import_round_trip_keeps_every_node(sts_lab: Lab, tmp_path: Path) -> None:
    before = sts_lab.graph_types()
    backup = tmp_path / "sts-export.graph"
    assert export(sts_lab, backup).returncode == 0
    sts_lab.seed_graph(5, 5)  # the graph changes after the backup ...
    assert sts_lab.graph_types() != before
    sts_lab.ctl("stop", "stackstate")
    result = import_(sts_lab, backup)
    assert result.returncode == 0, result.stderr
    assert sts_lab.graph_types() == before  # ... and the import replaces it with the backup's


def test_import_logs_the_documented_lines_with_real_values(sts_lab: Lab, tmp_path: Path) -> None:
    backup = tmp_path / "b.graph"
    export(sts_lab, backup)
    with gzip.open(backup, "rt") as f:
        header = json.loads(f.readline())
    sts_lab.ctl("stop", "stackstate")
    import_(sts_lab, backup)
    log = (sts_lab.prefix / "stackstate/var/log/stackstate.log").read_text()
    assert re.search(LOG_LINE + re.escape(f"Restoring graph default from {backup}.") + "$", log, re.M)
    till = header["changes_till"]
    watermark = re.search(
        LOG_LINE + r"Contains changes till (\d+) \w{3} \w{3} \d\d \d\d:\d\d:\d\d GMT \d{4}\. "
        r"With epoch Optional\[TransactionId\(id=(\d+)\)\]$",
        log,
        re.M,
    )
    assert watermark and int(watermark.group(1)) == till > 0


def test_import_refuses_while_the_node_runs(sts_lab: Lab, tmp_path: Path) -> None:
    backup = tmp_path / "b.graph"
    export(sts_lab, backup)
    sts_lab.seed_graph(3, 3)
    before = sts_lab.graph_types()
    result = import_(sts_lab, backup)
    assert result.returncode == 1
    assert "StackState node is running" in result.stderr
    assert sts_lab.graph_types() == before


def test_import_refuses_a_backup_of_another_graph(sts_lab: Lab, tmp_path: Path) -> None:
    backup = tmp_path / "b.graph"
    export(sts_lab, backup)
    sts_lab.ctl("stop", "stackstate")
    result = import_(sts_lab, backup, graph="other")
    assert result.returncode == 1 and "holds graph default, not other" in result.stderr


def test_cli_lists_types_and_ids_as_the_graph_holds_them(sts_lab: Lab) -> None:
    types = sts_lab.graph_types()
    listed = run(sts_lab, "sts", "graph", "list-types").stdout.split()
    assert sorted(listed) == sorted(types)
    ids = run(sts_lab, "sts", "graph", "list", "--ids", "Component").stdout.split()
    assert len(ids) == types["Component"] == 200


def test_backup_script_writes_a_timestamped_file_in_the_default_folder(sts_lab: Lab) -> None:
    result = run(sts_lab, "sts-backup.sh")
    assert result.returncode == 0, result.stderr
    files = list((sts_lab.prefix / "stackstate/backups").glob("sts-backup-*.graph"))
    assert len(files) == 1 and re.fullmatch(r"sts-backup-\d{8}-\d{4}\.graph", files[0].name)


def test_control_command_reports_state_like_systemctl(sts_lab: Lab) -> None:
    assert sts_lab.ctl("status", "stackstate").stdout.strip() == "stackstate: active"
    sts_lab.ctl("stop", "stackstate")
    status = sts_lab.ctl("status", "stackstate", check=False)
    assert status.returncode == 3 and status.stdout.strip() == "stackstate: inactive"
    assert sts_lab.ctl("status", "stackgraph").returncode == 0  # stopping the node leaves StackGraph up


def test_node_needs_stackgraph(sts_lab: Lab) -> None:
    sts_lab.ctl("stop", "all")
    started = sts_lab.ctl("start", "stackstate")  # starting the node starts StackGraph first
    assert started.returncode == 0
    assert sts_lab.ctl("status", "stackgraph").returncode == 0


@pytest.mark.parametrize("how", ["env", "file"])
def test_fault_export_fail(sts_lab: Lab, tmp_path: Path, how: str) -> None:
    env = inject(sts_lab, "export_fail", how)
    result = run(sts_lab, "sts-standalone.sh", "export", "--file", str(tmp_path / "x.graph"), env=env)
    assert result.returncode == 1 and "Export failed" in result.stderr
    assert not (tmp_path / "x.graph").exists()


def test_fault_export_truncate_exits_zero_with_a_broken_file(sts_lab: Lab, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.graph", tmp_path / "bad.graph"
    export(sts_lab, good)
    inject(sts_lab, "export_truncate")
    assert export(sts_lab, bad).returncode == 0
    assert 0 < bad.stat().st_size < good.stat().st_size
    sts_lab.ctl("stop", "stackstate")
    result = import_(sts_lab, bad)
    assert result.returncode == 1 and "corrupt" in result.stderr


def test_fault_import_drop_loses_nodes_and_exits_zero(sts_lab: Lab, tmp_path: Path) -> None:
    backup = tmp_path / "b.graph"
    export(sts_lab, backup)
    before = sum(sts_lab.graph_types().values())
    inject(sts_lab, "import_drop=0.2")
    sts_lab.ctl("stop", "stackstate")
    assert import_(sts_lab, backup).returncode == 0
    after = sum(sts_lab.graph_types().values())
    assert after == before - before // 5


def test_fault_import_error_log_exits_zero_but_logs_an_error(sts_lab: Lab, tmp_path: Path) -> None:
    backup = tmp_path / "b.graph"
    export(sts_lab, backup)
    inject(sts_lab, "import_error_log")
    sts_lab.ctl("stop", "stackstate")
    assert import_(sts_lab, backup).returncode == 0
    log = (sts_lab.prefix / "stackstate/var/log/stackstate.log").read_text()
    assert re.search(r" ERROR com\.stackvista\.graph\.migration\.Restore - Failed to restore \d+ vertices", log)


def test_fault_import_hang_never_ends_by_itself(sts_lab: Lab, tmp_path: Path) -> None:
    backup = tmp_path / "b.graph"
    export(sts_lab, backup)
    inject(sts_lab, "import_hang")
    sts_lab.ctl("stop", "stackstate")
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([str(sts_lab.bin("sts-standalone.sh")), "import", "--file", str(backup)], timeout=3)


def test_fault_stop_ignored_keeps_the_node_running(sts_lab: Lab) -> None:
    inject(sts_lab, "stop_ignored")
    result = sts_lab.ctl("stop", "stackstate", "--timeout", "2", check=False)
    assert result.returncode == 1 and "did not stop within 2s" in result.stderr
    assert sts_lab.ctl("status", "stackstate").returncode == 0


def test_fault_start_fail_keeps_the_node_down(sts_lab: Lab) -> None:
    sts_lab.ctl("stop", "stackstate")
    inject(sts_lab, "start_fail")
    result = sts_lab.ctl("start", "stackstate", check=False)
    assert result.returncode == 1 and "failed to start" in result.stderr
    assert sts_lab.ctl("status", "stackstate", check=False).returncode == 3
    assert "Failed to start StackState" in (sts_lab.prefix / "stackstate/var/log/stackstate.log").read_text()


def test_fault_start_slow_delays_the_node_answering(sts_lab: Lab) -> None:
    sts_lab.ctl("stop", "stackstate")
    inject(sts_lab, "start_slow=2")
    t0 = time.monotonic()
    sts_lab.ctl("start", "stackstate")
    assert time.monotonic() - t0 >= 2
    assert sts_lab.ctl("status", "stackstate").returncode == 0


def test_fault_stackgraph_down_stops_stackgraph_and_export(sts_lab: Lab, tmp_path: Path) -> None:
    inject(sts_lab, "stackgraph_down")
    sts_lab.ctl("stop", "stackstate")
    wait_for(lambda: sts_lab.ctl("status", "stackgraph", check=False).returncode == 3, "StackGraph to exit", 10)
    result = export(sts_lab, tmp_path / "x.graph")
    assert result.returncode == 1 and "StackGraph is not reachable" in result.stderr
    assert sts_lab.ctl("start", "stackgraph", check=False).returncode == 1


def inject(lab: Lab, fault: str, how: str = "file") -> dict | None:
    """Break the running lab: through the faults file (live) or DRLAB_FAULTS for one command."""
    if how == "env":
        return dict(os.environ, DRLAB_FAULTS=fault)
    (lab.prefix / "stackstate/etc/faults").write_text(fault + "\n")
    return None
