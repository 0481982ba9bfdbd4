"""A drill never leaves the target worse than it found it: interruption, kill -9, leftovers."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable

import pytest

from tests.e2e.conftest import DrillLab
from tests.e2e.test_drill import assert_target_healthy, phase


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


MOMENTS = {
    # moment: (fault that holds the drill there, the phase interrupted)
    "export": ("export_slow=120", "backup"),
    "import": ("import_hang", "restore"),
}


SIGNALS = {
    # how the drill was started and interrupted: (signal, started as a background job with SIGINT ignored)
    "SIGINT": (signal.SIGINT, False),
    "SIGTERM": (signal.SIGTERM, False),
    "SIGINT-from-a-background-job": (signal.SIGINT, True),
}


@pytest.mark.parametrize("how", list(SIGNALS))
@pytest.mark.parametrize("moment", list(MOMENTS))
def test_an_interrupted_drill_starts_the_node_again_and_releases_the_lock(
    drill_lab: DrillLab, moment: str, how: str
) -> None:
    counts = drill_lab.doc_counts()
    fault, interrupted_phase = MOMENTS[moment]
    sig, background_job = SIGNALS[how]
    drill_lab.fault(fault)
    log_size = len(drill_lab.log_text())
    drill = drill_lab.start(background_job=background_job)
    wait_for(lambda: drill_lab.target_commands() and not drill_lab.node_active(), f"the {moment} to run, node stopped")
    if moment == "import":
        wait_for(lambda: "Restoring graph" in drill_lab.log_text()[log_size:], "the import's first log line")
    drill.send_signal(sig)
    output, _ = drill.communicate(timeout=90)
    drill_lab.fault()
    assert drill.returncode == 1, output[-3000:]
    assert drill_lab.target_commands() == []  # the export/import was ended on the target too
    evidence = drill_lab.evidence()
    assert evidence["verdict"] == "fail"
    assert phase(evidence, interrupted_phase)["message"].startswith("interrupted")
    assert_target_healthy(drill_lab, counts)


def test_after_kill_9_the_next_drill_finds_the_leftovers_and_recovers_only_when_told(drill_lab: DrillLab) -> None:
    drill_lab.fault("export_slow=120")
    drill = drill_lab.start()
    wait_for(lambda: drill_lab.target_commands() and not drill_lab.node_active(), "the export to run, node stopped")
    drill.kill()
    drill.communicate(timeout=30)
    for cmdline in drill_lab.target_commands():  # the orphaned export, as after a lost controller
        subprocess.run(["pkill", "-f", cmdline.split(" --file ")[1].split()[0]], check=False)
    drill_lab.fault()
    lock = drill_lab.home / "var" / "drtests.lock"
    assert lock.exists() and not drill_lab.node_active()

    refused = drill_lab.run()
    assert refused.returncode == 1
    message = phase(drill_lab.evidence(), "preflight")["message"]
    assert "found what an earlier drill left" in message
    assert "its process is gone" in message and "the node is inactive" in message
    assert "--dr-recover" in message
    assert lock.exists() and not drill_lab.node_active()  # told nothing, it changed nothing

    recovered = drill_lab.run("--recover")
    assert recovered.returncode == 0, recovered.stdout[-3000:]
    evidence = drill_lab.evidence()
    assert evidence["verdict"] == "pass"
    assert [s["name"].split(":")[0] for s in evidence["steps"] if s["name"].startswith("recover")] == ["recover"] * 2
    assert drill_lab.node_active() and not lock.exists()


def test_kept_restore_indices_block_the_next_drill_until_recover(drill_lab: DrillLab) -> None:
    assert drill_lab.run("--keep").returncode == 0
    kept = drill_lab.leftover_restored()
    assert kept
    refused = drill_lab.run()
    assert refused.returncode == 1
    assert f"{len(kept)} restore indices of an earlier drill" in phase(drill_lab.evidence(), "preflight")["message"]
    assert drill_lab.leftover_restored() == kept
    assert drill_lab.run("--recover").returncode == 0
    assert drill_lab.leftover_restored() == []
