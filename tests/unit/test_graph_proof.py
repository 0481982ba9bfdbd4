"""The graph proof's rules (pure logic): ids, content, relations, the watermark and the choice of
nodes compared. The same rules run against the real lab in tests/e2e/test_graph_proof.py."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from drtests.config import load, with_overrides
from drtests.record.drill import Drill
from drtests.topology import checks
from drtests.topology.probes import ApiProbe
from drtests.topology.proof import Choice, Listing, listing_of, prove_relations, prove_type, threshold_of

MS = 1_000_000


def api(nodes: list[dict], keep=None) -> Listing:
    """A listing as the api probe makes it (from a fresh answer: the listing takes timestamps out)."""
    return listing_of(copy.deepcopy(nodes), keep)


def component(i: int, name: str = "", at_ms: int = 1000, **data) -> dict:
    return {"id": i, "_type": "Component", "name": name or f"c{i}", "lastUpdateTimestamp": at_ms, "layer": 1, **data}


def relation(i: int, source: int, target: int, at_ms: int = 1000) -> dict:
    return {"id": i, "_type": "Relation", "name": f"r{i}", "lastUpdateTimestamp": at_ms, "source": source,
            "target": target, "type": 1}  # fmt: skip


GRAPH = [component(i) for i in range(1, 21)]


def test_the_same_graph_has_the_same_ids_and_content() -> None:
    proof = prove_type("Component", api(GRAPH), api([dict(n) for n in GRAPH]), 2000 * MS, False)
    assert proof.same_ids and proof.differing_n == 0 and proof.compared_n == 20
    assert proof.compared_how == "every node" and proof.content_before == proof.content_after
    assert proof.ids_before_sha256 == proof.ids_after_sha256


def test_a_renamed_node_with_changed_data_is_named_with_its_fields() -> None:
    after = [component(i, name="x" if i == 7 else "", **({"renamed": True} if i == 7 else {})) for i in range(1, 21)]
    proof = prove_type("Component", api(GRAPH), api(after), 2000 * MS, False)
    assert proof.same_ids and proof.differing_n == 1
    assert proof.differing == [{"id": "7", "fields": ["name", "data"]}]
    assert proof.content_before != proof.content_after


def test_nodes_under_new_ids_are_missing_and_new_with_the_first_ten_named() -> None:
    after = [component(i + (100 if i <= 12 else 0)) for i in range(1, 21)]
    proof = prove_type("Component", api(GRAPH), api(after), 2000 * MS, False)
    assert (proof.missing_n, proof.new_n) == (12, 12) and not proof.same_ids
    assert proof.missing == [str(i) for i in range(1, 11)] and proof.new == [str(i) for i in range(101, 111)]


def test_a_node_written_after_the_threshold_is_listed_not_compared_nor_new() -> None:
    after = [component(i, name="synced" if i == 3 else "", at_ms=3000 if i in (3, 21) else 1000) for i in range(1, 22)]
    proof = prove_type("Component", api(GRAPH), api(after), 2000 * MS, False)
    assert proof.same_ids and proof.differing_n == 0  # 21 is new but newer: not a difference
    assert proof.written_after == ["3", "21"] and proof.written_after_n == 2 and proof.compared_n == 19


def test_the_same_rewrite_before_the_threshold_fails() -> None:
    after = [component(i, name="changed" if i == 3 else "") for i in range(1, 22)]
    proof = prove_type("Component", api(GRAPH), api(after), 2000 * MS, False)
    assert proof.new == ["21"] and proof.differing == [{"id": "3", "fields": ["name"]}]


def test_against_a_live_graph_deletions_and_creations_since_the_backup_do_not_fail() -> None:
    live = [component(i) for i in range(2, 21)] + [component(30, at_ms=5000)]  # 1 deleted, 30 created since
    restored = [component(i) for i in range(1, 21)]
    proof = prove_type("Component", api(live), api(restored), 2000 * MS, True)
    assert proof.same_ids and proof.gone_since_backup_n == 1 and proof.written_after == ["30"]
    lost = prove_type("Component", api(live), api(restored[:-1]), 2000 * MS, True)
    assert lost.missing == ["20"]  # older than the backup, live, and not restored: lost


def test_a_probe_that_lists_ids_only_leaves_content_unproven() -> None:
    ids_only = Listing({str(n["id"]) for n in GRAPH})
    proof = prove_type("Component", ids_only, ids_only, None, False)
    assert proof.same_ids and proof.content.startswith("not readable") and proof.compared_n == 0
    assert listing_of([{"id": 1, "_type": "Component"}]).kept is None  # an API that shows ids only


def test_only_the_nodes_the_drill_compares_are_kept_whole_and_the_after_side_keeps_the_same() -> None:
    before = api(GRAPH, Choice("DRILL-A", 3, None, 0))
    assert len(before.kept) == 3 and before.how == "a sample of 3" and len(before.stamps) == 20
    after = api([component(i, name="x" if i == 1 else "") for i in range(1, 21)], set(before.kept))
    assert set(after.kept) == set(before.kept)
    proof = prove_type("Component", before, after, 2000 * MS, False)
    assert proof.compared_n == 3 and proof.compared_how == "a sample of 3"
    assert proof.differing_n == (1 if "1" in before.kept else 0)  # node 1 is compared only when sampled


def test_the_sample_follows_the_drill_id_and_the_rotation_covers_every_node() -> None:
    ids = [str(i) for i in range(1000)]
    a, _ = Choice("DRILL-A", 20, None, 0).chosen(ids)
    b, how = Choice("DRILL-B", 20, None, 0).chosen(ids)
    assert len(a) == len(b) == 20 and a != b and how == "a sample of 20"
    assert Choice("DRILL-A", 20, None, 0).chosen(ids)[0] == a  # the same drill compares the same nodes
    seen: set[str] = set()
    for sequence in range(3):
        chosen, how = Choice(f"D{sequence}", 0, (1, 3), sequence).chosen(ids)
        assert 250 < len(chosen) < 420 and how.startswith("1/3 of the ids")
        seen |= chosen
    assert seen == set(ids)


def test_a_relation_whose_end_is_gone_dangles_and_is_named() -> None:
    relations = api([relation(100, 1, 2), relation(101, 2, 99), relation(102, 98, 3, at_ms=9000)])
    after = {"Component": api(GRAPH), "Relation": relations}
    proof = prove_relations(relations, after, 2000 * MS)
    assert proof.checked_n == 2 and proof.dangling_n == 1  # 102 was written after the threshold
    assert proof.dangling == [{"id": "101", "source": "2", "target": "99", "missing": ["99"]}]


def test_the_threshold_is_the_older_of_the_watermark_and_the_before_reads_newest_change() -> None:
    before = {"Component": api([component(1, at_ms=1500), component(2, at_ms=1200)])}
    assert threshold_of(2000 * MS, before, False) == 1500 * MS
    assert threshold_of(1000 * MS, before, False) == 1000 * MS
    assert threshold_of(2000 * MS, before, True) == 2000 * MS  # live before: the watermark alone
    assert threshold_of(None, {"Component": Listing({"1"})}, False) is None


@pytest.fixture
def drill(tmp_path: Path) -> Drill:
    (tmp_path / "d.toml").write_text("")
    return Drill(load(tmp_path / "d.toml"), target="local://")


def test_the_checks_name_each_difference_and_the_cli_probe_is_unproven(drill: Drill) -> None:
    cfg = with_overrides(drill.config, probe={"types": ["Component", "Relation"], "content_share": "1/1"})
    before = {"Component": api(GRAPH), "Relation": api([relation(100, 1, 2)])}
    after = {"Component": api([component(i, name="x" if i == 5 else "") for i in range(1, 21)]),
             "Relation": api([relation(100, 1, 77)])}  # fmt: skip
    section = checks.prove_graph(drill, "verify", cfg, before, after, False)
    failed = {c.name: c.message for c in drill.failed_checks()}
    assert "5 (name)" in failed["topology content Component"]
    assert "100 (1 -> 77: 77 missing)" in failed["topology relations whole"]
    assert "1 of 1 compared node(s) differ" in failed["topology content Relation"]
    assert section["types"]["Component"]["differing"] == [{"id": "5", "fields": ["name"]}]
    cli = Drill(cfg, target="local://")
    ids = {t: Listing(set(v.ids)) for t, v in before.items()}
    checks.prove_graph(cli, "verify", with_overrides(cfg, probe={"kind": "cli"}), ids, ids, False)
    assert not cli.failed_checks()
    unproven = {c.name: c.message for c in cli.unproven_checks()}
    assert unproven["topology content Component"] == "unproven: content: not readable by the cli probe"
    assert set(unproven) == {"topology content Component", "topology content Relation", "topology relations whole"}


def test_a_restore_that_stamps_most_nodes_anew_leaves_content_unproven_not_passed() -> None:
    """Nodes newer than the threshold are not compared: when that is most of a type, the restore
    (or the node) rewrote them, and a content check over the few left would say too much."""
    after = [component(i, name="rewritten", at_ms=3000 if i <= 15 else 1000) for i in range(1, 21)]
    proof = prove_type("Component", api(GRAPH), api(after), 2000 * MS, False)
    assert proof.same_ids and proof.compared_n == 0
    assert proof.content == ("not comparable: 15 of the 20 nodes both sides hold were written after the watermark "
                             "(the restore, or the node since, rewrote most of them)")  # fmt: skip


class AnsweringProbe(ApiProbe):
    """The api probe's reading of its answers, without a node: each URL it asks answers from `served`."""

    def __init__(self, cfg, served: dict[str, list]) -> None:
        super().__init__(cfg, host=None)
        self.served, self.asked = served, []

    def fetch(self, url: str) -> list:
        self.asked.append(url)
        return copy.deepcopy(self.served[url])


def test_one_answer_for_every_type_lists_each_type_as_the_per_type_answers_do(drill: Drill) -> None:
    types = {"probe": {"types": ["Component", "Relation", "Layer"], "api_url": "http://n"}}
    per_type = with_overrides(drill.config, **types)
    at_once = with_overrides(per_type, probe={**types["probe"], "api_all_path": "/api/nodes"})
    graph = [*GRAPH, relation(50, 1, 2), {"id": 60, "_type": "Other", "name": "not asked for"}]
    served = {
        "http://n/api/nodes": graph,
        **{f"http://n/api/node/{t}": [n for n in graph if n["_type"] == t] for t in types["probe"]["types"]},
    }
    one, each = AnsweringProbe(at_once, served), AnsweringProbe(per_type, served)
    for keep in (None, {"Component": {"1", "2"}}, Choice(drill.id, 3, (1, 4), 0)):
        assert one.listings(keep) == each.listings(keep)
    assert set(one.asked) == {"http://n/api/nodes"} and len(one.asked) == 3 and len(each.asked) == 9  # per listing
    assert {t: len(listing.ids) for t, listing in one.listings().items()} == {
        "Component": 20,
        "Relation": 1,
        "Layer": 0,
    }
