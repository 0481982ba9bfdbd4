"""Evidence an auditor keeps: the signed statement, sign-offs, the ledger, the schema, history,
CI formats, the pack. Every forgery here is tried on a real drill's folder."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import jsonschema
import pytest

from drtests.record.evidence import validate
from drtests.sign.keys import keyid, load_public
from fixtures import tsa as lab_tsa
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
    assert "(sign-off of drill" in refused.stdout and "not signed by mallory@example.com in" in refused.stdout

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
    (drill_lab.reports / lines[1]["drill_id"] / "evidence.json").write_text("[]")  # the failing drill, emptied
    refused = subprocess.run(
        [DRTESTS, "report", "--report-dir", str(drill_lab.reports)], capture_output=True, text=True
    )
    assert (
        refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    )
    assert (
        f"ledger.jsonl is broken, so nothing it holds is taken at its word: drill {lines[1]['drill_id']}"
        in refused.stderr
    )
    assert "evidence.json: altered" in refused.stderr


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


def test_a_pack_verifies_with_standard_tools_alone_and_rejects_each_forgery(
    drill_lab: DrillLab, tmp_path: Path
) -> None:
    keys = signing.keygen(tmp_path / "keys")
    env = dict(os.environ, DRTESTS_SIGNING_KEY_FILE=str(keys.private))
    assert drill_lab.run(env=env).returncode == 0
    drill_lab.fault("import_drop=0.2")
    assert drill_lab.run(env=env).returncode == 1
    drill_lab.fault()
    passed, failed = (
        e["drill_id"] for e in map(json.loads, (drill_lab.reports / "history.jsonl").read_text().splitlines())
    )
    ann, mallory = (
        signing.ssh_identity(tmp_path, "ann@example.com"),
        signing.ssh_identity(tmp_path, "mallory@example.com"),
    )
    allowed = signing.allowed_signers(tmp_path / "allowed_signers", ann)
    assert signing.sign_off(drill_lab.reports / passed, ann, "reviewer").returncode == 0
    out = tmp_path / "pack.zip"
    export = [DRTESTS, "export", "--since", "2026-01-01", "--out", str(out), "--report-dir", str(drill_lab.reports),
              "--public-key", str(keys.public), "--allowed-signers", str(allowed),
              "--key", str(keys.private)]  # fmt: skip
    result = subprocess.run(export, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out) as pack:
        names = set(pack.namelist())
        summary = pack.read("summary.html").decode()
        data = json.loads(pack.read("summary.json"))
        pack.extractall(tmp_path / "pack")
    assert {"summary.html", "summary.json", "pack.intoto.jsonl", "VERIFY.md", "keys/drtests.pub", "allowed_signers",
            "drills/ledger.jsonl", f"drills/{passed}/signoffs/index.html"} <= names  # fmt: skip
    assert "index.html" not in names  # the report folder's page: its links are not the pack's, and nothing signs it
    assert all(f"drills/{i}/evidence.intoto.jsonl" in names for i in (passed, failed))
    (target,) = data["targets"]
    assert (target["drills"], target["passed"], target["pass_rate"]) == (2, 1, 0.5)
    assert "2 drill(s), 1 passed (50 %)" in summary and "ann@example.com (reviewer" in summary

    recipe = recipe_of((tmp_path / "pack" / "VERIFY.md").read_text())
    ok = run_recipe(recipe, tmp_path / "pack")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "1/4 the pack: VERIFIED" in ok.stdout and "2/4 drill statements: VERIFIED: 2 drill folder(s)" in ok.stdout
    assert "3/4 sign-offs: VERIFIED: 1 sign-off(s)" in ok.stdout
    assert ok.stdout.strip().splitlines()[-1].startswith("4/4 the ledger: VERIFIED: 3 line(s), 2 drill(s)")
    assert (
        "Signature Verified Successfully" in ok.stdout
        and 'Good "drtests-signoff" signature for ann@example.com' in ok.stdout
    )
    assert cli_verifies(tmp_path / "pack") == (0, "")

    def alter_a_file(pack: Path) -> None:
        (pack / "drills" / failed / "report.html").write_text("edited")

    def empty_signature(pack: Path) -> None:
        path = pack / "drills" / failed / "evidence.intoto.jsonl"
        path.write_text(json.dumps({**json.loads(path.read_text()), "signatures": [{}]}))

    def another_key(pack: Path) -> None:
        path = pack / "drills" / failed / "evidence.intoto.jsonl"
        path.write_text(
            json.dumps(signing.resign(json.loads(path.read_text()), signing.keygen(tmp_path / "x").private))
        )

    def renamed(pack: Path) -> None:  # the passing drill's folder, in place of the failing one's
        shutil.rmtree(pack / "drills" / failed)
        shutil.copytree(pack / "drills" / passed, pack / "drills" / failed)

    def deleted_failing_drill(pack: Path) -> None:
        shutil.rmtree(pack / "drills" / failed)

    def rolled_back_sign_off(pack: Path) -> None:
        shutil.rmtree(pack / "drills" / passed / "signoffs")

    def outsider_sign_off(pack: Path) -> None:  # the same record, signed by someone not in allowed_signers
        record = pack / "drills" / passed / "signoffs" / "001.json"
        sign = ["ssh-keygen", "-q", "-Y", "sign", "-f", str(mallory.key), "-n", "drtests-signoff", str(record)]
        done = subprocess.run(sign, capture_output=True, input=b"y\n")
        assert done.returncode == 0, done.stderr

    def ledger_line_removed(pack: Path) -> None:
        path = pack / "drills" / "ledger.jsonl"
        lines = path.read_text().splitlines()
        path.write_text("\n".join(lines[:1] + lines[2:]) + "\n")

    expected = {
        alter_a_file: ("FAILED", "report.html: altered"),
        empty_signature: (f"drills/{failed}: UNSIGNED or malformed: 0 signatures", "its signatures are malformed"),
        another_key: ("Signature Verification Failure", "not a valid signature by the given key(s)"),
        renamed: (
            f"files no signature covers (added after the pack was signed): ['drills/{failed}/signoffs/index.html']",
            f"the statement signs drill '{passed}', but this folder is named",
        ),
        deleted_failing_drill: (f"drill folders missing: ['{failed}']", "its folder is gone (deleted)"),
        rolled_back_sign_off: (
            f"drills/{passed}/signoffs/index.html: missing or altered since the pack was signed",
            "its file is gone (rolled back or deleted)",
        ),
        outsider_sign_off: ("Could not verify signature", "sign-off 001.json by ann@example.com: not a good signature"),
        ledger_line_removed: (
            "drills/ledger.jsonl: 2 line(s) ending in",
            "does not follow the line before it",
        ),
    }
    for forge, (recipe_says, drtests_says) in expected.items():
        copy = tmp_path / forge.__name__
        shutil.copytree(tmp_path / "pack", copy)
        forge(copy)
        rejected = run_recipe(recipe, copy)
        assert rejected.returncode != 0 and recipe_says in rejected.stdout + rejected.stderr, (forge.__name__, rejected)
        assert "4/4 the ledger: VERIFIED" not in rejected.stdout
        code, said = cli_verifies(copy)
        assert code == 1 and drtests_says in said, (forge.__name__, said)

    empty = subprocess.run([*export[:3], "2999-01-01", *export[4:]], capture_output=True, text=True)
    assert empty.returncode == 1 and "no drill in" in empty.stderr
    out.unlink()
    (drill_lab.reports / failed / "report.html").write_text("edited")
    refused = subprocess.run(export, capture_output=True, text=True)
    assert (
        refused.returncode == 1
        and f"drill {failed} (verdict fail" in refused.stderr
        and "report.html: altered" in refused.stderr
    )
    assert not out.exists()  # nothing written


def recipe_of(verify_md: str) -> str:
    """The sh blocks of VERIFY.md, in order: what an auditor pastes into bash."""
    blocks = [block.split("\n", 1)[1] for block in verify_md.split("```")[1::2] if block.startswith("sh\n")]
    assert len(blocks) == 4
    return "\n".join(blocks)


def run_recipe(recipe: str, pack: Path) -> subprocess.CompletedProcess:
    """The recipe as an auditor runs it: bash, the system's python3, openssl, ssh-keygen, coreutils; no drtests."""
    return subprocess.run(["bash", "-c", recipe], cwd=pack, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(pack), "LANG": "C.UTF-8"})  # fmt: skip


