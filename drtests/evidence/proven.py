"""The drills a report folder proves: those its ledger holds, each folder still the one the
ledger recorded. Status, the index, packs, retention and controls read drills through here, so a
line appended to history.jsonl, a folder dropped in by hand or a deleted failing drill cannot
change what they say; a broken ledger makes them refuse, in one line."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from drtests.errors import DrillError
from drtests.evidence import ledger
from drtests.record import store


def proven(
    root: Path, public_keys: list[Ed25519PublicKey] | None = None
) -> tuple[list[store.StoredDrill], ledger.LedgerCheck]:
    """The ledger's drills, oldest first, and what verifying the ledger found; DrillError when broken.
    With public keys, each drill line must be signed by one of them (an unsigned line breaks it)."""
    found = ledger.verify(root, public_keys, allow_unsigned=public_keys is None)
    if found.broken:
        raise DrillError(f"{root}/{ledger.LEDGER} is broken, so nothing it holds is taken at its word: "
                         f"{found.problems[0]} (drtests verify-evidence --all names every problem)")  # fmt: skip
    stored = {d.summary.drill_id: d for d in store.scan(root).drills}
    history = set(found.unsigned_history)  # with keys: listed by verify, never taken for signed evidence
    drills = [stored[i] for i in found.drills if i in stored and i not in history]
    return sorted(drills, key=lambda d: d.summary.started), found
