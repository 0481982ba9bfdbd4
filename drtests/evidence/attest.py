"""A drill folder's signed statement: `evidence.intoto.jsonl`, a DSSE envelope over an in-toto
Statement v1 whose subjects are every file the drill wrote (name and sha256) and whose predicate
is the drill's summary. openssl, cosign or a few lines of python3 verify it with the public key
alone; `check` is drtests' own verifier, and names what is wrong in one line each.

Sign-offs come later and add files of their own under `signoffs/` (each signed by its signer):
they never change a file the drill's statement covers."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from drtests.evidence import manifest
from drtests.sign import dsse, keys

ENVELOPE = "evidence.intoto.jsonl"
TIMESTAMP = "evidence.intoto.tsr"  # an RFC 3161 timestamp over the statement, when [evidence] tsa_url is set
SIGNOFF_DIR = "signoffs"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://drtests.dev/attestation/drill-evidence/v1"  # README "The signed statement"
LEGACY = "legacy HMAC: anyone holding the key could have written it"


def covered(folder: Path) -> dict[str, str]:
    """The files the drill's statement covers: every regular file of the folder but the envelope
    itself and what sign-offs add later."""
    return {
        name: manifest.digest(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
        and (name := p.relative_to(folder).as_posix()) not in (ENVELOPE, TIMESTAMP)
        and not name.startswith(f"{SIGNOFF_DIR}/")
    }  # fmt: skip


def predicate_of(evidence: dict, folder_name: str, ledger_previous: str) -> dict:
    """What the signature vouches for besides the files: the drill in one record."""
    checks = evidence.get("checks", [])
    return {
        "drill_id": evidence["drill_id"], "folder": folder_name, "target": evidence["target"],
        "target_name": evidence.get("target_name") or evidence["target"], "mode": evidence["mode"],
        "verdict": evidence["verdict"], "started": evidence["started"], "ended": evidence["ended"],
        "rto": evidence["rto"], "rpo": evidence["rpo"],
        "failed_checks": [f"{c['phase']}/{c['name']}" for c in checks if c["verdict"] == "fail"],
        "unproven_checks": [f"{c['phase']}/{c['name']}" for c in checks if c["verdict"] == "unproven"],
        "controls": evidence.get("controls", []), "drtests_version": metadata.version("drtests"),
        "config_sha256": evidence["config"]["sha256"], "ledger_previous_sha256": ledger_previous,
    }  # fmt: skip


def write(folder: Path, evidence: dict, key: Ed25519PrivateKey | None, ledger_previous: str = "") -> bytes:
    """Write the folder's envelope (signed when there is a key); the statement as signed."""
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": sha}} for name, sha in covered(folder).items()],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate_of(evidence, folder.name, ledger_previous),
    }
    payload = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()
    tmp = folder / f".{ENVELOPE}.{os.getpid()}"
    tmp.write_text(json.dumps(dsse.envelope(payload, key), separators=(",", ":")) + "\n")
    tmp.replace(folder / ENVELOPE)
    return payload


@dataclass
class FolderCheck:
    """What verifying one drill folder found; `problems` empty: it is what the drill wrote."""

    folder: Path
    problems: list[str] = field(default_factory=list)
    statement: dict | None = None
    statement_sha256: str = ""
    signed_by: str | None = None  # the keyid of the public key that verified it
    unsigned: bool = False
    legacy: bool = False

    @property
    def predicate(self) -> dict:
        return (self.statement or {}).get("predicate") or {}


