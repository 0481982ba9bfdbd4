"""The deficiency register on the real lab: a fault opens a deficiency, a clean drill closes it,
the same fault again reopens it as recurring; each drill's own evidence, report and history line
say so; `drtests deficiencies` reads the same from the signed ledger, and a drill's evidence
edited to pass makes it refuse in one line (it closes nothing); a cadence gap is a finding."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.e2e import signing
from tests.e2e.conftest import DRTESTS, DrillLab

FAULT = "import_error_log"  # an ERROR line in the import's log: the restore's check fails, the graph stays whole
CHECK = "restore/no error lines in the import's log window"
EVIDENCE = '\n[evidence]\ncontrols = ["DORA:Art.12"]\nevery = ["DORA:Art.12=1s"]\nowner = "sre@example.com"\n'


def drill(drill_lab: DrillLab, env: dict, fault: bool) -> dict:
    drill_lab.fault(FAULT) if fault else drill_lab.fault()
    result = drill_lab.run(env=env)
    assert result.returncode == (1 if fault else 0), result.stdout[-3000:]
    assert drill_lab.node_active() and not (drill_lab.home / "var" / "drtests.lock").exists()
    assert drill_lab.leftover_restored() == [] and drill_lab.closed_indices() == []
    return drill_lab.evidence()


def keys_of(evidence: dict, kind: str) -> list[str]:
    return [d["key"] for d in evidence["deficiencies"].get(kind) or []]


def register(reports: Path, public: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DRTESTS, "deficiencies", "--report-dir", str(reports), "--public-key", str(public), *args],
                          capture_output=True, text=True)  # fmt: skip


def test_a_fault_opens_a_clean_drill_closes_and_the_fault_again_reopens_and_a_forgery_closes_nothing(
    drill_lab: DrillLab, tmp_path: Path
) -> None:
    drill_lab.config.write_text(drill_lab.config.read_text() + EVIDENCE)
    keys = signing.keygen(tmp_path / "keys")
    env = dict(os.environ, DRTESTS_SIGNING_KEY_FILE=str(keys.private))
    try:
        first = drill(drill_lab, env, fault=True)
        key = f"{first['target_name']}/{CHECK}"
        assert keys_of(first, "opened") == [key] and first["deficiencies"]["verified"]
        ann = signing.ssh_identity(tmp_path, "ann@example.com")
        accepted = subprocess.run([DRTESTS, "accept-risk", key, "--report-dir", str(drill_lab.reports), "--until",
                                   "2099-12-31", "--reason", "fixed in the next release", "--by", ann.principal,
                                   "--key", str(ann.key)], capture_output=True, text=True)  # fmt: skip
        assert accepted.returncode == 0, accepted.stderr  # a signed risk line: the next drills go on past it
        clean = drill(drill_lab, env, fault=False)
        assert keys_of(clean, "closed") == [key] and not keys_of(clean, "still_open")
        again = drill(drill_lab, env, fault=True)
    finally:
        drill_lab.fault()
    assert keys_of(again, "recurring") == [key]
    page = (drill_lab.reports / again["drill_id"] / "report.html").read_text()
    assert "reopened (recurring)" in page and key.replace("'", "&#39;") in page
    history = [json.loads(line) for line in (drill_lab.reports / "history.jsonl").read_text().splitlines()]
    assert [h["open_deficiencies"] for h in history] == [1, 0, 1]

    found = json.loads(register(drill_lab.reports, keys.public, "--format", "json").stdout)
    (deficiency,) = found["deficiencies"]
    assert (deficiency["key"], deficiency["status"], deficiency["owner"]) == (key, "open", "sre@example.com")
    assert [o["opened_by"] for o in deficiency["occurrences"]] == [first["drill_id"], again["drill_id"]]
    assert deficiency["occurrences"][0]["closed_by"] == clean["drill_id"]

    matrix = subprocess.run([DRTESTS, "controls", "--report-dir", str(drill_lab.reports), "--since", "2026-01-01",
                             "--public-key", str(keys.public)], capture_output=True, text=True)  # fmt: skip
    assert matrix.returncode == 0 and "- **cadence** (" in matrix.stdout, matrix.stdout + matrix.stderr
    assert f"no validly signed passing drill proved DORA:Art.12 on {first['target_name']} between" in matrix.stdout

    forged = tmp_path / "forged"
    shutil.copytree(drill_lab.reports, forged, symlinks=True)
    evidence_file = forged / again["drill_id"] / "evidence.json"
    evidence = json.loads(evidence_file.read_text())
    for check in evidence["checks"]:
        check["verdict"] = "pass" if check["verdict"] == "fail" else check["verdict"]
    evidence_file.write_text(json.dumps(evidence))
    refused = register(forged, keys.public)
    assert refused.returncode == 1 and refused.stdout == "", refused.stdout
    assert refused.stderr.count("\n") == 1 and "ledger.jsonl is broken" in refused.stderr, refused.stderr
