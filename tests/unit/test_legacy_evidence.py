"""Folders written before signed statements: a manifest.json of sha256s with an HMAC-SHA256
(DRTESTS_SIGNING_KEY). They still verify, and say what an HMAC is worth; a malformed signature
({} or a string) never reads as signed. The folder here is a real a16901b drill's evidence, with
its manifest written as drills wrote it then (the format is fixed: it is a legacy)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
DRTESTS = str(Path(sys.executable).parent / "drtests")
KEY = "auditor-key-2026"


def legacy_manifest(folder: Path, key: str | None, signature: object = None) -> None:
    """manifest.json as drtests wrote it until signed statements: files, then HMAC over them."""
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}
    manifest: dict = {"drill_id": folder.name, "algorithm": "sha256", "files": files}
    if key:
        signed = json.dumps({"drill_id": folder.name, "files": files}, sort_keys=True, separators=(",", ":"))
        mac = hmac.new(key.encode(), signed.encode(), hashlib.sha256).hexdigest()
        manifest["signature"] = {"algorithm": "HMAC-SHA256", "key_env": "DRTESTS_SIGNING_KEY", "value": mac}
    if signature is not None:
        manifest["signature"] = signature
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    evidence = json.loads((DATA / "evidence-a16901b.json").read_text())
    path = tmp_path / "reports" / evidence["drill_id"]
    path.mkdir(parents=True)
    shutil.copy(DATA / "evidence-a16901b.json", path / "evidence.json")
    (path / "report.html").write_text("<html>the old report</html>")
    return path


def verify(folder: Path, key: str | None, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DRTESTS_SIGNING_KEY"} | (
        {"DRTESTS_SIGNING_KEY": key} if key else {}
    )
    return subprocess.run([DRTESTS, "verify-evidence", str(folder), *args], capture_output=True, text=True, env=env)


def test_an_hmac_folder_verifies_as_legacy_and_an_altered_one_does_not(folder: Path) -> None:
    legacy_manifest(folder, KEY)
    ok = verify(folder, KEY)
    assert (
        ok.returncode == 0
        and ok.stdout.strip() == f"{folder}: intact, legacy HMAC: anyone holding the key could have written it"
    )
    wrong = verify(folder, "another-key")
    assert wrong.returncode == 1 and "signature does not match" in wrong.stdout
    (folder / "report.html").write_text("<html>edited</html>")
    altered = verify(folder, KEY)
    assert altered.returncode == 1 and f"NOT VERIFIED {folder}: report.html: altered" in altered.stdout


@pytest.mark.parametrize("signature", [{}, "c2lnbmF0dXJl", {"algorithm": "HMAC-SHA256"}, []])
def test_a_malformed_signature_never_reads_as_signed(folder: Path, signature: object) -> None:
    legacy_manifest(folder, None, signature)
    for key in (None, KEY):
        result = verify(folder, key)
        assert result.returncode == 1, result.stdout
        assert "its signature is malformed" in result.stdout and "intact" not in result.stdout
        assert "Traceback" not in result.stdout + result.stderr


def test_an_unsigned_legacy_folder_exits_1_unless_allowed(folder: Path) -> None:
    legacy_manifest(folder, None)
    unsigned = verify(folder, None)
    assert (
        unsigned.returncode == 1
        and "UNSIGNED: manifest.json (a folder from before signed statements)" in unsigned.stdout
    )
    allowed = verify(folder, None, "--allow-unsigned")
    assert allowed.returncode == 0 and "UNSIGNED legacy folder" in allowed.stdout
