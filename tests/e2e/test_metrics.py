"""A real drill's figures reach a real Prometheus (Debian's packages on loopback ports), through
node_exporter's textfile collector and through the Pushgateway; a metrics destination that does
not answer is a warning, never a failed drill."""

from __future__ import annotations

from pathlib import Path

from fixtures import prometheus
from tests.e2e.conftest import DrillLab, wait_for


def test_a_drill_reaches_prometheus_by_the_textfile_collector_and_the_pushgateway(drill_lab: DrillLab, tmp_path: Path):
    with prometheus.running(tmp_path / "monitoring") as monitoring:
        result = drill_lab.run("--set", f"metrics.textfile_dir={monitoring.textfile_dir}",
                               "--set", f"metrics.pushgateway_url={monitoring.pushgateway_url}")  # fmt: skip
        assert result.returncode == 0, result.stdout[-3000:]
        evidence = drill_lab.evidence()
        target = evidence["target_name"]
        assert list(monitoring.textfile_dir.glob("drtests_*.prom")) and not list(monitoring.textfile_dir.glob("*.tmp*"))

        def verified_by_both() -> bool:  # job "node": the textfile; "drtests": pushed (honor_labels keeps its job)
            found = monitoring.query(f'drtests_drill_verified{{target="{target}"}}')
            return sorted(r["metric"]["job"] for r in found if r["value"][1] == "1") == ["drtests", "node"]

        wait_for(verified_by_both, "drtests_drill_verified from both the textfile collector and the Pushgateway", 60)
        rto = monitoring.query(f'drtests_rto_seconds{{target="{target}",job="drtests"}}')
        assert (
            float(rto[0]["value"][1]) == round(evidence["rto"]["measured_s"], 6)
            or abs(float(rto[0]["value"][1]) - evidence["rto"]["measured_s"]) < 1e-6
        )
        met = monitoring.query(f'drtests_rto_met{{target="{target}",job="node"}}')
        assert met[0]["value"][1] == "1"
        checks = {r["metric"]["result"]: float(r["value"][1]) for r in
                  monitoring.query(f'drtests_checks{{target="{target}",job="drtests"}}')}  # fmt: skip
        assert checks["failed"] == 0 and checks["passed"] == sum(c["verdict"] == "pass" for c in evidence["checks"])

    unreachable = drill_lab.run("--set", "metrics.pushgateway_url=http://127.0.0.1:9",
                                "--set", f"metrics.textfile_dir={tmp_path / 'no-such-folder'}")  # fmt: skip
    assert unreachable.returncode == 0, unreachable.stdout[-2000:]
    assert "WARNING: metrics not pushed to http://127.0.0.1:9: " in unreachable.stdout
    assert f"WARNING: metrics not written to {tmp_path / 'no-such-folder'}: " in unreachable.stdout
