"""The one reader of a report folder: each drill's evidence (<folder>/<drill-id>/evidence.json)
and the history (history.jsonl), as typed rows.

History, status, retention, the index, packs and the end of a drill read through here. A folder
whose evidence.json is not a drill's is never silently taken for one: the scan names it, with
why, and each reader decides what that means for it (a pack refuses, the history leaves it out).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from drtests.record.evidence import EVIDENCE
from drtests.words import is_drill_id

HISTORY = "history.jsonl"
REQUIRED = ("drill_id", "started", "verdict", "target")  # what a history line must hold to be one


@dataclass(frozen=True)
class Artifact:
    """What a drill made on production, by the names drtests gives its own files and snapshots."""

    kind: str  # "backup file" | "snapshot"
    name: str  # the file's path, or repository/snapshot
    drill_id: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name} (drill {self.drill_id})"


def open_after(change: dict | None) -> int | None:
    """How many deficiencies of the target a drill left open (its evidence "deficiencies")."""
    if not change or "opened" not in change:
        return None
    return sum(len(change.get(kind) or []) for kind in ("opened", "recurring", "still_open"))


@dataclass(frozen=True)
class DrillSummary:
    """One drill in a line: what history.jsonl, the index, status, retention and packs need."""

    drill_id: str
    name: str
    started: str
    verdict: str
    mode: str
    target: str
    target_name: str
    rto_s: float | None
    rto_objective_s: float | None
    rpo_s: float | None
    rpo_objective_s: float | None
    failed_checks: int
    full_verify: str | None = None  # the share ("n/t") when the drill verified some indices in full
    full_verified: tuple[str, ...] = ()
    indices: int | None = None  # how many indices the drill counted (with full verification)
    restore_share: str | None = None  # the share ("n/t") when the drill restored part of the snapshot
    restored: tuple[str, ...] = ()
    snapshot_indices: int | None = None  # how many indices the snapshot held (with a restore share)
    graph_share: str | None = None  # probe.content_share ("n/t") when the drill compared the graph's content
    graph_slots: tuple[int, ...] = ()  # the rotation's slots it compared node by node
    graph_slot_count: int | None = None  # t
    gate: bool = False
    open_deficiencies: int | None = None  # the target's, after this drill (None: it did not say)
    artifacts: tuple[Artifact, ...] = field(default=(), compare=False)  # what the drill made
    references: tuple[str, ...] = field(default=(), compare=False)  # every backup file and snapshot it used

    @classmethod
    def of_evidence(cls, evidence: dict) -> DrillSummary:
        """From a drill's evidence (KeyError/TypeError when it is not one)."""
        full = evidence.get("full_verification") or {}
        restored = full.get("restored") or {}
        share = evidence.get("restore_share") or {}
        graph = graph_rotation(evidence)
        return cls(
            drill_id=evidence["drill_id"], name=evidence["name"], started=evidence["started"],
            verdict=evidence["verdict"], mode=evidence["mode"], target=evidence["target"],
            target_name=evidence.get("target_name") or evidence["target"],
            rto_s=evidence["rto"]["measured_s"], rto_objective_s=evidence["rto"]["objective_s"],
            rpo_s=evidence["rpo"]["measured_s"], rpo_objective_s=evidence["rpo"]["objective_s"],
            failed_checks=sum(1 for c in evidence["checks"] if c["verdict"] == "fail"),
            full_verify=full.get("share") if full else None,
            full_verified=tuple(sorted(name for name in full.get("indices", []) if name in restored)),
            indices=len(evidence.get("telemetry", {}).get("before") or {}) if full else None,
            restore_share=share.get("share"), restored=tuple(sorted(share.get("restored", []))),
            snapshot_indices=len(share["restored"]) + len(share["not_restored"]) if share else None,
            gate=bool(evidence.get("gate")), artifacts=artifacts_of(evidence), references=references_of(evidence),
            graph_share=graph[0], graph_slots=graph[1], graph_slot_count=graph[2],
            open_deficiencies=open_after(evidence.get("deficiencies")),
        )  # fmt: skip

    @classmethod
    def of_line(cls, line: dict) -> DrillSummary:
        """From a history line (lines written before fleets have no target_name: their URL names them)."""
        return cls(
            drill_id=line["drill_id"], name=line.get("name", ""), started=line["started"], verdict=line["verdict"],
            mode=line.get("mode", ""), target=line["target"], target_name=line.get("target_name") or line["target"],
            rto_s=line.get("rto_s"), rto_objective_s=line.get("rto_objective_s"), rpo_s=line.get("rpo_s"),
            rpo_objective_s=line.get("rpo_objective_s"), failed_checks=line.get("failed_checks", 0),
            full_verify=line.get("full_verify"), full_verified=tuple(line.get("full_verified", ())),
            indices=line.get("indices"), restore_share=line.get("restore_share"),
            restored=tuple(line.get("restored", ())), snapshot_indices=line.get("snapshot_indices"),
            graph_share=line.get("graph_share"), graph_slots=tuple(line.get("graph_slots", ())),
            graph_slot_count=line.get("graph_slot_count"), open_deficiencies=line.get("open_deficiencies"),
        )  # fmt: skip

    def as_line(self) -> dict:
        """The history line (and the webhook's body): the same keys drills have always written."""
        line = {
            "drill_id": self.drill_id, "name": self.name, "started": self.started, "verdict": self.verdict,
            "mode": self.mode, "target": self.target, "target_name": self.target_name,
            "rto_s": self.rto_s, "rto_objective_s": self.rto_objective_s,
            "rpo_s": self.rpo_s, "rpo_objective_s": self.rpo_objective_s, "failed_checks": self.failed_checks,
        }  # fmt: skip
        if self.full_verify is not None:
            line |= {"full_verify": self.full_verify, "full_verified": list(self.full_verified),
                     "indices": self.indices}  # fmt: skip
        if self.restore_share is not None:
            line |= {"restore_share": self.restore_share, "restored": list(self.restored),
                     "snapshot_indices": self.snapshot_indices}  # fmt: skip
        if self.graph_share is not None:
            line |= {"graph_share": self.graph_share, "graph_slots": list(self.graph_slots),
                     "graph_slot_count": self.graph_slot_count}  # fmt: skip
        if self.open_deficiencies is not None:
            line["open_deficiencies"] = self.open_deficiencies
        return line


