"""Each restored index handed on once its primaries started, read as it comes, against a real
ES node: the reads beside a restore equal the reads after it, and the recovery spans and the
recovery throttle are what ES reports."""

from __future__ import annotations

import threading
from pathlib import Path

from elasticsearch import Elasticsearch, helpers

from drtests.es import client, digests
from drtests.es.as_restored import IndexChecks
from drtests.es.recovered import RecoveryWatch, recovery_spans, recovery_throttle, started_indices


def test_every_restored_index_is_handed_on_once_started_and_read_as_after_the_restore(
    es: Elasticsearch, es_repo_root: Path
) -> None:
    names = [f"rr_t-2026.01.{day:02d}" for day in range(1, 13)]
    helpers.bulk(es, ({"_index": name, "_id": f"{name}-{i}", "_source": {"v": i, "day": name}}
                      for name in names for i in range(40)), refresh=True)  # fmt: skip
    es.snapshot.create_repository(
        repository="rr", body={"type": "fs", "settings": {"location": str(es_repo_root / "rr")}}
    )
    es.snapshot.create(repository="rr", snapshot="s", body={"indices": "rr_t-*", "include_global_state": False},
                       wait_for_completion=True)  # fmt: skip
    restored = [f"copy-{name}" for name in names]
    assert started_indices(es, restored) == set()  # none created yet: none is usable
    full = set(restored[::3])
    checks, handed, lock = IndexChecks(es, 5, full, 2), [], threading.Lock()

    def ready(name: str) -> None:
        with lock:
            handed.append((name, name in started_indices(es, [name])))
        checks.submit(name)

    try:
        with RecoveryWatch(es, restored, ready, interval=0.05) as watch:
            body = {"indices": "rr_t-*", "rename_pattern": "(.+)", "rename_replacement": "copy-$1",
                    "include_global_state": False, "index_settings": {"index.number_of_replicas": 0}}  # fmt: skip
            es.snapshot.restore(repository="rr", snapshot="s", wait_for_completion=True, body=body)
            es.cluster.health(index=",".join(restored), wait_for_status="yellow", timeout="60s")
            watch.finish()
        reads = checks.result()
        assert sorted(name for name, _ in handed) == sorted(restored)  # each once
        assert all(usable for _, usable in handed)  # never before its primaries started
        assert reads.counts == client.doc_counts(es, restored) == dict.fromkeys(restored, 40)
        assert reads.prints == digests.fingerprints(es, sorted(restored), 5)
        assert reads.full == digests.full_digests(es, sorted(full), 2) and set(reads.full) == full
        assert reads.counted.started and reads.digested.started  # each kind of read timed from its first batch
        spans = recovery_spans(es, restored)
        assert set(spans) == set(restored)
        assert all(span.bytes > 0 and span.stop_ms >= span.start_ms for span in spans.values())
        assert recovery_throttle(es) == ("40mb", 1)  # ES 7.17's default, one data node
    finally:
        checks.cancel()
        es.indices.delete(index="rr_t-*,copy-rr_t-*")
        es.snapshot.delete(repository="rr", snapshot="s")


def test_a_failed_read_is_raised_by_the_result_and_a_cancelled_reader_reads_nothing_more(es: Elasticsearch) -> None:
    checks = IndexChecks(es, 5, set(), 1)
    checks.submit("rr-no-such-index")
    try:
        checks.result()
    except Exception as exc:  # the read's own error, handed to the verify phase
        assert "rr-no-such-index" in str(exc) or "index_not_found" in str(exc)
    else:
        raise AssertionError("a read of a missing index must fail")
    cancelled = IndexChecks(es, 5, set(), 1)
    cancelled.cancel()
    cancelled.submit("rr-no-such-index")
    assert cancelled.result().counts == {}
