"""The drill history of a report folder: history.jsonl (one line per drill, appended) and
index.html (every drill, newest first, with an RTO/RPO trend chart against the objectives)."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import jinja2

HISTORY = "history.jsonl"


def summary(evidence: dict) -> dict:
    return {
        "drill_id": evidence["drill_id"], "name": evidence["name"], "started": evidence["started"],
        "verdict": evidence["verdict"], "mode": evidence["mode"], "target": evidence["target"],
        "target_name": target_of(evidence),
        "rto_s": evidence["rto"]["measured_s"], "rto_objective_s": evidence["rto"]["objective_s"],
        "rpo_s": evidence["rpo"]["measured_s"], "rpo_objective_s": evidence["rpo"]["objective_s"],
        "failed_checks": sum(1 for c in evidence["checks"] if c["verdict"] == "fail"),
        **full_verification_summary(evidence),
    }  # fmt: skip


def full_verification_summary(evidence: dict) -> dict:
    """Which indices the drill verified in full (elasticsearch.full_verify), and how many it had."""
    full = evidence.get("full_verification")
    if not full:
        return {}
    verified = sorted(name for name in full["indices"] if name in (full.get("restored") or {}))
    return {"full_verify": full["share"], "full_verified": verified,
            "indices": len(evidence.get("telemetry", {}).get("before") or {})}  # fmt: skip


def full_coverage(drills: list[dict]) -> str | None:
    """The share of the newest drill's indices verified in full within the last cycle (its t
    drills), as "k of n indices in the last t drills"; None without full verification."""
    newest = drills[-1] if drills else {}
    if "full_verify" not in newest:
        return None
    n, t = (int(x) for x in newest["full_verify"].split("/"))
    cycle = -(-t // n)
    verified = {name for entry in drills[-cycle:] for name in entry.get("full_verified", [])}
    return f"{len(verified)} of {newest['indices']} indices in the last {min(cycle, len(drills))} drills"


REQUIRED = ("drill_id", "started", "verdict", "target")


def read(root: Path) -> list[dict]:
    """The history's drills; a line that is not one (hand-edited, cut short by a full disk) is
    left out: the history is rebuilt from the evidence folders by `drtests report`."""
    path = root / HISTORY
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and all(key in entry for key in REQUIRED):
            entries.append(entry)
    return entries


@contextmanager
def locked(root: Path) -> Iterator[None]:
    """One writer at a time: the drills of a fleet finish in parallel processes."""
    with (root / ".history.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def append(root: Path, evidence: dict) -> None:
    with (root / HISTORY).open("a") as f:
        f.write(json.dumps(summary(evidence), sort_keys=True) + "\n")


def target_of(entry: dict) -> str:
    """An evidence's or history line's install name (lines written before fleets: its URL)."""
    return entry.get("target_name") or entry["target"]


def by_target(entries: list[dict]) -> list[tuple[str, list[dict]]]:
    """(target, its drills oldest first) for each target, by name."""
    groups: dict[str, list[dict]] = {}
    for entry in entries:
        groups.setdefault(target_of(entry), []).append(entry)
    return sorted(groups.items())


def rebuild(root: Path) -> list[dict]:
    """history.jsonl from itself plus every evidence folder (one line per drill, oldest first)."""
    by_id = {entry["drill_id"]: entry for entry in read(root)}
    for evidence_file in sorted(root.glob("*/evidence.json")):
        try:
            evidence = json.loads(evidence_file.read_text())
            by_id[evidence["drill_id"]] = summary(evidence)
        except (ValueError, KeyError, TypeError, OSError):  # not a drill's evidence: not in the history
            continue
    entries = sorted(by_id.values(), key=lambda e: e["started"])
    with locked(root):
        (root / HISTORY).write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))
    return entries


def write_index(root: Path, entries: list[dict]) -> Path:
    env = jinja2.Environment(loader=jinja2.PackageLoader("drtests.report", "templates"), autoescape=True)
    from drtests.report.freshness import DEFAULT_MAX_AGE_S, age_in_words, freshness

    ages = {f.target: f for f in freshness(entries)}
    html = env.get_template("index.html.j2").render(entries=entries, newest_first=list(reversed(entries)),
                                                    groups=by_target(entries), ages=ages, age_in_words=age_in_words,
                                                    full_coverage=full_coverage,
                                                    max_age_s=DEFAULT_MAX_AGE_S,
                                                    present={p.name for p in root.iterdir() if p.is_dir()})  # fmt: skip
    tmp = root / f".index-{os.getpid()}.html"
    tmp.write_text(html)
    tmp.replace(root / "index.html")
    return root / "index.html"
