"""`drtests keygen` and the signing key a config names: formats openssl reads, and a clear error
(exit 2, before anything is touched) for a key that is missing, open to others or not ed25519."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DRTESTS = str(Path(sys.executable).parent / "drtests")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DRTESTS, *args], capture_output=True, text=True)


def test_keygen_writes_a_pair_openssl_reads_and_never_overwrites(tmp_path: Path) -> None:
    made = run("keygen", "--out", str(tmp_path / "k"))
    assert made.returncode == 0 and "drtests.key: the drill's signing key (mode 0600" in made.stdout
    private, public = tmp_path / "k" / "drtests.key", tmp_path / "k" / "drtests.pub"
    assert private.stat().st_mode & 0o777 == 0o600
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    (tmp_path / "m").write_bytes(b"a message")
    signed = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", str(private), "-rawin", "-in",
                             str(tmp_path / "m"), "-out", str(tmp_path / "sig")], capture_output=True)  # fmt: skip
    verify = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(public), "-rawin", "-in", str(tmp_path / "m")]
    checked = subprocess.run([*verify, "-sigfile", str(tmp_path / "sig")], capture_output=True, text=True)
    assert signed.returncode == 0 and "Signature Verified Successfully" in checked.stdout
    again = run("keygen", "--out", str(tmp_path / "k"))
    assert again.returncode == 2 and "exists: a key is never overwritten" in again.stderr
    assert private.stat().st_mode & 0o777 == 0o600


def test_a_config_naming_a_bad_key_is_refused_before_the_drill(tmp_path: Path) -> None:
    run("keygen", "--out", str(tmp_path / "k"))
    rsa = tmp_path / "rsa.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:1024", "-out", str(rsa)],
                   check=True, capture_output=True)  # fmt: skip
    rsa.chmod(0o600)
    (tmp_path / "open.key").write_bytes((tmp_path / "k" / "drtests.key").read_bytes())
    (tmp_path / "open.key").chmod(0o644)
    cases = [("missing.key", "cannot read it"), ("open.key", "readable by others (mode 644): chmod 600 it"),
             ("rsa.pem", "not an ed25519 key"), ("k/drtests.pub", "not an unencrypted PEM private key")]  # fmt: skip
    for key, said in cases:
        config = tmp_path / "drill.toml"
        config.write_text(f'[evidence]\nsigning_key_file = "{key}"\n')
        result = run("plan", "--config", str(config))
        assert result.returncode == 2, result.stdout
        assert f"evidence.signing_key_file: signing key {tmp_path / key}: {said}" in result.stderr
        assert "Traceback" not in result.stderr


def test_keygen_follows_no_link_and_keeps_its_folder_to_its_owner(tmp_path: Path) -> None:
    """A dangling drtests.key or drtests.pub link is refused in one line (it was a traceback, or
    the public key written through it), and the folder is 0700 whatever the umask."""
    for name in ("drtests.key", "drtests.pub"):
        folder = tmp_path / name.replace(".", "-")
        folder.mkdir(mode=0o700)
        (folder / name).symlink_to(tmp_path / "elsewhere" / name)
        made = run("keygen", "--out", str(folder))
        assert made.returncode == 2 and f"{folder / name} exists (a link): a key is never overwritten" in made.stderr
        assert "Traceback" not in made.stderr and not (tmp_path / "elsewhere").exists()
    fresh = tmp_path / "fresh" / "keys"
    made = subprocess.run(["sh", "-c", f"umask 000 && exec {DRTESTS} keygen --out {fresh}"], capture_output=True,
                          text=True)  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert fresh.stat().st_mode & 0o777 == 0o700 and (fresh / "drtests.key").stat().st_mode & 0o777 == 0o600
    open_folder = tmp_path / "open"
    open_folder.mkdir()
    open_folder.chmod(0o777)
    made = run("keygen", "--out", str(open_folder))
    assert made.returncode == 2 and "others may write to this folder (mode 777)" in made.stderr
