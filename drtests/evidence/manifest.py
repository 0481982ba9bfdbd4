"""manifest.json, as drills wrote it before signed statements (attest.py): the sha256 of every
file of the folder, optionally with an HMAC-SHA256 (key from DRTESTS_SIGNING_KEY). Only read now:
such folders still verify, reported as legacy, because whoever can check an HMAC can make one."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path

MANIFEST = "manifest.json"
KEY_ENV = "DRTESTS_SIGNING_KEY"


def digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def _signed_bytes(drill_id: str, files: dict[str, str], chain: list[str] | None = None) -> bytes:
    signed: dict = {"drill_id": drill_id, "files": files}
    if chain:  # manifests before a sign-off: their hashes are signed too, so none can be dropped unseen
        signed["chain"] = chain
    return json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()


def _files(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): digest(p) for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST
    }


def differences(folder: Path, recorded: dict[str, str], actual: dict[str, str], listed: str) -> list[str]:
    """Each file missing, added or altered against the table of sha256s that lists it (`listed`:
    where, in words); a link in the folder instead, since a link can change without a trace."""
    linked = [p.relative_to(folder).as_posix() for p in sorted(folder.rglob("*")) if p.is_symlink()]
    if linked:  # evidence files are regular files
        return [f"{name}: a symbolic link, not a file the drill wrote" for name in linked]
    problems = []
    for name in sorted(set(recorded) | set(actual)):
        if name not in actual:
            problems.append(f"{name}: {listed} but missing")
        elif name not in recorded:
            problems.append(f"{name}: not {listed} (added after the drill)")
        elif actual[name] != recorded[name]:
            problems.append(f"{name}: altered (sha256 {actual[name][:16]}..., {listed}: {recorded[name][:16]}...)")
    return problems


def verify(folder: Path, key: str | None = None) -> list[str]:
    """Problems found; an empty list means the folder is intact (and authentic, when signed)."""
    key = key if key is not None else os.environ.get(KEY_ENV)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        return [f"{MANIFEST}: missing or unreadable ({exc})"]
    recorded = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(recorded, dict) or not all(isinstance(v, str) for v in recorded.values()):
        return [f"{MANIFEST}: not a drtests manifest (no table of files and their sha256)"]
    problems = differences(folder, recorded, _files(folder), "in the manifest")
    signature = manifest.get("signature")
    if signature is not None and not well_formed(signature):
        problems.append(f"{MANIFEST}: its signature is malformed ({json.dumps(signature)[:40]}): not an HMAC-SHA256")
    elif signature:
        if not key:
            problems.append(f"{MANIFEST}: signed, but {KEY_ENV} is not set: cannot check the signature")
        else:
            signed = _signed_bytes(manifest.get("drill_id", ""), recorded, manifest.get("chain"))
            expected = hmac.new(key.encode(), signed, hashlib.sha256)
            if not hmac.compare_digest(expected.hexdigest(), str(signature.get("value", ""))):
                problems.append(f"{MANIFEST}: signature does not match (wrong key, or the manifest was altered)")
    elif key:
        problems.append(f"{MANIFEST}: not signed, but {KEY_ENV} is set: expected a signed manifest")
    return problems


def is_signed(folder: Path) -> bool:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and well_formed(manifest.get("signature"))


def well_formed(signature: object) -> bool:
    return (isinstance(signature, dict) and signature.get("algorithm") == "HMAC-SHA256"
            and isinstance(signature.get("value"), str) and len(signature["value"]) == 64)  # fmt: skip


def chain(folder: Path) -> list[str]:
    """The sha256 of every manifest this folder had before its sign-offs, oldest first."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return []
    found = manifest.get("chain", []) if isinstance(manifest, dict) else []
    return [h for h in found if isinstance(h, str)] if isinstance(found, list) else []