def graph_rotation(evidence: dict) -> tuple[str | None, tuple[int, ...], int | None]:
    """(share, slots compared, t) of a drill whose graph proof compared every type's content in its
    rotation's slots; (None, (), None) otherwise (no rotation, or content unproven or failed to read)."""
    proof = (evidence.get("topology") or {}).get("proof") or {}
    compared, types = proof.get("compared") or {}, (proof.get("types") or {}).values()
    share = compared.get("share")
    if not share or share == "off" or not types or any(t.get("content") != "compared" for t in types):
        return None, (), None
    return share, tuple(compared.get("slots", ())), int(share.split("/")[1])


def references_of(evidence: dict) -> tuple[str, ...]:
    """The backup file and snapshot a drill used, whoever made them (an existing-backup drill
    verifies the install's own, or, with include_drill_backups, another drill's)."""
    path = (evidence.get("artifact") or {}).get("path", "")
    snapshot = evidence.get("snapshot") or {}
    named = f"{snapshot.get('repository')}/{snapshot.get('snapshot')}" if snapshot.get("snapshot") else ""
    return tuple(filter(None, (path, named)))


def artifacts_of(evidence: dict) -> tuple[Artifact, ...]:
    """What one drill made on production: a drtests-*.graph backup file, a drtests-* snapshot. A
    drill that verified existing backups (its evidence has an "existing" section) made none."""
    if "existing" in evidence:
        return ()
    made = []
    path = (evidence.get("artifact") or {}).get("path", "")
    if PurePosixPath(path).name.startswith("drtests-") and path.endswith(".graph"):
        made.append(Artifact("backup file", path, evidence["drill_id"]))
    snapshot = evidence.get("snapshot") or {}
    if str(snapshot.get("snapshot", "")).startswith("drtests-"):
        made.append(Artifact("snapshot", f"{snapshot['repository']}/{snapshot['snapshot']}", evidence["drill_id"]))
    return tuple(made)


@dataclass(frozen=True)
class StoredDrill:
    """A drill's folder with its parsed evidence."""

    folder: Path
    evidence: dict
    summary: DrillSummary


@dataclass(frozen=True)
class Malformed:
    """A folder whose evidence.json is not a drill's evidence, and why."""

    folder: Path
    why: str


@dataclass(frozen=True)
class Scan:
    drills: list[StoredDrill]  # oldest first
    malformed: list[Malformed]


def scan(root: Path) -> Scan:
    """Every drill folder of `root` (the `latest` link is the newest drill again: not read twice)."""
    drills, malformed = [], []
    for path in sorted(root.glob(f"*/{EVIDENCE}")):
        if path.parent.is_symlink():
            continue
        try:
            evidence = json.loads(path.read_text())
            summary, drill_id = DrillSummary.of_evidence(evidence), evidence["drill_id"]
            if not is_drill_id(drill_id) or drill_id != path.parent.name:  # readers match drills by folder name
                why = f"{EVIDENCE} is drill {str(drill_id)[:80]!r}, but its folder is named {path.parent.name!r}: "
                malformed.append(Malformed(path.parent, why + "a copy or a stand-in, it proves nothing"))
                continue
            drills.append(StoredDrill(path.parent, evidence, summary))
        except OSError as exc:
            malformed.append(Malformed(path.parent, f"{EVIDENCE} cannot be read: {exc.strerror or exc}"))
        except (ValueError, KeyError, TypeError, AttributeError):
            malformed.append(Malformed(path.parent, f"{EVIDENCE} is not a drill's evidence"))
    return Scan(sorted(drills, key=lambda d: d.summary.started), malformed)


def history(root: Path) -> list[DrillSummary]:
    """The history's drills, in the order they were appended; a line that is not one
    (hand-edited, cut short by a full disk) is left out: `drtests report` rebuilds the history
    from the evidence folders."""
    path = root / HISTORY
    if not path.exists():
        return []
    entries = []
    for text in path.read_text(errors="replace").splitlines():
        try:
            line = json.loads(text)
        except ValueError:
            continue
        if isinstance(line, dict) and all(key in line for key in REQUIRED):
            entries.append(DrillSummary.of_line(line))
    return entries


def by_target(entries: list[DrillSummary]) -> list[tuple[str, list[DrillSummary]]]:
    """(target, its drills in the given order) for each target, by name."""
    groups: dict[str, list[DrillSummary]] = {}
    for entry in entries:
        groups.setdefault(entry.target_name, []).append(entry)
    return sorted(groups.items())


def cycle_reach(drills: list[DrillSummary], share: str, names: str, total: str) -> tuple[int, int, int] | None:
    """A rotating share's reach in the newest drill's cycle (its t/n drills): (indices the cycle's
    drills covered, `total` of the newest drill, drills of the cycle held); None when the newest
    drill has no such share. `share`, `names`, `total`: the DrillSummary fields that hold them."""
    newest = drills[-1] if drills else None
    if newest is None or getattr(newest, share) is None:
        return None
    n, t = (int(x) for x in getattr(newest, share).split("/"))
    cycle = -(-t // n)
    covered = {name for entry in drills[-cycle:] for name in getattr(entry, names)}
    return len(covered), getattr(newest, total) or 0, min(cycle, len(drills))


def restore_coverage(drills: list[DrillSummary]) -> tuple[int, int, int] | None:
    """Restore shares' reach: (indices restored at least once in the cycle, indices the newest
    drill's snapshot held, drills of the cycle held); None when the newest restored everything."""
    return cycle_reach(drills, "restore_share", "restored", "snapshot_indices")


def graph_coverage(drills: list[DrillSummary]) -> tuple[int, int, int] | None:
    """The graph rotation's reach: (slots compared in the cycle, t, drills of the cycle held)."""
    return cycle_reach(drills, "graph_share", "graph_slots", "graph_slot_count")


def coverage(drills: list[DrillSummary]) -> tuple[int, int, int] | None:
    """Full verification's reach: (indices verified in full in the cycle, indices the newest drill
    counted, drills of the cycle held); None without it."""
    return cycle_reach(drills, "full_verify", "full_verified", "indices")
