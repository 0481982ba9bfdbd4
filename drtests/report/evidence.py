"""Write a drill's evidence folder: evidence.json (schema-checked) and report.html; point
<reports>/latest at it."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict
from importlib import metadata
from importlib.resources import files
from pathlib import Path

import jinja2
import jsonschema

from drtests.drill import Drill, utc_now
from drtests.report import history
from drtests.report.manifest import write_manifest

SCHEMA = json.loads(files("drtests.report").joinpath("evidence.schema.json").read_text())


def versions(drill: Drill) -> dict[str, str]:
    found = {"drtests": metadata.version("drtests"), "python": platform.python_version()}
    for package in ("pytest", "pytest-testinfra", "elasticsearch"):
        found[package] = metadata.version(package)
    if version := drill.preflight.stackstate_version:
        found["stackstate"] = version
    if es := drill.preflight.elasticsearch:
        found["elasticsearch-server"] = es.version
    return found


def evidence_of(drill: Drill) -> dict:
    """The drill as evidence.json holds it: the one place the record becomes the schema's shape."""
    return {
        "drill_id": drill.id,
        "name": drill.config.drill.name,
        "config": {"file": drill.config.source, "sha256": drill.config.sha256},
        "operator": drill.operator,
        "target": drill.target,
        "target_name": drill.config.target_name,
        "mode": drill.config.drill.mode,
        "gate": drill.gate,
        "started": drill.started,
        "ended": drill.ended or utc_now(),
        "verdict": drill.verdict,
        "phases": [{k: v for k, v in asdict(p).items() if not k.startswith("_")} for p in drill.phases.values()],
        "checks": [asdict(c) for c in drill.checks],
        "steps": [asdict(s) for s in drill.steps],
        "warnings": list(drill.warnings),
        "rto": {"measured_s": drill.rto_seconds, "objective_s": drill.config.objectives.rto_seconds},
        "rpo": {"measured_s": drill.rpo_seconds, "objective_s": drill.config.objectives.rpo_seconds},
        **facts_of(drill),
        "versions": versions(drill),
    }


def facts_of(drill: Drill) -> dict:
    """What the phases found, under the evidence's names; a part the drill never reached is absent."""
    pre, base, backup, restore, verify = drill.preflight, drill.baseline, drill.backup, drill.restore, drill.verify
    facts: dict = {}
    if pre.target_host is not None:
        facts["target_host"] = pre.target_host
    if drill.phases["preflight"].status != "pending":
        facts["stackstate_version"] = {"target": pre.stackstate_version}
        if drill.phases["restore"].status not in ("pending", "skipped"):
            facts["stackstate_version"]["restore_host"] = restore.stackstate_version
    if pre.elasticsearch is not None:
        facts["elasticsearch"] = asdict(pre.elasticsearch)
    if pre.restore_cluster is not None:
        facts["restore_cluster"] = asdict(pre.restore_cluster)
    if pre.leftovers:
        facts["leftovers"] = pre.leftovers
    if pre.node_state_at_start is not None:
        facts["node_state_at_start"] = pre.node_state_at_start
    if base.probe:
        facts["topology"] = {"probe": base.probe, "before": base.topology}
        if verify.topology is not None:
            facts["topology"]["after"] = verify.topology
    if base.docs is not None:
        facts["telemetry"] = {"indices": base.indices, "before": base.docs}
        facts["fingerprints"] = {}
        if backup.docs_at_snapshot is not None:
            facts["telemetry"]["at_snapshot"] = backup.docs_at_snapshot
        if base.fingerprints is not None:
            facts["fingerprints"]["live"] = base.fingerprints
        if backup.fingerprints_at_snapshot is not None:
            facts["fingerprints"]["at_snapshot"] = backup.fingerprints_at_snapshot
        if verify.docs is not None:
            facts["telemetry"]["restored"] = verify.docs
        if verify.fingerprints is not None:
            facts["fingerprints"]["restored"] = verify.fingerprints
    if backup.artifact is not None:
        facts["artifact"] = asdict(backup.artifact)
    if backup.snapshot is not None:
        facts["snapshot"] = asdict(backup.snapshot)
    if (host := restore.host) is not None:
        facts["restore_host"] = {"url": host.url, "image": host.image, "ready_s": host.ready_s}
        if host.kept:
            facts["restore_host"]["kept"] = True
        if host.artifact is not None:
            facts["restore_host"]["artifact"] = {**asdict(host.artifact), "copied_by": host.copied_by}
    if restore.log is not None:
        facts["restore_log"] = asdict(restore.log)
    if restore.watermark_ns is not None:
        facts["watermark_ns"] = restore.watermark_ns
    if restore.telemetry is not None:
        facts["restore"] = asdict(restore.telemetry)
    if backup.paths_s is not None or restore.paths_s is not None:
        consistency = (
            "the snapshot was taken while the node was stopped for the export: no telemetry was "
            "written in between, so the graph backup and the snapshot hold one moment"
        )
        facts["paths"] = {"backup_s": backup.paths_s, "restore_s": restore.paths_s, "consistency": consistency}
    if drill.config.drill.mode == "existing":
        facts["existing"] = existing_facts(drill)
    if (full := backup.full_verify) is not None:
        facts["full_verification"] = asdict(full)
    if drill.infrastructure_error:
        facts["infrastructure_error"] = drill.infrastructure_error
    return facts


