"""The timeline of a drill's steps: lanes and offsets from the steps' own start times."""

from drtests.record.timeline import beside, timeline


def step(phase: str, name: str, started: str, duration_s: float) -> dict:
    return {"phase": phase, "name": name, "started": f"2026-12-07T03:00:{started}Z", "duration_s": duration_s}


def test_each_step_is_placed_in_its_lane_from_the_backups_first_step() -> None:
    steps = [
        step("baseline", "count docs", "00.000", 0.2),  # before the backup: not on the timeline
        step("backup", "stop stackstate", "01.000", 0.5),
        step("backup", "snapshot", "01.600", 0.3),
        step("restore", "copy backup file to restore host", "02.800", 0.2),  # an isolated drill's
        step("restore", "import graph", "03.000", 1.0),
        step("restore", "restore snapshot", "03.000", 4.0),
        step("verify", "count and fingerprint restored docs", "03.500", 3.5),
        {"phase": "restore", "name": "start stackstate", "started": "", "duration_s": 0.1},  # never timed
    ]
    found = timeline(steps)
    assert found["span_s"] == 6.0
    assert [(b["lane"], b["name"], b["start_s"]) for b in found["bars"]] == [
        ("graph path", "stop stackstate", 0.0),
        ("graph path", "copy backup file to restore host", 1.8),
        ("graph path", "import graph", 2.0),
        ("telemetry path", "snapshot", 0.6),
        ("telemetry path", "restore snapshot", 2.0),
        ("checks", "count and fingerprint restored docs", 2.5),
    ]
    assert timeline([]) == {"span_s": 0.0, "bars": []}


def test_beside_counts_the_union_of_the_other_work_within_the_restore() -> None:
    steps = [
        step("backup", "stop stackstate", "00.000", 5.0),  # another phase: not counted
        step("restore", "restore snapshot", "01.000", 4.0),
        step("restore", "write the restore ledger", "01.000", 0.1),  # the telemetry path's own
        step("restore", "stop stackstate", "00.500", 1.0),  # from before the restore: 0.5 s inside
        step("restore", "import graph", "01.200", 1.0),  # overlaps the stop: counted once
        step("verify", "count topology after the restore", "04.500", 2.0),  # 0.5 s inside
        step("verify", "count and fingerprint restored docs", "01.100", 3.9),  # runs beside any restore
    ]
    # 1.0-2.2 (the stop and the import) and 4.5-5.0 (the count) of the restore's 1.0-5.0
    assert beside(steps, "restore snapshot", ["count and fingerprint restored docs"]) == (4.0, 1.7)
    assert beside(steps, "snapshot", []) is None
