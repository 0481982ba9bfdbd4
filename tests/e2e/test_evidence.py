"""Evidence an auditor keeps: the signed statement, sign-offs, the ledger, the schema, history,
CI formats, the pack. Every forgery here is tried on a real drill's folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import jsonschema
import pytest

from drtests.record.evidence import validate
from tests.e2e import signing
from tests.e2e.conftest import DRTESTS, DrillLab


@pytest.fixture
def signed_drill(drill_lab: DrillLab, tmp_path: Path) -> Path:
    keys = signing.keygen(tmp_path / "keys")
    result = drill_lab.run(env=dict(os.environ, DRTESTS_SIGNING_KEY_FILE=str(keys.private)))
    assert result.returncode == 0, result.stdout[-2000:]
    assert "UNSIGNED" not in result.stdout
    return (drill_lab.reports / "latest").resolve()


def test_a_signed_drill_verifies_with_its_public_key_and_every_forgery_is_named(signed_drill: Path,
                                                                                tmp_path: Path) -> None:  # fmt: skip
    pub = tmp_path / "keys" / "drtests.pub"
    evidence = json.loads((signed_drill / "evidence.json").read_text())
    assert evidence["signing"]["signed"] and evidence["signing"]["keyid"].startswith("SHA256:")
    ok = signing.verify(signed_drill, "--public-key", pub)
    assert ok.returncode == 0, ok.stdout
    assert ok.stdout.strip().startswith(f"{signed_drill}: VERIFIED: signed by {evidence['signing']['keyid']}; ")
    assert "files match the signed statement; ledger line 1; 0 sign-off(s) verified" in ok.stdout
    assert (
        f"Signed by the drill's key <code>{evidence['signing']['keyid']}</code>"
        in (signed_drill / "report.html").read_text()
    )

    no_key = signing.verify(signed_drill)
    assert no_key.returncode == 1 and "not checked: give --public-key" in no_key.stdout
    other = signing.keygen(tmp_path / "other")
    by_other = signing.verify(signed_drill, "--public-key", other.public)
    assert by_other.returncode == 1 and "not a valid signature by the given key(s)" in by_other.stdout

    envelope_path = signed_drill / "evidence.intoto.jsonl"
    original = envelope_path.read_text()
    envelope = json.loads(original)
    forgeries = {
        "an empty signature {}": (
            {**envelope, "signatures": [{}]},
            "malformed: its signatures are malformed",
        ),
        "a string of signatures": ({**envelope, "signatures": "c2ln"}, "its signatures are malformed"),
        "a string signature": (
            {**envelope, "signatures": [{"keyid": "k", "sig": "not base64!"}]},
            "not a valid signature",
        ),
        "no signature": ({**envelope, "signatures": []}, "UNSIGNED: evidence.intoto.jsonl carries no signature"),
        "a missing payload type": ({k: v for k, v in envelope.items() if k != "payloadType"}, "malformed"),
        "signed by another key": (signing.resign(envelope, other.private), "not a valid signature by the given key(s)"),
    }
    for what, (forged, message) in forgeries.items():
        envelope_path.write_text(json.dumps(forged))
        result = signing.verify(signed_drill, "--public-key", pub)
        assert result.returncode == 1 and message in result.stdout, (what, result.stdout)
        assert "VERIFIED" not in result.stdout.replace("NOT VERIFIED", "") and "Traceback" not in result.stderr
    envelope_path.write_text(original)

    report = signed_drill / "report.html"
    page = report.read_bytes()
    report.write_bytes(page[:100] + bytes([page[100] ^ 1]) + page[101:])
    altered = signing.verify(signed_drill, "--public-key", pub)
    assert altered.returncode == 1 and f"NOT VERIFIED {signed_drill}: report.html: altered (sha256 " in altered.stdout
    report.write_bytes(page)
    (signed_drill / "extra.txt").write_text("added later")
    added = signing.verify(signed_drill, "--public-key", pub)
    assert "extra.txt: not in the signed statement (added after the drill)" in added.stdout
    (signed_drill / "extra.txt").unlink()
    (signed_drill / "attachments").symlink_to(tmp_path)
    linked = signing.verify(signed_drill, "--public-key", pub)
    assert linked.returncode == 1 and "attachments: a symbolic link, not a file the drill wrote" in linked.stdout
    (signed_drill / "attachments").unlink()

    renamed = signed_drill.parent / "20260101T000000Z-e2e-other"
    shutil.copytree(signed_drill, renamed)  # a passing folder, copied under another drill's name
    copied = signing.verify(renamed, "--public-key", pub)
    assert (
        copied.returncode == 1
        and f"the statement signs drill '{signed_drill.name}', but this folder is named" in copied.stdout
    )
    assert (
        "not in " in copied.stdout
        and "ledger.jsonl: an interrupted drill, one added by hand, or renamed" in copied.stdout
    )
    shutil.rmtree(renamed)
    assert signing.verify(signed_drill, "--public-key", pub).returncode == 0


def test_an_unsigned_drill_says_so_everywhere_and_fails_verification(drill_lab: DrillLab) -> None:
    result = drill_lab.run(env={k: v for k, v in os.environ.items() if k != "DRTESTS_SIGNING_KEY_FILE"})
    assert result.returncode == 0
    assert "WARNING: UNSIGNED: no signing key (evidence.signing_key_file or $DRTESTS_SIGNING_KEY_FILE)" in result.stdout
    folder = (drill_lab.reports / "latest").resolve()
    assert drill_lab.evidence()["signing"] == {"signed": False, "keyid": None}
    assert "Disaster-recovery drill: PASS · UNSIGNED" in (folder / "report.html").read_text()
    unsigned = signing.verify(folder)
    assert unsigned.returncode == 1 and "UNSIGNED: evidence.intoto.jsonl carries no signature" in unsigned.stdout
    allowed = signing.verify(folder, "--allow-unsigned")
    assert allowed.returncode == 0 and f"{folder}: VERIFIED: UNSIGNED (allowed by --allow-unsigned)" in allowed.stdout


def test_sign_offs_are_their_signers_own_signatures_and_a_rollback_is_caught(
    signed_drill: Path, tmp_path: Path
) -> None:
    pub = tmp_path / "keys" / "drtests.pub"
    ann, sam = signing.ssh_identity(tmp_path, "ann@example.com"), signing.ssh_identity(tmp_path, "sam@example.com")
    mallory = signing.ssh_identity(tmp_path, "mallory@example.com")
    allowed = signing.allowed_signers(tmp_path / "allowed_signers", ann, sam)
    before = {p.name: p.read_bytes() for p in signed_drill.iterdir() if p.is_file()}
    earlier_copy = tmp_path / "before-sign-off"
    shutil.copytree(signed_drill, earlier_copy)

    first = signing.sign_off(signed_drill, ann, "reviewer", "RTO well within objective")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"{signed_drill}: signed off by ann@example.com (reviewer) at ")
    assert signing.sign_off(signed_drill, sam, "service owner").returncode == 0
    assert {p.name: p.read_bytes() for p in signed_drill.iterdir() if p.is_file()} == before  # nothing signed changed
    ok = signing.verify(signed_drill, "--public-key", pub, "--allowed-signers", allowed)
    assert ok.returncode == 0, ok.stdout
    lines = ok.stdout.splitlines()
    assert (
        lines[0].startswith("signed off by ann@example.com (reviewer) at ")
        and f"with ED25519 {ann.fingerprint}" in lines[0]
    )
    assert lines[0].endswith(": RTO well within objective") and lines[1].startswith("signed off by sam@example.com")
    assert "2 sign-off(s) verified" in lines[2]
    page = (signed_drill / "signoffs" / "index.html").read_text()
    assert "ann@example.com" in page and ann.fingerprint in page
    unchecked = signing.verify(signed_drill, "--public-key", pub)
    assert unchecked.returncode == 1 and "not checked: give --allowed-signers" in unchecked.stdout

    record = signed_drill / "signoffs" / "001.json"
    text = record.read_text()
    record.write_text(text.replace('"reviewer"', '"auditor"'))
    edited = signing.verify(signed_drill, "--public-key", pub, "--allowed-signers", allowed)
    assert (
        edited.returncode == 1
        and "sign-off 001.json by ann@example.com: not a good signature by an allowed signer" in edited.stdout
    )
    assert "sign-off 001.json of drill" in edited.stdout and "its file was altered" in edited.stdout
    record.write_text(text)

    outsider = signing.sign_off(signed_drill, mallory, "auditor")
    assert outsider.returncode == 0  # anyone can add a record; nobody outside allowed_signers makes it count
    refused = signing.verify(signed_drill, "--public-key", pub, "--allowed-signers", allowed)
    assert refused.returncode == 1
    assert "sign-off 003.json by mallory@example.com: not a good signature by an allowed signer" in refused.stdout
    assert "(signoff of drill" in refused.stdout and "not signed by mallory@example.com in" in refused.stdout

    shutil.rmtree(signed_drill)
    shutil.copytree(earlier_copy, signed_drill)  # the folder as it was before any sign-off
    rolled_back = signing.verify(signed_drill, "--public-key", pub, "--allowed-signers", allowed)
    assert rolled_back.returncode == 1
    gone = f"sign-off 001.json of drill {signed_drill.name} by ann@example.com (ledger line 2): its file is gone"
    assert f"{gone} (rolled back or deleted)" in rolled_back.stdout

    no_key = tmp_path / "nokey"
    wrong = subprocess.run([DRTESTS, "sign-off", str(signed_drill), "--by", "ann@example.com", "--role", "r",
                            "--key", str(no_key)], capture_output=True, text=True)  # fmt: skip
    assert wrong.returncode == 1 and f"--key {no_key}: no such key file" in wrong.stderr


def test_a_hand_broken_evidence_file_fails_the_schema(signed_drill: Path) -> None:
    evidence = json.loads((signed_drill / "evidence.json").read_text())
    validate(evidence)
    for breakage in (
        lambda e: e.pop("verdict"),
        lambda e: e.update(verdict="probably fine"),
        lambda e: e["rto"].update(measured_s="fast"),
        lambda e: e["artifact"].update(sha256="xyz"),
        lambda e: e["topology"]["before"].update(Component=-1),
    ):
        broken = json.loads(json.dumps(evidence))
        breakage(broken)
        with pytest.raises(jsonschema.ValidationError):
            validate(broken)


def test_history_lists_every_drill_and_report_rebuilds_it(drill_lab: DrillLab) -> None:
    assert drill_lab.run().returncode == 0
    drill_lab.fault("import_error_log")
    assert drill_lab.run().returncode == 1
    drill_lab.fault()
    lines = [json.loads(line) for line in (drill_lab.reports / "history.jsonl").read_text().splitlines()]
    assert [e["verdict"] for e in lines] == ["pass", "fail"]
    index = (drill_lab.reports / "index.html").read_text()
    table = index.split(f'data-target="{lines[0]["target_name"]}"')[1].split("<table")[1]  # its drills, newest first
    assert table.index(lines[1]["drill_id"]) < table.index(lines[0]["drill_id"])
    assert "<svg" in index and "objective 300" in index
    (drill_lab.reports / "history.jsonl").unlink()
    (drill_lab.reports / "index.html").unlink()
    rebuilt = subprocess.run(
        [DRTESTS, "report", "--report-dir", str(drill_lab.reports)], capture_output=True, text=True
    )
    assert rebuilt.returncode == 0 and rebuilt.stdout.startswith("2 drill(s)")
    assert [json.loads(x)["drill_id"] for x in (drill_lab.reports / "history.jsonl").read_text().splitlines()] == [
        e["drill_id"] for e in lines
    ]


def test_junit_xml_carries_the_drill_figures(drill_lab: DrillLab) -> None:
    junit = drill_lab.config.parent / "junit.xml"
    assert drill_lab.run("--", f"--junitxml={junit}").returncode == 0
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert list(cases) == [
        "test_preflight",
        "test_baseline",
        "test_backup",
        "test_restore",
        "test_verify",
        "test_report",
    ]
    props = {p.get("name"): p.get("value") for p in cases["test_restore"].iter("property")}
    assert props["drill_id"] == drill_lab.evidence()["drill_id"] and props["phase_status"] == "pass"
    assert float(props["rto_s"]) == drill_lab.evidence()["rto"]["measured_s"]


def test_an_evidence_pack_holds_the_periods_verified_drills_and_a_summary(drill_lab: DrillLab, tmp_path: Path) -> None:
    assert drill_lab.run().returncode == 0
    drill_lab.fault("import_drop=0.2")
    assert drill_lab.run().returncode == 1
    drill_lab.fault()
    ids = sorted(p.name for p in drill_lab.reports.iterdir() if (p / "evidence.json").exists() and not p.is_symlink())
    subprocess.run([DRTESTS, "sign-off", str(drill_lab.reports / ids[0]), "--by", "Ann <ann@example.com>",
                    "--role", "reviewer"], check=True, capture_output=True)  # fmt: skip
    out = tmp_path / "pack.zip"
    export = [DRTESTS, "export", "--since", "2026-01-01", "--out", str(out), "--report-dir", str(drill_lab.reports)]
    result = subprocess.run(export, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out) as pack:
        names = pack.namelist()
        summary = pack.read("summary.html").decode()
        data = json.loads(pack.read("summary.json"))
    assert {"summary.html", "summary.json", "index.html"} <= set(names)
    assert all(f"drills/{i}/evidence.json" in names and f"drills/{i}/manifest.json" in names for i in ids)
    (target,) = data["targets"]
    assert (target["drills"], target["passed"], target["pass_rate"]) == (2, 1, 0.5)
    assert target["rto"]["max"] <= target["rto_objective_s"]
    assert "2 drill(s), 1 passed (50 %)" in summary and "Ann &lt;ann@example.com&gt; (reviewer" in summary
    empty = subprocess.run([*export[:3], "2999-01-01", *export[4:]], capture_output=True, text=True)
    assert empty.returncode == 1 and "no drill in" in empty.stderr

    out.unlink()
    (drill_lab.reports / ids[1] / "report.html").write_text("edited")
    refused = subprocess.run(export, capture_output=True, text=True)
    assert refused.returncode == 1 and f"{ids[1]}: report.html: altered" in refused.stderr
    assert not out.exists()  # nothing written
