"""The bench's figures from a drill's evidence: the time calls ran counts overlapping calls once."""

from bench.run import calls_covered


def step(name: str, started: str, seconds: float) -> dict:
    return {"phase": "restore", "name": name, "started": f"2026-12-07T08:00:{started}Z", "duration_s": seconds}


def test_overlapping_calls_count_once_and_other_steps_not_at_all() -> None:
    evidence = {"steps": [
        step("stop stackstate", "00.000", 1.0),
        step("restore snapshot", "00.500", 3.0),  # beside the stop and the import
        step("import graph", "01.000", 1.0),
        step("count docs", "05.000", 1.0),  # a check, not a call
        step("start stackstate", "06.000", 0.5),
    ]}  # fmt: skip
    assert calls_covered(evidence) == 4.0  # 0-3.5 s and 6-6.5 s; the sum of the calls is 5.5 s


def test_calls_one_after_the_other_cover_their_sum() -> None:
    evidence = {"steps": [step("export graph", "00.000", 2.0), step("snapshot", "02.000", 1.25)]}
    assert calls_covered(evidence) == 3.25
