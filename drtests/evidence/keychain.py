"""Which key signs which lines of a ledger: rotations and revocations, themselves ledger lines.

A rotation line names the old and the new public key and is signed by both (the old key hands the
ledger on, the new one proves it is held); from the line after it, drill lines are signed by the
new key alone. The chain of keys is trusted whole when any one of its keys is given, so an auditor
holding this year's public key verifies last year's lines, and one holding last year's follows
the rotation forward. A revocation line (signed by the ledger's key at that point) names a key and
a time: lines that key signed from that time on fail, whatever else they hold. As TUF does for its
root role, trust moves only through lines the previous key signed."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from drtests.sign import keys

ROTATE, REVOKE = "rotate", "revoke"


@dataclass(frozen=True)
class Epoch:
    first: int  # index of the first ledger line this key signs
    keyid: str
    key: Ed25519PublicKey
    since: str  # when the rotation to it was written ("" for the first key)


@dataclass(frozen=True)
class Revocation:
    keyid: str
    since: datetime
    line: int  # 1-based
    reason: str


@dataclass
class KeyChain:
    epochs: list[Epoch] = field(default_factory=list)  # empty: the ledger never rotated
    revocations: list[Revocation] = field(default_factory=list)
    problems: dict[int, str] = field(default_factory=dict)  # a rotation/revocation line's index -> why it fails

    def epoch_at(self, index: int) -> Epoch | None:
        return next((e for e in reversed(self.epochs) if e.first <= index), None)

    def anchored(self, given: list[Ed25519PublicKey]) -> bool:
        ids = {keys.keyid(k) for k in given}
        return any(e.keyid in ids for e in self.epochs)

    def trusted(self, given: list[Ed25519PublicKey]) -> list[Ed25519PublicKey]:
        """The keys given, and every key of the chain when one of them is in it."""
        chained = [e.key for e in self.epochs] if self.anchored(given) else []
        return [*given, *(k for k in chained if keys.keyid(k) not in {keys.keyid(g) for g in given})]

    def allowed(self, index: int, given: list[Ed25519PublicKey]) -> tuple[list[Ed25519PublicKey], str]:
        """The keys that may sign line `index`, and how a refusal names them."""
        epoch = self.epoch_at(index)
        if epoch is None or not self.anchored(given):
            named = f"; the ledger's keys are {', '.join(e.keyid for e in self.epochs)}" if self.epochs else ""
            return given, f"not signed by the given key(s){named}"
        after = f"the rotation of {epoch.since}" if epoch.since else "its first line"
        return [epoch.key], f"not signed by {epoch.keyid}, the ledger's key from {after}"

    def revoked(self, entry: dict, keyid: str) -> str:
        """Why a line signed by `keyid` falls under a revocation (empty: it does not)."""
        when = _time(entry.get("started") or entry.get("at"))
        for r in self.revocations:
            if r.keyid == keyid and (when is None or when >= r.since):
                return f"signed by {keyid}, revoked from {r.since.isoformat()} (ledger line {r.line}: {r.reason})"
        return ""

    def spans(self, count: int) -> list[str]:
        """Which key signs which lines, in words."""
        ends = [e.first - 1 for e in self.epochs[1:]] + [count]  # a rotation line: signed by both keys
        return [f"{e.keyid}: lines {e.first + 1}-{end}" + (f" (rotated to it at line {e.first}, {e.since})"
                                                           if e.since else "")
                for e, end in zip(self.epochs, ends, strict=True)]  # fmt: skip


def chain_of(entries: list[dict | None]) -> KeyChain:
    """The key chain the ledger's rotation and revocation lines describe, each line checked."""
    chain = KeyChain()
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or entry.get("kind") not in (ROTATE, REVOKE):
            continue
        problem = _rotation(chain, index, entry) if entry["kind"] == ROTATE else _revocation(chain, index, entry)
        if problem:
            chain.problems[index] = problem
    return chain


def _rotation(chain: KeyChain, index: int, entry: dict) -> str:
    old, new = _public(entry.get("old_key")), _public(entry.get("new_key"))
    if old is None or new is None:
        return "a key rotation whose keys are not PEM ed25519 public keys"
    current = chain.epoch_at(index)
    if current is not None and current.keyid != keys.keyid(old):
        return f"a key rotation from {keys.keyid(old)}, but the ledger's key here is {current.keyid}"
    signature = entry.get("signature") or {}
    for role, key in (("old", old), ("new", new)):
        if not _signed(entry, (signature.get(role) or {}) if isinstance(signature, dict) else {}, key):
            return f"a key rotation not signed by its {role} key {keys.keyid(key)}"
    if current is None:
        chain.epochs.append(Epoch(0, keys.keyid(old), old, ""))
    chain.epochs.append(Epoch(index + 1, keys.keyid(new), new, str(entry.get("at"))))
    return ""


def _revocation(chain: KeyChain, index: int, entry: dict) -> str:
    since = _time(entry.get("since"))
    if since is None or not isinstance(entry.get("keyid"), str):
        return "a key revocation without a key id and an ISO 8601 time"
    signature = entry.get("signature") or {}
    current = chain.epoch_at(index)
    if current is None or not isinstance(signature, dict) or not _signed(entry, signature, current.key):
        return "a key revocation not signed by the ledger's key at that line (rotate the key first)"
    chain.revocations.append(Revocation(entry["keyid"], since, index + 1, str(entry.get("reason"))))
    return ""


def signed_by(entry: dict, key: Ed25519PrivateKey) -> dict:
    """One key's signature over a rotation or revocation line."""
    return {"keyid": keys.keyid(key.public_key()), "sig": base64.b64encode(key.sign(canonical(entry))).decode()}


def rotation(old: Ed25519PrivateKey, new: Ed25519PrivateKey, at: str, reason: str) -> tuple[dict, object]:
    """The fields of a rotation line, and how to sign it once its seq and prev are set."""
    fields = {"kind": ROTATE, "at": at, "reason": reason, "old_keyid": keys.keyid(old.public_key()),
              "new_keyid": keys.keyid(new.public_key()), "old_key": keys.public_pem(old.public_key()).decode(),
              "new_key": keys.public_pem(new.public_key()).decode()}  # fmt: skip
    return fields, lambda entry: {"kind": "ed25519-rotation", "old": signed_by(entry, old),
                                  "new": signed_by(entry, new)}  # fmt: skip


def revocation(current: Ed25519PrivateKey, keyid: str, since: str, at: str, reason: str) -> tuple[dict, object]:
    """The fields of a revocation line (signed by the ledger's current key), and how to sign it."""
    fields = {"kind": REVOKE, "at": at, "keyid": keyid, "since": since, "reason": reason}
    return fields, lambda entry: {"kind": "ed25519", **signed_by(entry, current)}


def canonical(entry: dict) -> bytes:
    """The bytes a ledger line's signature covers: the line without its signature."""
    return json.dumps({k: v for k, v in entry.items() if k != "signature"}, sort_keys=True,
                      separators=(",", ":")).encode()  # fmt: skip


def _signed(entry: dict, signature: dict, key: Ed25519PublicKey) -> bool:
    try:
        sig = base64.b64decode(str(signature.get("sig")), validate=True)
    except binascii.Error:
        return False
    return keys.valid(key, sig, canonical(entry))


def _public(pem: object) -> Ed25519PublicKey | None:
    try:
        key = serialization.load_pem_public_key(str(pem).encode())
    except ValueError:
        return None
    return key if isinstance(key, Ed25519PublicKey) else None


def _time(value: object) -> datetime | None:
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else None
