"""Findings the ledger itself holds, beside the drills' own verdicts: a drill that went on from an
older copy of the report folder (`--ledger-lost`) names, in its signed line, the head that is gone
and why. Drills between that head and the copy's end are not in the evidence, so every reader of
a period (verify --all, controls, the pack) names the gap rather than let it pass unsaid."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from drtests.evidence import ledger


@dataclass(frozen=True)
class Finding:
    line: int  # 1-based ledger line that records it
    at: str  # when (the drill's start)
    target: str
    drill_id: str  # the drill whose line records it
    text: str
    kind: str = "lost head"  # or "cadence" (drtests.evidence.cadence)
    control: str = ""  # the control it is about; "": every control the target's drills serve

    @property
    def key(self) -> str:
        """Stable for the same finding: its OSCAL uuid is made from it."""
        if self.kind == "lost head":
            return f"ledger-finding/{self.line}/{self.drill_id}"
        return f"{self.kind}/{self.target}/{self.control}/{self.at}"

    @property
    def where(self) -> str:
        """What the finding is read from, for a reader: the ledger line, or the cadence."""
        return f"ledger line {self.line}" if self.kind == "lost head" else self.kind

    def as_dict(self) -> dict:
        return asdict(self)


def lost_heads(root: Path, since: datetime | None = None, until: datetime | None = None,
               public_keys: list[Ed25519PublicKey] | None = None) -> list[Finding]:  # fmt: skip
    """Each drill line of the period (signed by one of `public_keys`, when given) that went on
    from an older copy of the report folder, as a finding in words."""
    found = []
    for entry in ledger.drill_lines(root, public_keys or None):
        lost = entry.get("lost_head")
        if not isinstance(lost, dict) or not _in(str(entry.get("started")), since, until):
            continue
        seq = lost.get("seq")
        head = f"line {int(seq) + 1}" if isinstance(seq, int) else "its head line"
        found.append(Finding(int(entry.get("seq", -1)) + 1, str(entry.get("started")), str(entry.get("target")),
                             str(entry.get("drill_id")),
                             f"{entry.get('target')}: drill {entry.get('drill_id')} went on from an older copy of "
                             f"the report folder; the ledger's {head} (drill {lost.get('drill')}, sha256 "
                             f"{str(lost.get('sha256'))[:16]}...) is lost: {lost.get('reason')}. Drills after the "
                             "copy was made and before this one are not in this evidence."))  # fmt: skip
    return found


def _in(started: str, since: datetime | None, until: datetime | None) -> bool:
    try:
        when = datetime.fromisoformat(started.replace("Z", "+00:00"))
    except ValueError:
        return False
    return (since is None or when >= since) and (until is None or when < until)
