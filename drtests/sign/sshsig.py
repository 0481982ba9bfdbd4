"""SSH signatures (`ssh-keygen -Y`), the mechanism git uses for signed commits: a person signs
with the key they already have, and a verifier checks against an allowed_signers file. The
namespace keeps a signature made for one purpose from counting for another."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from drtests.errors import DrillError

SIGNOFF = "drtests-signoff"
LEDGER = "drtests-ledger"


def sign(data: bytes, key_file: Path, namespace: str) -> str:
    """The armored signature of `data` with the signer's private key; DrillError with ssh-keygen's words."""
    if not key_file.is_file():
        raise DrillError(f"--key {key_file}: no such key file (an SSH private key, e.g. ~/.ssh/id_ed25519)")
    with tempfile.TemporaryDirectory(prefix="drtests-sign-") as tmp:
        message = Path(tmp) / "message"
        message.write_bytes(data)
        done = subprocess.run(["ssh-keygen", "-q", "-Y", "sign", "-f", str(key_file), "-n", namespace, str(message)],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)  # fmt: skip
        if done.returncode != 0:
            said = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise DrillError(f"ssh-keygen could not sign with {key_file}: {said}")
        return (Path(tmp) / "message.sig").read_text()


def verify(data: bytes, signature: str, allowed_signers: Path, principal: str, namespace: str) -> tuple[bool, str]:
    """Whether `signature` is `principal`'s over `data` by allowed_signers; ssh-keygen's own line."""
    with tempfile.TemporaryDirectory(prefix="drtests-verify-") as tmp:
        sig = Path(tmp) / "message.sig"
        sig.write_text(signature)
        argv = ["ssh-keygen", "-Y", "verify", "-f", str(allowed_signers), "-I", principal, "-n", namespace]
        argv += ["-s", str(sig)]
        done = subprocess.run(argv, input=data, capture_output=True, timeout=60)
    said = (done.stdout + done.stderr).decode(errors="replace").strip().splitlines()
    return done.returncode == 0, (said or ["no output"])[-1] if done.returncode else (said or [""])[0]


def fingerprint(said: str) -> str:
    """The key fingerprint in ssh-keygen's 'Good ... signature for X with ED25519 key SHA256:...'."""
    found = re.search(r"with (\S+) key (SHA256:\S+)", said)
    return f"{found[1]} {found[2]}" if found else ""


def key_fingerprint(key_file: Path) -> str:
    """'ED25519 SHA256:...' of the signer's key, as ssh-keygen -l prints it."""
    done = subprocess.run(["ssh-keygen", "-l", "-f", str(key_file)], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=30)  # fmt: skip
    parts = done.stdout.split()
    return f"{parts[-1].strip('()')} {parts[1]}" if done.returncode == 0 and len(parts) >= 3 else ""
