"""The deficiency register: every failed or unproven check of a drill, followed until a later drill
proves it fixed. Derived from the ledger's validly signed drills alone, with no state of its own,
so it is exactly as trustworthy as the ledger: a drill whose statement does not verify opens and
closes nothing (it is named as not counted).

A deficiency's key is (target, phase, check); checks made once per index or per type are one
check ("docs {index}"), and their indices or types are its items. It closes when a later signed
drill of the target has passed every item that failed (each item may be passed by a different
drill: full verification rotates through the indices), and reopens when the check fails again."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from drtests.errors import DrillError
from drtests.evidence import attest, ledger, risk
from drtests.evidence.proven import proven
from drtests.record.clock import parse_utc
from drtests.words import Phase, Verdict

# checks made once per index or per type, by the prefix of their name (steps.FULL, modes.base,
# topology.checks); the most specific first. tests/unit/test_deficiencies.py holds every
# declared check with {index} or {type} to this list.
PER_ITEM = ("topology ids ", "topology content ", "topology ", "docs ", "fingerprint ", "full ")
WHOLE = frozenset({"topology relations whole", "topology nodes found"})  # one check, though "topology ..."
OBJECTIVES = frozenset({"RTO (s)", "RPO (s)", "RTO forecast of a full restore (s)",
                        "newest backup within the RPO objective", "backups within the RPO objective",
                        "newest good snapshot within the RPO objective"})  # fmt: skip
SAFETY = "safety"  # the phase of the safety steps' checks (drtests.safety)
# worst first: data not restored or not equal, an objective missed, a safety step failed, unproven
SEVERITIES = ("data", "objective", "safety", "unproven")
FIX_WITHIN_DAYS = 30


def check_of(name: str) -> tuple[str, str]:
    """(the check, the item): "docs sts-2026.01.01" -> ("docs {index}", "sts-2026.01.01")."""
    if name not in WHOLE:
        for prefix in PER_ITEM:
            if name.startswith(prefix) and len(name) > len(prefix):
                placeholder = "{type}" if prefix.startswith("topology") else "{index}"
                return prefix + placeholder, name[len(prefix) :]
    return name, ""


def severity_of(phase: str, name: str, verdict: str) -> str:
    if verdict == Verdict.UNPROVEN or phase == Phase.PREFLIGHT and name not in OBJECTIVES:
        return "unproven"  # a preflight refusal: the drill proved nothing, nothing was found broken
    if name in OBJECTIVES:
        return "objective"
    if phase == SAFETY or name == "node active again":
        return "safety"
    return "data"


@dataclass(frozen=True)
class SignedDrill:
    """What the register reads of one drill whose signed statement verified."""

    drill_id: str
    target: str
    started: str
    controls: tuple[str, ...]
    checks: tuple[dict, ...]  # as the evidence holds them: phase, name, verdict, message
    owner: str = ""
    fix_within_days: int = FIX_WITHIN_DAYS

    @classmethod
    def of_evidence(cls, evidence: dict) -> SignedDrill:
        follow = evidence.get("follow_up") or {}
        return cls(evidence["drill_id"], evidence.get("target_name") or evidence["target"], evidence["started"],
                   tuple(evidence.get("controls") or ()), tuple(evidence.get("checks") or ()),
                   str(follow.get("owner") or ""), int(follow.get("fix_within_days") or FIX_WITHIN_DAYS))  # fmt: skip


@dataclass
class Occurrence:
    """From the drill that found the deficiency to the drill that proved it fixed (None: open)."""

    opened_by: str
    opened_at: str
    due: str  # the day it must be fixed by (opened + fix_within_days of the drill that found it)
    failed_in: list[str] = field(default_factory=list)  # every drill that failed it meanwhile
    items: list[str] = field(default_factory=list)  # the indices or types not yet passed again
    severity: str = "unproven"
    message: str = ""  # the newest failure's, in the drill's words
    closed_by: str | None = None
    closed_at: str | None = None
    accepted: dict | None = None  # a signed risk acceptance of this occurrence: by, at, until, reason


@dataclass
class Deficiency:
    target: str
    phase: str
    check: str
    owner: str
    controls: list[str]
    occurrences: list[Occurrence]
    assigned: dict | None = None  # the newest signed assignment: owner, by, at, reason (its owner wins)

    @property
    def key(self) -> str:
        return f"{self.target}/{self.phase}/{self.check}"

    @property
    def now(self) -> Occurrence:
        return self.occurrences[-1]

    @property
    def open(self) -> bool:
        return self.now.closed_by is None

    @property
    def recurring(self) -> bool:
        return len(self.occurrences) > 1

    def accepted(self, at: datetime) -> bool:
        """Open, and its risk accepted (signed) until a day not yet past."""
        taken = self.now.accepted
        return self.open and taken is not None and at.date().isoformat() <= str(taken.get("until"))

    def overdue(self, at: datetime) -> bool:
        return self.open and not self.accepted(at) and at.date().isoformat() > self.now.due

    def status(self, at: datetime) -> str:
        return "closed" if not self.open else "accepted" if self.accepted(at) else "open"

    def as_dict(self, at: datetime) -> dict:
        return {"key": self.key, "status": self.status(at), "severity": self.now.severity,
                "overdue": self.overdue(at), "age_days": age_days(self.now.opened_at, at),
                **asdict(self)}  # fmt: skip


when = parse_utc


def age_days(started: str, at: datetime) -> float:
    return round((at - when(started)).total_seconds() / 86400, 1)


class Fold:
    """The register built drill by drill, oldest first. A drill's own change folds the drills
    before it while the safety steps run (drtests.report.finish), then adds the drill itself: the
    final write no longer grows with the report folder's history."""

    def __init__(self) -> None:
        self.found: dict[tuple[str, str, str], Deficiency] = {}
        self.owners: dict[str, str] = {}  # the newest drill of a target names its owner
        self.newest: datetime | None = None  # when the newest drill folded in started

    def add(self, drill: SignedDrill) -> None:
        """Fold in a drill that started no earlier than every drill folded in before it."""
        if not self.takes(drill):
            raise ValueError(f"drill {drill.drill_id} started before a drill already folded in")
        self.newest, self.owners[drill.target] = when(drill.started), drill.owner
        by_check: dict[tuple[str, str], list[tuple[str, dict]]] = {}
        for c in drill.checks:
            check, item = check_of(str(c.get("name")))
            by_check.setdefault((str(c.get("phase")), check), []).append((item, c))
        for (phase, check), results in by_check.items():
            key = (drill.target, phase, check)
            bad = [(item, c) for item, c in results if c.get("verdict") in (Verdict.FAIL, Verdict.UNPROVEN)]
            passed = {item for item, c in results if c.get("verdict") == Verdict.PASS}
            if bad:
                _failed(self.found, key, drill, bad)
            if key in self.found and self.found[key].open:
                _passed(self.found[key], drill, passed - {item for item, _ in bad})

    def takes(self, drill: SignedDrill) -> bool:
        """Whether `drill` can be added (it started last): else the register is folded anew."""
        return self.newest is None or when(drill.started) >= self.newest

    def deficiencies(self) -> list[Deficiency]:
        for deficiency in self.found.values():
            deficiency.owner = self.owners[deficiency.target]  # a signed assignment (apply) overrides it
        return list(self.found.values())


