"""VERIFY.md, block by block, on a pack of a rotated ledger: each block alone verifies a good pack
with either year's public key, and refuses, by name, what it is there to catch (an edited summary,
a cut tail, an unsigned pack, a forged page, an edited ledger line, a revoked key's line). Real
keys, real openssl and ssh-keygen, drills written on disk as a drill writes them."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drtests.evidence import rotate
from drtests.sign import keys
from tests.unit.test_key_rotation import run, two_years


def blocks(verify_md: str) -> list[str]:
    """The sh blocks of VERIFY.md, in order: each is what an auditor pastes into bash."""
    return [block.split("\n", 1)[1] for block in verify_md.split("```")[1::2] if block.startswith("sh\n")]


def run_block(block: str, pack: Path) -> subprocess.CompletedProcess:
    """One block as an auditor runs it: bash, the system's python3, openssl, ssh-keygen; no drtests."""
    return subprocess.run(["bash", "-c", block], cwd=pack, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(pack), "LANG": "C.UTF-8"})  # fmt: skip


@pytest.fixture
def rotated_pack(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """A pack of two drills signed by the 2026 key and one by the 2027 key, exported with the 2027
    key and the 2026 public key as the auditor's: (pack folder, reports, old key dir, new key dir)."""
    reports, old, new = two_years(tmp_path)
    auditor_key = tmp_path / "drtests-2026.pub"
    shutil.copy(old / keys.PUBLIC_NAME, auditor_key)
    out = tmp_path / "pack.zip"
    done = run("export", "--since", "2020-01-01", "--out", str(out), "--report-dir", str(reports),
               "--public-key", str(auditor_key), "--key", str(new / keys.PRIVATE_NAME))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "the pack signed whole" in done.stdout
    with zipfile.ZipFile(out) as pack:
        pack.extractall(tmp_path / "pack")
    return tmp_path / "pack", reports, old, new


def test_each_block_alone_verifies_a_rotated_pack_with_either_years_key(rotated_pack) -> None:
    pack, _, old, new = rotated_pack
    recipe = blocks((pack / "VERIFY.md").read_text())
    assert len(recipe) == 4
    old_id, new_id = (keys.keyid(keys.load_public(k / keys.PUBLIC_NAME)) for k in (old, new))
    said = [run_block(block, pack) for block in recipe]
    for n, done in enumerate(said, start=1):
        assert done.returncode == 0, (n, done.stdout + done.stderr)
        assert done.stdout.strip().splitlines()[-1].startswith(f"{n}/4 ") and "VERIFIED" in done.stdout
    assert f"signed by {new_id} at" in said[0].stdout and "3 drill(s) of 3 target(s)" in said[0].stdout
    assert f"signed by {old_id}" in said[1].stdout and f"signed by {new_id}" in said[1].stdout
    assert f"2 key(s): {old_id} from line 1, {new_id} from line 4" in said[3].stdout
    mine = f"KEY={new / keys.PUBLIC_NAME}"  # the auditor's own copy of this year's key, outside the pack
    for block in recipe:
        done = run_block(block.replace("KEY=keys/drtests-2026.pub", mine), pack)
        assert done.returncode == 0, done.stdout + done.stderr


def forged(pack: Path, name: str) -> Path:
    copy = pack.with_name(name)
    shutil.copytree(pack, copy)
    return copy


def test_block_1_refuses_an_edited_summary_a_cut_tail_a_forged_page_and_an_unsigned_pack(rotated_pack) -> None:
    pack, _, _, _ = rotated_pack
    block = blocks((pack / "VERIFY.md").read_text())[0]

    summary = forged(pack, "summary")
    data = json.loads((summary / "summary.json").read_text())
    data["targets"][0]["passed"] = data["targets"][0]["drills"] + 1
    (summary / "summary.json").write_text(json.dumps(data))
    (summary / "summary.html").write_text("<p>every drill passed</p>")

    cut = forged(pack, "cut")  # the newest drill's folder and its ledger line: one drill fewer
    ledger = cut / "drills" / "ledger.jsonl"
    newest = json.loads(ledger.read_text().splitlines()[-1])["drill_id"]
    ledger.write_text("".join(line + "\n" for line in ledger.read_text().splitlines()[:-1]))
    shutil.rmtree(cut / "drills" / newest)

    page = forged(pack, "page")  # a sign-off page naming an approver who never signed
    (page / "drills" / newest / "signoffs").mkdir()
    (page / "drills" / newest / "signoffs" / "index.html").write_text("<p>approved by the CISO</p>")

    unsigned = forged(pack, "unsigned")
    (unsigned / "pack.intoto.jsonl").unlink()

    expected = {
        summary: "NOT VERIFIED: summary.html: missing or altered since the pack was signed",
        cut: "NOT VERIFIED: drills/ledger.jsonl: 3 line(s) ending in",
        page: f"files no signature covers (added after the pack was signed): ['drills/{newest}/signoffs/index.html']",
        unsigned: "NOT VERIFIED: pack.intoto.jsonl: missing",
    }
    for copy, message in expected.items():
        done = run_block(block, copy)
        assert done.returncode == 1 and message in done.stderr, (copy.name, done.stderr)
        assert "VERIFIED:" not in done.stdout
    assert "but the pack was signed over 4 line(s)" in run_block(block, cut).stderr


def test_block_4_alone_refuses_an_edited_line_and_a_line_of_a_revoked_key(rotated_pack) -> None:
    pack, _, old, new = rotated_pack
    block = blocks((pack / "VERIFY.md").read_text())[3]

    edited = forged(pack, "edited")  # a failed drill's verdict turned into a pass, the chain mended by hand
    ledger = edited / "drills" / "ledger.jsonl"
    lines = ledger.read_text().splitlines()
    first = json.loads(lines[0])
    first["verdict"] = "fail" if first["verdict"] == "pass" else "pass"
    ledger.write_text("\n".join([json.dumps(first, sort_keys=True, separators=(",", ":")), *lines[1:]]) + "\n")
    done = run_block(block, edited)
    assert done.returncode == 1
    assert "NOT VERIFIED: ledger line 1 (drill): not signed by SHA256:" in done.stderr, done.stderr

    revoked = forged(pack, "revoked")  # the 2026 key leaked on the second drill's day
    old_id = keys.keyid(keys.load_public(old / keys.PUBLIC_NAME))
    since = (datetime.now(UTC) - timedelta(days=2, hours=1)).isoformat()
    rotate.revoke(revoked / "drills", new / keys.PRIVATE_NAME, old_id, since, "laptop stolen")
    done = run_block(block, revoked)
    assert done.returncode == 1 and f"NOT VERIFIED: ledger line 2: signed by {old_id}, revoked from" in done.stderr
    assert "(ledger line 5: laptop stolen)" in done.stderr


def test_export_of_signed_drills_needs_the_ledgers_current_key(tmp_path: Path) -> None:
    reports, old, new = two_years(tmp_path)
    out = tmp_path / "pack.zip"
    base = ["export", "--since", "2020-01-01", "--out", str(out), "--report-dir", str(reports)]
    without = run(*base, "--public-key", str(new / keys.PUBLIC_NAME))
    assert without.returncode == 1 and "a pack of signed drills is signed whole: give --key" in without.stderr
    retired = run(*base, "--key", str(old / keys.PRIVATE_NAME))
    assert retired.returncode == 1 and "but the ledger's current key is" in retired.stderr
    assert "Traceback" not in without.stderr + retired.stderr and not out.exists()


def test_export_verifies_sign_offs_as_verify_all_does_and_packs_only_what_verified(tmp_path: Path) -> None:
    """A sign-off whose signature is garbage stops the export (it used to be packed, and shown in the
    summary as a sign-off); a good one is packed, with the sign-off page rebuilt from it."""
    from tests.e2e import signing

    reports, _, new = two_years(tmp_path)
    ann = signing.ssh_identity(tmp_path, "ann@example.com")
    allowed = signing.allowed_signers(tmp_path / "allowed_signers", ann)
    assert signing.sign_off(reports / "d3-prod", ann, "reviewer").returncode == 0
    (reports / "d3-prod" / "signoffs" / "index.html").write_text("<p>approved by the CISO</p>")  # a forged page
    out = tmp_path / "pack.zip"
    base = ["export", "--since", "2020-01-01", "--out", str(out), "--report-dir", str(reports), "--key",
            str(new / keys.PRIVATE_NAME)]  # fmt: skip
    good = run(*base, "--allowed-signers", str(allowed))
    assert good.returncode == 0, good.stderr
    with zipfile.ZipFile(out) as pack:
        page = pack.read("drills/d3-prod/signoffs/index.html").decode()
        (row,) = [r for t in json.loads(pack.read("summary.json"))["targets"] for r in t["rows"] if r["signoffs"]]
    assert "ann@example.com" in page and "CISO" not in page
    assert [s["by"] for s in row["signoffs"]] == ["ann@example.com"]
    out.unlink()
    unchecked = run(*base)
    assert (
        unchecked.returncode == 1
        and "sign-off 001.json by ann@example.com: not checked: give --allowed-signers" in (unchecked.stderr)
    )
    sig = reports / "d3-prod" / "signoffs" / "001.json.sig"
    sig.write_text(sig.read_text().replace("A", "B", 3))
    garbage = run(*base, "--allowed-signers", str(allowed))
    assert garbage.returncode == 1 and "sign-off 001.json by ann@example.com: not a good signature" in garbage.stderr
    assert not out.exists()
