"""Existing-backup drills on the lab: the install's own sts-backup.sh file and nightly snapshot,
verified from a disposable host while production runs on, untouched."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from fixtures import nightly
from fixtures.pytest_lab import LAB_COMPONENTS, LAB_RELATIONS
from tests.e2e.conftest import DRTESTS, DrillLab, wait_for
from tests.e2e.test_containers import drtests_containers


def backup_folder(lab: DrillLab) -> Path:
    return lab.home / "backups"


def make_nightly(lab: DrillLab, snapshot_indices: str = "", repository: str = "e2e-repo") -> tuple[Path, str]:
    """The lab's nightly jobs: sts-backup.sh with the node stopped, a snapshot named like a nightly one."""

    def run(command: str) -> None:
        subprocess.run(command, shell=True, check=True, capture_output=True)

    ctl = lab.lab.bin("stackstate-ctl")
    nightly.graph_backup(run, str(lab.home), f"{ctl} stop stackstate --timeout 10", f"{ctl} start stackstate")
    indices, name = snapshot_indices or f"{lab.index_prefix}*", f"nightly-{lab.index_prefix.strip('_')}"
    name = nightly.snapshot(lab.es_url, repository, str(lab.repo_root / repository), indices, name=name)
    (backup,) = sorted(backup_folder(lab).glob("sts-backup-*.graph"))
    return backup, name


def existing(lab: DrillLab, lab_image: str, *extra: str) -> tuple[str, ...]:
    return ("--set", "drill.mode=existing", "--set", f"isolated.image={lab_image}", *extra)


def production(lab: DrillLab) -> dict:
    """What an existing-backup drill must leave as it was: the graph, the backup folder, the node."""
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in backup_folder(lab).iterdir() if p.is_file()}
    return {"graph": lab.lab.graph_types(), "backups": files, "node_active": lab.node_active()}


def record_backup(lab: DrillLab, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DRTESTS, "record-backup", "--config", str(lab.config), *args], capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def failed_checks(lab: DrillLab) -> dict[str, str]:
    return {c["name"]: c["message"] for c in lab.evidence()["checks"] if c["verdict"] == "fail"}


def phase_message(lab: DrillLab, phase: str) -> str:
    return next(p for p in lab.evidence()["phases"] if p["name"] == phase)["message"]


def test_the_nightly_backup_is_verified_while_production_runs_untouched(drill_lab: DrillLab, lab_image: str) -> None:
    backup, snapshot = make_nightly(drill_lab)
    recorded = record_backup(drill_lab)
    assert recorded.returncode == 0, recorded.stderr
    assert f"recorded {backup}.facts.json" in recorded.stdout
    before = production(drill_lab)
    drill = drill_lab.start(*existing(drill_lab, lab_image))
    states = set()
    while drill.poll() is None:  # the node's state through the whole drill
        states.add(drill_lab.node_active())
    output = drill.stdout.read()
    assert drill.returncode == 0, output[-3000:]
    assert states == {True}
    assert production(drill_lab) == before  # graph, backup folder (and facts file) unchanged
    evidence = drill_lab.evidence()
    assert evidence["verdict"] == "pass" and evidence["mode"] == "existing"
    assert evidence["existing"]["backup_file"]["picked"] == str(backup)
    assert evidence["existing"]["snapshot"]["picked"] == snapshot
    assert evidence["existing"]["recorded"]["sha256"] == evidence["artifact"]["sha256"]
    rules = evidence["existing"]["index_rules"]
    today = time.strftime("%Y.%m.%d", time.gmtime())
    assert {rule for index, rule in rules.items() if not index.endswith(today)} == {"exact (a past day)"}
    assert not any(s["phase"] == "backup" and s["name"].startswith(("stop", "export")) for s in evidence["steps"])
    assert "Restoring graph" not in drill_lab.log_text()  # nothing was imported into production
    assert drill_lab.leftover_restored() == [] and drtests_containers() == []
    drill_lab.assert_drill_followed_its_plan(evidence, *existing(drill_lab, lab_image))


def test_without_backup_time_facts_the_topology_is_compared_with_live_within_the_tolerance(
    drill_lab: DrillLab, lab_image: str
) -> None:
    make_nightly(drill_lab)
    result = drill_lab.run(*existing(drill_lab, lab_image, "--set", "existing.topology_tolerance=0"))
    assert result.returncode == 0, result.stdout[-3000:]
    evidence = drill_lab.evidence()
    assert evidence["existing"]["recorded"] is None
    assert set(evidence["existing"]["topology_drift"].values()) == {0.0}
    assert evidence["topology"]["after"] == evidence["topology"]["before"]