def cli_verifies(pack: Path) -> tuple[int, str]:
    done = subprocess.run([DRTESTS, "verify-evidence", "--all", "--report-dir", str(pack / "drills"), "--public-key",
                           str(pack / "keys" / "drtests.pub"), "--allowed-signers", str(pack / "allowed_signers")],
                          capture_output=True, text=True)  # fmt: skip
    return done.returncode, "" if done.returncode == 0 else done.stdout + done.stderr


def test_the_next_drill_notices_a_report_folder_replaced_by_an_older_copy(drill_lab: DrillLab, tmp_path: Path) -> None:
    head_file = drill_lab.home / "var" / "drtests-ledger-head.json"
    assert drill_lab.run().returncode == 0
    first = json.loads(head_file.read_text())
    older = tmp_path / "reports-older"
    shutil.copytree(drill_lab.reports, older, symlinks=True)
    assert drill_lab.run().returncode == 0
    second = json.loads(head_file.read_text())
    assert (first["seq"], second["seq"]) == (0, 1) and second["drill"] == drill_lab.evidence()["drill_id"]

    shutil.rmtree(drill_lab.reports)
    shutil.copytree(older, drill_lab.reports, symlinks=True)  # the folder as it was before the second drill
    replaced = drill_lab.run()
    assert replaced.returncode == 1
    assert (
        f"ledger.jsonl does not hold line 2 (drill {second['drill']}, sha256 {second['sha256'][:16]}...), which "
        "this target's last drill into this ledger wrote: the report folder was replaced by an older copy"
        in replaced.stdout
    )
    evidence = drill_lab.evidence()
    assert [p["status"] for p in evidence["phases"]][:2] == ["fail", "skipped"]  # stopped in preflight
    assert json.loads(head_file.read_text()) == second  # the drill that noticed did not bless the copy
    assert drill_lab.lab.ctl("status", "stackstate").returncode == 0  # the target is left as it was

    fresh = drill_lab.run("--report-dir", str(tmp_path / "empty"))  # a CI job's empty workspace
    assert fresh.returncode == 0 and "WARNING: this report folder has no ledger, but " in fresh.stdout


