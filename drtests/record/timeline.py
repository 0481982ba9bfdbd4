"""When each step of the backup, the restore and the verification ran, against the two paths:
the graph path (the node stopped, the export or import, the node started), the telemetry path
(snapshot, snapshot restore) and the checks beside or after them. Read from the steps' own start
times and durations, so it shows what happened, not what was planned."""

from __future__ import annotations

from collections.abc import Iterable

from drtests.record.clock import parse_utc

GRAPH, TELEMETRY, CHECKS = "graph path", "telemetry path", "checks"
LANES = (GRAPH, TELEMETRY, CHECKS)
PHASES = ("backup", "restore", "verify")
GRAPH_STEPS = ("stop ", "start ", "export graph", "import graph", "copy backup file")
TELEMETRY_STEPS = ("snapshot", "restore snapshot", "write the restore ledger")


def lane_of(phase: str, name: str) -> str:
    if phase != "verify" and name.startswith(GRAPH_STEPS):
        return GRAPH
    if phase != "verify" and name.startswith(TELEMETRY_STEPS):
        return TELEMETRY
    return CHECKS


def _moment(stamp: str) -> float:
    return parse_utc(stamp).timestamp()


def timeline(steps: list[dict]) -> dict:
    """{"span_s": the whole, "bars": [{lane, phase, name, start_s, duration_s}]}, start_s counted
    from the first step of the backup; steps without a start time (recorded before they were
    timed) are left out."""
    timed = [s for s in steps if s.get("phase") in PHASES and s.get("started")]
    if not timed:
        return {"span_s": 0.0, "bars": []}
    t0 = min(_moment(s["started"]) for s in timed)
    bars = [
        {
            "lane": lane_of(s["phase"], s["name"]),
            "phase": s["phase"],
            "name": s["name"],
            "start_s": round(_moment(s["started"]) - t0, 3),
            "duration_s": s.get("duration_s") or 0.0,
        }
        for s in timed
    ]
    bars.sort(key=lambda b: (LANES.index(b["lane"]), b["start_s"]))
    span = max(b["start_s"] + b["duration_s"] for b in bars)
    return {"span_s": round(span, 3), "bars": bars}


def beside(steps: list[dict], name: str, besides: list[str]) -> tuple[float, float] | None:
    """(the step `name`'s seconds, how many of them the other steps of the restore and verify
    phases ran beside it, in their union), leaving out the telemetry path's own steps and those
    named in `besides` (work that runs beside any restore); None when `name` was not timed."""
    own = next((s for s in steps if s.get("name") == name and s.get("started")), None)
    if own is None:
        return None
    start, end = interval(own)
    spans = (
        (max(start, a), min(end, b))  # clipped to the step: an end before its start covers nothing
        for s in steps
        if s is not own and s.get("phase") in ("restore", "verify") and s.get("started")
        and lane_of(s["phase"], s["name"]) != TELEMETRY and s["name"] not in besides
        for a, b in (interval(s),)
    )  # fmt: skip
    return round(end - start, 3), round(covered_s(spans), 3)


def covered_s(spans: Iterable[tuple[float, float]]) -> float:
    """The seconds at least one of the (start, end) intervals covers: their union, overlaps counted once."""
    covered, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        covered += max(0.0, end - max(start, reach))
        reach = max(reach, end)
    return covered


def interval(step: dict) -> tuple[float, float]:
    """A timed step's (start, end), in seconds since the epoch."""
    start = _moment(step["started"])
    return start, start + (step.get("duration_s") or 0.0)
