"""The drill history of a report folder: history.jsonl (one line per drill, appended) and
index.html (every drill, newest first, with an RTO/RPO trend chart against the objectives).
Read through drtests.record.store."""

from __future__ import annotations

import json
import os
from pathlib import Path

from drtests import pages
from drtests.evidence.ledger import locked
from drtests.record import store
from drtests.record.store import HISTORY, DrillSummary
from drtests.report.freshness import DEFAULT_MAX_AGE_S, age_in_words, freshness


def full_coverage(drills: list[DrillSummary]) -> str | None:
    """The share of the newest drill's indices verified in full within the last cycle (its t
    drills), as "k of n indices in the last t drills"; None without full verification."""
    found = store.coverage(drills)
    return f"{found[0]} of {found[1]} indices in the last {found[2]} drills" if found else None


def restore_coverage(drills: list[DrillSummary]) -> str | None:
    """With restore shares: "every index restored within the last t drills: k of n"; None without."""
    found = store.restore_coverage(drills)
    return f"every index restored within the last {found[2]} drills: {found[0]} of {found[1]}" if found else None


def graph_coverage(drills: list[DrillSummary]) -> str | None:
    """The graph proof's rotation: "every node compared within the last t drills" once the cycle's
    drills compared every slot; else how many slots they did; None without a rotation."""
    found = store.graph_coverage(drills)
    if not found:
        return None
    if found[0] == found[1]:
        return f"every node compared within the last {found[2]} drills"
    return f"{found[0]} of {found[1]} slots of the graph compared in the last {found[2]} drills"


def append(root: Path, summary: DrillSummary) -> None:
    with (root / HISTORY).open("a") as f:
        f.write(json.dumps(summary.as_line(), sort_keys=True) + "\n")


def rebuild(root: Path, drills: list[DrillSummary]) -> list[DrillSummary]:
    """history.jsonl anew from `drills` (those the ledger holds), oldest first."""
    entries = sorted(drills, key=lambda e: e.started)
    with locked(root):
        (root / HISTORY).write_text("".join(json.dumps(e.as_line(), sort_keys=True) + "\n" for e in entries))
    return entries


def write_index(root: Path, entries: list[DrillSummary]) -> Path:
    ages = {f.target: f for f in freshness(entries)}
    present = {p.name for p in root.iterdir() if p.is_dir()}
    html = pages.index_page(entries, store.by_target(entries), ages, present, DEFAULT_MAX_AGE_S, age_in_words,
                            full_coverage, restore_coverage, graph_coverage)  # fmt: skip
    tmp = root / f".index-{os.getpid()}.html"
    tmp.write_text(html)
    tmp.replace(root / "index.html")
    return root / "index.html"