def test_a_drill_into_a_second_report_folder_never_fails_the_next_drill_into_the_first(
    drill_lab: DrillLab, tmp_path: Path
) -> None:
    """Each ledger has an identity (its first line's sha256) and its own head on the target: a
    drill into `try/` is a warning naming the other ledger, the next drill into reports/ passes;
    a truly lost folder goes on from its older copy with --ledger-lost, named in the signed line."""
    head_file = drill_lab.home / "var" / "drtests-ledger-head.json"
    assert drill_lab.run().returncode == 0
    older = tmp_path / "reports-older"
    shutil.copytree(drill_lab.reports, older, symlinks=True)
    other = drill_lab.run("--report-dir", str(tmp_path / "try"))
    assert other.returncode == 0, other.stdout[-2000:]
    assert "WARNING: this report folder has no ledger, but " in other.stdout
    again = drill_lab.run()  # the folder the drills wrote to: its own head still holds
    assert again.returncode == 0, again.stdout[-3000:]
    assert "this target's drills also went to other report folders" not in again.stdout
    heads = json.loads(head_file.read_text())["ledgers"]
    assert len(heads) == 2 and heads[ledger_identity(drill_lab.reports)]["drill"] == drill_lab.evidence()["drill_id"]
    into_try = drill_lab.run("--report-dir", str(tmp_path / "try"))  # the second folder, now with a ledger
    assert into_try.returncode == 0 and "this target's drills also went to other report folders" not in into_try.stdout

    shutil.rmtree(drill_lab.reports)
    shutil.copytree(older, drill_lab.reports, symlinks=True)  # the newer folder lost; only an older copy left
    assert drill_lab.run().returncode == 1  # a rollback of the same ledger is still refused
    lost = drill_lab.run("--ledger-lost", "disk of the CI runner died; restored from the weekly copy")
    assert lost.returncode == 0, lost.stdout[-3000:]
    assert "--ledger-lost given ('disk of the CI runner died; restored from the weekly copy')" in lost.stdout
    last = json.loads((drill_lab.reports / "ledger.jsonl").read_text().splitlines()[-1])
    assert last["lost_head"]["reason"] == "disk of the CI runner died; restored from the weekly copy"
    assert last["lost_head"]["drill"] == heads[ledger_identity(drill_lab.reports)]["drill"]
    assert drill_lab.run().returncode == 0  # and from here on the copy is this ledger's head

    # the gap is a finding wherever the period is read: verify --all, controls, the pack
    finding = f"drill {last['drill_id']} went on from an older copy of the report folder"
    every = subprocess.run([DRTESTS, "verify-evidence", "--all", "--allow-unsigned", "--report-dir",
                            str(drill_lab.reports)], capture_output=True, text=True)  # fmt: skip
    assert every.returncode == 0 and f"FINDING ledger line {last['seq'] + 1}: " in every.stdout
    assert finding in every.stdout and "disk of the CI runner died" in every.stdout
    for form in ("markdown", "json", "oscal"):
        matrix = subprocess.run([DRTESTS, "controls", "--report-dir", str(drill_lab.reports), "--since", "2026-01-01",
                                 "--format", form], capture_output=True, text=True)  # fmt: skip
        assert matrix.returncode == 0 and finding in matrix.stdout, (form, matrix.stdout + matrix.stderr)
    out = tmp_path / "pack.zip"
    exported = subprocess.run([DRTESTS, "export", "--since", "2026-01-01", "--out", str(out), "--report-dir",
                               str(drill_lab.reports)], capture_output=True, text=True)  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(out) as pack:
        assert [f["line"] for f in json.loads(pack.read("summary.json"))["findings"]] == [last["seq"] + 1]
        assert finding in pack.read("summary.html").decode()


