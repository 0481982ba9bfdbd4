"""Sign-off: a person accepts a drill's result. The record (who, role, when, note) joins the
evidence folder in signoffs.json, the report shows it, and the manifest is written again (signed
when DRTESTS_SIGNING_KEY is set) with the earlier manifest's sha256 in its chain: removing or
altering a sign-off afterwards is caught by `drtests verify-evidence`."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from drtests.errors import DrillError
from drtests.record.clock import utc_now
from drtests.report import manifest
from drtests.report.pages import drill_page

SIGNOFFS = "signoffs.json"


def read(folder: Path) -> list[dict]:
    path = folder / SIGNOFFS
    if not path.exists():
        return []
    try:
        records = json.loads(path.read_text())
    except ValueError:
        return []
    return [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []


def sign_off(folder: Path, by: str, role: str, note: str = "") -> dict:
    """Add a sign-off to an intact evidence folder; DrillError says why not."""
    if not by.strip() or not role.strip():
        raise DrillError("a sign-off needs --by (a name, e.g. 'Ann Auditor <ann@example.com>') and --role")
    problems = manifest.verify(folder)
    if problems:
        raise DrillError(f"{folder} is not intact, so it cannot be signed off: {problems[0]}")
    if manifest.is_signed(folder) and not os.environ.get(manifest.KEY_ENV):
        raise DrillError(f"{folder} has a signed manifest: set {manifest.KEY_ENV} to sign off, or the signature "
                         "would be lost")  # fmt: skip
    evidence = json.loads((folder / "evidence.json").read_text())
    earlier = (folder / manifest.MANIFEST).read_bytes()
    previous = json.loads(earlier)
    record = {"by": by.strip(), "role": role.strip(), "at": utc_now(), "note": note.strip(),
              "manifest_sha256": hashlib.sha256(earlier).hexdigest()}  # fmt: skip
    records = [*read(folder), record]
    (folder / SIGNOFFS).write_text(json.dumps(records, indent=2) + "\n")
    (folder / "report.html").write_text(drill_page(evidence, records))
    chain = [*previous.get("chain", []), record["manifest_sha256"]]
    manifest.write_manifest(folder, evidence["drill_id"], chain=chain)
    return record
