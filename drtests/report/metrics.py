"""Each drill's figures for Prometheus, per target: through node_exporter's textfile collector
([metrics] textfile_dir, written atomically) and/or a Pushgateway ([metrics] pushgateway_url).
"When did recovery last work, and how long did it take" as series an alert can watch. A metrics
failure is a warning, never a drill failure."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, write_to_textfile

from drtests.config import DrillConfig
from drtests.evidence import ledger
from drtests.evidence.deficiencies import SEVERITIES
from drtests.record import store
from drtests.sign import keys

# every series drtests exports (the shipped rules and dashboard may use only these)
NAMES = ("drtests_drill_verified", "drtests_last_drill_timestamp_seconds", "drtests_last_success_timestamp_seconds",
         "drtests_rto_seconds", "drtests_rto_objective_seconds", "drtests_rto_met", "drtests_rpo_seconds",
         "drtests_rpo_objective_seconds", "drtests_rpo_met", "drtests_backup_age_seconds", "drtests_checks",
         "drtests_full_verify_coverage_ratio", "drtests_drill_duration_seconds", "drtests_safety_steps_failed",
         "drtests_deficiencies_open", "drtests_deficiency_due_timestamp_seconds")  # fmt: skip


def epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def registry_of(evidence: dict, history: list[store.DrillSummary], passes: list[str]) -> CollectorRegistry:
    """The target's series after this drill (`history`: the target's drills, this one last, for
    full verification's coverage; `passes`: when each passing drill the ledger proves started)."""
    registry, target = CollectorRegistry(), evidence["target_name"]

    def gauge(name: str, text: str, value: float | None, **labels: str) -> None:
        if value is None:
            return
        metric = Gauge(name, text, ["target", *labels], registry=registry)
        metric.labels(target=target, **labels).set(value)

    passed = evidence["verdict"] == "pass"
    successes = [epoch(started) for started in passes]
    rpo = evidence["rpo"]
    gauge("drtests_drill_verified", "1 when the target's last drill passed (recovery proven), else 0", float(passed))
    gauge("drtests_last_drill_timestamp_seconds", "when the last drill started", epoch(evidence["started"]))
    gauge("drtests_last_success_timestamp_seconds", "when the last passing drill started (of those the report "
          "folder's ledger proves)", max(successes) if successes else None)  # fmt: skip
    for key, what in (("rto", "restore time"), ("rpo", "age of the newest data in the backup")):
        measured, objective = evidence[key]["measured_s"], evidence[key]["objective_s"]
        gauge(f"drtests_{key}_seconds", f"{key.upper()} measured: {what}", measured)
        gauge(f"drtests_{key}_objective_seconds", f"{key.upper()} objective", objective)
        gauge(f"drtests_{key}_met", f"1 when the {key.upper()} met its objective", None if measured is None
              else float(measured <= objective))  # fmt: skip
    gauge("drtests_backup_age_seconds", "age of the newest data in the backup the drill restored (its RPO)",
          rpo["measured_s"])  # fmt: skip
    checks = Gauge("drtests_checks", "the last drill's checks, by result", ["target", "result"], registry=registry)
    for result, verdict in (("passed", "pass"), ("failed", "fail"), ("unproven", "unproven")):
        checks.labels(target=target, result=result).set(sum(c["verdict"] == verdict for c in evidence["checks"]))
    if found := store.coverage(history):
        gauge("drtests_full_verify_coverage_ratio", "share of the indices verified in full within the current cycle",
              found[0] / found[1] if found[1] else 0.0)  # fmt: skip
    gauge("drtests_drill_duration_seconds", "the last drill's wall time", epoch(evidence["ended"]) -
          epoch(evidence["started"]))  # fmt: skip
    failed_safety = sum(c["phase"] == "safety" and c["verdict"] == "fail" for c in evidence["checks"])
    gauge("drtests_safety_steps_failed", "safety steps of the last drill that failed (what was left is in its "
          "report)", float(failed_safety))  # fmt: skip
    deficiency_series(registry, target, evidence.get("deficiencies") or {})
    return registry


def deficiency_series(registry: CollectorRegistry, target: str, change: dict) -> None:
    """The target's open deficiencies by severity (0 too, so an alert resolves) and the earliest
    due day among them: `time() > drtests_deficiency_due_timestamp_seconds` fires when one is
    overdue, whenever that day comes, drill or no drill. Nothing when the register was unreadable."""
    if "opened" not in change:
        return
    still = [d for kind in ("opened", "recurring", "still_open") for d in change.get(kind) or []]
    found = Gauge("drtests_deficiencies_open", "deficiencies of the target not yet proven fixed, by severity "
                  "(drtests deficiencies lists them)", ["target", "severity"], registry=registry)  # fmt: skip
    for severity in SEVERITIES:
        found.labels(target=target, severity=severity).set(sum(d["severity"] == severity for d in still))
    if still:
        due = Gauge("drtests_deficiency_due_timestamp_seconds", "the end of the earliest due day of the target's "
                    "open deficiencies", ["target"], registry=registry)  # fmt: skip
        due.labels(target=target).set(min(epoch(f"{d['due']}T00:00:00Z") for d in still) + 86400)


def proven_passes(cfg: DrillConfig, root: Path) -> list[str]:
    """When this target's passing drills started, from the ledger's unbroken chain (lines signed by
    the drill's key, when it has one): a line appended to history.jsonl cannot make recovery look
    proven more recently than it was."""
    path = cfg.signing_key_path
    public = [keys.load_private(path).public_key()] if path else None
    return [str(e.get("started")) for e in ledger.drill_lines(root, public)
            if e.get("target") == cfg.target_name and e.get("verdict") == "pass"]  # fmt: skip


def publish(cfg: DrillConfig, evidence: dict, root: Path) -> list[str]:
    """Write and/or push the target's series; what went wrong, a line each (warnings)."""
    settings, problems = cfg.metrics, []
    if not settings.textfile_dir and not settings.pushgateway_url:
        return problems
    history = [e for e in store.history(root) if e.target_name == cfg.target_name]
    registry = registry_of(evidence, history, proven_passes(cfg, root))
    if settings.textfile_dir:
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", cfg.target_name)
        try:
            write_to_textfile(str(Path(settings.textfile_dir) / f"drtests_{name}.prom"), registry)  # temp + rename
        except OSError as exc:
            problems.append(f"metrics not written to {settings.textfile_dir}: {exc.strerror or exc}")
    if settings.pushgateway_url:
        try:
            push_to_gateway(settings.pushgateway_url, job=settings.job, registry=registry,
                            grouping_key={"target": cfg.target_name}, timeout=settings.timeout)  # fmt: skip
        except Exception as exc:  # noqa: BLE001 (urllib's and the gateway's errors alike: a warning, never a failure)
            problems.append(f"metrics not pushed to {settings.pushgateway_url}: {exc}")
    return problems