def read_statement(folder: Path) -> tuple[dict, bytes, list[dict]]:
    """The statement, its bytes as signed and the envelope's signatures; ValueError names what is wrong."""
    try:
        text = (folder / ENVELOPE).read_text()
    except OSError as exc:
        raise ValueError(f"{ENVELOPE}: missing or unreadable ({exc.strerror or exc})") from None
    try:
        payload, signatures = dsse.parse(text)
        statement = json.loads(payload)
    except (dsse.EnvelopeError, ValueError) as exc:
        raise ValueError(f"{ENVELOPE}: malformed: {exc}") from None
    subjects = statement.get("subject") if isinstance(statement, dict) else None
    if (not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE
            or statement.get("predicateType") != PREDICATE_TYPE or not isinstance(subjects, list)
            or not all(isinstance(s, dict) and isinstance(s.get("name"), str)
                       and isinstance((s.get("digest") or {}).get("sha256"), str) for s in subjects)
            or not isinstance(statement.get("predicate"), dict)):  # fmt: skip
        raise ValueError(f"{ENVELOPE}: malformed: not an in-toto Statement v1 of type {PREDICATE_TYPE}")
    return statement, payload, signatures


def verify_folder(
    folder: Path, public_keys: list[Ed25519PublicKey] | None, allow_unsigned: bool = False
) -> FolderCheck:
    """Verify one drill folder: its envelope's signature by one of `public_keys` (None: the
    signature is not looked at, only the files), every file against the statement, the folder's
    name against the drill it signs."""
    found = FolderCheck(folder)
    if not (folder / ENVELOPE).exists() and (folder / manifest.MANIFEST).exists():
        return legacy_check(folder, allow_unsigned)
    try:
        found.statement, payload, signatures = read_statement(folder)
    except ValueError as exc:
        found.problems.append(str(exc))
        return found
    found.statement_sha256 = hashlib.sha256(payload).hexdigest()
    payload_sigs = [s for s in signatures if s.get("sig")]
    if public_keys is None:
        found.unsigned = not payload_sigs
    elif not payload_sigs:
        found.unsigned = True
        if not allow_unsigned:
            found.problems.append(f"UNSIGNED: {ENVELOPE} carries no signature, so anyone could have written it")
    else:
        named = ", ".join(str(s.get("keyid", "?")) for s in payload_sigs)
        match = next((k for k in public_keys if dsse.signed_by(payload, payload_sigs, k)), None)
        if match is not None:
            found.signed_by = keys.keyid(match)
        elif not public_keys:
            found.problems.append(f"{ENVELOPE}: carries a signature by {named}, not checked: give --public-key")
        else:
            found.problems.append(f"{ENVELOPE}: not a valid signature by the given key(s): it names {named} "
                                  "(another key, or the envelope was altered)")  # fmt: skip
    found.problems += files_problems(folder, found.statement)
    drill_id = found.predicate.get("drill_id")
    if drill_id != folder.name or found.predicate.get("folder") != folder.name:
        found.problems.append(f"the statement signs drill {drill_id!r}, but this folder is named {folder.name!r}: "
                              "renamed, or copied under another drill's name")  # fmt: skip
    return found


def files_problems(folder: Path, statement: dict) -> list[str]:
    recorded = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    return manifest.differences(folder, recorded, covered(folder), "in the signed statement")


def legacy_check(folder: Path, allow_unsigned: bool) -> FolderCheck:
    """A folder written before statements (manifest.json, HMAC): checked with DRTESTS_SIGNING_KEY,
    and never taken for signed: whoever holds that key can write one."""
    found = FolderCheck(folder, legacy=True)
    found.problems = manifest.verify(folder)
    chain, records = manifest.chain(folder), legacy_signoffs(folder)
    if len(records) != len(chain):
        found.problems.append(f"signoffs.json: {len(records)} sign-off(s), but the manifest records {len(chain)}")
    if not manifest.is_signed(folder):
        found.unsigned = True
        if not allow_unsigned:
            found.problems.append(f"UNSIGNED: {manifest.MANIFEST} (a folder from before signed statements) carries "
                                  "no signature")  # fmt: skip
    return found


def legacy_signoffs(folder: Path) -> list[dict]:
    """The sign-offs of a legacy folder (signoffs.json: typed names, under the folder's HMAC)."""
    try:
        records = json.loads((folder / "signoffs.json").read_text())
    except (OSError, ValueError):
        return []
    return [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []
