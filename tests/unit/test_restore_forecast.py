"""The RTO forecast of a full restore from a share's recovery spans (pure arithmetic), and its check."""

import pytest

from drtests.config import load
from drtests.drills.phase_5_verify import forecast_full_rto
from drtests.es.forecast import byte_rate, fit, throttle_floor_s
from drtests.es.recovered import Span
from drtests.record.clock import utc_ms
from drtests.record.drill import Drill, Step
from drtests.record.results import RestoreShare


def spans_of(costs: list[tuple[int, float]], overlap: int = 2, start_ms: int = 1_000_000) -> list[Span]:
    """Indices recovered `overlap` at a time, each taking its given seconds."""
    lanes, spans = [start_ms] * overlap, []
    for n, (size, seconds) in enumerate(costs):
        lane = min(range(overlap), key=lanes.__getitem__)
        begin = lanes[lane]
        lanes[lane] = begin + int(seconds * 1000)
        spans.append(Span(f"i{n}", begin, lanes[lane], size))
    return spans


def test_a_share_forecasts_the_whole_from_a_fixed_part_and_a_part_per_index_and_per_byte() -> None:
    # every index costs 0.08 s plus 0.1 s per MB, two at once; the restore step adds 0.5 s of its own
    cost = lambda size: 0.08 + 0.1 * size / 1e6  # noqa: E731
    whole = [(int(mb * 1e6), cost(mb * 1e6)) for mb in [0.1, 0.5, 1.0, 2.0] * 50]
    share = whole[::4] + whole[1::8]
    spans = spans_of(share)
    wall = (max(s.stop_ms for s in spans) - min(s.start_ms for s in spans)) / 1000
    model = fit(spans, wall + 0.5)
    assert model.fixed_s == pytest.approx(0.5, abs=0.01)
    assert model.per_index_s == pytest.approx(0.08, abs=0.01)
    assert model.per_byte_s == pytest.approx(0.1e-6, rel=0.05)
    measured = (max(s.stop_ms for s in spans_of(whole)) - min(s.start_ms for s in spans_of(whole))) / 1000 + 0.5
    assert model.seconds([size for size, _ in whole]) == pytest.approx(measured, rel=0.05)
    # scaling the share by the bytes alone errs high: the fixed part does not grow with them
    by_bytes = (wall + 0.5) * sum(s for s, _ in whole) / sum(s for s, _ in share)
    assert abs(by_bytes - measured) > abs(model.seconds([size for size, _ in whole]) - measured)


def test_indices_of_one_size_carry_their_cost_by_the_byte_and_nothing_recovered_gives_no_model() -> None:
    model = fit(spans_of([(1000, 0.2)] * 4, overlap=1), 1.0)
    assert (model.fixed_s, model.per_index_s) == (0.2, 0.0)
    assert model.seconds([1000] * 8) == pytest.approx(0.2 + 1.6)
    assert fit([], 3.0) is None


def test_the_throttle_reads_as_elasticsearch_writes_it_and_sets_a_floor() -> None:
    assert byte_rate("40mb") == 40 * 1024**2
    assert byte_rate("1.5gb") == int(1.5 * 1024**3)
    assert byte_rate("512b") == 512 and byte_rate("2k") == 2048
    assert byte_rate("0") is None and byte_rate("-1") is None and byte_rate("fast") is None
    assert throttle_floor_s(80 * 1024**2, byte_rate("40mb"), 1) == 2.0
    assert throttle_floor_s(80 * 1024**2, byte_rate("40mb"), 2) == 1.0
    assert throttle_floor_s(80 * 1024**2, None, 1) is None


def test_a_forecast_says_how_much_of_the_shares_restore_ran_beside_the_graph_work(tmp_path) -> None:
    (tmp_path / "d.toml").write_text("")
    drill = Drill(load(tmp_path / "d.toml"), target="local://")
    restore = drill.phases["restore"]
    restore.status, restore.duration_s = "pass", 3.5
    drill.restore.paths_s = {"graph": 2.0, "telemetry": 3.0}
    t0 = 1_796_600_000.0
    drill.steps += [
        Step("restore", "restore snapshot", started=utc_ms(t0), duration_s=3.0),
        Step("restore", "import graph", started=utc_ms(t0 + 0.5), duration_s=1.0),
        Step("verify", "count topology after the restore", started=utc_ms(t0 + 2.0), duration_s=2.0),
        Step("verify", "count and fingerprint restored docs", started=utc_ms(t0), duration_s=3.0),  # any restore's
    ]
    share = RestoreShare("1/4", 0, ["a"], ["a"], ["b", "c", "d"], bytes_restored=1, bytes_total=4, telemetry_full_s=9.0)
    forecast_full_rto(drill, share, objective=5)
    check = drill.checks[-1]
    assert (check.actual, check.verdict) == (9.5, "fail") and share.beside_graph_s == 2.0  # 0.5-1.5 and 2.0-3.0
    assert check.message.endswith(
        "in 3.0s; a full snapshot restore 9.0s; the graph path and its checks ran beside 2s of this restore's 3s, "
        "which a full restore outlasts: whatever they slowed here is forecast for all of it), objective 5s"
    ), check.message