def test_adopting_signing_after_unsigned_drills_verifies_and_a_later_unsigned_drill_is_a_downgrade(
    drill_lab: DrillLab, tmp_path: Path
) -> None:
    """The quick start first (unsigned), then a key and a signed drill: the signed folder verifies,
    the unsigned drill before it is unsigned history (listed, never signed evidence), status works
    with the key; an unsigned drill after the signed one fails as a downgrade."""
    assert drill_lab.run().returncode == 0  # unsigned
    unsigned_drill = drill_lab.evidence()["drill_id"]
    keys = signing.keygen(tmp_path / "keys")
    env = dict(os.environ, DRTESTS_SIGNING_KEY_FILE=str(keys.private))
    assert drill_lab.run(env=env).returncode == 0
    signed = (drill_lab.reports / "latest").resolve()
    ok = signing.verify(signed, "--public-key", keys.public)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    history = signing.verify(drill_lab.reports / unsigned_drill, "--public-key", keys.public)
    assert history.returncode == 0 and "UNSIGNED history: a drill before this ledger's first signed one" in (
        history.stdout
    )
    every = subprocess.run([DRTESTS, "verify-evidence", "--all", "--report-dir", str(drill_lab.reports),
                            "--public-key", str(keys.public)], capture_output=True, text=True)  # fmt: skip
    assert every.returncode == 0 and "2 drill(s) (1 of them unsigned history, before signing began)" in every.stdout
    status = subprocess.run([DRTESTS, "status", "--report-dir", str(drill_lab.reports), "--public-key",
                             str(keys.public)], capture_output=True, text=True)  # fmt: skip
    assert status.returncode == 0 and status.stdout.startswith("OK"), status.stdout + status.stderr
    out = tmp_path / "pack.zip"
    exported = subprocess.run([DRTESTS, "export", "--since", "2026-01-01", "--out", str(out), "--report-dir",
                               str(drill_lab.reports), "--public-key", str(keys.public), "--key", str(keys.private)],
                              capture_output=True, text=True)  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(out) as pack:
        pack.extractall(tmp_path / "pack")
        assert f"drills/{unsigned_drill}/evidence.json" not in pack.namelist()  # unsigned history: not evidence
    audited = run_recipe(recipe_of((tmp_path / "pack" / "VERIFY.md").read_text()), tmp_path / "pack")
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert audited.stdout.strip().splitlines()[-1].startswith("4/4 the ledger: VERIFIED: 2 line(s), 2 drill(s)")
    assert "ledger line 1: unsigned history, vouched for by the signed line 2" in audited.stderr

    # a year on: a new key, the ledger rotated to it, a drill signed by it; the auditor holds last year's key
    key_2027 = signing.keygen(tmp_path / "keys-2027")
    folders = sorted(p.name for p in drill_lab.reports.iterdir())
    stale = drill_lab.run(env={**env, "DRTESTS_SIGNING_KEY_FILE": str(key_2027.private)})  # not rotated yet
    assert stale.returncode == 2 and "move the ledger to the new one first (drtests rotate-key" in stale.stderr
    assert sorted(p.name for p in drill_lab.reports.iterdir()) == folders  # refused before anything is written
    rotated = subprocess.run([DRTESTS, "rotate-key", "--report-dir", str(drill_lab.reports), "--key",
                              str(keys.private), "--new-key", str(key_2027.private)],
                             capture_output=True, text=True)  # fmt: skip
    assert rotated.returncode == 0, rotated.stderr
    assert drill_lab.run(env={**env, "DRTESTS_SIGNING_KEY_FILE": str(key_2027.private)}).returncode == 0
    out.unlink()
    exported = subprocess.run([DRTESTS, "export", "--since", "2026-01-01", "--out", str(out), "--report-dir",
                               str(drill_lab.reports), "--public-key", str(keys.public), "--key",
                               str(key_2027.private)], capture_output=True, text=True)  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    shutil.rmtree(tmp_path / "pack")
    with zipfile.ZipFile(out) as pack:
        pack.extractall(tmp_path / "pack")
    audited = run_recipe(recipe_of((tmp_path / "pack" / "VERIFY.md").read_text()), tmp_path / "pack")
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert "1/4 the pack: VERIFIED: signed by " + keyid_of(key_2027.public) in audited.stdout
    assert f"2 key(s): {keyid_of(keys.public)} from line 1, {keyid_of(key_2027.public)} from line 4" in audited.stdout

    assert drill_lab.run().returncode == 0  # the key forgotten: an unsigned drill after a signed one
    downgraded = subprocess.run([DRTESTS, "verify-evidence", "--all", "--report-dir", str(drill_lab.reports),
                                 "--public-key", str(keys.public)], capture_output=True, text=True)  # fmt: skip
    assert downgraded.returncode == 1
    assert "ledger.jsonl line 5 (drill " in downgraded.stdout and "UNSIGNED after the signed line 2: a downgrade" in (
        downgraded.stdout
    )


