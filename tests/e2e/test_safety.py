"""A drill never leaves the target worse than it found it: interruption, kill -9, leftovers."""

from __future__ import annotations

import json
import signal

import pytest

from tests.e2e.conftest import DrillLab, wait_for
from tests.e2e.test_drill import assert_target_healthy, phase

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
    # the snapshot of an interrupted backup is deleted (one still running is aborted); a backup
    # that passed keeps its snapshot (retention prunes it later)
    snapshot = f"drtests-{evidence['drill_id']}".lower()
    found = drill_lab.es.snapshot.get(repository="e2e-repo", snapshot=snapshot, ignore_unavailable=True)
    assert [s["snapshot"] for s in found["snapshots"]] == ([] if moment == "export" else [snapshot])


def test_after_kill_9_the_next_drill_finds_the_leftovers_and_recovers_only_when_told(drill_lab: DrillLab) -> None:
    drill_lab.fault("export_slow=120")
    drill = drill_lab.start()
    wait_for(lambda: drill_lab.target_commands() and not drill_lab.node_active(), "the export to run, node stopped")
    drill.kill()
    drill.communicate(timeout=30)
    lock = drill_lab.home / "var" / "drtests.lock"
    assert lock.exists() and not drill_lab.node_active()
    assert drill_lab.target_commands()  # the dead drill's export writes on, as after a lost controller

    refused = drill_lab.run()  # refused in preflight: it exports nothing
    drill_lab.fault()  # only now: the orphaned export may still be starting, and must read its fault
    assert refused.returncode == 1
    message = phase(drill_lab.evidence(), "preflight")["message"]
    assert "found what an earlier drill left" in message
    assert "its process is gone" in message and "the node is inactive" in message
    assert "an export or import of drill " in message and "still runs on the target (pid " in message
    assert "Run again with --recover to" in message  # the flag of drtests run, the command that was run
    assert lock.exists() and not drill_lab.node_active() and drill_lab.target_commands()  # told nothing: unchanged

    recovered = drill_lab.run("--recover")
    assert recovered.returncode == 0, recovered.stdout[-3000:]
    evidence = drill_lab.evidence()
    assert evidence["verdict"] == "pass"
    recover_steps = [s["name"] for s in evidence["steps"] if s["name"].startswith("recover")]
    assert [name.split(":")[1].split()[0] for name in recover_steps] == ["take", "end", "start"], recover_steps
    assert drill_lab.node_active() and not lock.exists() and drill_lab.target_commands() == []
    assert not list((drill_lab.home / "var").glob("drtests-*.pid"))  # its pid file cleaned up


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


def test_a_node_started_during_the_export_fails_the_backup(drill_lab: DrillLab) -> None:
    """Something (another drill's safety step, an operator) starts the node while the export runs:
    the backup is not consistent, and the drill must say so instead of passing."""
    counts = drill_lab.doc_counts()
    drill_lab.fault("export_slow=4")
    drill = drill_lab.start()
    wait_for(lambda: drill_lab.target_commands() and not drill_lab.node_active(), "the export to run, node stopped")
    drill_lab.lab.ctl("start", "stackstate")
    output, _ = drill.communicate(timeout=120)
    drill_lab.fault()
    assert drill.returncode == 1, output[-3000:]
    evidence = drill_lab.evidence()
    message = phase(evidence, "backup")["message"]
    assert message.startswith("stackstate was active during the export (sampled every 1s)"), message
    assert_target_healthy(drill_lab, counts)


def test_two_drills_started_together_on_one_install(drill_lab: DrillLab) -> None:
    """Two real drtests processes race for one lab: the loser changes nothing (it registered no
    step to start the node), the winner's export runs with the node stopped throughout."""
    counts = drill_lab.doc_counts()
    drill_lab.fault("export_slow=3")
    drills = [drill_lab.start(), drill_lab.start()]
    outputs = [d.communicate(timeout=180)[0] for d in drills]
    drill_lab.fault()
    codes = sorted(d.returncode for d in drills)
    assert codes == [0, 1], "\n=====\n".join(o[-2000:] for o in outputs)
    loser = outputs[[d.returncode for d in drills].index(1)]
    assert "is held by: drill=" in loser or "was taken by: drill=" in loser, loser[-2000:]
    assert "starting stackstate" not in loser and "safety: stackstate active again" not in loser
    evidence = [json.loads(p.read_text()) for p in drill_lab.reports.glob("*/evidence.json")]
    winner = next(e for e in evidence if e["verdict"] == "pass")
    assert {c["name"]: c["actual"] for c in winner["checks"]}["node stopped for the whole export"] == ["inactive"]
    assert_target_healthy(drill_lab, counts)


