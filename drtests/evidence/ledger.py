"""ledger.jsonl: one line per drill and per sign-off, each holding the sha256 of the line before
and signed by whoever wrote it (a drill's line with the drill's ed25519 key, a sign-off's with the
signer's SSH key), so the head is always signed. A deleted, reordered, replayed, renamed or
rolled-back drill or sign-off breaks it, and `verify` names which. Status, the index, packs,
retention and controls read drills through here."""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from drtests.evidence import attest, keychain
from drtests.evidence.keychain import canonical
from drtests.sign import keys, sshsig

LEDGER = "ledger.jsonl"
GENESIS = "0" * 64
LINE_KINDS = {"drill": "drill", "signoff": "sign-off of drill", keychain.ROTATE: "key rotation",
              keychain.REVOKE: "key revocation", "risk": "risk decision"}  # fmt: skip


@contextmanager
def locked(root: Path) -> Iterator[None]:
    """One writer at a time (the ledger, the history): the drills of a fleet finish in parallel processes."""
    with (root / ".history.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def lines(root: Path) -> list[bytes]:
    try:
        return [line for line in (root / LEDGER).read_bytes().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def identity(root: Path) -> str | None:
    """A ledger's identity: the sha256 of its first line (None: no ledger yet). A copy of a ledger,
    older or newer, has the same; another report folder's ledger has another."""
    found = lines(root)
    return hashlib.sha256(found[0]).hexdigest() if found else None


def head(root: Path) -> str:
    """The sha256 of the newest line (what the next line, and the next drill's statement, name)."""
    found = lines(root)
    return hashlib.sha256(found[-1]).hexdigest() if found else GENESIS


def append(root: Path, entry: dict, signature: dict) -> str:
    """Append one line after the head (the caller holds the report folder's lock); its sha256."""
    line = json.dumps({**entry, "signature": signature}, sort_keys=True, separators=(",", ":")).encode()
    with (root / LEDGER).open("ab") as f:
        f.write(line + b"\n")
    return hashlib.sha256(line).hexdigest()


@dataclass(frozen=True)
class Line:
    entry: dict
    sha256: str
    problem: str  # what is wrong with its signature (empty: nothing, or not looked at)
    unsigned_history: bool = False  # unsigned, before the ledger's first signed line (which vouches for it)


def walk(root: Path, public_keys: list[Ed25519PublicKey] | None = None, allowed_signers: Path | None = None,
         allow_unsigned: bool = True) -> tuple[list[Line], str]:  # fmt: skip
    """The chain from its first line up to the first line that breaks it: each line, and why the
    chain stops there (empty: it does not). public_keys / allowed_signers None: signatures are not
    looked at. Adopting signing: the first signed line's signature covers the sha256 of the line
    before it, and so the whole chain before it; unsigned lines before it are unsigned history
    (no problem, never signed evidence), an unsigned drill line after it is a downgrade."""
    found, previous = [], GENESIS
    raws = lines(root)
    first_signed = next((n for n, raw in enumerate(raws) if signed_line(raw)), None)
    chain = keychain.chain_of([parsed(raw) for raw in raws]) if public_keys is not None else keychain.KeyChain()
    for index, raw in enumerate(raws):
        where = f"{LEDGER} line {index + 1}"
        try:
            entry = json.loads(raw)
        except ValueError:
            return found, f"{where}: not JSON: the ledger was edited"
        if not isinstance(entry, dict) or entry.get("seq") != index or entry.get("prev") != previous:
            return found, f"{where}: does not follow the line before it: a line was removed, reordered, replayed " \
                          "or altered"  # fmt: skip
        previous = hashlib.sha256(raw).hexdigest()
        history = public_keys is not None and first_signed is not None and index < first_signed
        if entry.get("kind") in (keychain.ROTATE, keychain.REVOKE):
            problem = chain.problems.get(index, "")
        else:
            problem = signature_problem(entry, chain.allowed(index, public_keys) if public_keys is not None else None,
                                        allowed_signers, allow_unsigned or history, chain)  # fmt: skip
        if problem.startswith("UNSIGNED") and first_signed is not None and index > first_signed:
            problem = (f"UNSIGNED after the signed line {first_signed + 1}: a downgrade (a drill run without its "
                       "key, or a line written by someone who has none)")  # fmt: skip
        found.append(Line(entry, previous, problem, history and not (entry.get("signature") or {})))
    return found, ""


def parsed(raw: bytes) -> dict | None:
    try:
        entry = json.loads(raw)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def signed_line(raw: bytes) -> bool:
    """A drill line that carries a signature (whether it is good is checked in its turn)."""
    entry = parsed(raw)
    return entry is not None and entry.get("kind") == "drill" and bool(entry.get("signature"))


def key_chain(root: Path) -> keychain.KeyChain:
    """The ledger's rotations and revocations (each line's own signatures checked)."""
    return keychain.chain_of([parsed(raw) for raw in lines(root)])


def trusted_keys(root: Path, given: list[Ed25519PublicKey]) -> list[Ed25519PublicKey]:
    """The keys a drill statement of this folder may be signed by: those given, and the ledger's
    whole key chain when one of them is in it (this year's key verifies last year's drills)."""
    return key_chain(root).trusted(given) if given else given


def drill_lines(root: Path, public_keys: list[Ed25519PublicKey] | None = None) -> list[dict]:
    """The drill lines of the unbroken chain (signed by one of `public_keys`, when given)."""
    chain, _ = walk(root, public_keys, allow_unsigned=public_keys is None)
    return [line.entry for line in chain if line.entry.get("kind") == "drill" and not line.problem
            and not line.unsigned_history]  # fmt: skip


def line_of(root: Path, drill_id: str) -> tuple[int, str] | None:
    """(seq, sha256) of the drill's line in the chain, None when it holds none."""
    chain, _ = walk(root)
    return next(((n, line.sha256) for n, line in enumerate(chain)
                 if line.entry.get("kind") == "drill" and line.entry.get("drill_id") == drill_id), None)  # fmt: skip


def drills_of_target(root: Path, target_name: str) -> int:
    """How many drill lines of this target the chain holds."""
    return sum(entry.get("target") == target_name for entry in drill_lines(root))


def next_entry(root: Path, **fields: object) -> dict:
    return {"seq": len(lines(root)), "prev": head(root), **fields}


def drill_signature(entry: dict, key: Ed25519PrivateKey | None) -> dict:
    if key is None:
        return {}
    sig = key.sign(canonical(entry))
    return {"kind": "ed25519", "keyid": keys.keyid(key.public_key()), "sig": base64.b64encode(sig).decode()}


def signoff_signature(entry: dict, key_file: Path) -> dict:
    principal = str(entry["by"])
    return {"kind": "sshsig", "principal": principal, "sig": sshsig.sign(canonical(entry), key_file, sshsig.LEDGER)}


@dataclass
class LedgerCheck:
    """What `verify` found: `problems` (the ledger or a folder it names is not what was written),
    `outside` (drill folders the ledger does not hold: they prove nothing) and the drills it holds."""

    problems: list[str] = field(default_factory=list)
    about: list[str | None] = field(default_factory=list)  # the drill each problem is about (None: the chain)
    outside: list[str] = field(default_factory=list)
    drills: dict[str, dict] = field(default_factory=dict)  # drill id -> its ledger line
    signoffs: list[dict] = field(default_factory=list)
    legacy: list[str] = field(default_factory=list)  # folders from before the ledger
    unsigned_history: list[str] = field(default_factory=list)  # drills before the first signed one

    @property
    def broken(self) -> bool:
        return bool(self.problems)

    def add(self, drill_id: str | None, problem: str) -> None:
        self.problems.append(problem)
        self.about.append(drill_id)

    def problems_of(self, drill_id: str) -> list[str]:
        """What is wrong with one drill's lines, or with the chain they hang on."""
        return [p for p, about in zip(self.problems, self.about, strict=True) if about in (None, drill_id)]


def verify(root: Path, public_keys: list[Ed25519PublicKey] | None = None, allowed_signers: Path | None = None,
           allow_unsigned: bool = False, only: str | None = None, files: bool = True) -> LedgerCheck:  # fmt: skip
    """Walk the chain from its first line; then each drill folder and sign-off file against it.
    public_keys / allowed_signers None: signatures are not looked at (the chain and files are).
    `only`: the folders of that drill alone are checked (the chain always whole); `files` False:
    each folder's statement is compared, not its files (the caller hashes them itself)."""
    found = LedgerCheck()
    chain, broken = walk(root, public_keys, allowed_signers, allow_unsigned)
    for index, line in enumerate(chain):
        entry, where = line.entry, f"{LEDGER} line {index + 1}"
        if line.problem:
            what = LINE_KINDS.get(str(entry.get("kind")), "line")
            about = f" {entry.get('drill_id')}" if entry.get("kind") in ("drill", "signoff") else ""
            found.add(None, f"{where} ({what}{about}): {line.problem}")
        if entry.get("kind") == "drill":
            if line.unsigned_history:
                found.unsigned_history.append(str(entry.get("drill_id")))
            if entry.get("drill_id") in found.drills:
                found.add(None, f"{where}: drill {entry.get('drill_id')} again: a replayed line")
            found.drills[str(entry.get("drill_id"))] = entry
        elif entry.get("kind") == "signoff":
            found.signoffs.append(entry)
    if broken:
        found.add(None, broken)
    for drill_id, entry in found.drills.items():
        for problem in drill_problems(root, drill_id, entry, files) if only in (None, drill_id) else []:
            found.add(drill_id, problem)
    for entry in found.signoffs:
        if only in (None, entry.get("drill_id")) and (problem := signoff_problem(root, entry)):
            found.add(str(entry.get("drill_id")), problem)
    known_signoffs = {(e.get("drill_id"), e.get("file")) for e in found.signoffs}
    envelopes = [root / only / attest.ENVELOPE] if only else root.glob(f"*/{attest.ENVELOPE}")
    for folder in sorted(p.parent for p in envelopes if p.exists()):
        if folder.is_symlink():  # `latest` names the newest drill again; any other link proves nothing
            if not (folder.name == "latest" and os.readlink(folder) in found.drills):
                found.outside.append(f"{folder.name}: a symbolic link to {os.readlink(folder)}, not a drill folder "
                                     "the ledger holds: it proves nothing")  # fmt: skip
            continue
        if folder.name not in found.drills:
            found.outside.append(f"{folder.name}: a drill folder the ledger does not hold (an interrupted drill, "
                                 "one added by hand, or renamed): it proves nothing")  # fmt: skip
        for record in sorted((folder / attest.SIGNOFF_DIR).glob("*.json")):
            if (folder.name, record.name) not in known_signoffs:
                found.add(folder.name, f"{folder.name}/{attest.SIGNOFF_DIR}/{record.name}: a sign-off the ledger "
                          "does not hold")  # fmt: skip
    found.legacy = sorted(
        p.parent.name for p in root.glob("*/manifest.json") if not (p.parent / attest.ENVELOPE).exists()
    )
    return found


def signature_problem(entry: dict, allowed: tuple[list[Ed25519PublicKey], str] | None, allowed_signers: Path | None,
                      allow_unsigned: bool, chain: keychain.KeyChain | None = None) -> str:  # fmt: skip
    """Why a drill or sign-off line's signature does not hold ("" when it does). `allowed`: the
    keys that may sign this line and how a refusal names them (None: not looked at)."""
    signature = entry.get("signature") or {}
    if not isinstance(signature, dict) or not signature:
        return "" if allow_unsigned else "UNSIGNED: written by a drill without a signing key"
    if signature.get("kind") == "ed25519" and entry.get("kind") == "drill":
        if allowed is None:
            return ""
        try:
            sig = base64.b64decode(str(signature.get("sig")), validate=True)
        except binascii.Error:
            return "its signature is malformed"
        public_keys, refusal = allowed
        signer = next((k for k in public_keys if keys.valid(k, sig, canonical(entry))), None)
        if signer is None:
            return f"{refusal} (it names {signature.get('keyid')})"
        return chain.revoked(entry, keys.keyid(signer)) if chain else ""
    if signature.get("kind") == "sshsig" and entry.get("kind") in ("signoff", "risk"):
        if allowed_signers is None:
            return ""
        ok, said = sshsig.verify(canonical(entry), str(signature.get("sig")), allowed_signers, str(entry.get("by")),
                                 sshsig.LEDGER)  # fmt: skip
        return "" if ok else f"not signed by {entry.get('by')} in {allowed_signers}: {said}"
    return "its signature is malformed"


def drill_problems(root: Path, drill_id: str, entry: dict, files: bool = True) -> list[str]:
    """A drill the ledger holds: its folder is there, named as written, with the statement written."""
    what = f"drill {drill_id} (verdict {entry.get('verdict')}, started {entry.get('started')}, ledger line " \
           f"{entry.get('seq', 0) + 1})"  # fmt: skip
    folder = root / str(entry.get("folder"))
    if entry.get("folder") != drill_id:
        return [f"{what}: the ledger names its folder {entry.get('folder')!r}: renamed"]
    if not folder.is_dir():
        return [f"{what}: its folder is gone (deleted)"]
    try:
        statement, payload, _ = attest.read_statement(folder)
    except ValueError as exc:
        return [f"{what}: {exc}"]
    if hashlib.sha256(payload).hexdigest() != entry.get("statement_sha256"):
        return [f"{what}: its folder holds another statement than the one the ledger recorded: replaced or rolled "
                "back"]  # fmt: skip
    return [f"{what}: {problem}" for problem in attest.files_problems(folder, statement)] if files else []


def signoff_problem(root: Path, entry: dict) -> str:
    path = root / str(entry.get("drill_id")) / attest.SIGNOFF_DIR / str(entry.get("file"))
    what = f"sign-off {entry.get('file')} of drill {entry.get('drill_id')} by {entry.get('by')} (ledger line " \
           f"{entry.get('seq', 0) + 1})"  # fmt: skip
    try:
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return f"{what}: its file is gone (rolled back or deleted)"
    return "" if sha == entry.get("record_sha256") else f"{what}: its file was altered"