def register(drills: Iterable[SignedDrill]) -> list[Deficiency]:
    """Every deficiency the drills found, in the order the drills ran (oldest first)."""
    return folded(drills).deficiencies()


def folded(drills: Iterable[SignedDrill]) -> Fold:
    fold = Fold()
    for drill in sorted(drills, key=lambda d: when(d.started)):  # stable: a tie keeps the given order
        fold.add(drill)
    return fold


def _failed(found: dict, key: tuple[str, str, str], drill: SignedDrill, bad: list[tuple[str, dict]]) -> None:
    target, phase, check = key
    worst = min((severity_of(phase, str(c.get("name")), str(c.get("verdict"))) for _, c in bad), key=SEVERITIES.index)
    deficiency = found.get(key)
    if deficiency is None or not deficiency.open:
        due = (when(drill.started) + timedelta(days=drill.fix_within_days)).date().isoformat()
        occurrence = Occurrence(drill.drill_id, drill.started, due, severity=worst)
        if deficiency is None:
            found[key] = deficiency = Deficiency(target, phase, check, "", [], [])
        deficiency.occurrences.append(occurrence)
    now = deficiency.now
    now.failed_in.append(drill.drill_id)
    now.items = sorted(set(now.items) | {item for item, _ in bad})
    now.severity = min(now.severity, worst, key=SEVERITIES.index)
    now.message = str(bad[0][1].get("message") or "")
    deficiency.controls = sorted(set(deficiency.controls) | set(drill.controls))


def _passed(deficiency: Deficiency, drill: SignedDrill, passed: set[str]) -> None:
    now = deficiency.now
    now.items = [item for item in now.items if item not in passed]
    if not now.items:
        now.closed_by, now.closed_at = drill.drill_id, drill.started


@dataclass
class Register:
    """The register of a report folder, and the drills of its ledger it did not count (why)."""

    deficiencies: list[Deficiency]
    not_counted: list[str]  # "drill X: its statement does not verify: ..."
    drills: int  # the drills it was derived from
    verified: bool = True  # False: no public key given, so no drill's signature was checked
    not_applied: list[str] = field(default_factory=list)  # risk decisions not applied, and why

    def open(self) -> list[Deficiency]:
        return [d for d in self.deficiencies if d.open]


def of_folder(root: Path, public_keys: list[Ed25519PublicKey], allowed_signers: Path | None = None) -> Register:
    """The register of the drills the ledger holds, each counted only when its statement verifies
    with one of the keys (or a key of their chain); unsigned history from before signing began is
    named, never counted. With no key, every drill of the ledger counts and the register says it
    is unverified. Risk decisions apply when their SSH signature verifies with `allowed_signers`.
    DrillError when the ledger is broken (a forged drill breaks it)."""
    counted, not_counted = counted_drills(root, public_keys)
    found = register(counted)
    decided, not_applied = risk.decisions(root, allowed_signers)
    not_applied += apply(found, decided)
    return Register(found, not_counted, len(counted), bool(public_keys), not_applied)


def apply(found: list[Deficiency], decided: list[dict]) -> list[str]:
    """Each verified decision, in ledger order: an acceptance holds for the occurrence open when it
    was made (a reopening needs its own), an assignment names the owner from then on. What could
    not be applied, a line each."""
    by_key, said = {d.key: d for d in found}, []
    for entry in decided:
        d, what = by_key.get(str(entry.get("deficiency"))), f"{entry.get('action')} of {entry.get('deficiency')}"
        record = {k: entry.get(k) for k in ("by", "at", "until", "owner", "reason") if entry.get(k) is not None}
        if d is None:
            said.append(f"{what} by {entry.get('by')}: no such deficiency among the counted drills")
        elif entry.get("action") == risk.ASSIGN:
            d.assigned, d.owner = record, str(entry.get("owner"))
        elif taken := open_at(d, when(str(entry.get("at")))):
            taken.accepted = record
        else:
            said.append(f"{what} by {entry.get('by')} at {entry.get('at')}: it was not open then")
    return said


def open_at(d: Deficiency, moment: datetime) -> Occurrence | None:
    """The occurrence of the deficiency open at that moment (an acceptance is for it alone)."""
    return next((o for o in d.occurrences if when(o.opened_at) <= moment
                 and (o.closed_at is None or when(o.closed_at) > moment)), None)  # fmt: skip


