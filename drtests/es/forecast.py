"""How long a full snapshot restore would take, from a restore of a share of it.

Scaling the whole restore by the bytes errs high: part of it does not grow with them (the
request, the cluster-state change that creates the indices, the wait for health). The restore's
own recovery spans (drtests.es.recovered) split it: the time outside the recoveries is the fixed
part; inside, each index costs a part of its own and a part per byte it reads (a least-squares
fit over the restored indices), and the recoveries overlap (the cluster recovers several shards
at once: the sum of the spans over their wall time). The forecast sums the fitted cost of every
index of the snapshot, divided by the same overlap, plus the fixed part; it is never below what
the cluster's recovery throttle (indices.recovery.max_bytes_per_sec, per data node) allows."""

from __future__ import annotations

import re
from dataclasses import dataclass

from drtests.es.recovered import Span

UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4, "pb": 1024**5}


def byte_rate(value: str) -> int | None:
    """An Elasticsearch byte size ("40mb", "1.5gb", "0") in bytes; 0 or -1: not throttled (None)."""
    match = re.fullmatch(r"\s*(-?[\d.]+)\s*([kmgtp]?b?)\s*", str(value).lower())
    if not match:
        return None
    unit = match[2] if match[2].endswith("b") else (match[2] + "b" if match[2] else "b")
    number = float(match[1]) * UNITS.get(unit, 1)
    return int(number) if number > 0 else None


@dataclass(frozen=True)
class RestoreModel:
    fixed_s: float  # the restore step outside the recoveries
    per_index_s: float  # one index's recovery, apart from its bytes
    per_byte_s: float
    overlap: float  # recoveries running at once, on average (sum of spans / their wall time)

    def seconds(self, sizes: list[int]) -> float:
        """The restore step's forecast for indices of these sizes."""
        work = sum(self.per_index_s + self.per_byte_s * size for size in sizes)
        return self.fixed_s + work / self.overlap


def fit(spans: list[Span], step_s: float) -> RestoreModel | None:
    """The model of one restore: its recovery spans and the restore step's measured time; None
    without spans (nothing recovered: nothing to scale)."""
    if not spans:
        return None
    wall = max(s.stop_ms for s in spans) / 1000 - min(s.start_ms for s in spans) / 1000
    seconds, sizes = [s.seconds for s in spans], [s.bytes for s in spans]
    n, total_s, total_b = len(spans), sum(seconds), sum(sizes)
    mean_b, mean_s = total_b / n, total_s / n
    variance = sum((b - mean_b) ** 2 for b in sizes)
    if variance > 0:
        per_byte = sum((b - mean_b) * (s - mean_s) for b, s in zip(sizes, seconds, strict=True)) / variance
        per_index = mean_s - per_byte * mean_b
    else:  # all of one size: per index and per byte cannot be told apart; the bytes carry it
        per_byte, per_index = (total_s / total_b, 0.0) if total_b else (0.0, mean_s)
    if per_byte < 0:  # bigger indices recovered faster: noise; per index only
        per_byte, per_index = 0.0, mean_s
    elif per_index < 0:
        per_byte, per_index = (total_s / total_b if total_b else 0.0), 0.0
    overlap = total_s / wall if wall > 0 else 1.0
    return RestoreModel(round(max(0.0, step_s - wall), 3), per_index, per_byte, max(overlap, 1e-9))


def throttle_floor_s(total_bytes: int, rate: int | None, data_nodes: int) -> float | None:
    """The least time the throttle allows for reading `total_bytes` (None: not throttled)."""
    if rate is None or data_nodes < 1:
        return None
    return total_bytes / (rate * data_nodes)
