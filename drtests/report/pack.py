"""An evidence pack for an audit period (`drtests export`): every drill folder of the period,
each verified against its manifest before it is packed, the history page, and a summary an
auditor reads first: drills per target, pass rate, RTO and RPO against objectives, sign-offs."""

from __future__ import annotations

import json
import statistics
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import jinja2

from drtests.errors import DrillError
from drtests.report import manifest, signoff
from drtests.report.history import by_target, summary


def parse_day(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise DrillError(f"{text!r} is not a day: write YYYY-MM-DD") from None


def drills_between(root: Path, since: datetime, until: datetime | None) -> list[tuple[Path, dict]]:
    """(folder, evidence) of every drill that started in [since, until), oldest first."""
    found = []
    for path in sorted(root.glob("*/evidence.json")):
        if path.parent.is_symlink():  # latest: the newest drill again
            continue
        try:
            evidence = json.loads(path.read_text())
            started = datetime.fromisoformat(evidence["started"].replace("Z", "+00:00"))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            raise DrillError(f"{path.parent}: evidence.json is not a drill's evidence: not packed") from None
        if started >= since and (until is None or started < until):
            found.append((path.parent, evidence))
    return sorted(found, key=lambda pair: pair[1]["started"])


def spread(values: list[float]) -> dict | None:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)} if values else None


def period_summary(drills: list[tuple[Path, dict]]) -> list[dict]:
    lines = [{**summary(evidence), "signoffs": signoff.read(folder)} for folder, evidence in drills]
    targets = []
    for target, rows in by_target(lines):
        passed = sum(1 for r in rows if r["verdict"] == "pass")
        targets.append({
            "target": target, "drills": len(rows), "passed": passed, "pass_rate": passed / len(rows),
            "rto": spread([r["rto_s"] for r in rows if r["rto_s"] is not None]),
            "rto_objective_s": rows[-1]["rto_objective_s"],
            "rpo": spread([r["rpo_s"] for r in rows if r["rpo_s"] is not None]),
            "rpo_objective_s": rows[-1]["rpo_objective_s"],
            "rows": rows,
        })  # fmt: skip
    return targets


def export(root: Path, since: datetime, until: datetime | None, out: Path) -> list[dict]:
    """Write the pack; DrillError (nothing written) when a folder of the period is not intact."""
    drills = drills_between(root, since, until)
    if not drills:
        raise DrillError(f"no drill in {root} started in the period: nothing to pack")
    refused = [f"{folder}: {problems[0]}" for folder, _ in drills if (problems := manifest.verify(folder))]
    if refused:
        raise DrillError(f"not intact, so not packed: {'; '.join(refused)}")
    targets = period_summary(drills)
    period = {"since": since.date().isoformat(), "until": until.date().isoformat() if until else None}
    env = jinja2.Environment(loader=jinja2.PackageLoader("drtests.report", "templates"), autoescape=True)
    page = env.get_template("pack.html.j2").render(targets=targets, period=period, count=len(drills))
    tmp = out.with_name(f".{out.name}.partial")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as pack:
        pack.writestr("summary.html", page)
        pack.writestr("summary.json", json.dumps({"period": period, "targets": targets}, indent=2, default=str))
        if (root / "index.html").exists():
            pack.write(root / "index.html", "index.html")
        for folder, _ in drills:
            for file in sorted(p for p in folder.rglob("*") if p.is_file()):
                pack.write(file, f"drills/{folder.name}/{file.relative_to(folder)}")
    tmp.replace(out)
    return targets
