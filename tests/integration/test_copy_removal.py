"""Restored copies removed once read, against a real ES node: nothing goes before the restore
returned (begin), what was handed goes then and up to stop(), and nothing handed after it."""

from __future__ import annotations

from elasticsearch import Elasticsearch

from drtests.es.client import existing_indices
from drtests.es.copy_removal import CopyRemover
from drtests.waiting import wait_until


def test_copies_go_only_between_begin_and_stop_and_each_is_recorded(es: Elasticsearch) -> None:
    names = [f"cr-copy-{n}" for n in range(4)]
    for name in names:
        es.indices.create(index=name, settings={"number_of_replicas": 0})
    remover = CopyRemover(es)
    try:
        remover.remove(names[:2])
        assert existing_indices(es, names) == names  # the restore has not returned: nothing goes
        remover.begin()
        wait_until(lambda: existing_indices(es, names) == names[2:], 30, "the copies handed were not removed")
        remover.remove(names[2:3])
        assert sorted(remover.stop()) == names[:3]  # what was handed before stop() goes first
        remover.remove(names[3:])  # after stop: left for the safety step
        assert existing_indices(es, names) == names[3:] and remover.error == ""
        assert remover.span.started and remover.span.duration_s >= 0
        unbegun = CopyRemover(es)  # the drill failed before the restore returned
        unbegun.remove(names[3:])
        assert unbegun.stop() == [] and existing_indices(es, names) == names[3:]  # all left for the safety step
    finally:
        remover.stop()
        es.indices.delete(index="cr-copy-*")
