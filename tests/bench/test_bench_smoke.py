"""The benchmark script runs end to end (at a tiny scale) and writes its results table."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_smoke_writes_every_measure(tmp_path: Path, lab_image: str) -> None:
    out = tmp_path / "RESULTS.md"
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--scale", "smoke", "--out", str(out), "--root", str(tmp_path / "lab"),
         "--image", lab_image],
        capture_output=True, text=True, cwd=ROOT, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    table = out.read_text()
    for measure in ("harness overhead", "peak RSS of the drill process", "ES requests for counts + fingerprints",
                    "sha256 of the backup", "log follower latency", "log follower CPU while idle",
                    "copy into the disposable host", "peak RSS while copying", "drill wall time, paths side by side",
                    "fixed cost outside stop, start, export, import, snapshot, restore",
                    "production downtime during an existing-backup drill", "full verification throughput",
                    "peak RSS while verifying in full",
                    "forecast of a full restore's RTO from a 1/4 share"):  # fmt: skip
        assert f"| {measure}" in table, measure
    assert "| paths one after the other | " in table and "| paths side by side | " in table
    # MB (of the snapshot), restore s, of it beside the graph path s, RTO s (range)
    run = r"[\d.]+ \([\d.]+\) \| [\d.]+ \| [\d.]+ \| [\d.]+ \([\d.]+-[\d.]+\)"
    assert re.search(rf"\| 1/1 \| 1 \| 24 \| {run} \| \(measured\) \|", table)
    assert re.search(rf"\| 1/4 \| 1 \| \d+ \| {run} \| [\d.]+ \| [-+][\d.]+ % \|", table)
    assert re.search(r"\| 24 \| 2000 \| 1 \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|", table)  # the fixed cost's row
    assert "24 indices" in table and "Command: `python -m bench.run --scale smoke" in table
    assert "{" not in table.split("## Where")[0]  # numbers, not Python reprs
    assert re.search(
        r"\| harness overhead, the time no call runs \(% of drill wall: wall - the calls' union\) \| "
        r"[\d.]+ \([\d.]+-[\d.]+\) \| <= 8 %",
        table,
    )
    assert re.search(
        r"\| critical-path overhead \(% of drill wall: wall - the longer path's own calls\) \| "
        r"[-\d.]+ \([-\d.]+-?[-\d.]+\) \| <= 10 %",
        table,
    )
    timeline = table.split("## Timeline of that drill")[1].split("\n## ")[0]
    assert re.search(r"telemetry path +restore / restore snapshot +[\d.]+ +[\d.]+ \|[ #]+\|", timeline)
    assert re.search(r"checks +verify / count and fingerprint restored docs +[\d.]+", timeline)
    assert re.search(
        r"- 1/4: fixed [\d.]+ s, [\d.]+ ms per index, [\d.]+ s per MB, overlap [\d.]+; "
        r"indices.recovery.max_bytes_per_sec 40mb on 1 data node\(s\)",
        table,
    )
