"""Restored copies removed beside the drill's last checks, each once the drill has read it.

Deleting a snapshot's 200 restored copies at the drill's end took 0.6-1.5 s of its critical path.
A copy that was counted, fingerprinted and (in its share) hashed in full is not read again by the
drill when nothing after the restore reads it (drtests.proof_beside.removes_copies_once_read says
when); its deletion can run beside the reads of the last copies, the verify phase and the report.
Never while the restore request runs: Elasticsearch counts every shard of an index deleted during
its restore as a failed shard, which would blur the restore's own result. `begin()` once the
restore returned (and the RTO forecast read the copies' recovery spans); `stop()` from the safety
step (the copies handed by then go first), which then deletes what is left and checks that
nothing is."""

from __future__ import annotations

import queue
import threading
import time

from elasticsearch import Elasticsearch
from elasticsearch import exceptions as es_errors

from drtests.es.as_restored import DONE, ReadSpan, next_batch
from drtests.es.client import delete_indices


class CopyRemover:
    """Deletes the copies handed to `remove` (from any thread) in a thread of its own, from
    `begin()` on, those handed meanwhile together, so a reader never waits for a deletion."""

    def __init__(self, es: Elasticsearch) -> None:
        self.es = es
        self.removed: list[str] = []
        self.span = ReadSpan()
        self.error = ""  # the first deletion that failed (its copies are left for the safety step)
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._begun = threading.Event()
        self._dropped = False  # stop() came before begin()
        self._thread = threading.Thread(target=self._run, name="drtests-copy-removal", daemon=True)
        self._thread.start()

    def remove(self, names: list[str]) -> None:
        for name in names:
            self._queue.put(name)

    def begin(self) -> None:
        """The restore request returned: the copies read so far, and each read from now on, go."""
        self._begun.set()

    def _run(self) -> None:
        self._begun.wait()
        if self._dropped:  # stopped before the restore returned: the safety step deletes them all
            return
        while (names := next_batch(self._queue)) is not None:
            t0 = time.monotonic()
            try:
                delete_indices(self.es, names)
            except es_errors.TransportError as exc:  # a busy cluster: the safety step deletes them
                self.error = self.error or str(exc)
                continue
            self.removed += names
            self.span.add(t0, time.monotonic())

    def stop(self) -> list[str]:
        """The copies handed so far are deleted, then no more: the names removed (a copy handed
        after stop() stays, for the safety step; before begin(), every copy does)."""
        self._dropped = not self._begun.is_set()
        self._queue.put(DONE)
        self._begun.set()
        self._thread.join()
        return list(self.removed)
