"""The full digest at snapshot time read later, from points in time, against a real ES node:
what is written after the views opened is not in the digest, each view is closed once read, and
a reader that was stopped closes all of them (nothing is left open on production)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from elasticsearch import Elasticsearch, helpers

from drtests.errors import DrillError
from drtests.es import digests
from drtests.parallel import Cancelled


def open_contexts(es: Elasticsearch) -> int:
    """Search contexts open on the node (a point in time holds one per shard)."""
    stats = es.nodes.stats(metric="indices", index_metric="search")["nodes"]
    return sum(node["indices"]["search"]["open_contexts"] for node in stats.values())


def seeded(es: Elasticsearch, names: list[str], docs: int) -> None:
    helpers.bulk(es, ({"_index": name, "_id": f"{name}-{i}", "_source": {"v": i}}
                      for name in names for i in range(docs)), refresh=True)  # fmt: skip


def test_views_hold_the_moment_they_were_opened_and_are_closed_once_read(es: Elasticsearch) -> None:
    names = [f"sv_a-2026.01.0{day}" for day in range(1, 4)]
    seeded(es, names, 30)
    try:
        before = digests.full_digests(es, names, 2)
        idle = open_contexts(es)
        views = digests.open_views(es, names)
        assert open_contexts(es) > idle
        seeded(es, names[:2], 45)  # written after the views opened: 15 more docs in each of two
        assert digests.full_digests(es, names[:2], 2) != {name: before[name] for name in names[:2]}
        read = digests.digests_of_views(es, views, 2)
        assert read == before
        assert open_contexts(es) == idle
    finally:
        es.indices.delete(index="sv_a-*")


@contextmanager
def views_of(es: Elasticsearch, prefix: str, docs: int) -> Iterator[tuple[list[str], int, dict[str, str]]]:
    """Three indices of `docs` documents each, their views opened: (names, the node's open search
    contexts before, the views); the indices deleted afterwards."""
    names = [f"{prefix}-2026.01.0{day}" for day in range(1, 4)]
    seeded(es, names, docs)
    try:
        idle = open_contexts(es)
        yield names, idle, digests.open_views(es, names)
    finally:
        es.indices.delete(index=f"{prefix}-*")


def test_a_stopped_reader_closes_every_view(es: Elasticsearch) -> None:
    with views_of(es, "sv_b", 10) as (_, idle, views):
        pages = []

        def stop_after_one_page() -> None:
            pages.append(1)
            if len(pages) > 1:
                raise Cancelled("stopped")

        with pytest.raises(Cancelled):
            digests.digests_of_views(es, views, 1, stop_after_one_page)
        assert open_contexts(es) == idle


def test_a_view_whose_index_was_deleted_fails_naming_the_index_and_closes_the_rest(es: Elasticsearch) -> None:
    with views_of(es, "sv_c", 10) as (names, idle, views):
        es.indices.delete(index=names[1])  # after the snapshot, before its digest was read
        with pytest.raises(DrillError) as failed:
            digests.digests_of_views(es, views, 2)
        assert str(failed.value).startswith(f"the full digest at snapshot time of index {names[1]} could not be read: ")
        assert "its point in time, opened before the snapshot, is gone" in str(failed.value)
        assert open_contexts(es) == idle
