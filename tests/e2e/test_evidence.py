"""Evidence an auditor keeps: schema, manifest and signature, history, CI formats."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import jsonschema
import pytest

from drtests.record.evidence import validate
from tests.e2e.conftest import DRTESTS, DrillLab

KEY = "auditor-key-2026"


def verify(folder: Path, key: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DRTESTS_SIGNING_KEY"}
    if key:
        env["DRTESTS_SIGNING_KEY"] = key
    return subprocess.run([DRTESTS, "verify-evidence", str(folder)], capture_output=True, text=True, env=env)


@pytest.fixture
def signed_drill(drill_lab: DrillLab) -> Path:
    result = drill_lab.run(env=dict(os.environ, DRTESTS_SIGNING_KEY=KEY))
    assert result.returncode == 0, result.stdout[-2000:]
    return (drill_lab.reports / "latest").resolve()


def test_signed_evidence_verifies_and_any_changed_byte_is_named(signed_drill: Path) -> None:
    manifest = json.loads((signed_drill / "manifest.json").read_text())
    assert sorted(manifest["files"]) == ["evidence.json", "report.html"]
    assert manifest["signature"]["algorithm"] == "HMAC-SHA256"
    ok = verify(signed_drill, KEY)
    assert ok.returncode == 0 and "intact (signed and every file matches" in ok.stdout
    for name in ("evidence.json", "report.html"):
        path = signed_drill / name
        original = path.read_bytes()
        path.write_bytes(original[:100] + bytes([original[100] ^ 1]) + original[101:])
        altered = verify(signed_drill, KEY)
        assert altered.returncode == 1
        assert altered.stdout.startswith(f"ALTERED {signed_drill}/{name}: altered (sha256 ")
        path.write_bytes(original)
    assert verify(signed_drill, KEY).returncode == 0


def test_a_wrong_key_or_a_rewritten_manifest_is_detected(signed_drill: Path) -> None:
    wrong = verify(signed_drill, "not-the-key")
    assert wrong.returncode == 1 and "signature does not match" in wrong.stdout
    assert "cannot check the signature" in verify(signed_drill, None).stdout
    manifest_path = signed_drill / "manifest.json"
    forged_text = (signed_drill / "evidence.json").read_text().replace('"rpo": {', '"rpo": {"note": "edited", ', 1)
    (signed_drill / "evidence.json").write_text(forged_text)
    manifest = json.loads(manifest_path.read_text())  # a forger updates the hash but has no key
    manifest["files"]["evidence.json"] = hashlib.sha256(forged_text.encode()).hexdigest()
    manifest_path.write_text(json.dumps(manifest))
    forged = verify(signed_drill, KEY)
    assert forged.returncode == 1 and "signature does not match" in forged.stdout
    (signed_drill / "extra.txt").write_text("added later")
    assert "extra.txt: not in the manifest" in verify(signed_drill, KEY).stdout


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


def test_links_unsigned_manifests_and_broken_files_are_named_in_one_line(signed_drill: Path, tmp_path: Path) -> None:
    reports = signed_drill.parent
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "notes.txt").write_text("anything")
    (signed_drill / "attachments").symlink_to(outside)  # an added folder, as a link
    linked = verify(signed_drill, KEY)
    assert linked.returncode == 1 and linked.stdout.strip() == (
        f"ALTERED {signed_drill}/attachments: a symbolic link, not a file the drill wrote"
    )
    (signed_drill / "attachments").unlink()
    evidence = signed_drill / "evidence.json"
    copy = tmp_path / "evidence.json"
    copy.write_bytes(evidence.read_bytes())
    evidence.unlink()
    evidence.symlink_to(copy)  # same bytes, but no longer the drill's file
    assert "evidence.json: a symbolic link" in verify(signed_drill, KEY).stdout
    evidence.unlink()
    evidence.write_bytes(copy.read_bytes())

    unsigned = subprocess.run([DRTESTS, "verify-evidence", str(signed_drill)], capture_output=True, text=True,
                              env={k: v for k, v in os.environ.items() if k != "DRTESTS_SIGNING_KEY"})  # fmt: skip
    assert "cannot check the signature" in unsigned.stdout  # signed: says it cannot check
    manifest = json.loads((signed_drill / "manifest.json").read_text())
    manifest.pop("signature")
    (signed_drill / "manifest.json").write_text(json.dumps(manifest))  # rebuilt without a key
    rebuilt = verify(signed_drill, None)
    assert rebuilt.returncode == 0 and "intact, but UNSIGNED" in rebuilt.stdout

    for broken in ("[]", '{"files": []}', "{not json"):
        (signed_drill / "manifest.json").write_text(broken)
        result = verify(signed_drill, KEY)
        assert result.returncode == 1 and len(result.stdout.strip().splitlines()) == 1, result.stdout
        assert "Traceback" not in result.stdout + result.stderr
    (reports / "history.jsonl").write_text('{"cut short\n[]\n')
    evidence.write_text("[]")
    rebuilt_history = subprocess.run([DRTESTS, "report", "--report-dir", str(reports)], capture_output=True, text=True)
    assert rebuilt_history.returncode == 0 and rebuilt_history.stdout.startswith("0 drill(s): ")
    assert "Traceback" not in rebuilt_history.stderr


def test_sign_offs_join_the_evidence_and_cannot_be_dropped_or_changed_unseen(signed_drill: Path) -> None:
    env = dict(os.environ, DRTESTS_SIGNING_KEY=KEY)

    def sign(by: str, role: str, note: str) -> subprocess.CompletedProcess:
        return subprocess.run([DRTESTS, "sign-off", str(signed_drill), "--by", by, "--role", role, "--note", note],
                              capture_output=True, text=True, env=env)  # fmt: skip

    assert sign("Ann Reviewer <ann@example.com>", "reviewer", "RTO well within objective").returncode == 0
    assert sign("Sam Owner <sam@example.com>", "service owner", "").returncode == 0
    ok = verify(signed_drill, KEY)
    assert ok.returncode == 0, ok.stdout
    lines = ok.stdout.splitlines()
    assert lines[0].startswith("signed off by Ann Reviewer <ann@example.com> (reviewer) at ")
    assert lines[0].endswith(": RTO well within objective") and lines[1].startswith("signed off by Sam Owner")
    assert "Ann Reviewer &lt;ann@example.com&gt;" in (signed_drill / "report.html").read_text()  # the report shows them
    assert len(json.loads((signed_drill / "manifest.json").read_text())["chain"]) == 2

    signoffs = signed_drill / "signoffs.json"
    records = json.loads(signoffs.read_text())
    signoffs.write_text(json.dumps([{**records[0], "role": "auditor"}, records[1]]))  # altered
    assert "signoffs.json: altered" in verify(signed_drill, KEY).stdout
    signoffs.write_text(json.dumps(records[:1]))  # one dropped, and the manifest rebuilt without the key
    subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from drtests.report.manifest import "
                    "write_manifest; write_manifest(Path(sys.argv[1]), 'x', key='guess', chain=['a'])",
                    str(signed_drill)], check=True)  # fmt: skip
    dropped = verify(signed_drill, KEY)
    assert dropped.returncode == 1 and "signature does not match" in dropped.stdout

    refused = subprocess.run([DRTESTS, "sign-off", str(signed_drill), "--by", "X", "--role", "y"],
                             capture_output=True, text=True, env=env)  # fmt: skip
    assert refused.returncode == 1 and "is not intact, so it cannot be signed off" in refused.stderr


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
