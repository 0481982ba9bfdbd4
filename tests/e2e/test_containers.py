"""Drills on real systemd hosts: a lab container through docker:// and ssh://, and isolated
restores into disposable containers."""

from __future__ import annotations

import itertools
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import docker
import pytest
from elasticsearch import Elasticsearch

from drtests.hosts.disposable import LABEL
from fixtures.data import generate
from fixtures.docker.lab_host import LabContainer
from fixtures.pytest_lab import LAB_COMPONENTS
from tests.e2e.conftest import DRTESTS, DrillRunner, wait_for

_prefixes = itertools.count()


def config(target_url: str, es_url: str, repo: Path, indices: str, mode: str = "in-place", image: str = "",
           sudo: bool = False, ssh_config: str = "", service_timeout: int = 30) -> str:  # fmt: skip
    return f"""
[drill]
name = "e2e-container"
mode = "{mode}"

[target]
url = "{target_url}"
owner = "stackstate"
disposable = true
sudo = {str(sudo).lower()}
ssh_config = "{ssh_config}"
min_free_mb = 10

[stackstate]
version_command = "{{home}}/bin/sts version"
import_timeout = 60
export_timeout = 60

[service]
backend = "systemd"
timeout = {service_timeout}

[probe]
kind = "api"
api_from = "host"

[elasticsearch]
url = "{es_url}"
indices = "{indices}"
repository = "e2e-containers"
repository_location = "{repo / "e2e-containers"}"
timeout = 60

[isolated]
image = "{image}"
ready_timeout = 120

[objectives]
rto_seconds = 300
rpo_seconds = 3600
"""


@pytest.fixture
def telemetry(es_url: str, es) -> str:
    prefix = f"ctr{next(_prefixes)}_{os.getpid()}_"
    generate.seed_telemetry(es_url, docs=240, days=1, index_prefix=prefix)
    yield f"{prefix}*"
    es.indices.delete(index=f"*{prefix}*", ignore_unavailable=True)


def drill(tmp_path: Path, text: str) -> DrillRunner:
    (tmp_path / "drill.toml").write_text(text)
    return DrillRunner(tmp_path / "drill.toml", tmp_path / "reports")


def derived_image(base: str, suffix: str, run: str, tmp_path: Path) -> str:
    """An image FROM the lab image with one RUN line: a restore host that differs on purpose."""
    tag = f"{base}-{suffix}"
    context = tmp_path / f"image-{suffix}"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {base}\nRUN {run}\n")
    docker.from_env().images.build(path=str(context), tag=tag, rm=True)
    return tag


def drtests_containers() -> list[str]:
    """drtests' containers but the lab's targets, from one list request (containers.list inspects
    each one after listing and raised NotFound for a container removed in between)."""
    found = docker.from_env().api.containers(all=True, filters={"label": LABEL})
    return sorted(c["Names"][0].lstrip("/") for c in found if (c.get("Labels") or {}).get("drtests.lab") != "target")


def test_in_place_drill_on_a_systemd_container_through_docker(
    lab_container: LabContainer, es_url: str, es_repo_root: Path, telemetry: str, tmp_path: Path
) -> None:
    runner = drill(tmp_path, config(lab_container.url, es_url, es_repo_root, telemetry))
    result = runner.run()
    assert result.returncode == 0, result.stdout[-3000:]
    evidence = runner.evidence()
    assert evidence["verdict"] == "pass" and evidence["target"] == lab_container.url
    assert evidence["topology"]["before"]["Component"] == LAB_COMPONENTS
    assert evidence["topology"]["after"] == evidence["topology"]["before"]
    assert any(s["command"] == "systemctl stop stackstate.service" for s in evidence["steps"])
    # connected as root through docker exec: export and import still run as the install's owner
    assert (evidence["artifact"]["owner"], evidence["artifact"]["group"]) == ("stackstate", "stackstate")
    ran = {s["name"]: s["ran"] for s in evidence["steps"] if s["name"] in ("export graph", "import graph")}
    assert all(command.startswith("runuser -u stackstate -- ") for command in ran.values()) and len(ran) == 2, ran
    assert lab_container.container.exec("systemctl is-active stackstate.service").strip() == "active"


