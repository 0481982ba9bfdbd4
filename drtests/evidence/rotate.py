"""`drtests rotate-key` and `drtests revoke-key`: the ledger lines that move its signing from one
key to another, or stop trusting a key's signatures from a time on. Each is refused, with nothing
written, unless the key offered is the one the ledger's newest lines are signed by."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drtests.errors import DrillError
from drtests.evidence import keychain, ledger
from drtests.record.clock import utc_now
from drtests.sign import keys


def current_keyid(root: Path) -> str | None:
    """The key the ledger's next drill line must be signed by: the newest rotation's, else the
    key of the newest signed drill line (None: no line is signed yet)."""
    chain = ledger.key_chain(root)
    if chain.epochs:
        return chain.epochs[-1].keyid
    for raw in reversed(ledger.lines(root)):
        entry = ledger.parsed(raw) or {}
        if entry.get("kind") == "drill" and (entry.get("signature") or {}).get("keyid"):
            return str(entry["signature"]["keyid"])
    return None


def key_problem(root: Path, path: Path | None) -> str | None:
    """Why a drill signing with the key at `path` would write a ledger line no verifier accepts
    (None: it would not). A drill with no key is not refused here: its unsigned line after signed
    ones is a downgrade that verification names."""
    current = current_keyid(root) if (root / ledger.LEDGER).exists() else None
    if current is None or path is None:
        return None
    mine = keys.keyid(keys.load_private(path).public_key())
    if mine == current:
        return None
    return (f"this drill signs with {path} ({mine}), but the newest lines of {root / ledger.LEDGER} are signed by "
            f"{current}: sign with that key, or move the ledger to the new one first (drtests rotate-key --report-dir "
            f"{root} --key OLD.key --new-key {path}); if the old key is lost, a new report folder starts a new "
            "ledger")  # fmt: skip


def _the_current(root: Path, key: Ed25519PrivateKey, path: Path) -> None:
    if not (root / ledger.LEDGER).exists():
        raise DrillError(f"{root}: no {ledger.LEDGER}: nothing to rotate (a new ledger starts with the new key)")
    problems = ledger.verify(root, [key.public_key()], files=False).problems  # unsigned history allowed
    if problems:
        raise DrillError(f"{root}/{ledger.LEDGER} is broken, so no key line is added to it: {problems[0]}")
    current, offered = current_keyid(root), keys.keyid(key.public_key())
    if current is not None and current != offered:
        raise DrillError(f"{path} is {offered}, but the ledger's newest lines are signed by {current}: give that key")


def rotate(root: Path, old_path: Path, new_path: Path, reason: str, revoke_since: str | None) -> list[str]:
    """Append a rotation line signed by both keys (and, with revoke_since, a revocation of the old
    key from that time, signed by the new one); what was written, in words."""
    old, new = keys.load_private(old_path), keys.load_private(new_path)
    if keys.keyid(old.public_key()) == keys.keyid(new.public_key()):
        raise DrillError(f"{new_path} is the same key as {old_path}: make a new one with drtests keygen")
    since = _iso(revoke_since) if revoke_since else None
    said = []
    with ledger.locked(root):
        _the_current(root, old, old_path)
        fields, sign = keychain.rotation(old, new, utc_now(), reason)
        entry = ledger.next_entry(root, **fields)
        ledger.append(root, entry, sign(entry))
        said.append(f"{root / ledger.LEDGER} line {entry['seq'] + 1}: rotated from {fields['old_keyid']} to "
                    f"{fields['new_keyid']}, signed by both")  # fmt: skip
        if since is not None:
            said.append(_append_revocation(root, new, fields["old_keyid"], since, reason))
    return said


def revoke(root: Path, current_path: Path, keyid: str, since: str, reason: str) -> str:
    """Append a revocation of `keyid` from `since`, signed by the ledger's current key."""
    current = keys.load_private(current_path)
    when = _iso(since)
    with ledger.locked(root):
        _the_current(root, current, current_path)
        chain = [e.keyid for e in ledger.key_chain(root).epochs]
        if not chain:
            raise DrillError("the ledger has one key: rotate to a new key first (drtests rotate-key --revoke-from)")
        if keyid not in chain:
            raise DrillError(f"{keyid} is none of the ledger's keys ({', '.join(chain)})")
        return _append_revocation(root, current, keyid, when, reason)


def _append_revocation(root: Path, current: Ed25519PrivateKey, keyid: str, since: str, reason: str) -> str:
    fields, sign = keychain.revocation(current, keyid, since, utc_now(), reason)
    entry = ledger.next_entry(root, **fields)
    ledger.append(root, entry, sign(entry))
    return f"{root / ledger.LEDGER} line {entry['seq'] + 1}: {keyid} revoked from {since}: lines it signed from " \
           "then on fail"  # fmt: skip


def _iso(value: str) -> str:
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise DrillError(f"{value!r} is not an ISO 8601 time (e.g. 2026-03-01T00:00:00+00:00)") from None
    if when.tzinfo is None:
        raise DrillError(f"{value!r} has no time zone (add +00:00 or Z)")
    return when.isoformat()
