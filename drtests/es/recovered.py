"""Which restored indices are usable while the restore still runs, and how long each took.

A snapshot restore recovers index by index; an index can be read as soon as all of its primary
shards started, long before the last index of a large snapshot has. `RecoveryWatch` hands each
index on at that moment (the checks on it start then); `recovery_spans` reads, after the restore,
when each index's recovery started and stopped and how many bytes it read: what the RTO forecast
of a full restore is fitted to."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from elasticsearch import Elasticsearch
from elasticsearch import exceptions as es_errors

from drtests.es.client import expressions


def started_indices(es: Elasticsearch, names: list[str]) -> set[str]:
    """Of `names`, those whose every primary shard is STARTED (the routing table lists every shard,
    unassigned ones too, so an index whose second shard waits for its turn is not started yet).
    Before the restore request has created an index, none of them is."""
    primaries: dict[str, bool] = {}
    for part in expressions(names):
        try:
            rows = es.cat.shards(index=part, h="index,prirep,state", format="json")
        except es_errors.NotFoundError:  # an index of this part is not created yet
            continue
        for row in rows:
            if row["prirep"] == "p":
                primaries[row["index"]] = primaries.get(row["index"], True) and row["state"] == "STARTED"
    return {name for name, started in primaries.items() if started}


class RecoveryWatch:
    """Polls the restore's target indices in a thread of its own and calls `ready(name)` once for
    each, as soon as it has started; `finish()` (after the restore returned) hands on the rest.
    A failed poll is retried at the next; the restore's own result is what fails a drill."""

    def __init__(self, es: Elasticsearch, names: list[str], ready: Callable[[str], None], interval: float = 0.2):
        self.es, self.names, self.ready, self.interval = es, list(names), ready, interval
        self.handed: set[str] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="drtests-recovery-watch", daemon=True)

    def __enter__(self) -> RecoveryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            try:
                self.poll()
            except es_errors.TransportError:  # a busy cluster: the next poll asks again
                pass
            if self._stop.wait(self.interval):
                return

    def poll(self) -> None:
        waiting = [name for name in self.names if name not in self.handed]
        if not waiting:
            return
        for name in sorted(started_indices(self.es, waiting)):
            self.hand_on(name)

    def hand_on(self, name: str) -> None:
        with self._lock:
            if name in self.handed:
                return
            self.handed.add(name)
        self.ready(name)

    def finish(self) -> None:
        """The restore ended with every shard recovered: whatever was not handed on yet is now."""
        self.stop()
        for name in self.names:
            self.hand_on(name)


@dataclass(frozen=True)
class Span:
    """One restored index's recovery: from its first shard's start to its last shard's stop."""

    index: str
    start_ms: int
    stop_ms: int
    bytes: int

    @property
    def seconds(self) -> float:
        return (self.stop_ms - self.start_ms) / 1000


def recovery_spans(es: Elasticsearch, names: list[str]) -> dict[str, Span]:
    """Per restored index, its recovery span and the bytes it read from the repository (the
    recovery API, snapshot recoveries only)."""
    spans: dict[str, Span] = {}
    for part in expressions(names):
        for index, state in es.indices.recovery(index=part, active_only=False).items():
            shards = [s for s in state.get("shards", []) if s.get("type") == "SNAPSHOT"]
            if not shards:
                continue
            spans[index] = Span(
                index,
                min(int(s["start_time_in_millis"]) for s in shards),
                max(int(s.get("stop_time_in_millis") or s["start_time_in_millis"]) for s in shards),
                sum(int(s["index"]["size"]["total_in_bytes"]) for s in shards),
            )
    return spans


def recovery_throttle(es: Elasticsearch) -> tuple[str, int]:
    """The cluster's indices.recovery.max_bytes_per_sec as set (transient over persistent over the
    node's default) and its number of data nodes: the throttle applies to each data node, to
    snapshot restores as to peer recoveries."""
    settings = es.cluster.get_settings(include_defaults=True, flat_settings=True)
    key = "indices.recovery.max_bytes_per_sec"
    value = next((settings[s][key] for s in ("transient", "persistent", "defaults") if key in settings.get(s, {})), "")
    return str(value), int(es.cluster.health()["number_of_data_nodes"])