def test_in_place_drill_through_ssh_with_sudo(
    lab_container: LabContainer, es_url: str, es_repo_root: Path, telemetry: str, tmp_path: Path
) -> None:
    ssh_config = str(lab_container.ssh_dir / "config")
    runner = drill(tmp_path, config(lab_container.ssh_url(), es_url, es_repo_root, telemetry, sudo=True,
                                    ssh_config=ssh_config))  # fmt: skip
    result = runner.run()
    assert result.returncode == 0, result.stdout[-3000:]
    evidence = runner.evidence()
    assert evidence["verdict"] == "pass" and evidence["target"].startswith("ssh://stackstate@127.0.0.1:")
    assert evidence["target_host"] == lab_container.container.exec("hostname").strip()
    assert evidence["topology"]["after"] == evidence["topology"]["before"]
    # export and import run as the install's owner, not as root: the backup belongs to the install
    assert (evidence["artifact"]["owner"], evidence["artifact"]["group"]) == ("stackstate", "stackstate")
    ran = {s["name"]: s["ran"] for s in evidence["steps"] if s["name"] in ("export graph", "import graph")}
    assert all(command.startswith("sudo -n -u stackstate sh -c ") for command in ran.values()), ran
    assert "timeout -k 5 60 sh -c" in ran["export graph"]


def test_isolated_drill_from_an_ssh_target_streams_the_backup_over_ssh(
    lab_container: LabContainer, lab_image: str, es_url: str, es_repo_root: Path, telemetry: str, tmp_path: Path
) -> None:
    ssh_config = str(lab_container.ssh_dir / "config")
    runner = drill(tmp_path, config(lab_container.ssh_url(), es_url, es_repo_root, telemetry, mode="isolated",
                                    image=lab_image, sudo=True, ssh_config=ssh_config))  # fmt: skip
    result = runner.run()
    assert result.returncode == 0, result.stdout[-3000:]
    evidence = runner.evidence()
    copied = evidence["restore_host"]["artifact"]
    assert copied["copied_by"] == "ssh cat stream"  # not read whole into memory through testinfra
    assert copied["sha256"] == evidence["artifact"]["sha256"] and copied["size"] == evidence["artifact"]["size"]
    assert evidence["topology"]["after"] == evidence["topology"]["before"]
    assert drtests_containers() == []


def test_isolated_drill_restores_into_a_disposable_host_and_removes_it(
    lab_container: LabContainer, lab_image: str, es_url: str, es_repo_root: Path, telemetry: str, tmp_path: Path
) -> None:
    runner = drill(
        tmp_path, config(lab_container.url, es_url, es_repo_root, telemetry, mode="isolated", image=lab_image)
    )
    result = runner.run()
    assert result.returncode == 0, result.stdout[-3000:]
    evidence = runner.evidence()
    assert evidence["verdict"] == "pass" and evidence["mode"] == "isolated"
    restore_host = evidence["restore_host"]
    assert restore_host["url"].startswith("docker://drtests-") and restore_host["image"] == lab_image
    assert restore_host["artifact"]["sha256"] == evidence["artifact"]["sha256"]
    assert restore_host["artifact"]["copied_by"] == "docker archive stream"
    assert evidence["topology"]["after"] == evidence["topology"]["before"]
    assert evidence["telemetry"]["restored"] == evidence["telemetry"]["at_snapshot"]
    assert not any(s["name"].startswith("stop") and s["phase"] == "restore" and lab_container.name in s["command"]
                   for s in evidence["steps"])  # fmt: skip
    runner.assert_drill_followed_its_plan(evidence)
    assert drtests_containers() == []
    # the target was stopped only for the export: it holds its own graph, untouched by the import
    log = lab_container.container.exec("cat /opt/stackstate/var/log/stackstate.log")
    assert "Restoring graph" not in log


