"""Keys and signatures for the evidence tests, made with the real tools: `drtests keygen`,
`ssh-keygen` for the people who sign off, and the CLI's own verify-evidence and sign-off."""

from __future__ import annotations

import base64
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from tests.e2e.conftest import DRTESTS


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path


@dataclass(frozen=True)
class Person:
    principal: str
    key: Path
    public_line: str  # "ssh-ed25519 AAAA..."
    fingerprint: str  # "SHA256:..."


def keygen(out: Path) -> KeyPair:
    made = subprocess.run([DRTESTS, "keygen", "--out", str(out)], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    return KeyPair(out / "drtests.key", out / "drtests.pub")


def ssh_identity(folder: Path, principal: str) -> Person:
    key = folder / f"id_{principal.split('@')[0]}"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", principal, "-f", str(key)], check=True)
    public = " ".join(key.with_suffix(".pub").read_text().split()[:2])
    listed = subprocess.run(["ssh-keygen", "-l", "-f", str(key)], capture_output=True, text=True, check=True)
    return Person(principal, key, public, listed.stdout.split()[1])


def allowed_signers(path: Path, *people: Person) -> Path:
    path.write_text("".join(f"{p.principal} {p.public_line}\n" for p in people))
    return path


def verify(folder: Path, *args: object) -> subprocess.CompletedProcess:
    return subprocess.run([DRTESTS, "verify-evidence", str(folder), *map(str, args)], capture_output=True, text=True)


def sign_off(folder: Path, person: Person, role: str, note: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([DRTESTS, "sign-off", str(folder), "--by", person.principal, "--role", role, "--key",
                           str(person.key), "--note", note], capture_output=True, text=True)  # fmt: skip


def resign(envelope: dict, private: Path) -> dict:
    """The same statement, signed by another key: what a forger with their own key makes."""
    key = serialization.load_pem_private_key(private.read_bytes(), password=None)
    payload, kind = base64.b64decode(envelope["payload"]), envelope["payloadType"].encode()
    sig = key.sign(b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload))
    return {**envelope, "signatures": [{"keyid": "forger", "sig": base64.b64encode(sig).decode()}]}


def edit_evidence(folder: Path, **changes: object) -> None:
    path = folder / "evidence.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}, indent=2))
