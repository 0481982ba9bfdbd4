"""cosign, the tool the closest rival's users verify with, checks a real drill's envelope against
its public key alone. Run by `make verify-cosign` (it builds a pinned cosign from the Go module
proxy first, about 4 minutes on 2 cores: too long for `make test`, which does not collect this
file; tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from drtests.evidence.attest import PREDICATE_TYPE
from tests.e2e import signing
from tests.e2e.conftest import DrillLab

COSIGN = os.environ.get("DRTESTS_COSIGN", "cosign")


def cosign_verifies(folder: Path, public: Path, blob: str) -> subprocess.CompletedProcess:
    return subprocess.run([COSIGN, "verify-blob-attestation", "--key", str(public), "--type", PREDICATE_TYPE,
                           "--signature", str(folder / "evidence.intoto.jsonl"), "--insecure-ignore-tlog",
                           str(folder / blob)], capture_output=True, text=True, timeout=120)  # fmt: skip


def test_cosign_verifies_each_file_of_a_signed_drill_and_rejects_a_forgery(drill_lab: DrillLab, tmp_path: Path) -> None:
    keys = signing.keygen(tmp_path / "keys")
    assert drill_lab.run(env=dict(os.environ, DRTESTS_SIGNING_KEY_FILE=str(keys.private))).returncode == 0
    folder = (drill_lab.reports / "latest").resolve()
    for blob in ("evidence.json", "report.html"):
        ok = cosign_verifies(folder, keys.public, blob)
        assert ok.returncode == 0 and "Verified OK" in ok.stdout + ok.stderr, ok.stderr
    (folder / "report.html").write_text("edited")
    altered = cosign_verifies(folder, keys.public, "report.html")
    assert altered.returncode != 0, altered.stdout + altered.stderr
    other = signing.keygen(tmp_path / "other")
    assert cosign_verifies(folder, other.public, "evidence.json").returncode != 0