def test_a_restore_that_fails_inside_the_disposable_host_fails_the_drill_and_removes_it(
    lab_container: LabContainer, lab_image: str, es_url: str, es_repo_root: Path, telemetry: str, tmp_path: Path
) -> None:
    faulty = derived_image(lab_image, "faulty", "echo import_drop=0.2 > /opt/stackstate/etc/faults", tmp_path)
    try:
        runner = drill(tmp_path, config(lab_container.url, es_url, es_repo_root, telemetry, mode="isolated",
                                        image=faulty))  # fmt: skip
        result = runner.run()
        assert result.returncode == 1
        evidence = runner.evidence()
        assert evidence["verdict"] == "fail"
        failed = {c["name"]: c["message"] for c in evidence["checks"] if c["verdict"] == "fail"}
        assert "topology Component" in failed and "after restore (-" in failed["topology Component"]
        assert any(s["name"].startswith("disposable host") and s["outcome"] == "done" for s in evidence["steps"])
        assert drtests_containers() == []
    finally:
        docker.from_env().images.remove(faulty, force=True)


def test_systemd_stop_timeout_fails_the_backup_and_the_node_comes_back(
    lab_container: LabContainer, es_url: str, es_repo_root: Path, telemetry: str, tmp_path: Path
) -> None:
    lab_container.fault("stop_ignored")
    runner = drill(tmp_path, config(lab_container.url, es_url, es_repo_root, telemetry, service_timeout=4))
    result = runner.run()
    lab_container.fault()
    assert result.returncode == 1
    message = next(p for p in runner.evidence()["phases"] if p["name"] == "backup")["message"]
    assert message.startswith("stackstate.service did not become inactive"), message
    assert lab_container.container.exec("systemctl is-active stackstate.service").strip() == "active"


def test_isolated_mode_without_the_image_is_refused_in_preflight(
    lab_container: LabContainer, es_url: str, es_repo_root: Path, telemetry: str, tmp_path: Path
) -> None:
    runner = drill(tmp_path, config(lab_container.url, es_url, es_repo_root, telemetry, mode="isolated",
                                    image="drtests-lab:no-such-tag"))  # fmt: skip
    assert runner.run().returncode == 1
    message = next(p for p in runner.evidence()["phases"] if p["name"] == "preflight")["message"]
    assert (
        message
        == "image drtests-lab:no-such-tag not found on the Docker engine: build it (make image) or set isolated.image"
    )
    assert drtests_containers() == []


