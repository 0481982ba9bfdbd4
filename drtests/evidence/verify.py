"""`drtests verify-evidence`: one drill folder (its statement's signature, its files, its
sign-offs, its lines in the ledger beside it), or a whole report folder (`--all`: the ledger and
everything it holds). Each returns the lines to print and the problems, one line each."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from drtests.evidence import attest, findings, ledger, signoff
from drtests.sign import tsa


def folder(path: Path, public_keys: list[Ed25519PublicKey], allowed_signers: Path | None, allow_unsigned: bool,
           without_ledger: bool = False, tsa_ca: Path | None = None) -> tuple[list[str], list[str]]:  # fmt: skip
    root, held = path.parent, None
    if not without_ledger:
        public_keys = ledger.trusted_keys(root, public_keys)
    if not without_ledger and (root / ledger.LEDGER).exists():
        held = ledger.verify(root, public_keys or None, allowed_signers, allow_unsigned, only=path.name,
                             files=False)  # its files: hashed below, once  # fmt: skip
    history = held is not None and path.name in held.unsigned_history
    found = attest.verify_folder(path, public_keys, allow_unsigned or history)
    problems, said = list(found.problems), []
    if found.legacy:
        said += [f"signed off by {r.get('by')} ({r.get('role')}) at {r.get('at')}: a typed name (legacy)"
                 for r in attest.legacy_signoffs(path)]  # fmt: skip
        if not problems:
            unsigned = f"{path}: UNSIGNED legacy folder: every file matches manifest.json (--allow-unsigned)"
            said.append(unsigned if found.unsigned else f"{path}: intact, {attest.LEGACY}")
        return said, problems
    if found.statement is None:
        return said, problems
    signoffs = signoff.verify_signoffs(path, found.statement_sha256, allowed_signers)
    said += signoffs.said
    problems += signoffs.problems
    stamped, stamp_problems = timestamp(path, tsa_ca)
    said += stamped
    problems += stamp_problems
    where = ""
    if not without_ledger:
        if held is None:
            problems.append(f"no {ledger.LEDGER} beside it: a deleted drill or a rolled-back sign-off cannot be told "
                            "(--without-ledger checks the folder alone)")  # fmt: skip
        else:
            problems += held.problems_of(path.name)
            if path.name not in held.drills:
                problems.append(f"not in {root / ledger.LEDGER}: an interrupted drill, one added by hand, or renamed")
            else:
                where = f"; ledger line {held.drills[path.name]['seq'] + 1}"
    if not problems:
        files = len(found.statement["subject"])
        who = f"signed by {found.signed_by}" if found.signed_by else "UNSIGNED (allowed by --allow-unsigned)"
        if history and not found.signed_by:
            who = ("UNSIGNED history: a drill before this ledger's first signed one, which vouches for its lines "
                   "(never counted as signed evidence)")  # fmt: skip
        said.append(f"{path}: VERIFIED: {who}; {files} files match the signed statement{where}; "
                    f"{len(signoffs.valid)} sign-off(s) verified")  # fmt: skip
    return said, problems


def timestamp(path: Path, tsa_ca: Path | None) -> tuple[list[str], list[str]]:
    """The statement's RFC 3161 timestamp, checked against the TSA's CA when given."""
    reply = path / attest.TIMESTAMP
    if not reply.exists():
        return [], [f"no RFC 3161 timestamp ({attest.TIMESTAMP}), but --tsa-ca was given"] if tsa_ca else []
    if tsa_ca is None:
        return [f"{attest.TIMESTAMP}: an RFC 3161 timestamp, not checked (give --tsa-ca)"], []
    _, payload, _ = attest.read_statement(path)
    ok, said = tsa.verify(payload, reply.read_bytes(), tsa_ca)
    if not ok:
        return [], [f"{attest.TIMESTAMP}: not a valid timestamp of this statement by a TSA of {tsa_ca}: {said}"]
    return [f"timestamped {said} by a time-stamping authority of {tsa_ca} (RFC 3161)"], []


def report_folder(root: Path, public_keys: list[Ed25519PublicKey], allowed_signers: Path | None,
                  allow_unsigned: bool) -> tuple[list[str], list[str]]:  # fmt: skip
    if not (root / ledger.LEDGER).exists():
        return [], [f"no {ledger.LEDGER}: no drill of this folder can be verified as a whole"]
    held = ledger.verify(root, public_keys or None, allowed_signers, allow_unsigned, files=False)  # hashed below
    problems, said = list(held.problems) + held.outside, []
    chain = ledger.key_chain(root)
    if chain.epochs and public_keys:
        said += [f"key {span}" for span in chain.spans(len(ledger.lines(root)))]
        said += [f"key {r.keyid} revoked from {r.since.isoformat()} (ledger line {r.line}: {r.reason})"
                 for r in chain.revocations]  # fmt: skip
    public_keys = chain.trusted(public_keys)
    for drill_id in held.drills:
        if not (root / drill_id).is_dir():
            continue
        history = drill_id in held.unsigned_history
        lines, found = folder(root / drill_id, public_keys, allowed_signers, allow_unsigned or history,
                              without_ledger=True)  # fmt: skip
        said += lines
        problems += [f"{drill_id}: {p}" for p in found]
    said += [f"{name}: legacy folder (before the ledger): not covered by it" for name in held.legacy]
    said += [f"FINDING ledger line {f.line}: {f.text}" for f in findings.lost_heads(root, public_keys=public_keys)]
    if not problems:
        history = f" ({len(held.unsigned_history)} of them unsigned history, before signing began)" \
            if held.unsigned_history and public_keys else ""  # fmt: skip
        said.append(f"{root}: VERIFIED: {len(held.drills)} drill(s){history} and {len(held.signoffs)} sign-off(s) "
                    f"in an unbroken ledger of {len(ledger.lines(root))} line(s)")  # fmt: skip
    return said, problems