def keyid_of(public: Path) -> str:
    return keyid(load_public(public))


def ledger_identity(root: Path) -> str:
    return hashlib.sha256((root / "ledger.jsonl").read_bytes().splitlines()[0]).hexdigest()


def test_a_trusted_timestamp_over_the_statement_verifies_with_the_tsas_ca(drill_lab: DrillLab, tmp_path: Path) -> None:
    keys = signing.keygen(tmp_path / "keys")
    env = dict(os.environ, DRTESTS_SIGNING_KEY_FILE=str(keys.private))
    with lab_tsa.running() as authority:
        assert drill_lab.run("--set", f"evidence.tsa_url={authority.url}", env=env).returncode == 0
        folder = (drill_lab.reports / "latest").resolve()
        ok = signing.verify(folder, "--public-key", keys.public, "--tsa-ca", authority.ca)
        assert ok.returncode == 0, ok.stdout
        assert "by a time-stamping authority of" in ok.stdout and " GMT " in ok.stdout
        unchecked = signing.verify(folder, "--public-key", keys.public)
        assert unchecked.returncode == 0 and "an RFC 3161 timestamp, not checked (give --tsa-ca)" in unchecked.stdout
        with lab_tsa.running() as other:
            other_ca = shutil.copy(other.ca, tmp_path / "other-ca.pem")
            wrong = signing.verify(folder, "--public-key", keys.public, "--tsa-ca", other.ca)
            assert (
                wrong.returncode == 1 and "evidence.intoto.tsr: not a valid timestamp of this statement" in wrong.stdout
            )
        for ca, says in (
            (authority.ca, "; timestamped "),
            (None, "its RFC 3161 timestamp not checked (no keys/tsa-ca.pem)"),
        ):
            out, unpacked = tmp_path / f"pack-{bool(ca)}.zip", tmp_path / f"pack-{bool(ca)}"
            given_ca = ["--tsa-ca", str(ca), "--tsa-url", authority.url] if ca else []
            exported = subprocess.run([DRTESTS, "export", "--since", "2026-01-01", "--out", str(out), "--report-dir",
                                       str(drill_lab.reports), "--key", str(keys.private), *given_ca],
                                      capture_output=True, text=True)  # fmt: skip
            assert exported.returncode == 0, exported.stderr
            with zipfile.ZipFile(out) as pack:
                pack.extractall(unpacked)
            audited = run_recipe(recipe_of((unpacked / "VERIFY.md").read_text()), unpacked)
            assert audited.returncode == 0 and says in audited.stdout, audited.stdout + audited.stderr
        assert "1/4 the pack: VERIFIED: signed by " in audited.stdout and " GMT; " not in audited.stdout  # no stamp
        stamped = run_recipe(recipe_of((tmp_path / "pack-True" / "VERIFY.md").read_text()), tmp_path / "pack-True")
        assert re.search(r"1/4 the pack: VERIFIED: signed by \S+ at \S+; timestamped .+ GMT;", stamped.stdout)
        tampered = unpacked.with_name("pack-other-ca")
        shutil.copytree(tmp_path / "pack-True", tampered)
        shutil.copy(other_ca, tampered / "keys" / "tsa-ca.pem")  # the pack's own CA swapped: block 1 refuses it
        refused = run_recipe(recipe_of((tampered / "VERIFY.md").read_text()), tampered)
        assert (
            refused.returncode == 1
            and "keys/tsa-ca.pem: missing or altered since the pack was signed" in refused.stderr
        )
    (folder / "evidence.intoto.tsr").unlink()
    missing = signing.verify(folder, "--public-key", keys.public, "--tsa-ca", tmp_path / "keys" / "drtests.pub")
    assert (
        missing.returncode == 1
        and "no RFC 3161 timestamp (evidence.intoto.tsr), but --tsa-ca was given" in missing.stdout
    )
    unreachable = drill_lab.run("--set", "evidence.tsa_url=http://127.0.0.1:9/", env=env)
    assert (
        unreachable.returncode == 0 and "WARNING: no trusted timestamp: time-stamping authority" in unreachable.stdout
    )
