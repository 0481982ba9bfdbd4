"""The restored copies' counts, fingerprints and full digests, read as each index becomes usable.

A restore of many indices ends long after its first index is readable; reading each copy as soon
as its shards started (drtests.es.recovered) puts the proof beside the restore instead of after
it. Indices that became usable together are read together (one count and one fingerprint request
per batch, as for a whole list); a full digest reads one index. `workers` threads at most, so the
cluster and a small runner stay responsive while the restore goes on."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from elasticsearch import Elasticsearch

from drtests.es import client, digests
from drtests.record.clock import utc_ms

DONE = None  # put on the queue once per worker: no index follows


@dataclass
class ReadSpan:
    """When a kind of read ran: its first start (UTC ms, as steps record it), and how long from
    there to its last end."""

    started: str = ""
    t0: float = 0.0
    t1: float = 0.0

    def add(self, t0: float, t1: float) -> None:
        if not self.started:
            self.started, self.t0 = utc_ms(time.time() - (time.monotonic() - t0)), t0
        self.t0, self.t1 = min(self.t0, t0), max(self.t1, t1)

    @property
    def duration_s(self) -> float:
        return round(self.t1 - self.t0, 3) if self.started else 0.0


@dataclass
class RestoredReads:
    """What was read of the restored copies, by restored name."""

    counts: dict[str, int] = field(default_factory=dict)
    prints: dict[str, str] = field(default_factory=dict)
    full: dict[str, dict] = field(default_factory=dict)
    counted: ReadSpan = field(default_factory=ReadSpan)  # counts and fingerprints
    digested: ReadSpan = field(default_factory=ReadSpan)  # full digests


def next_batch(waiting: queue.Queue[str | None]) -> list[str] | None:
    """The next name, with every one queued meanwhile; None once DONE came (a DONE that ends a
    batch stays queued, for the taker's next turn)."""
    first = waiting.get()
    if first is DONE:
        return None
    batch = [first]
    while True:
        try:
            name = waiting.get_nowait()
        except queue.Empty:
            return batch
        if name is DONE:
            waiting.put(DONE)
            return batch
        batch.append(name)


class IndexChecks:
    """Reads each index handed to `submit` (from any thread), in `workers` threads; `result()`
    waits for them all and returns the reads, or raises the first read's error."""

    def __init__(self, es: Elasticsearch, sample: int, full: set[str], slices: int, workers: int = 2,
                 after_read: Callable[[list[str]], None] | None = None) -> None:  # fmt: skip
        """`after_read`, when given, gets each batch of names once every read of them is done."""
        self.es, self.sample, self.full, self.slices = es, sample, full, slices
        self.after_read = after_read
        self.reads = RestoredReads()
        self.cancelled = threading.Event()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self._closed = False
        self._busy = 0  # batches being read now
        self._threads = [
            threading.Thread(target=self._work, name=f"drtests-restored-reads-{n}", daemon=True) for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, name: str) -> None:
        self._queue.put(name)

    def _work(self) -> None:
        while (batch := next_batch(self._queue)) is not None:
            if self.cancelled.is_set() or self._error is not None:
                continue  # drain: the drill goes no further
            with self._lock:
                self._busy += 1
            try:
                self._read(batch)
                if self.after_read is not None and not self.cancelled.is_set():
                    self.after_read(batch)
            except BaseException as exc:  # handed to the verify phase by result()
                with self._lock:
                    self._error = self._error or exc
            finally:
                with self._lock:
                    self._busy -= 1

    def _read(self, batch: list[str]) -> None:
        t0 = time.monotonic()
        counts = client.doc_counts(self.es, batch)
        prints = digests.fingerprints(self.es, sorted(batch), self.sample)
        t1 = time.monotonic()
        full = {name: digests.full_digest(self.es, name, self.slices) for name in batch if name in self.full}
        t2 = time.monotonic()
        with self._lock:
            self.reads.counts |= counts
            self.reads.prints |= prints
            self.reads.counted.add(t0, t1)
            self.reads.full |= full
            if full:
                self.reads.digested.add(t1, t2)

    def close(self, wait: bool = True) -> None:
        """No index follows: the workers end once they read what they were given."""
        if not self._closed:
            self._closed = True
            for _ in self._threads:
                self._queue.put(DONE)
        for thread in self._threads if wait else ():
            thread.join()

    def cancel(self) -> None:
        """The drill stopped: nothing more is read; the read in flight ends by itself, unwaited
        (a full digest of a large index must not hold up the drill's safety steps)."""
        self.cancelled.set()
        self.close(wait=False)

    def running(self) -> bool:
        """Whether a read is still going on (or waiting to)."""
        return not self._queue.empty() or self._busy > 0

    def result(self) -> RestoredReads:
        self.close()
        if self._error is not None:
            raise self._error
        return self.reads