def test_facts_whose_counts_differ_from_the_restore_fail_the_verify(drill_lab: DrillLab, lab_image: str) -> None:
    backup, _ = make_nightly(drill_lab)
    assert record_backup(drill_lab).returncode == 0
    facts_file = Path(f"{backup}.facts.json")
    facts = json.loads(facts_file.read_text())
    recorded = facts["topology"]["Component"]
    facts["topology"]["Component"] = recorded + 7  # the backup held 7 more than the restore brings back
    facts_file.write_text(json.dumps(facts))
    before = production(drill_lab)
    result = drill_lab.run(*existing(drill_lab, lab_image))
    assert result.returncode == 1
    message = failed_checks(drill_lab)["topology Component"]
    assert message.startswith(f"topology type Component: {recorded + 7} at backup time (recorded by drtests "
                              "record-backup ")  # fmt: skip
    assert message.endswith(f"{recorded} restored (-7)")
    assert production(drill_lab) == before and drtests_containers() == [] and drill_lab.leftover_restored() == []


def test_a_truncated_nightly_backup_fails_the_restore(drill_lab: DrillLab, lab_image: str) -> None:
    drill_lab.fault("export_truncate")  # sts-backup.sh writes half the file and exits 0
    make_nightly(drill_lab)
    drill_lab.fault()
    before = production(drill_lab)
    result = drill_lab.run(*existing(drill_lab, lab_image))
    assert result.returncode == 1
    failed = failed_checks(drill_lab)
    assert failed["import exit code"].startswith("import exited 1 on docker://drtests-"), failed
    assert production(drill_lab) == before and drtests_containers() == [] and drill_lab.leftover_restored() == []


def zero_bytes(backup: Path) -> None:
    backup.write_bytes(b"")


def rotted(backup: Path) -> None:
    with backup.open("r+b") as f:  # one byte changed at rest, after record-backup hashed it
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 0xFF]))


def two_days_old(backup: Path) -> None:
    old = time.time() - 2 * 86400
    os.utime(backup, (old, old))


def dangling(backup: Path) -> None:
    moved = backup.with_name("moved-away")
    backup.rename(moved)
    backup.symlink_to(backup.parent / "offsite" / backup.name)


def gone(backup: Path) -> None:
    backup.unlink()


@pytest.mark.parametrize(
    ("fault", "check", "message"),
    [
        (zero_bytes, "backup file non-empty", "the backup {backup} is empty (0 bytes): the backup job wrote nothing"),
        (rotted, "backup sha256 as recorded at backup time", "the backup {backup} changed since it was written: "),
        (two_days_old, "newest backup within the RPO objective", "the newest backup {backup} was written 17280"),
        (dangling, "backup phase completed", "cannot read {backup} on local://: "),
        (gone, "backup phase completed", "no backup to verify: no file named sts-backup-*.graph in {folder} (is the "
         "nightly sts-backup.sh running? set existing.backup_pattern or existing.backup_file)"),
    ],
    ids=["zero-byte", "rotted-at-rest", "older-than-rpo", "unreadable", "none"],
)  # fmt: skip
def test_a_bad_nightly_backup_fails_before_any_restore(drill_lab: DrillLab, lab_image: str, fault, check: str,
                                                       message: str) -> None:  # fmt: skip
    backup, _ = make_nightly(drill_lab)
    assert record_backup(drill_lab).returncode == 0
    fault(backup)
    before = production(drill_lab)
    result = drill_lab.run(*existing(drill_lab, lab_image))
    assert result.returncode == 1
    failed = failed_checks(drill_lab)
    expected = message.format(backup=backup, folder=backup_folder(drill_lab))
    assert failed[check].startswith(expected), failed
    assert phase_message(drill_lab, "restore") == f"blocked by backup: {phase_message(drill_lab, 'backup')}"
    assert production(drill_lab) == before and drtests_containers() == []


