"""Write a drill's evidence folder: evidence.json (schema-checked) and report.html; point
<reports>/latest at it."""

from __future__ import annotations

import json
import os
import platform
from importlib import metadata
from importlib.resources import files
from pathlib import Path

import jinja2
import jsonschema

from drtests.drill import Drill
from drtests.report import history
from drtests.report.manifest import write_manifest

SCHEMA = json.loads(files("drtests.report").joinpath("evidence.schema.json").read_text())


def versions(drill: Drill) -> dict[str, str]:
    found = {"drtests": metadata.version("drtests"), "python": platform.python_version()}
    for package in ("pytest", "pytest-testinfra", "elasticsearch"):
        found[package] = metadata.version(package)
    if version := drill.facts.get("stackstate_version", {}).get("target"):
        found["stackstate"] = version
    if es := drill.facts.get("elasticsearch"):
        found["elasticsearch-server"] = es["version"]
    return found


def validate(evidence: dict) -> None:
    """Raise jsonschema.ValidationError when the evidence does not match the shipped schema."""
    jsonschema.validate(evidence, SCHEMA, format_checker=jsonschema.FormatChecker())


def render_html(evidence: dict) -> str:
    env = jinja2.Environment(loader=jinja2.PackageLoader("drtests.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)  # fmt: skip
    return env.get_template("report.html.j2").render(e=evidence)


def write_evidence(drill: Drill, report_root: Path, final: bool = False) -> Path:
    """Write evidence.json, report.html and manifest.json; point `latest` here. The final write
    (after the safety steps) also appends to the history and refreshes index.html."""
    folder = report_root / drill.id
    folder.mkdir(parents=True, exist_ok=True)
    evidence = json.loads(json.dumps({**drill.to_dict(), "versions": versions(drill)}, default=str))
    validate(evidence)
    (folder / "evidence.json").write_text(json.dumps(evidence, indent=2) + "\n")
    (folder / "report.html").write_text(render_html(evidence))
    write_manifest(folder, drill.id)
    latest = report_root / "latest"
    tmp = report_root / f".latest-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(drill.id)
    tmp.replace(latest)
    if final:
        with history.locked(report_root):
            history.append(report_root, evidence)
            history.write_index(report_root, history.read(report_root))
    return folder
