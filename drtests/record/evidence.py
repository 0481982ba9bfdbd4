"""The drill as evidence.json holds it: `evidence_of` (the one place the record becomes the
schema's shape, with `facts_of` of the record), the schema beside it, and `write_json`, the one
writer of evidence.json."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict
from functools import cache
from importlib import metadata
from importlib.resources import files
from pathlib import Path

import jsonschema

from drtests.config.sections import EvidenceSection
from drtests.record.clock import utc_now
from drtests.record.drill import Drill, facts_of
from drtests.record.timeline import timeline
from drtests.sign import keys
from drtests.words import parse_age

EVIDENCE = "evidence.json"
SCHEMA = json.loads(files("drtests.record").joinpath("evidence.schema.json").read_text())


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
        "timeline": timeline([asdict(s) for s in drill.steps]),
        "warnings": list(drill.warnings),
        "rto": {
            "measured_s": drill.rto_seconds,
            "objective_s": drill.config.objectives.rto_seconds,
            **({"forecast_full_s": share.forecast_full_s} if (share := drill.restore.share) else {}),
        },
        "rpo": {"measured_s": drill.rpo_seconds, "objective_s": drill.config.objectives.rpo_seconds},
        **facts_of(drill),
        "versions": versions(drill),
        "signing": signing_of(drill),
        "controls": list(drill.config.evidence.controls),
        "follow_up": follow_up_of(drill.config.evidence),
    }


def follow_up_of(section: EvidenceSection) -> dict:
    """Who fixes what this drill finds, by when, and how often each control must be proven: signed
    with the drill, so the deficiency register and the cadence findings read it from the ledger's
    drills (the newest signed drill of a target says what holds for it now)."""
    every = {c.strip(): parse_age(age) for c, _, age in (e.partition("=") for e in section.every)}
    return {"owner": section.owner, "fix_within_days": section.fix_within_days, "every_s": every}


def signing_of(drill: Drill) -> dict:
    """Whether the drill signs its evidence, and with which key (its fingerprint)."""
    path = drill.config.signing_key_path
    if path is None:
        return {"signed": False, "keyid": None}
    found = {"signed": True, "keyid": keys.keyid(keys.load_private(path).public_key())}
    return found | ({"note": note} if (note := drill.config.evidence.signing_key_note) else {})


@cache
def validator() -> jsonschema.protocols.Validator:
    """The shipped schema's validator, its schema checked once (jsonschema.validate checks it on
    every call: a third of the cost of validating a drill's evidence)."""
    cls = jsonschema.validators.validator_for(SCHEMA)
    cls.check_schema(SCHEMA)
    return cls(SCHEMA, format_checker=jsonschema.FormatChecker())


def validate(evidence: dict) -> None:
    """Raise jsonschema.ValidationError when the evidence does not match the shipped schema."""
    validator().validate(evidence)


def write_json(folder: Path, evidence: dict) -> dict:
    """Write `folder`/evidence.json, schema-checked: the one place evidence.json is written. Returns
    the evidence as it was written (JSON types: what a reader of the file gets)."""
    written = json.loads(json.dumps(evidence, default=str))
    validate(written)
    (folder / EVIDENCE).write_text(json.dumps(written, indent=2) + "\n")
    return written
