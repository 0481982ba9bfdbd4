"""A drill acts only on what it can prove is its own: hostile and stale state on the real lab
(the lab's Elasticsearch node and StackState simulator), each refused with a precise message and
the target left as it was found."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tomllib
from pathlib import Path

from elasticsearch import helpers

from fixtures.data import generate
from tests.e2e import signing
from tests.e2e.conftest import DRTESTS, DrillLab, wait_for
from tests.e2e.test_drill import assert_target_healthy, phase
from tests.e2e.test_es_faults import RED_INDEX
from tests.integration.test_source_views import open_contexts


def test_recover_never_deletes_a_live_index_a_ledger_line_does_not_prove(drill_lab: DrillLab) -> None:
    """A restore-ledger line without a cluster uuid (the format before it was recorded, or an
    edited ledger), or with this cluster's uuid but without the rename prefix, names an index the
    ledger does not prove a drill made here: --recover names it and never deletes it."""
    es, ledger = drill_lab.es, drill_lab.home / "var" / "drtests.lock.restored"
    live = sorted(drill_lab.doc_counts())[0]
    docs = es.count(index=live)["count"]
    uuid = es.info()["cluster_uuid"]
    for text in (f"{live}\n", f"{live}\t{uuid}\n"):
        ledger.write_text(text)
        result = drill_lab.run("--recover")
        assert result.returncode == 1, result.stdout[-2000:]
        message = phase(drill_lab.evidence(), "preflight")["message"]
        assert message == (
            f"the restore ledger {ledger} names {live}, which it does not prove a drill restored into this cluster "
            "(a line without the cluster's uuid, or a name without the restore's rename prefix: a live index's "
            "name; with a signing key, a line it did not sign); drtests never deletes them: check them, delete by "
            f"hand what is a drill's copy, and remove {ledger}"
        )
        assert es.indices.exists(index=live) and es.count(index=live)["count"] == docs  # production untouched
        assert ledger.read_text() == text  # kept, for the operator to check
        assert drill_lab.node_active() and not (drill_lab.home / "var" / "drtests.lock").exists()
    ledger.unlink()


def test_a_lock_drtests_did_not_write_is_removed_only_when_named_whole(drill_lab: DrillLab) -> None:
    """`echo maintenance > drtests.lock`: --recover alone leaves it and the stopped node alone."""
    lock = drill_lab.home / "var" / "drtests.lock"
    lock.write_text("maintenance\n")
    drill_lab.lab.ctl("stop", "stackstate")
    refused = drill_lab.run("--recover")
    assert refused.returncode == 1, refused.stdout[-2000:]
    message = phase(drill_lab.evidence(), "preflight")["message"]
    assert message == (
        f"drill lock {lock} on local:// is held by: maintenance — text drtests did not write (someone's own lock: "
        "maintenance?), so drtests never removes it unless it is named whole: when you know it is stale, run with "
        f"--recover --recover-drill maintenance (or remove {lock})"
    )
    assert lock.read_text() == "maintenance\n" and not drill_lab.node_active()  # nothing changed under its holder
    assert drill_lab.run("--recover", "--recover-drill", "other").returncode == 1 and lock.exists()
    recovered = drill_lab.run("--recover", "--recover-drill", "maintenance")
    assert recovered.returncode == 0, recovered.stdout[-3000:]
    assert drill_lab.node_active() and not lock.exists()


def test_a_drill_whose_cleanup_failed_does_not_pass(drill_lab: DrillLab) -> None:
    """Another process replaces the drill lock while the drill holds it: the release at the end
    does not remove someone else's lock, and the drill fails (exit 1) naming what was left."""
    lock = drill_lab.home / "var" / "drtests.lock"
    drill_lab.fault("export_slow=4")
    drill = drill_lab.start()
    wait_for(lambda: drill_lab.target_commands() and not drill_lab.node_active(), "the export to run, node stopped")
    intruder = "drill=intruder operator=ops@elsewhere pid=1 started=2026-12-01T00:00:00Z\n"
    lock.write_text(intruder)
    out, _ = drill.communicate(timeout=300)
    drill_lab.fault()
    assert drill.returncode == 1, out[-3000:]
    evidence = drill_lab.evidence()
    failed = [c for c in evidence["checks"] if c["verdict"] == "fail"]
    assert [(c["phase"], c["name"]) for c in failed] == [("safety", f"drill lock {lock} released")]
    assert failed[0]["message"] == (
        f"safety step failed: drill lock {lock} released: the drill lock no longer holds this drill's line but "
        f"{intruder.strip()!r}: another process replaced it while this drill held it; left as it is; left: the lock "
        f"{lock} on local://: check no drill runs, then remove it"
    )
    assert evidence["verdict"] == "fail" and f"FAILED safety/drill lock {lock} released" in out
    assert lock.read_text() == intruder  # someone else's: never removed
    assert drill_lab.node_active()  # the other safety steps ran
    lock.unlink()


def test_commands_on_a_local_target_never_see_the_drills_secrets(drill_lab: DrillLab) -> None:
    """The export, import and probes run on a local:// target as children of drtests: the
    signing key and every variable the config names for a secret are taken out of their
    environment (seen by the export command itself)."""
    seen = drill_lab.home / "var" / "env-seen"
    text = drill_lab.config.read_text().replace(
        "[stackstate]\n",
        '[stackstate]\nexport_command = "env > {home}/var/env-seen; {home}/bin/sts-standalone.sh export --file {file} '
        '--graph {graph}"\n',
    )
    drill_lab.config.write_text(text + '\n[alerts]\nwebhook_url_env = "DRT_HOOK_URL"\nstale_backup = "off"\n')
    secrets = {"DRTESTS_SIGNING_KEY": "signing-key-0451", "DRT_HOOK_URL": "http://127.0.0.1:9/h?token=tok-0451"}
    result = drill_lab.run(env={**os.environ, **secrets, "DRT_NOT_SECRET": "plain-0451"})
    assert result.returncode == 0, result.stdout[-3000:]
    environment = seen.read_text()
    assert "DRT_NOT_SECRET=plain-0451" in environment  # the export's environment was seen
    assert not [value for value in secrets.values() if value in environment]
    assert not [name for name in secrets if f"{name}=" in environment]
    ran = next(s["ran"] for s in drill_lab.evidence()["steps"] if s["name"] == "export graph")
    assert "exec env -u DRTESTS_SIGNING_KEY -u DRTESTS_SIGNING_KEY_FILE -u DRT_HOOK_URL timeout " in ran  # by name only
    seen.unlink()


def test_a_skipped_check_is_unproven_and_the_drill_does_not_pass(drill_lab: DrillLab) -> None:
    """A user's dr_check that skips proved nothing: the drill is incomplete (exit 1), and the
    terminal, the evidence and the report say UNPROVEN with the reason."""
    checks = drill_lab.add_checks(
        "import pytest\n\n"
        "@pytest.mark.dr_check('verify')\n"
        "def test_views_survived(dr_drill):\n"
        "    pytest.skip('the views API is not reachable from here')\n"
    )
    result = drill_lab.run("--", checks)
    assert result.returncode == 1, result.stdout[-3000:]
    evidence = drill_lab.evidence()
    assert evidence["verdict"] == "incomplete"
    unproven = [c for c in evidence["checks"] if c["verdict"] == "unproven"]
    assert [(c["phase"], c["name"], c["message"]) for c in unproven] == [
        ("verify", "test_views_survived",
         "unproven: test_views_survived was skipped: the views API is not reachable from here"),
    ]  # fmt: skip
    assert "UNPROVEN verify/test_views_survived: unproven: test_views_survived was skipped" in result.stdout
    assert "Unproven checks (1)" in (drill_lab.reports / "latest" / "report.html").read_text()


def test_two_recovering_drills_never_both_hold_the_lock(drill_lab: DrillLab) -> None:
    """Two `drtests run --recover` at once on a lock whose holder is gone: recovery happens under
    the lock, so exactly one takes the stale lock over and recovers; the other changes nothing,
    and nobody starts the node while the winner exports."""
    lock = drill_lab.home / "var" / "drtests.lock"
    gone = subprocess.Popen(["true"])
    gone.wait()
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    pidns = os.readlink("/proc/self/ns/pid").removeprefix("pid:[").removesuffix("]")
    host, stamp = socket.gethostname(), "2026-12-01T00:00:00Z"
    lock.write_text(f"drill=dead-drill operator=ci@{host} pid={gone.pid} started={stamp} boot={boot} pidns={pidns} "
                    "start=1\n")  # fmt: skip
    drill_lab.lab.ctl("stop", "stackstate")
    drill_lab.fault("export_slow=3")
    runs = [drill_lab.start("--recover", background_job=True) for _ in range(2)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    drill_lab.fault()
    assert sorted(run.returncode for run in runs) == [0, 1], "\n".join(out[-1500:] for out in outputs)
    evidence = [json.loads(p.read_text()) for p in drill_lab.reports.glob("*/evidence.json")]
    winner = next(e for e in evidence if e["verdict"] == "pass")
    loser = next(e for e in evidence if e["verdict"] != "pass")
    assert {c["name"]: c["actual"] for c in winner["checks"]}["node stopped for the whole export"] == ["inactive"]
    assert f"recover: take over drill lock {lock}" in [s["name"] for s in winner["steps"]]
    assert not [s for s in loser["steps"] if s["name"].startswith("recover")]  # it changed nothing
    preflight = next(p for p in loser["phases"] if p["name"] == "preflight")["message"]
    # the loser came either after the winner's take-over (the lock names it) or during it (the
    # stale line is still there, and the take-over's own marker names a drill recovering it)
    during = f"(or another drill is recovering it: {lock.with_name('drtests.lock.recover')} exists)"
    assert f"drill lock {lock} on local://" in preflight, preflight
    assert winner["drill_id"] in preflight or ("drill=dead-drill" in preflight and during in preflight), preflight
    assert drill_lab.node_active() and not lock.exists() and not lock.with_name("drtests.lock.recover").exists()


def test_recover_never_signals_a_process_it_cannot_prove_is_its_own(drill_lab: DrillLab) -> None:
    """A pid file outlives kill -9, and its pid can belong to another process by now: --recover
    signals a process only when its start time is the one the pid file recorded; a pid file
    without one (an older drtests) stops the drill instead, naming the process."""
    bystander = subprocess.Popen(["sleep", "300"])
    var = drill_lab.home / "var"
    reused = var / f"drtests-gone-{'a' * 32}.pid"
    try:
        reused.write_text(f"{bystander.pid} 1\n")  # that pid, but another start time: not the drill's command
        result = drill_lab.run("--recover")
        assert result.returncode == 0, result.stdout[-3000:]
        assert bystander.poll() is None  # never signalled
        reused.unlink(missing_ok=True)
        unproven = var / f"drtests-old-{'b' * 32}.pid"
        unproven.write_text(f"{bystander.pid}\n")  # the format before start times: nothing proves it
        refused = drill_lab.run("--recover")
        assert refused.returncode == 1, refused.stdout[-3000:]
        message = phase(drill_lab.evidence(), "preflight")["message"]
        assert f"a process runs under a pid an earlier drill's pid file names, and the file cannot prove it is " \
               f"that drill's export or import: {bystander.pid} ({unproven})" in message  # fmt: skip
        assert bystander.poll() is None and drill_lab.node_active()
        unproven.unlink()
    finally:
        bystander.kill()
        bystander.wait()


def test_a_lock_from_another_pid_namespace_is_not_proven_gone(drill_lab: DrillLab) -> None:
    """A runner in a container that shares this hostname has its own pid namespace: a pid missing
    here proves nothing, so --recover leaves its lock (and the node) alone unless named."""
    lock = drill_lab.home / "var" / "drtests.lock"
    gone = subprocess.Popen(["true"])
    gone.wait()
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    line = (f"drill=in-a-container operator=ci@{socket.gethostname()} pid={gone.pid} started=2026-12-01T00:00:00Z "
            f"boot={boot} pidns=4026999999 start=1\n")  # fmt: skip
    lock.write_text(line)
    refused = drill_lab.run("--recover")
    assert refused.returncode == 1, refused.stdout[-3000:]
    message = phase(drill_lab.evidence(), "preflight")["message"]
    assert "another drill is running (its process is not known to be gone" in message
    assert "run with --recover --recover-drill in-a-container" in message
    assert lock.read_text() == line
    recovered = drill_lab.run("--recover", "--recover-drill", "in-a-container")
    assert recovered.returncode == 0, recovered.stdout[-3000:]
    assert not lock.exists() and drill_lab.node_active()


def test_a_failed_telemetry_path_stops_the_export_beside_it(drill_lab: DrillLab) -> None:
    """The snapshot path fails (a red index) while a slow export runs beside it: the export is
    ended on the target instead of running its 120 s for nothing, the phase fails with the
    snapshot's own error, and the node runs again."""
    counts = drill_lab.doc_counts()
    red = f"{drill_lab.index_prefix}red-2026.01.01"
    drill_lab.fault("export_slow=120")
    try:
        result = drill_lab.run("--", drill_lab.add_checks(RED_INDEX.format(name=red)))
    finally:
        drill_lab.fault()
        drill_lab.es.indices.delete(index=red)
    assert result.returncode == 1
    evidence = drill_lab.evidence()
    message = phase(evidence, "backup")["message"]
    assert message.startswith(f"index {red} is red (a primary shard is unassigned)"), message  # its own words
    export = next(s for s in evidence["steps"] if s["name"] == "export graph")
    assert export["outcome"] == "failed" and export["rc"] is None  # ended on the target, not run to its end
    assert drill_lab.target_commands() == [] and drill_lab.node_active()
    assert_target_healthy(drill_lab, counts)


def test_a_killed_drills_export_is_recorded_on_the_target_before_it_starts_and_pruned(drill_lab: DrillLab) -> None:
    """kill -9 in the middle of an export: the drill never wrote evidence, but the target's drill
    state named its backup file before the export began, so prune finds and removes what the
    export left (here: half a file), and nothing else."""
    drill_lab.fault("export_slow=120")
    run = drill_lab.start()
    wait_for(lambda: drill_lab.target_commands() and not drill_lab.node_active(), "the export to run, node stopped")
    run.kill()
    run.communicate(timeout=30)
    drill_lab.fault()
    state = drill_lab.home / "var" / "drtests-made.jsonl"
    made = [json.loads(line) for line in state.read_text().splitlines()]
    file = next(m["name"] for m in made if m["kind"] == "backup file")
    assert Path(file).parent == drill_lab.home / "backups"
    assert not list(drill_lab.reports.glob("*/evidence.json"))  # the killed drill wrote no evidence
    assert drill_lab.run("--recover").returncode == 0  # the lab back to health; this drill keeps its own
    Path(file).write_bytes(b"half an export")  # what a killed export leaves
    prune = [DRTESTS, "prune", "--config", str(drill_lab.config), "--report-dir", str(drill_lab.reports),
             "--set", "retention.keep_drill_artifacts=1", "--yes"]  # fmt: skip
    done = subprocess.run(prune, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"delete backup file {file} (drill {made[0]['drill']})" in done.stdout
    assert not Path(file).exists()
    newest = json.loads((drill_lab.reports / "latest" / "evidence.json").read_text())["artifact"]["path"]
    assert Path(newest).exists()  # the newest drill keeps its backup


def test_prune_deletes_a_snapshot_only_when_its_own_metadata_names_the_drill(drill_lab: DrillLab) -> None:
    """The drill state is a file on the target anyone there can write: a line naming someone's
    snapshot (named like a drill's) does not get it deleted; the snapshot's own metadata, written
    by Elasticsearch when the drill made it, is the proof."""
    assert drill_lab.run().returncode == 0
    assert drill_lab.run().returncode == 0
    es, repo = drill_lab.es, "e2e-repo"
    es.snapshot.create(repository=repo, snapshot="drtests-not-a-drill", wait_for_completion=True,
                       body={"indices": f"{drill_lab.index_prefix}*", "include_global_state": False})  # fmt: skip
    state = drill_lab.home / "var" / "drtests-made.jsonl"
    target = json.loads(state.read_text().splitlines()[0])["target"]
    forged = {"kind": "snapshot", "name": f"{repo}/drtests-not-a-drill", "drill": "forged", "target": target,
              "at": "2026-01-01T00:00:00Z"}  # fmt: skip
    state.write_text(json.dumps(forged) + "\n" + state.read_text())
    prune = [DRTESTS, "prune", "--config", str(drill_lab.config), "--report-dir", str(drill_lab.reports),
             "--set", "retention.keep_drill_artifacts=1", "--yes"]  # fmt: skip
    done = subprocess.run(prune, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (f"kept snapshot {repo}/drtests-not-a-drill (drill forged): its metadata in Elasticsearch does not say "
            f"that drill of {target} made it") in done.stdout  # fmt: skip
    left = {s["snapshot"] for s in es.snapshot.get(repository=repo, snapshot="_all")["snapshots"]}
    entries = [json.loads(line) for line in state.read_text().splitlines()]
    first = next(e["name"] for e in entries if e["drill"] == entries[1]["drill"] and e["kind"] == "snapshot")
    assert "drtests-not-a-drill" in left and first.split("/", 1)[1] not in left  # the first drill's own: gone
    es.snapshot.delete(repository=repo, snapshot="drtests-not-a-drill")


def test_with_a_signing_key_prune_deletes_only_what_signed_lines_name(drill_lab: DrillLab, tmp_path: Path) -> None:
    """Signed, the drill state proves itself: a line someone on the target added (naming a file
    in the backup folder, as a drill's would) gets nothing deleted, while a drill's own old backup,
    named by its signed line, is."""
    keys = signing.keygen(tmp_path / "keys")
    env = dict(os.environ, DRTESTS_SIGNING_KEY_FILE=str(keys.private))
    assert drill_lab.run(env=env).returncode == 0
    assert drill_lab.run(env=env).returncode == 0
    state = drill_lab.home / "var" / "drtests-made.jsonl"
    entries = [json.loads(line) for line in state.read_text().splitlines()]
    assert all(e.get("sig") for e in entries)
    own = next(e["name"] for e in entries if e["kind"] == "backup file")  # the first drill's backup
    keepsake = drill_lab.home / "backups" / "drtests-keepsake.graph"
    keepsake.write_text("someone's file, named like a drill's")
    forged = {
        "kind": "backup file",
        "name": str(keepsake),
        "drill": "forged",
        "target": entries[0]["target"],
        "at": "2026-01-01T00:00:00Z",
        "sig": entries[0]["sig"],
    }  # a real signature, of another line
    state.write_text(json.dumps(forged) + "\n" + state.read_text())
    prune = [DRTESTS, "prune", "--config", str(drill_lab.config), "--report-dir", str(drill_lab.reports),
             "--set", "retention.keep_drill_artifacts=1", "--yes"]  # fmt: skip
    done = subprocess.run(prune, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"keep   backup file {keepsake} (drill forged): its line is not signed by the drill key" in done.stdout
    assert keepsake.exists() and not Path(own).exists()


def test_a_failed_export_leaves_no_snapshot_and_no_point_in_time(drill_lab: DrillLab) -> None:
    """The export fails (exit 1) while the full digest at snapshot time still reads the points in
    time opened beside it: the snapshot (taken, still running or not begun, whichever the export's
    failure met) is deleted, the reader is stopped and every point in time closed (nothing is left
    open on production), the phase fails with the export's words, and the node runs again."""
    big = generate.telemetry_docs(30000, 1, f"{drill_lab.index_prefix}big_")  # the lab's template applies
    helpers.bulk(drill_lab.es, big, chunk_size=5000, refresh=True)
    counts, idle = drill_lab.doc_counts(), open_contexts(drill_lab.es)
    drill_lab.fault("export_fail")
    try:
        result = drill_lab.run("--set", "elasticsearch.full_verify=1/1", "--set", "elasticsearch.full_verify_slices=1")
    finally:
        drill_lab.fault()
    assert result.returncode == 1
    evidence = drill_lab.evidence()
    assert phase(evidence, "backup")["message"].startswith("export exited 1"), phase(evidence, "backup")
    assert "full digest at snapshot time" not in {s["name"] for s in evidence["steps"]}  # stopped, not recorded
    # the drill's own repository only: the node is shared, and another test's broken repository answers 500
    repo = tomllib.loads(drill_lab.config.read_text())["elasticsearch"]["repository"]
    made = [s["snapshot"] for s in drill_lab.es.snapshot.get(repository=repo, snapshot="_all")["snapshots"]]
    assert not [name for name in made if evidence["drill_id"].lower() in name], made
    assert open_contexts(drill_lab.es) <= idle  # a point in time another test opened may expire meanwhile
    assert_target_healthy(drill_lab, counts)


def test_with_a_signing_key_recover_deletes_only_what_signed_ledger_lines_name(
    drill_lab: DrillLab, tmp_path: Path
) -> None:
    """The restore ledger is a file on the target too: with a signing key, a line someone added
    there (naming a user's index with the restore's rename prefix, with this cluster's uuid and
    a real signature of another line) is not proven, so --recover deletes the drill's own copies,
    which its signed lines name, and leaves that index and the ledger for the operator."""
    keys = signing.keygen(tmp_path / "keys")
    env = dict(os.environ, DRTESTS_SIGNING_KEY_FILE=str(keys.private))
    counts = drill_lab.doc_counts()
    kept = drill_lab.run("--keep", env=env)
    assert kept.returncode == 0, kept.stdout[-2000:]
    copies = sorted(drill_lab.evidence()["restore"]["indices"].values())
    ledger = drill_lab.home / "var" / "drtests.lock.restored"
    lines = ledger.read_text().splitlines()
    assert sorted(line.split("\t")[0] for line in lines) == copies and all(line.split("\t")[3] for line in lines)
    keepsake = f"drtests-restored-{drill_lab.index_prefix}keepsake"
    drill_lab.es.index(index=keepsake, id="mine", document={"owner": "someone else"}, refresh=True)
    _, cluster, drill, sig = lines[0].split("\t")
    ledger.write_text(ledger.read_text() + f"{keepsake}\t{cluster}\t{drill}\t{sig}\n")
    try:
        recovered = drill_lab.run("--recover", env=env)
        assert recovered.returncode == 1, recovered.stdout[-2000:]
        message = phase(drill_lab.evidence(), "preflight")["message"]
        assert message == (
            f"the restore ledger {ledger} names {keepsake}, which it does not prove a drill restored into this "
            "cluster (a line without the cluster's uuid, or a name without the restore's rename prefix: a live "
            "index's name; with a signing key, a line it did not sign); drtests never deletes them: check them, "
            f"delete by hand what is a drill's copy, and remove {ledger}"
        )
        assert drill_lab.es.get(index=keepsake, id="mine")["_source"] == {"owner": "someone else"}
        assert drill_lab.leftover_restored() == [keepsake]  # the drill's own copies: deleted
        assert ledger.exists()
    finally:
        drill_lab.es.indices.delete(index=keepsake, ignore_unavailable=True)
        ledger.unlink(missing_ok=True)
    assert_target_healthy(drill_lab, counts)