def test_a_snapshot_that_lacks_an_index_group_fails_the_backup_phase(drill_lab: DrillLab, lab_image: str) -> None:
    lacking = f"{drill_lab.index_prefix}*,-{drill_lab.index_prefix}metrics-*"
    _, snapshot = make_nightly(drill_lab, snapshot_indices=lacking)
    before = production(drill_lab)
    result = drill_lab.run(*existing(drill_lab, lab_image))
    assert result.returncode == 1
    message = failed_checks(drill_lab)["snapshot holds every index"]
    assert message.startswith(f"snapshot {snapshot} lacks 2 live index(es) that existed when it started: "
                              f"{drill_lab.index_prefix}metrics-"), message  # fmt: skip
    assert production(drill_lab) == before and drill_lab.leftover_restored() == []


def test_a_backup_of_another_graph_fails_the_topology_comparison(drill_lab: DrillLab, lab_image: str) -> None:
    drill_lab.lab.seed_graph(50, 60)  # the nightly backup is taken of a different, smaller graph ...
    make_nightly(drill_lab)
    drill_lab.lab.seed_graph(LAB_COMPONENTS, LAB_RELATIONS)  # ... than the one production runs
    before = production(drill_lab)
    result = drill_lab.run(*existing(drill_lab, lab_image))
    assert result.returncode == 1
    message = failed_checks(drill_lab)["topology Component"]
    assert message.startswith(f"topology type Component: {LAB_COMPONENTS} live, 50 restored (-75.0%, tolerance 10%"), (
        message
    )
    assert production(drill_lab) == before and drtests_containers() == [] and drill_lab.leftover_restored() == []