def test_recover_refuses_a_lock_of_a_drill_not_known_to_be_dead(drill_lab: DrillLab) -> None:
    """A lock of another runner: its process cannot be seen from here. --recover leaves it (and the
    node) alone; naming that drill's id is the operator's word that it is dead."""
    lock = drill_lab.home / "var" / "drtests.lock"
    lock.write_text("drill=other-drill operator=ci@other-runner pid=4242 started=2026-01-01T00:00:00Z\n")
    drill_lab.lab.ctl("stop", "stackstate")
    refused = drill_lab.run("--recover")
    assert refused.returncode == 1
    message = phase(drill_lab.evidence(), "preflight")["message"]
    assert "is held by: drill=other-drill operator=ci@other-runner" in message
    assert "run with --recover --recover-drill other-drill" in message
    assert lock.exists() and not drill_lab.node_active()  # nothing changed under that drill
    recovered = drill_lab.run("--recover", "--recover-drill", "other-drill")
    assert recovered.returncode == 0, recovered.stdout[-3000:]
    assert drill_lab.node_active() and not lock.exists()


def test_recover_deletes_only_indices_a_drill_recorded(drill_lab: DrillLab) -> None:
    """A user's own index named like a restored copy is not a leftover: recovery deletes only the
    names in a drill's ledger, and the restore refuses to overwrite the user's index."""
    es, live = drill_lab.es, sorted(drill_lab.doc_counts())[0]
    own = f"drtests-restored-{live}"
    es.index(index=own, document={"mine": True}, refresh=True)
    try:
        result = drill_lab.run("--recover")
        assert result.returncode == 1
        evidence = drill_lab.evidence()
        message = phase(evidence, "preflight")["message"]
        assert message.startswith(f"index {own} already exists under the name a restored copy would take"), message
        assert "leftovers" not in {c["name"] for c in evidence["checks"]}  # not reported as a leftover
        assert not [s for s in evidence["steps"] if s["name"].startswith("recover")]
        assert es.count(index=own)["count"] == 1  # never deleted
        assert drill_lab.node_active() and not (drill_lab.home / "var" / "drtests.lock").exists()
    finally:
        es.indices.delete(index=own, ignore_unavailable=True)


def test_a_stop_that_fails_after_the_restore_began_leaves_no_copy(drill_lab: DrillLab, tmp_path) -> None:
    """Renamed copies are restored from the restore phase's first moment, beside the node's stop
    (the node never reads them). A stop that fails there, once the restore wrote its ledger (its
    request goes out then), fails the phase with the stop's words; the restore beside it is
    ended, its copies deleted and its ledger removed, and the node, never stopped, runs on."""
    counts, ledger = drill_lab.doc_counts(), drill_lab.home / "var" / "drtests.lock.restored"
    stop, stopped = tmp_path / "stop", tmp_path / "stopped-once"
    stop.write_text(f"""#!/bin/sh
if [ -e {stopped} ]; then  # the restore phase's stop: refused once the restore's ledger is there
  i=0; while [ ! -e {ledger} ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
  echo "stop refused: the restore's ledger is there: $(test -e {ledger} && echo yes)" >&2; exit 3
fi
touch {stopped}
exec {drill_lab.home}/bin/stackstate-ctl stop stackstate --timeout 10
""")
    stop.chmod(0o755)
    result = drill_lab.run("--set", f"service.stop_command={stop}")
    assert result.returncode == 1, result.stdout[-3000:]
    evidence = drill_lab.evidence()
    message = phase(evidence, "restore")["message"]
    assert "stackstate did not become inactive" in message and "the restore's ledger is there: yes" in message, message
    removed = [s for s in evidence["steps"] if s["phase"] == "safety" and s["name"].startswith("restored indices")]
    assert [s["outcome"] for s in removed] == ["done"], removed  # the restore had begun: its removal ran
    assert "write the restore ledger" in {s["name"] for s in evidence["steps"]}  # the record shows it began
    assert not ledger.exists()
    assert_target_healthy(drill_lab, counts)
