"""Cadence: a control may declare how often it must be proven (`[evidence] every =
["DORA:Art.12=7d"]`). Each stretch longer than that without a validly signed passing drill of the
target that names the control (within its objectives) is a finding of every period it overlaps,
in `controls` and in the pack: a drill that was not run leaves the same gap as one that failed.

The whole ledger is read, not only the period: the stretch that a period begins inside started
with the last proof before it. The declaration is the newest drill's of the target, as signed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from drtests.evidence import attest, ledger
from drtests.evidence.findings import Finding
from drtests.evidence.proven import proven
from drtests.record.clock import parse_utc

CADENCE = "cadence"  # the kind of the findings made here


def met(measured: float | None, objective: float | None) -> bool | None:
    return None if measured is None or objective is None else measured <= objective


def holds(verdict: str, signature_valid: bool, rto_met: bool | None, rpo_met: bool | None) -> bool:
    """Evidence that holds for a control: a passing drill within its objectives, validly signed."""
    return verdict == "pass" and signature_valid and rto_met is not False and rpo_met is not False


@dataclass(frozen=True)
class Proof:
    """One drill of the ledger, as the cadence reads it."""

    line: int  # 1-based ledger line
    drill_id: str
    target: str
    started: datetime
    controls: frozenset[str]
    held: bool  # holds(...) for this drill
    every_s: dict[str, float]  # control -> seconds, as this drill's signed follow_up declares


def proofs(root: Path, public_keys: list[Ed25519PublicKey]) -> list[Proof]:
    """Every drill of the ledger, oldest first; held only when its statement verifies with one of
    the keys (or a key of their chain). No keys: no drill holds (as in `controls`)."""
    keys = ledger.trusted_keys(root, public_keys) if public_keys else []
    drills, _ = proven(root)  # as controls reads them: each folder's signature checked below
    lines = {str(e.get("drill_id")): int(e.get("seq", -1)) + 1 for e in ledger.drill_lines(root)}
    found = []
    for drill in drills:
        check = attest.verify_folder(drill.folder, keys) if keys else None
        valid = check is not None and not (check.problems or check.unsigned or check.legacy)
        s, follow = drill.summary, drill.evidence.get("follow_up") or {}
        found.append(Proof(lines.get(s.drill_id, 0), s.drill_id, s.target_name, parse_utc(s.started),
                           frozenset(drill.evidence.get("controls") or ()),
                           holds(s.verdict, valid, met(s.rto_s, s.rto_objective_s), met(s.rpo_s, s.rpo_objective_s)),
                           dict(follow.get("every_s") or {})))  # fmt: skip
    return found


def age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def gaps(found: list[Proof], since: datetime, until: datetime | None, now: datetime) -> list[Finding]:
    """Each stretch of [since, until or now) longer than a control's `every` in which no drill of the
    target held for it: from the target's first drill or its last proof to the next proof or the
    period's end. Oldest first."""
    end = min(until, now) if until else now
    targets: dict[str, list[Proof]] = {}
    for proof in sorted(found, key=lambda p: p.started):
        targets.setdefault(proof.target, []).append(proof)
    out = []
    for target, drills in targets.items():
        for control, every in sorted(drills[-1].every_s.items()):
            held = [p for p in drills if p.held and control in p.controls and p.started < end]
            starts = [drills[0].started] + [p.started for p in held]
            for start, closer in zip(starts, [*held, None], strict=True):
                stop = closer.started if closer else end
                if (stop - start).total_seconds() <= every or stop <= since or start >= end:
                    continue
                days = (stop - start).total_seconds() / 86400
                out.append(Finding(closer.line if closer else 0, stop.isoformat().replace("+00:00", "Z"), target,
                                   closer.drill_id if closer else "",
                                   f"no validly signed passing drill proved {control} on {target} between "
                                   f"{start:%Y-%m-%d %H:%M} and {stop:%Y-%m-%d %H:%M} UTC ({days:.1f} days; it "
                                   f"must be proven every {age(every)})", CADENCE, control))  # fmt: skip
    return sorted(out, key=lambda f: f.at)


def of_folder(root: Path, since: datetime, until: datetime | None, now: datetime,
              public_keys: list[Ed25519PublicKey]) -> list[Finding]:  # fmt: skip
    found = gaps(proofs(root, public_keys), since, until, now)
    if public_keys:
        return found
    unchecked = "; no public key was given, so no drill's signature was checked and none proved it"
    return [replace(f, text=f.text + unchecked) for f in found]
