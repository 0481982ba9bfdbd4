"""The lab's Elasticsearch node is a real ES 7.17 that the 7.17 Python client accepts."""

from pathlib import Path

import pytest
from elasticsearch import Elasticsearch, helpers
from elasticsearch.exceptions import TransportError

from fixtures.data import generate


def test_client_product_check_accepts_the_node(es_url: str) -> None:
    info = Elasticsearch(es_url).info()  # raises UnsupportedProductError if the check fails
    assert info["version"]["number"].startswith("7.17.")
    assert info["version"]["build_flavor"] == "default"


def test_fs_snapshot_and_renamed_restore_keep_every_doc(es: Elasticsearch, es_repo_root: Path) -> None:
    docs = [{"_index": f"lab_t-2026.01.0{d}", "_id": str(i), "_source": {"v": i}} for d in (1, 2) for i in range(50)]
    helpers.bulk(es, docs, refresh=True)
    es.snapshot.create_repository(
        repository="lab-test", body={"type": "fs", "settings": {"location": str(es_repo_root / "lab-test")}}
    )
    assert es.snapshot.verify_repository(repository="lab-test")["nodes"]
    snap = es.snapshot.create(
        repository="lab-test",
        snapshot="s1",
        body={"indices": "lab_t-*", "include_global_state": False},
        wait_for_completion=True,
    )["snapshot"]
    assert snap["state"] == "SUCCESS"
    assert snap["shards"]["failed"] == 0 and snap["shards"]["successful"] == 2
    assert snap["include_global_state"] is False
    restored = es.snapshot.restore(
        repository="lab-test",
        snapshot="s1",
        body={
            "indices": "lab_t-*",
            "rename_pattern": "(.+)",
            "rename_replacement": "restored-$1",
            "include_global_state": False,
        },
        wait_for_completion=True,
    )["snapshot"]
    assert restored["shards"]["failed"] == 0
    assert sorted(restored["indices"]) == ["restored-lab_t-2026.01.01", "restored-lab_t-2026.01.02"]
    es.indices.refresh(index="restored-lab_t-*")
    for day in (1, 2):
        assert es.count(index=f"restored-lab_t-2026.01.0{day}")["count"] == 50
    es.indices.delete(index="lab_t-*,restored-lab_t-*")


def test_restore_over_an_open_index_is_refused(es: Elasticsearch, es_repo_root: Path) -> None:
    es.index(index="lab_open-1", id="1", document={"v": 1}, refresh=True)
    es.snapshot.create_repository(
        repository="lab-open", body={"type": "fs", "settings": {"location": str(es_repo_root / "lab-open")}}
    )
    es.snapshot.create(repository="lab-open", snapshot="s", body={"indices": "lab_open-1"}, wait_for_completion=True)
    with pytest.raises(TransportError, match="open index with same name already exists"):
        es.snapshot.restore(repository="lab-open", snapshot="s", body={"indices": "lab_open-1"})
    es.indices.delete(index="lab_open-1")


def test_telemetry_seed_fills_every_documented_index_group(es_url: str, es: Elasticsearch) -> None:
    written = generate.seed_telemetry(es_url, docs=800, days=2, index_prefix="seedtest_")
    assert written == 800
    indices = es.indices.get(index="seedtest_*")
    groups = {name.removeprefix("seedtest_").rsplit("-", 1)[0] for name in indices}
    assert groups == set(generate.INDEX_GROUPS)
    assert len(indices) == len(generate.INDEX_GROUPS) * 2
    assert all(name.rsplit("-", 1)[1].count(".") == 2 for name in indices)
    assert es.count(index="seedtest_*")["count"] == 800
    es.indices.delete(index="seedtest_*")


def test_a_restore_refused_over_a_name_taken_meanwhile_says_it_created_nothing(
    es: Elasticsearch, es_url: str, es_repo_root: Path, tmp_path: Path
) -> None:
    """Another writer creates a planned restore name between drtests' "names are free" check and
    the restore request: Elasticsearch refuses the restore, drtests is told it created nothing
    (so its cleanup deletes none of those names), and the other writer's index is intact."""
    from drtests.config import load
    from drtests.errors import DrillError
    from drtests.es import snapshots

    es.index(index="lab_race-2026.01.01", id="1", document={"v": 1}, refresh=True)
    (tmp_path / "d.toml").write_text(
        f'[elasticsearch]\nurl = "{es_url}"\nindices = "lab_race-*"\nrepository = "lab-race"\n'
        f'repository_location = "{es_repo_root / "lab-race"}"\n'
    )
    cfg = load(tmp_path / "d.toml")
    snapshots.ensure_repository(es, cfg)
    snap = snapshots.create_snapshot(es, cfg, "drtests-race")
    planned, refused = [], []

    def another_writer_takes_a_name(names: list[str]) -> None:
        planned.extend(names)
        es.index(index=names[0], id="theirs", document={"owner": "someone else"}, refresh=True)

    try:
        with pytest.raises(DrillError, match="open index with same name already exists"):
            snapshots.restore_snapshot(es, cfg, snap, lambda _: None, before_restore=another_writer_takes_a_name,
                                       refused=refused.extend)  # fmt: skip
        assert planned == ["drtests-restored-lab_race-2026.01.01"] and refused == planned
        assert es.get(index=planned[0], id="theirs")["_source"] == {"owner": "someone else"}
        assert es.count(index=planned[0])["count"] == 1  # nothing of the snapshot landed in it
    finally:
        es.indices.delete(index="lab_race-*,drtests-restored-lab_race-*", ignore_unavailable=True)
        snapshots.delete_snapshot(es, "lab-race", "drtests-race")
