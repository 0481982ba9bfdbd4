"""Risk decisions on a deficiency, each a ledger line signed by the person's own SSH key (as a
sign-off is, `ssh-keygen -Y sign`, namespace drtests-ledger): an acceptance (the risk is taken,
not fixed, until a day, for a reason) or an assignment (who fixes it). The register applies only
those whose signature verifies with `--allowed-signers`: without it, each is named, none applied,
so a decision nobody can check never turns an open deficiency into an accepted one."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from drtests.errors import DrillError
from drtests.evidence import ledger
from drtests.record.clock import utc_now

KIND = "risk"
ACCEPT, ASSIGN = "accept", "assign"


def decide(root: Path, deficiency: str, action: str, by: str, key_file: Path, *, reason: str = "",
           until: str = "", owner: str = "") -> dict:  # fmt: skip
    """Append the decision's signed line; DrillError (nothing written) for a bad one."""
    by, reason, owner = by.strip(), reason.strip(), owner.strip()
    if not by or any(c.isspace() for c in by):
        raise DrillError("--by: your principal in allowed_signers (e.g. ann@example.com, no spaces)")
    fields: dict[str, str] = {"action": action, "deficiency": deficiency, "by": by, "at": utc_now()}
    if action == ACCEPT:
        try:
            day = date.fromisoformat(until)
        except ValueError:
            raise DrillError(f"--until {until!r}: write the last day the risk is accepted, YYYY-MM-DD") from None
        if day.isoformat() < fields["at"][:10]:
            raise DrillError(f"--until {until}: that day is past: an acceptance ends on a day still to come")
        if not reason:
            raise DrillError("--reason: say why the risk is accepted rather than fixed (an auditor reads it)")
        fields |= {"until": day.isoformat(), "reason": reason}
    elif action == ASSIGN:
        if not owner:
            raise DrillError("--owner: who fixes it (e.g. team-storage@example.com)")
        fields |= {"owner": owner, "reason": reason}
    else:
        raise DrillError(f"{action!r}: a risk decision is {ACCEPT} or {ASSIGN}")
    if not key_file.is_file():
        raise DrillError(f"--key {key_file}: no such file (your SSH private key, e.g. ~/.ssh/id_ed25519)")
    with ledger.locked(root):
        entry = ledger.next_entry(root, kind=KIND, **fields)
        ledger.append(root, entry, ledger.signoff_signature(entry, key_file))
    return entry


def decisions(root: Path, allowed_signers: Path | None) -> tuple[list[dict], list[str]]:
    """(the decisions whose signature verifies, in ledger order; a line for each that is not applied)."""
    chain, _ = ledger.walk(root, None, allowed_signers, allow_unsigned=False)
    good, said = [], []
    for n, line in enumerate(chain):
        entry = line.entry
        if entry.get("kind") != KIND:
            continue
        what = f"ledger line {n + 1}: {entry.get('action')} of {entry.get('deficiency')} by {entry.get('by')}"
        if allowed_signers is None:
            said.append(f"{what}: not checked, so not applied: give --allowed-signers")
        elif line.problem:
            said.append(f"{what}: not applied: {line.problem}")
        else:
            good.append(entry)
    return good, said