def existing_facts(drill: Drill) -> dict:
    """What an existing-backup drill picked, from which candidates and why, and how it compared."""
    backup, verify = drill.backup, drill.verify
    found: dict = {"recorded": backup.recorded}
    if backup.file_selection is not None:
        found["backup_file"] = asdict(backup.file_selection)
    if backup.snapshot_selection is not None:
        found["snapshot"] = asdict(backup.snapshot_selection)
    if verify.index_rules is not None:
        found["index_rules"] = verify.index_rules
    if verify.topology_drift is not None:
        found["topology_drift"] = verify.topology_drift
    return found


def validate(evidence: dict) -> None:
    """Raise jsonschema.ValidationError when the evidence does not match the shipped schema."""
    jsonschema.validate(evidence, SCHEMA, format_checker=jsonschema.FormatChecker())


def shown(value: object) -> str:
    """A value as a reader reads it: yes/no, a dash for nothing, "key: value" pairs, not Python."""
    if value is True or value is False:
        return "yes" if value else "no"
    if value is None:
        return "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {shown(v)}" for k, v in value.items()) or "none"
    if isinstance(value, list):
        return ", ".join(shown(v) for v in value) or "none"
    return str(value)


def render_html(evidence: dict, signoffs: list[dict] | None = None) -> str:
    env = jinja2.Environment(loader=jinja2.PackageLoader("drtests.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)  # fmt: skip
    env.filters["shown"] = shown
    return env.get_template("report.html.j2").render(e=evidence, signoffs=signoffs or [])


def write_evidence(drill: Drill, report_root: Path, final: bool = False) -> Path:
    """Write evidence.json, report.html and manifest.json; point `latest` here. The final write
    (after the safety steps) also appends to the history and refreshes index.html."""
    folder = report_root / drill.id
    folder.mkdir(parents=True, exist_ok=True)
    evidence = json.loads(json.dumps(evidence_of(drill), default=str))
    validate(evidence)
    (folder / "evidence.json").write_text(json.dumps(evidence, indent=2) + "\n")
    (folder / "report.html").write_text(render_html(evidence))
    write_manifest(folder, drill.id)
    latest = report_root / "latest"
    if latest.is_symlink() or not latest.exists():  # a real folder named latest is someone's: left alone
        tmp = report_root / f".latest-{os.getpid()}"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(drill.id)
        tmp.replace(latest)
    if final:
        with history.locked(report_root):
            history.append(report_root, evidence)
            history.write_index(report_root, history.read(report_root))
    return folder