def test_the_pre_upgrade_gate_passes_and_prints_the_rollback_point(
    lab_container: LabContainer, lab_image: str, es_url: str, es_repo_root: Path, telemetry: str, tmp_path: Path
) -> None:
    runner = drill(tmp_path, config(lab_container.url, es_url, es_repo_root, telemetry, image=lab_image))
    result = subprocess.run([DRTESTS, "gate", "--config", str(runner.config), "--report-dir", str(runner.reports)],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    evidence = runner.evidence()
    assert evidence["mode"] == "isolated"
    assert evidence["stackstate_version"] == {"target": "4.6.5", "restore_host": "4.6.5"}
    assert evidence["versions"]["stackstate"] == "4.6.5"
    artifact, snapshot = evidence["artifact"], evidence["snapshot"]
    line = next(x for x in result.stdout.splitlines() if x.startswith("GATE "))
    assert line.startswith("GATE PASS stackstate=4.6.5 rto=")
    assert f"artifact={artifact['path']} sha256={artifact['sha256']}" in line
    assert f"snapshot={snapshot['repository']}/{snapshot['snapshot']}" in line
    # the rollback point stays: the backup file on the target and the snapshot in the repository
    assert lab_container.container.exec(f"sha256sum {artifact['path']}").split()[0] == artifact["sha256"]
    es = Elasticsearch(es_url)
    assert es.snapshot.get(repository=snapshot["repository"], snapshot=snapshot["snapshot"])["snapshots"]
    assert drtests_containers() == []


def test_the_gate_fails_when_the_restore_host_runs_another_version(
    lab_container: LabContainer, lab_image: str, es_url: str, es_repo_root: Path, telemetry: str, tmp_path: Path
) -> None:
    set_version = """sed -i 's/"bind"/"version": "4.6.9", "bind"/' /opt/stackstate/etc/lab.json"""
    newer = derived_image(lab_image, "4.6.9", set_version, tmp_path)
    try:
        runner = drill(tmp_path, config(lab_container.url, es_url, es_repo_root, telemetry, image=newer))
        result = subprocess.run([DRTESTS, "gate", "--config", str(runner.config), "--report-dir", str(runner.reports)],
                                capture_output=True, text=True, timeout=300)  # fmt: skip
        assert result.returncode == 1
        message = next(p for p in runner.evidence()["phases"] if p["name"] == "restore")["message"]
        assert message == ("a backup restores only onto the StackState version it was taken from: "
                           "target 4.6.5, restore host 4.6.9")  # fmt: skip
        assert "GATE FAIL stackstate=4.6.5" in result.stdout
        assert drtests_containers() == []
    finally:
        docker.from_env().images.remove(newer, force=True)


def test_isolated_drill_from_a_local_target_streams_the_backup_into_the_restore_host(drill_lab, lab_image: str) -> None:
    result = drill_lab.run("--set", "drill.mode=isolated", "--set", f"isolated.image={lab_image}")
    assert result.returncode == 0, result.stdout[-3000:]
    evidence = drill_lab.evidence()
    assert evidence["mode"] == "isolated" and evidence["target"] == "local://"
    assert evidence["restore_host"]["artifact"]["sha256"] == evidence["artifact"]["sha256"]
    assert evidence["restore_host"]["artifact"]["size"] == evidence["artifact"]["size"]
    assert evidence["restore_host"]["artifact"]["copied_by"] == "local sendfile"
    assert evidence["topology"]["after"] == evidence["topology"]["before"]
    assert "Restoring graph" not in drill_lab.log_text()  # the local install was not restored onto
    assert drtests_containers() == []


def test_a_copy_into_a_missing_folder_of_the_restore_host_fails_the_restore_and_removes_it(
    drill_lab, lab_image: str
) -> None:
    result = drill_lab.run("--set", "drill.mode=isolated", "--set", f"isolated.image={lab_image}",
                           "--set", "isolated.copy_to=/no/such/folder")  # fmt: skip
    assert result.returncode == 1
    message = next(p for p in drill_lab.evidence()["phases"] if p["name"] == "restore")["message"]
    assert message.startswith("cannot copy ") and message.endswith(
        ":/no/such/folder: the Docker engine answered 404 Not Found: Could not find the file /no/such/folder in "
        f"container {message.rsplit(' ', 1)[1]}"
    ), message
    assert drtests_containers() == []
    # the snapshot restore began beside the restore host's start: what it created is gone too
    evidence = drill_lab.evidence()
    began = [s for s in evidence["steps"] if s["name"] == "write the restore ledger"]
    removed = [s["outcome"] for s in evidence["steps"]
               if s["phase"] == "safety" and s["name"].startswith("restored indices removed")]  # fmt: skip
    assert removed == (["done"] if began else []), evidence["steps"]
    assert drill_lab.leftover_restored() == []
    assert not (drill_lab.home / "var" / "drtests.lock.restored").exists()
    assert drill_lab.node_active()


def test_a_restore_host_has_no_network_and_is_removed_by_the_next_drill_past_its_expiry(
    lab_container: LabContainer, lab_image: str, es_url: str, es_repo_root: Path, telemetry: str, tmp_path: Path
) -> None:
    """A restored copy of production runs with no route out (only loopback), labelled with its
    drill, target and expiry; kept with --keep, it stays until the expiry, then the next drill's
    preflight names it and --recover removes it."""
    text = config(lab_container.url, es_url, es_repo_root, telemetry, mode="isolated", image=lab_image)
    runner = drill(tmp_path, text.replace("ready_timeout = 120\n", "ready_timeout = 120\nkeep_hours = 0.0005\n"))
    kept = runner.run("--keep")
    assert kept.returncode == 0, kept.stdout[-3000:]
    evidence = runner.evidence()
    name = evidence["restore_host"]["url"].removeprefix("docker://")
    inspected = docker.from_env().api.inspect_container(name)
    assert inspected["HostConfig"]["NetworkMode"] == "none"
    assert set(inspected["NetworkSettings"]["Networks"]) == {"none"}
    labels = inspected["Config"]["Labels"]
    assert labels["drtests.drill"] == evidence["drill_id"] and labels["drtests.target"] == evidence["target_name"]
    expires = labels["drtests.expires"]
    wait_for(lambda: datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z") > expires,
             f"the kept host's expiry ({expires})", timeout=30)  # fmt: skip
    refused = runner.run()
    assert refused.returncode == 1
    message = next(p["message"] for p in runner.evidence()["phases"] if p["name"] == "preflight")
    assert f"restore host(s) {name} (a restored copy of production, past its expiry" in message
    assert name in drtests_containers()  # named, not removed, without --recover
    recovered = runner.run("--recover")
    assert recovered.returncode == 0, recovered.stdout[-3000:]
    assert f"recover: remove restore host {name}" in [s["name"] for s in runner.evidence()["steps"]]
    assert drtests_containers() == []


def test_after_kill_9_in_an_isolated_restore_the_restore_host_is_a_leftover_recover_removes(
    lab_container: LabContainer, lab_image: str, es_url: str, es_repo_root: Path, telemetry: str, tmp_path: Path
) -> None:
    """kill -9 of a drill while its disposable host runs: the host (a restored copy of
    production) does not outlive the drill unnoticed: the next drill names it with the lock, and
    --recover removes it."""
    runner = drill(tmp_path, config(lab_container.url, es_url, es_repo_root, telemetry, mode="isolated",
                                    image=lab_image))  # fmt: skip
    run = runner.start()
    wait_for(lambda: drtests_containers() != [], "the restore host to start", timeout=240)
    run.kill()
    run.communicate(timeout=30)
    (host,) = drtests_containers()
    refused = runner.run()
    assert refused.returncode == 1
    message = next(p["message"] for p in runner.evidence()["phases"] if p["name"] == "preflight")
    assert f"restore host(s) {host} (a restored copy of production, past its expiry or left by a drill that died)" \
        in message, message  # fmt: skip
    assert drtests_containers() == [host]  # named, not removed
    recovered = runner.run("--recover")
    assert recovered.returncode == 0, recovered.stdout[-3000:]
    assert drtests_containers() == []
    assert lab_container.container.exec("systemctl is-active stackstate.service").strip() == "active"


def test_a_3000_index_restore_ledger_reaches_a_container_over_docker_and_ssh(
    lab_container: LabContainer, tmp_path: Path
) -> None:
    """The restore ledger (about 200 KB) travels on stdin through docker exec and through ssh:
    no command line carries it (one argument over 128 KiB is refused by Linux)."""
    from drtests.hosts.host import TargetHost
    from fixtures.docker.lab_host import ssh_client_files
    from tests.integration.test_target_files import round_trip

    (tmp_path / "over-docker").mkdir()
    round_trip(TargetHost(lab_container.url), "/opt/stackstate/var/drtests-docker.lock", tmp_path / "over-docker")
    _, ssh_config = ssh_client_files(lab_container.ssh_dir)
    (tmp_path / "over-ssh").mkdir()
    over_ssh = TargetHost(lab_container.ssh_url(), ssh_config=str(ssh_config))
    round_trip(over_ssh, "/opt/stackstate/var/drtests-ssh.lock", tmp_path / "over-ssh")


def test_lab_containers_of_a_killed_test_run_are_removed_and_a_live_runs_are_kept(lab_image: str) -> None:
    """A run killed mid-test leaves its lab containers in the engine; the next run removes them
    (they held a name a later run wanted) and never touches those of a run still going."""
    import socket

    from fixtures.docker import lab_host

    exited = subprocess.Popen(["true"])  # a process that has ended: no process has its pid now
    exited.wait()
    client = docker.from_env()
    me = f"{socket.gethostname()}:{os.getpid()}"
    created = {
        "killed": client.containers.create(lab_image, labels={lab_host.OWNER: f"{socket.gethostname()}:{exited.pid}"}),
        "live": client.containers.create(lab_image, labels={lab_host.OWNER: me}),
        "other-host": client.containers.create(lab_image, labels={lab_host.OWNER: f"elsewhere:{exited.pid}"}),
    }
    try:
        removed = lab_host.remove_orphans()
        names = {c.name for c in client.containers.list(all=True)}
        assert created["killed"].name in removed and created["killed"].name not in names
        assert created["live"].name in names and created["other-host"].name in names
    finally:
        for container in created.values():
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass
