"""Restore shares (elasticsearch.restore_share): which indices one drill restores."""

from __future__ import annotations

from pathlib import Path

import pytest

from drtests.config import ConfigError, load, parse_overrides
from drtests.es.shares import index_group, newest_of_each_group, restore_share

NAMES = [f"sts_{group}-2026.11.{day:02d}" for group in ("metrics", "events", "traces") for day in range(1, 9)]
NAMES += ["sts_state"]


def test_each_drill_restores_its_slots_and_every_groups_newest_and_a_cycle_restores_all() -> None:
    newest = ["sts_events-2026.11.08", "sts_metrics-2026.11.08", "sts_state", "sts_traces-2026.11.08"]
    assert newest_of_each_group(NAMES) == newest
    seen: set[str] = set()
    for sequence in range(4):
        share = restore_share(NAMES, "1/4", sequence)
        assert set(newest) <= set(share.restored) and share.newest == newest
        assert sorted(share.restored + share.not_restored) == sorted(NAMES)
        assert len(share.restored) < len(NAMES)  # a share, not everything
        seen |= set(share.restored)
    assert seen == set(NAMES)  # four drills: every index restored at least once


def test_an_index_group_is_its_name_without_the_day() -> None:
    assert index_group("sts_metrics-2026.11.25") == "sts_metrics"
    assert index_group("sts_metrics_2026-11-25") == "sts_metrics"
    assert index_group("sts_state") == "sts_state"


@pytest.mark.parametrize("spec", ["off", "0/4", "5/4", "1/0", "quarter"])
def test_a_bad_restore_share_is_refused(tmp_path: Path, spec: str) -> None:
    (tmp_path / "d.toml").write_text("[drill]\n")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path / "d.toml", parse_overrides([f"elasticsearch.restore_share={spec}"]))
    assert caught.value.key == "elasticsearch.restore_share" and 'must be "n/t"' in caught.value.problem
