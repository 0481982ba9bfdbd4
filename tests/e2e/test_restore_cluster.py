"""Telemetry restored away from production: a second real Elasticsearch node (the restore
cluster) reads the snapshot repository read-only and restores there under the original names."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from elasticsearch import Elasticsearch

from fixtures.ports import free_port
from tests.e2e.conftest import DrillLab, wait_for
from tests.e2e.test_containers import drtests_containers
from tests.e2e.test_drill import assert_target_healthy, phase


def restore_cluster(url: str) -> tuple[str, ...]:
    return ("--set", f"restore_cluster.url={url}")


def lab_indices(es: Elasticsearch, prefix: str) -> list[str]:
    return sorted(es.indices.get(index=f"*{prefix}*", allow_no_indices=True, expand_wildcards="all"))


def test_an_isolated_drill_restores_telemetry_into_the_restore_cluster_and_production_gets_no_index(
    drill_lab: DrillLab, lab_image: str, restore_es_url: str
) -> None:
    counts = drill_lab.doc_counts()
    production_indices = sorted(drill_lab.es.indices.get(index="*", expand_wildcards="all"))
    args = ("--set", "drill.mode=isolated", "--set", f"isolated.image={lab_image}", *restore_cluster(restore_es_url))
    seen: set[str] = set()
    done = threading.Event()

    def sample() -> None:  # production's index list through the whole drill
        while not done.is_set():
            seen.update(drill_lab.es.indices.get(index="*", expand_wildcards="all"))
            done.wait(0.1)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = drill_lab.run(*args)
    finally:
        done.set()
        sampler.join()
    assert result.returncode == 0, result.stdout[-3000:]
    assert "restoring snapshot drtests-" in result.stdout and f"(into the restore cluster {restore_es_url})" in (
        result.stdout
    )
    assert sorted(seen - set(production_indices)) == []  # not one index appeared in production, however briefly
    evidence = drill_lab.evidence()
    assert evidence["restore"]["mode"] == "restore cluster"
    assert all(original == copy for original, copy in evidence["restore"]["indices"].items())  # original names
    assert evidence["restore_cluster"]["repository"]["settings"]["readonly"] == "true"
    assert evidence["telemetry"]["restored"] == evidence["telemetry"]["at_snapshot"] == counts
    assert lab_indices(Elasticsearch(restore_es_url), drill_lab.index_prefix) == []  # removed at the end
    assert drtests_containers() == []
    drill_lab.assert_drill_followed_its_plan(evidence, *args)
    assert_target_healthy(drill_lab, counts)


def test_an_unreachable_restore_cluster_stops_the_drill_in_preflight(drill_lab: DrillLab) -> None:
    counts = drill_lab.doc_counts()
    url = f"http://127.0.0.1:{free_port()}"
    result = drill_lab.run(*restore_cluster(url))
    assert result.returncode == 3, result.stdout[-3000:]
    message = phase(drill_lab.evidence(), "preflight")["message"]
    assert message.startswith(f"the restore cluster (restore_cluster.url) at {url} is unreachable: "), message
    assert drill_lab.evidence()["phases"][2]["status"] == "skipped"
    assert_target_healthy(drill_lab, counts)


def test_a_repository_writable_on_the_restore_cluster_is_refused(
    drill_lab: DrillLab, restore_es_url: str, es_repo_root: Path
) -> None:
    counts = drill_lab.doc_counts()
    repository = f"writable-{drill_lab.index_prefix.strip('_')}"
    drill_lab.configure(repository=repository)
    other = Elasticsearch(restore_es_url)
    other.snapshot.create_repository(repository=repository, body={"type": "fs", "settings": {
        "location": str(es_repo_root / repository)}})  # fmt: skip
    try:
        result = drill_lab.run(*restore_cluster(restore_es_url))
    finally:
        other.snapshot.delete_repository(repository=repository)
    assert result.returncode == 1
    message = phase(drill_lab.evidence(), "preflight")["message"]
    assert message == (f"snapshot repository '{repository}' is registered writable on the restore cluster "
                       f"{restore_es_url}: two clusters writing one repository corrupt it. Register it there "
                       f"read-only: PUT _snapshot/{repository} with settings.readonly = true")  # fmt: skip
    assert_target_healthy(drill_lab, counts)


def test_ctrl_c_during_the_import_removes_what_the_restore_cluster_restored(
    drill_lab: DrillLab, restore_es_url: str
) -> None:
    counts = drill_lab.doc_counts()
    other = Elasticsearch(restore_es_url)
    drill_lab.fault("import_hang")
    drill = drill_lab.start(*restore_cluster(restore_es_url))
    wait_for(lambda: len(lab_indices(other, drill_lab.index_prefix)) == len(counts), "the restore cluster's copies")
    drill.send_signal(signal.SIGINT)
    output, _ = drill.communicate(timeout=90)
    drill_lab.fault()
    assert drill.returncode == 1, output[-3000:]
    assert phase(drill_lab.evidence(), "restore")["message"].startswith("interrupted")
    assert lab_indices(other, drill_lab.index_prefix) == []
    assert_target_healthy(drill_lab, counts)


def test_copies_kept_in_the_restore_cluster_are_never_looked_for_in_production(
    drill_lab: DrillLab, restore_es_url: str
) -> None:
    """The restore cluster restores under production's own names. A drill kept its copies there
    (--keep; it restored a quarter of the indices and each group's newest, and asked the restore
    cluster for room for those alone); the next drill's config has no restore cluster: the
    ledger's names must not be taken for leftovers in production, and --recover must not delete
    production's indices."""
    counts = drill_lab.doc_counts()
    other = Elasticsearch(restore_es_url)
    kept = drill_lab.run("--keep", *restore_cluster(restore_es_url), "--set", "elasticsearch.restore_share=1/4")
    assert kept.returncode == 0, kept.stdout[-3000:]
    evidence = drill_lab.evidence()
    restored = evidence["restore_share"]["restored"]
    assert 0 < len(restored) < len(counts) and lab_indices(other, drill_lab.index_prefix) == sorted(restored)
    room = next(c for c in evidence["checks"] if c["name"] == "restore cluster has room (MB)")
    need = float(room["expected"].removeprefix(">= "))
    share, everything = (1.1 * sum(drill_lab.es.indices.stats(index=name)["_all"]["primaries"]["store"]["size_in_bytes"]
                                   for name in names) / 2**20 for names in (restored, counts))  # fmt: skip
    # room for the share, not for all: the figure is the share's (which may hold most of the bytes:
    # each group's newest is in it), nearer to it than to everything's
    assert 0 < need < everything and abs(need - share) < abs(need - everything), (need, share, everything)
    refused = drill_lab.run("--recover")
    assert refused.returncode == 1, refused.stdout[-3000:]
    message = phase(drill_lab.evidence(), "preflight")["message"]
    uuid = other.info()["cluster_uuid"]
    ledger = drill_lab.home / "var" / "drtests.lock.restored"
    assert message.startswith(f"the restore ledger {ledger} names indices an earlier drill restored into another "
                              f"cluster (uuid {uuid})"), message  # fmt: skip
    assert_target_healthy(drill_lab, counts)
    assert lab_indices(other, drill_lab.index_prefix) == sorted(restored)
    recovered = drill_lab.run("--recover", *restore_cluster(restore_es_url))
    assert recovered.returncode == 0, recovered.stdout[-3000:]
    assert lab_indices(other, drill_lab.index_prefix) == []
    assert_target_healthy(drill_lab, counts)
