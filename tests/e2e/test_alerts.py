"""Alerts where drills run: stale backups found in preflight, a webhook summary, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.e2e.conftest import DRTESTS, DrillLab
from tests.e2e.test_drill import phase


def old_backup(drill_lab: DrillLab, hours: float) -> str:
    path = drill_lab.home / "backups" / "sts-backup-20260101-0000.graph"
    path.write_bytes(b"an old backup")
    stamp = time.time() - hours * 3600
    os.utime(path, (stamp, stamp))
    return str(path)


def with_alerts(drill_lab: DrillLab, stale_backup: str, extra: str = "") -> None:
    text = drill_lab.config.read_text()
    drill_lab.config.write_text(f'{text}\n[alerts]\nstale_backup = "{stale_backup}"\n{extra}')


def test_a_stale_backup_is_a_warning_by_default(drill_lab: DrillLab) -> None:
    path = old_backup(drill_lab, hours=48)
    drill_lab.configure(repository="alerts-fresh")  # a repository with no snapshot yet
    result = drill_lab.run()
    assert result.returncode == 0, result.stdout[-2000:]
    warnings = [w for w in drill_lab.evidence()["warnings"] if "backup" in w or "snapshot" in w]
    assert warnings == [
        f"the newest backup file {path} is 48.0 h old, older than the RPO objective (1.0 h)",
        f"no successful snapshot of {drill_lab.index_prefix}* in repository alerts-fresh",
    ]
    assert f"WARNING: {warnings[0]}" in result.stdout


def test_a_fresh_snapshot_of_other_indices_does_not_hide_a_missing_one(drill_lab: DrillLab) -> None:
    """A repository shared by a fleet: another install's fresh snapshot is not this install's."""
    drill_lab.configure(repository="alerts-shared")
    location = str(drill_lab.repo_root / "alerts-shared")
    drill_lab.es.snapshot.create_repository(
        repository="alerts-shared", body={"type": "fs", "settings": {"location": location}}
    )
    other = f"other-{drill_lab.index_prefix}".replace("_", "-").strip("-")
    drill_lab.es.index(index=other, document={"n": 1}, refresh=True)
    try:
        drill_lab.es.snapshot.create(repository="alerts-shared", snapshot="someone-else", wait_for_completion=True,
                                     body={"indices": other, "include_global_state": False})  # fmt: skip
        result = drill_lab.run()
        assert result.returncode == 0, result.stdout[-2000:]
        assert (
            f"no successful snapshot of {drill_lab.index_prefix}* in repository alerts-shared"
            in (drill_lab.evidence()["warnings"])
        )
        assert drill_lab.run().returncode == 0  # now the drill's own snapshot is there, and fresh
        assert not [w for w in drill_lab.evidence()["warnings"] if "successful snapshot" in w or "newest snapshot" in w]
    finally:
        drill_lab.es.indices.delete(index=other, ignore_unavailable=True)


def test_a_stale_backup_fails_the_drill_when_configured(drill_lab: DrillLab) -> None:
    path = old_backup(drill_lab, hours=30)
    with_alerts(drill_lab, "fail")
    result = drill_lab.run()
    assert result.returncode == 1
    message = phase(drill_lab.evidence(), "preflight")["message"]
    assert message.startswith(f"the newest backup file {path} is 30.0 h old")
    assert drill_lab.node_active()


class Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_the_webhook_gets_a_summary_of_every_drill_without_secrets(drill_lab: DrillLab) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.received = []
    secret = "hooks-token-123"
    url = f"http://127.0.0.1:{server.server_address[1]}/hook?token={secret}"
    try:
        with_alerts(drill_lab, "off", 'webhook_url_env = "DRT_HOOK"\n')
        env = dict(os.environ, DRT_HOOK=url)
        assert drill_lab.run(env=env).returncode == 0
        drill_lab.fault("import_error_log")
        assert drill_lab.run(env=env).returncode == 1
        drill_lab.fault()
    finally:
        server.shutdown()
    assert [r["verdict"] for r in Receiver.received] == ["pass", "fail"]
    assert Receiver.received[1]["failed_checks"] == 1 and Receiver.received[1]["report"].endswith("report.html")
    assert all(secret not in json.dumps(r) for r in Receiver.received)
    for path in drill_lab.reports.rglob("*"):
        assert path.is_dir() or secret not in path.read_text(errors="replace")


def test_exit_code_3_for_an_unreachable_target_and_2_for_a_bad_config(drill_lab: DrillLab) -> None:
    assert drill_lab.run("--set", "target.url=ssh://nobody@127.0.0.1:1").returncode == 3
    assert drill_lab.run("--set", "target.nope=1").returncode == 2


def test_prune_deletes_only_old_drill_artifacts_and_keeps_the_rest(drill_lab: DrillLab) -> None:
    """Three drills, keep one: the two older drills' backup files and snapshots go, the newest
    stays, and so do a nightly backup and a snapshot no drill made."""
    nightly = old_backup(drill_lab, hours=1)
    for _ in range(3):
        assert drill_lab.run().returncode == 0
    es, repo = drill_lab.es, "e2e-repo"
    es.snapshot.create(repository=repo, snapshot="nightly-1", wait_for_completion=True,
                       body={"indices": f"{drill_lab.index_prefix}*", "include_global_state": False})  # fmt: skip
    drills = sorted(p for p in (drill_lab.home / "backups").glob("drtests-*.graph"))
    assert len(drills) == 3
    prune = [DRTESTS, "prune", "--config", str(drill_lab.config), "--report-dir", str(drill_lab.reports),
             "--set", "retention.keep_drill_artifacts=1"]  # fmt: skip
    planned = subprocess.run(prune, capture_output=True, text=True)
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.count("  would delete backup file ") == 2 and planned.stdout.count("snapshot e2e-repo/") == 3
    assert len(list((drill_lab.home / "backups").glob("drtests-*.graph"))) == 3  # the plan touched nothing

    done = subprocess.run([*prune, "--yes"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted((drill_lab.home / "backups").glob("drtests-*.graph")) == drills[-1:]
    left = {s["snapshot"] for s in es.snapshot.get(repository=repo, snapshot="_all")["snapshots"]}
    ours = sorted(f"drtests-{p.name}".lower() for p in drill_lab.reports.iterdir() if p.is_dir() and not p.is_symlink())
    assert "nightly-1" in left and [name for name in ours if name in left] == ours[-1:]  # the repository is shared
    assert Path(nightly).exists()
    record = json.loads((drill_lab.reports / "prunes.jsonl").read_text().splitlines()[-1])
    assert len(record["deleted"]) == 4 and len(record["kept"]) == 2


def test_apprise_notifies_people_of_a_failed_drill_only_by_default(drill_lab: DrillLab) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.received = []
    urls = f"json://127.0.0.1:{server.server_address[1]}/chat"
    try:
        with_alerts(drill_lab, "off", 'notify_env = "DRT_NOTIFY"\n')
        env = dict(os.environ, DRT_NOTIFY=urls)
        assert drill_lab.run(env=env).returncode == 0  # a pass: nobody is disturbed
        drill_lab.fault("import_error_log")
        result = drill_lab.run(env=env)
        drill_lab.fault()
    finally:
        server.shutdown()
    assert result.returncode == 1 and "WARNING: notification" not in result.stdout
    (sent,) = Receiver.received
    assert sent["type"] == "failure" and sent["title"].startswith("DR drill FAIL: ")
    assert "failed: restore/no error lines in the import's log window" in sent["message"]
    assert "RTO: " in sent["message"] and sent["message"].split("report: ")[1].endswith("report.html")
