"""Which indices one drill restores (elasticsearch.restore_share = "n/t"): the indices in this
drill's n of t slots, by the same rule as full verification (so with equal shares the share
restored is the share verified in full), plus the newest index of each group, always (the data
being written: what the RPO is measured on). Within t/n drills every index is restored once."""

from __future__ import annotations

import re

from drtests.es.digests import chosen_for_full_verify
from drtests.record.results import RestoreShare

DAY = re.compile(r"(\d{4})[.-](\d{2})[.-](\d{2})$")  # the daily suffix: sts_metrics-2026.11.25


def index_group(name: str) -> str:
    """The index's group: its name without the daily suffix (an index without one is its own)."""
    return DAY.sub("", name).rstrip("-_.") if DAY.search(name) else name


def newest_of_each_group(names: list[str]) -> list[str]:
    """Per group, the index with the latest day (names sort by day within a group)."""
    newest: dict[str, str] = {}
    for name in sorted(names):
        newest[index_group(name)] = name
    return sorted(newest.values())


def restore_share(names: list[str], spec: str, sequence: int) -> RestoreShare:
    chosen = set(chosen_for_full_verify(sorted(names), spec, sequence))
    newest = newest_of_each_group(names)
    restored = sorted(chosen | set(newest))
    return RestoreShare(spec, sequence, restored, newest, sorted(set(names) - set(restored)))
