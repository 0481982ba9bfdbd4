"""The drill's ed25519 key pair: PEM PKCS#8 private key (0600) and PEM SubjectPublicKeyInfo public
key, the formats openssl, cosign and `cryptography` all read. The private key is read by drtests
alone and never passed to a command it runs."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from drtests.errors import DrillError

PRIVATE_NAME, PUBLIC_NAME = "drtests.key", "drtests.pub"
KEY_FILE_ENV = "DRTESTS_SIGNING_KEY_FILE"


def generate(out: Path) -> tuple[Path, Path]:
    """Write a new pair into `out` (made 0700); an existing key, or a link in its place, is never
    overwritten or followed."""
    made = not os.path.lexists(out)
    try:
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
        if made:
            out.chmod(0o700)  # whatever the umask
    except OSError as exc:
        raise DrillError(f"{out}: cannot make the key folder ({exc.strerror or exc})") from None
    if not out.is_dir():
        raise DrillError(f"{out}: not a folder")
    if out.stat().st_mode & 0o022:
        raise DrillError(f"{out}: others may write to this folder (mode {out.stat().st_mode & 0o777:o}), so they "
                         "could replace the key: choose a folder only you can write (chmod go-w)")  # fmt: skip
    private_path, public_path = out / PRIVATE_NAME, out / PUBLIC_NAME
    for path in (private_path, public_path):
        if os.path.lexists(path):
            what = " (a link)" if path.is_symlink() else ""
            raise DrillError(f"{path} exists{what}: a key is never overwritten (move it away, or choose another --out)")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())  # fmt: skip
    write_new(private_path, pem, 0o600)
    write_new(public_path, public_pem(key.public_key()), 0o644)
    return private_path, public_path


def write_new(path: Path, data: bytes, mode: int) -> None:
    """A new file, never through a link, never over one that appeared meanwhile."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except OSError as exc:
        raise DrillError(f"{path}: cannot write it ({exc.strerror or exc})") from None
    os.fchmod(fd, mode)  # exactly, whatever the umask
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def keyid(public: Ed25519PublicKey) -> str:
    """The key's name in envelopes and reports: SHA256 of its SubjectPublicKeyInfo, as ssh-keygen
    prints fingerprints (`SHA256:` + unpadded base64)."""
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")


def load_private(path: Path) -> Ed25519PrivateKey:
    """The signing key, or DrillError saying why not (missing, open to others, not ed25519)."""
    try:
        data, mode = path.read_bytes(), path.stat().st_mode
    except OSError as exc:
        raise DrillError(f"signing key {path}: cannot read it ({exc.strerror or exc})") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise DrillError(f"signing key {path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise DrillError(f"signing key {path}: not an ed25519 key (drtests keygen writes one)")
    if mode & 0o077:
        raise DrillError(f"signing key {path}: readable by others (mode {mode & 0o777:o}): chmod 600 it")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise DrillError(f"public key {path}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise DrillError(f"public key {path}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise DrillError(f"public key {path}: not an ed25519 key")
    return key


def valid(public: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public.verify(signature, data)
    except InvalidSignature:
        return False
    return True
