"""Sign-off: a person accepts a drill's result with their own SSH key (`ssh-keygen -Y sign`, as
git signs commits). The record (drill, the digest of its signed statement, who, role, when, note)
goes to signoffs/NNN.json with its signature beside it, a line in the ledger signed by the same
key, and signoffs/index.html. Nothing the drill's statement covers is touched, and the drill's
own signing key is never needed."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from drtests import pages
from drtests.errors import DrillError
from drtests.evidence import attest, ledger
from drtests.record.clock import utc_now
from drtests.sign import sshsig


@dataclass(frozen=True)
class SignOff:
    file: str  # NNN.json under signoffs/
    record: dict
    signature: str | None  # the armored SSH signature, None when NNN.json.sig is missing


def read(folder: Path) -> list[SignOff]:
    found = []
    for path in sorted((folder / attest.SIGNOFF_DIR).glob("[0-9][0-9][0-9].json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            record = None
        sig = path.with_name(path.name + ".sig")
        found.append(SignOff(path.name, record if isinstance(record, dict) else {},
                             sig.read_text() if sig.is_file() else None))  # fmt: skip
    return found


def records(folder: Path) -> list[dict]:
    """What each sign-off says (for pages and packs), legacy signoffs.json included."""
    return [{**s.record, "file": s.file} for s in read(folder)] or attest.legacy_signoffs(folder)


def sign_off(folder: Path, by: str, role: str, key_file: Path, note: str = "") -> dict:
    """Add a sign-off to an intact, statement-signed drill folder; DrillError says why not."""
    if not by.strip() or not role.strip() or any(c.isspace() for c in by.strip()):
        raise DrillError("a sign-off needs --by (your principal in allowed_signers, e.g. ann@example.com, no "
                         "spaces) and --role")  # fmt: skip
    found = attest.verify_folder(folder, None)
    if found.legacy:
        raise DrillError(f"{folder} was written before signed statements (manifest.json): it cannot be signed off")
    if found.problems:
        raise DrillError(f"{folder} is not intact, so it cannot be signed off: {found.problems[0]}")
    evidence = json.loads((folder / "evidence.json").read_text())
    record = {"drill_id": folder.name, "statement_sha256": found.statement_sha256, "by": by.strip(),
              "role": role.strip(), "at": utc_now(), "note": note.strip(),
              "key": sshsig.key_fingerprint(key_file)}  # fmt: skip
    data = (json.dumps(record, indent=2) + "\n").encode()
    signature = sshsig.sign(data, key_file, sshsig.SIGNOFF)
    root, target = folder.parent, folder / attest.SIGNOFF_DIR
    with ledger.locked(root):  # the number is taken under the lock; a file is created, never replaced
        name = f"{len(read(folder)) + 1:03d}.json"
        entry = ledger.next_entry(root, kind="signoff", drill_id=folder.name, folder=folder.name, file=name,
                                  record_sha256=hashlib.sha256(data).hexdigest(),
                                  statement_sha256=found.statement_sha256, by=record["by"], role=record["role"],
                                  at=record["at"])  # fmt: skip
        line_signature = ledger.signoff_signature(entry, key_file)
        target.mkdir(exist_ok=True)
        if (target / f"{name}.sig").exists():
            raise DrillError(f"{target / name}.sig exists without its record: a sign-off drtests did not write "
                             "(verify-evidence names it); nothing was added")  # fmt: skip
        with (target / name).open("xb") as f:
            f.write(data)
        with (target / f"{name}.sig").open("x") as f:
            f.write(signature)
        ledger.append(root, entry, line_signature)
    (target / "index.html").write_text(pages.signoffs_page(evidence, records(folder)))
    return record


@dataclass
class SignoffCheck:
    said: list[str] = field(default_factory=list)  # a line per good sign-off, to print
    problems: list[str] = field(default_factory=list)
    valid: list[dict] = field(default_factory=list)  # the records of the good ones


def verify_signoffs(folder: Path, statement_sha256: str, allowed_signers: Path | None) -> SignoffCheck:
    """Each sign-off's signature by its signer in allowed_signers, over this drill's statement."""
    checked = SignoffCheck()
    said, problems = checked.said, checked.problems
    found = read(folder)
    extra = sorted(p.name for p in (folder / attest.SIGNOFF_DIR).glob("*") if p.name not in
                   {"index.html", *(s.file for s in found), *(f"{s.file}.sig" for s in found)})  # fmt: skip
    problems += [f"{attest.SIGNOFF_DIR}/{name}: not a sign-off drtests wrote" for name in extra]
    for number, signoff in enumerate(found, start=1):
        record, where = signoff.record, f"sign-off {signoff.file}"
        if signoff.file != f"{number:03d}.json":
            problems.append(f"sign-off {number:03d}.json: missing (removed), the next is {signoff.file}")
        if signoff.signature is None:
            problems.append(f"{where}: no signature ({signoff.file}.sig missing)")
            continue
        if record.get("statement_sha256") != statement_sha256 or record.get("drill_id") != folder.name:
            problems.append(f"{where} by {record.get('by')}: signs off another statement or drill, not this one")
            continue
        if allowed_signers is None:
            problems.append(f"{where} by {record.get('by')}: not checked: give --allowed-signers")
            continue
        data = (folder / attest.SIGNOFF_DIR / signoff.file).read_bytes()
        ok, message = sshsig.verify(data, signoff.signature, allowed_signers, str(record.get("by")), sshsig.SIGNOFF)
        if not ok:
            problems.append(f"{where} by {record.get('by')}: not a good signature by an allowed signer "
                            f"({allowed_signers}): {message}")  # fmt: skip
            continue
        note = f": {record.get('note')}" if record.get("note") else ""
        checked.valid.append({**record, "file": signoff.file})
        said.append(f"signed off by {record.get('by')} ({record.get('role')}) at {record.get('at')} with "
                    f"{sshsig.fingerprint(message)}{note}")  # fmt: skip
    return checked