def counted_drills(root: Path, public_keys: list[Ed25519PublicKey],
                   target: str | None = None) -> tuple[list[SignedDrill], list[str]]:  # fmt: skip
    """(the drills the register counts, why each other drill is not counted): see of_folder. With
    `target`, only that target's drills are read (their statements verified): a drill's own change."""
    if not public_keys:
        drills = [SignedDrill.of_evidence(d.evidence) for d in proven(root, None)[0]]
        return [d for d in drills if target is None or d.target == target], []
    keys = ledger.trusted_keys(root, public_keys)
    drills, found = proven(root, keys)
    not_counted = [f"drill {i}: unsigned, from before signing began" for i in found.unsigned_history]
    counted = []
    for drill in drills:
        if target is not None and SignedDrill.of_evidence(drill.evidence).target != target:
            continue
        check = attest.verify_folder(drill.folder, keys)
        if check.problems or check.unsigned or check.legacy:
            why = check.problems[0] if check.problems else "its statement is not signed"
            not_counted.append(f"drill {drill.summary.drill_id}: {why}")
        else:
            counted.append(SignedDrill.of_evidence(drill.evidence))
    return counted, not_counted


def change_by(root: Path, public_keys: list[Ed25519PublicKey], evidence: dict,
              ahead: tuple[list[SignedDrill], Fold] | None = None) -> dict:  # fmt: skip
    """What this drill (its evidence, about to be signed) does to its target's register: the
    deficiencies it opens (new, or recurring: closed before, failing again), those it closes, and
    those still open that it did not close. Read from the ledger as `drtests deficiencies` reads
    it, with the drill's own public key; a broken ledger is said, never raised: the drill's
    evidence is written either way. `ahead`: counted_drills of the drill's target and their
    fold, read ahead (used once: the drill is added to the fold)."""
    drill = SignedDrill.of_evidence(evidence)
    if ahead is None:
        try:
            counted, _ = counted_drills(root, public_keys, drill.target)
        except DrillError as exc:
            return {"verified": False, "unavailable": str(exc)}
        ahead = counted, folded(counted)
    counted, fold = ahead
    if not fold.takes(drill):  # a drill counted started after this one: fold them all in order
        fold = folded([*counted, drill])
    else:
        fold.add(drill)
    after = fold.deficiencies()
    mine = drill.drill_id

    def brief(d: Deficiency) -> dict:
        return {"key": d.key, "severity": d.now.severity, "due": d.now.due, "items": d.now.items[:10],
                "message": d.now.message, "opened_by": d.now.opened_by,
                "failed_again": mine in d.now.failed_in and d.now.opened_by != mine}  # fmt: skip

    return {
        "verified": bool(public_keys),
        "opened": [brief(d) for d in after if d.open and d.now.opened_by == mine and not d.recurring],
        "recurring": [brief(d) for d in after if d.open and d.now.opened_by == mine and d.recurring],
        "closed": [brief(d) for d in after if d.now.closed_by == mine],
        "still_open": [brief(d) for d in after if d.open and d.now.opened_by != mine],
    }


def of_period(found: Register, since: datetime, until: datetime | None, at: datetime) -> dict:
    """The register as a period's evidence pack holds it: each deficiency open at some time in
    [since, until) (opened before its end, not closed before its start), as of `at`."""
    end = until or at

    def touches(o: Occurrence) -> bool:
        return when(o.opened_at) < end and (o.closed_at is None or when(o.closed_at) >= since)

    kept = [d for d in found.deficiencies if any(touches(o) for o in d.occurrences)]
    kept.sort(key=lambda d: (not d.open, SEVERITIES.index(d.now.severity), d.key))
    return {"verified": found.verified, "not_counted": found.not_counted,
            "deficiencies": [d.as_dict(at) for d in kept]}  # fmt: skip