def test_a_nightly_snapshot_with_a_corrupted_blob_fails_the_restore(drill_lab: DrillLab, lab_image: str) -> None:
    repository = f"nightly-{drill_lab.index_prefix.strip('_')}"
    drill_lab.configure(repository=repository)
    make_nightly(drill_lab, repository=repository)
    for blob in (drill_lab.repo_root / repository / "indices").rglob("__*"):  # data blobs rotted at rest
        blob.write_bytes(blob.read_bytes()[: blob.stat().st_size // 2])
    before = production(drill_lab)
    result = drill_lab.run(*existing(drill_lab, lab_image))
    assert result.returncode == 1
    message = phase_message(drill_lab, "restore")
    assert message.startswith(f"restore of snapshot {repository}/nightly-"), message
    assert production(drill_lab) == before and drtests_containers() == [] and drill_lab.leftover_restored() == []


def test_the_gate_verifies_the_nightly_backup_as_the_rollback_point(drill_lab: DrillLab, lab_image: str) -> None:
    backup, snapshot = make_nightly(drill_lab)
    version = ("--set", "stackstate.version_command={home}/bin/sts version")
    result = subprocess.run([DRTESTS, "gate", "--config", str(drill_lab.config), "--report-dir",
                             str(drill_lab.reports), *existing(drill_lab, lab_image), *version],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    evidence = drill_lab.evidence()
    assert evidence["mode"] == "existing" and evidence["gate"] is True
    line = next(x for x in result.stdout.splitlines() if x.startswith("GATE "))
    assert f"artifact={backup} sha256={evidence['artifact']['sha256']}" in line
    assert f"snapshot=e2e-repo/{snapshot}" in line


def test_record_backup_of_a_missing_file_says_so_and_writes_nothing(drill_lab: DrillLab) -> None:
    missing = backup_folder(drill_lab) / "sts-backup-20990101-0000.graph"
    result = record_backup(drill_lab, "--file", str(missing))
    assert result.returncode == 3
    assert result.stderr.startswith("drtests: error: ")
    assert f"cannot read {missing} on local://: " in result.stderr and "Traceback" not in result.stderr
    assert list(backup_folder(drill_lab).iterdir()) == []
    nothing = record_backup(drill_lab)  # no backup at all: the same error as a drill's
    assert nothing.returncode == 3 and "no backup to verify: no file named sts-backup-*.graph" in nothing.stderr


def test_nightly_snapshots_that_stopped_succeeding_fail_the_drill_on_the_telemetry_rpo(
    drill_lab: DrillLab, lab_image: str
) -> None:
    """The newest nightly snapshot ended PARTIAL and the newest SUCCESS one is older than the RPO
    objective: the graph file is fresh, but the telemetry side is not, so the drill fails naming
    both snapshots, and the evidence records each store's age."""
    backup, good = make_nightly(drill_lab)
    red = f"{drill_lab.index_prefix}red-2026.01.01"
    es = drill_lab.es
    es.indices.create(index=red, settings={"number_of_replicas": 0,
                      "index.routing.allocation.require._name": "no-such-node"}, wait_for_active_shards=0)  # fmt: skip
    try:
        wait_for(lambda: time.time() - es.snapshot.get(repository="e2e-repo", snapshot=good)["snapshots"][0]
                 ["end_time_in_millis"] / 1000 > 6, f"the snapshot {good} to be 6 s old", timeout=30)  # fmt: skip
        partial = es.snapshot.create(repository="e2e-repo", snapshot=f"{good}-partial", wait_for_completion=True,
                                     body={"indices": f"{drill_lab.index_prefix}*", "partial": True,
                                           "include_global_state": False})["snapshot"]  # fmt: skip
        assert partial["state"] == "PARTIAL"
        es.indices.delete(index=red)  # the cluster green again: only the snapshot stays PARTIAL
        ahead = time.time() + 120
        os.utime(backup, (ahead, ahead))  # a graph backup written just now: the graph side is within the objective
        before = production(drill_lab)
        result = drill_lab.run(*existing(drill_lab, lab_image, "--set", "objectives.rpo_seconds=5"))
        assert result.returncode == 1, result.stdout[-3000:]
        message = failed_checks(drill_lab)["newest good snapshot within the RPO objective"]
        assert message.startswith(f"the snapshots have stopped succeeding: the newest, {good}-partial, ended PARTIAL, "
                                  f"and the newest SUCCESS one, {good}, ended "), message  # fmt: skip
        assert message.endswith("more than the RPO objective (5s): the nightly snapshot has stopped, or "
                                "objectives.rpo_seconds is wrong")  # fmt: skip
        ages = drill_lab.evidence()["existing"]["age_s"]
        assert ages["snapshot"] > 5 and ages["backup_file"] <= 5
        assert production(drill_lab) == before and drill_lab.leftover_restored() == []
    finally:
        es.indices.delete(index=red, ignore_unavailable=True)


def test_indices_still_written_are_compared_on_what_the_snapshot_held(drill_lab: DrillLab, lab_image: str) -> None:
    """An index written since the snapshot (today's, or one without a day) used to pass with
    restored <= live, so an empty copy passed. Now its copy must hold documents, as many as the live
    index wrote up to the copy's newest (_seq_no), and the same ones: an empty copy fails, and so
    does a document of the snapshot's time changed live since (the copy no longer matches)."""
    undated = f"{drill_lab.index_prefix}sts_state"
    drill_lab.es.indices.create(index=undated)  # empty at snapshot time
    today = next(i for i in sorted(drill_lab.doc_counts()) if i.endswith(time.strftime("%Y.%m.%d", time.gmtime())))
    make_nightly(drill_lab)
    drill_lab.es.index(index=undated, id="later", document={"value": 1}, refresh=True)
    old = drill_lab.es.search(index=today, size=1, sort=[{"_seq_no": "asc"}])["hits"]["hits"][0]
    drill_lab.es.index(index=today, id=old["_id"], document={**old["_source"], "value": -1}, refresh=True)
    result = drill_lab.run(*existing(drill_lab, lab_image))
    assert result.returncode == 1, result.stdout[-3000:]
    evidence = drill_lab.evidence()
    copies = evidence["restore"]["indices"]
    assert evidence["existing"]["index_rules"][undated] == evidence["existing"]["index_rules"][today]
    n = drill_lab.es.count(index=today)["count"]
    assert failed_checks(drill_lab) == {
        f"docs {undated}": f"index {undated} (still written): restored {copies[undated]} holds no document: an empty "
        "copy proves nothing (a snapshot of an index being written holds what it had so far)",
        f"docs {today}": f"index {today} (still written): {n - 1} docs live up to the snapshot's newest (_seq_no <= "
        f"{n - 1}), {n} in restored {copies[today]} (+1)",
        f"fingerprint {today}": f"index {today} (still written): the documents it held at snapshot time (_seq_no <= "
        f"{n - 1}) differ between the live index and restored {copies[today]}",
    }


@pytest.mark.parametrize("mode", ["isolated", "existing"])
def test_a_restored_graph_rewritten_with_its_counts_kept_fails_verify_naming_each_change(
    drill_lab: DrillLab, lab_image: str, mode: str
) -> None:
    """The graph proof away from production (in place: tests/e2e/test_graph_proof.py)."""
    from tests.e2e.test_graph_proof import assert_rewrite_fails_verify

    if mode == "existing":
        make_nightly(drill_lab)
    assert_rewrite_fails_verify(drill_lab, "--set", f"drill.mode={mode}", "--set", f"isolated.image={lab_image}")
