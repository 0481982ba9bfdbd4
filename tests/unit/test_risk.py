"""Risk decisions: a deficiency's risk accepted until a day, or its owner named, each a ledger
line signed with the person's own SSH key (real ssh-keygen); applied by the register only when the
signature verifies with --allowed-signers; the pack's VERIFY.md checks the line with ssh-keygen."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from trestle.oscal.poam import Model

from drtests.sign import keys
from tests.e2e import signing
from tests.unit import drills_on_disk
from tests.unit.test_pack_recipe import blocks, run_block

DRTESTS = str(Path(sys.executable).parent / "drtests")
INDEX = "docs sts_metrics-2026.01.01"
KEY = "prod/verify/docs {index}"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DRTESTS, *args], capture_output=True, text=True)


@pytest.fixture
def folder(tmp_path: Path) -> dict:
    """A signed drill of prod that failed an index (open, due 2026-03-31: overdue by now); ann may
    decide (allowed_signers), mallory has a key but is not in it."""
    private, public = keys.generate(tmp_path / "keys")
    cfg = drills_on_disk.config(tmp_path, "prod", extra=f'[evidence]\nsigning_key_file = "{private}"\n'
                                'owner = "sre@example.com"\n')  # fmt: skip
    reports = tmp_path / "reports"
    drills_on_disk.write(reports, drills_on_disk.drill(cfg, "d1", "2026-03-01T10:00:00Z", verdict="fail"))
    ann, mallory = (signing.ssh_identity(tmp_path, p) for p in ("ann@example.com", "mallory@example.com"))
    allowed = signing.allowed_signers(tmp_path / "allowed_signers", ann)
    return {"reports": reports, "public": public, "private": private, "cfg": cfg, "ann": ann, "mallory": mallory,
            "allowed": allowed}  # fmt: skip


def register(f: dict, *args: str) -> dict:
    done = run("deficiencies", "--report-dir", str(f["reports"]), "--public-key", str(f["public"]), "--format",
               "json", *args)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def accept(f: dict, person, until: str = "2099-12-31", key: str = KEY) -> subprocess.CompletedProcess:
    reason = "the index is rebuilt from Kafka within the RTO"
    return run("accept-risk", key, "--report-dir", str(f["reports"]), "--until", until, "--reason", reason,
               "--by", person.principal, "--key", str(person.key))  # fmt: skip


def test_a_signed_acceptance_holds_until_its_day_and_only_with_allowed_signers(folder: dict) -> None:
    assert register(folder)["deficiencies"][0]["overdue"]
    done = accept(folder, folder["ann"])
    assert done.returncode == 0 and f"{KEY}: accepted until 2099-12-31 by ann@example.com" in done.stdout, done.stderr
    (d,) = register(folder, "--allowed-signers", str(folder["allowed"]))["deficiencies"]
    assert (d["status"], d["overdue"], d["occurrences"][0]["accepted"]["by"]) == ("accepted", False, "ann@example.com")
    markdown = run("deficiencies", "--report-dir", str(folder["reports"]), "--public-key", str(folder["public"]),
                   "--allowed-signers", str(folder["allowed"])).stdout  # fmt: skip
    assert "- risk **ACCEPTED** until 2099-12-31 by ann@example.com" in markdown and "OVERDUE" not in markdown
    oscal = json.loads(run("deficiencies", "--report-dir", str(folder["reports"]), "--public-key",
                           str(folder["public"]), "--allowed-signers", str(folder["allowed"]), "--format",
                           "oscal").stdout)  # fmt: skip
    Model.model_validate(oscal)
    (risk,) = oscal["plan-of-action-and-milestones"]["risks"]
    assert risk["status"] == "deviation-approved"
    assert [e["status-change"] for e in risk["risk-log"]["entries"]] == ["open", "deviation-approved"]

    unchecked = register(folder)  # no --allowed-signers: named, not applied
    assert unchecked["deficiencies"][0]["status"] == "open" and unchecked["deficiencies"][0]["overdue"]
    words = run("deficiencies", "--report-dir", str(folder["reports"]), "--public-key", str(folder["public"])).stdout
    assert "## Risk decisions not applied" in words and "not checked, so not applied: give --allowed-signers" in words


def test_a_decision_by_someone_not_allowed_is_not_applied(folder: dict) -> None:
    assert accept(folder, folder["mallory"]).returncode == 0  # anyone with a key can write a line ...
    found = register(folder, "--allowed-signers", str(folder["allowed"]))
    assert found["deficiencies"][0]["status"] == "open"  # ... and it is not applied
    markdown = run("deficiencies", "--report-dir", str(folder["reports"]), "--public-key", str(folder["public"]),
                   "--allowed-signers", str(folder["allowed"])).stdout  # fmt: skip
    assert "accept of prod/verify/docs {index} by mallory@example.com: not applied: not signed by" in markdown


def test_an_acceptance_holds_for_the_occurrence_it_was_made_for_and_an_assignment_names_the_owner(
    folder: dict,
) -> None:
    assert accept(folder, folder["ann"]).returncode == 0
    assign = run("assign", KEY, "--report-dir", str(folder["reports"]), "--owner", "team-storage@example.com",
                 "--by", "ann@example.com", "--key", str(folder["ann"].key))  # fmt: skip
    assert assign.returncode == 0, assign.stderr
    later = [
        (datetime.now(UTC) + timedelta(days=n)).isoformat(timespec="seconds").replace("+00:00", "Z") for n in (1, 2)
    ]
    clean = drills_on_disk.drill(folder["cfg"], "d2", later[0])  # drills after the decisions
    clean.check("verify", INDEX, 10, 10)
    drills_on_disk.write(folder["reports"], clean)
    drills_on_disk.write(folder["reports"], drills_on_disk.drill(folder["cfg"], "d3", later[1], "fail"))
    (d,) = register(folder, "--allowed-signers", str(folder["allowed"]))["deficiencies"]
    assert d["status"] == "open" and len(d["occurrences"]) == 2 and d["occurrences"][1]["accepted"] is None
    assert d["occurrences"][0]["accepted"]["by"] == "ann@example.com"  # it stays with the occurrence it was for
    assert (d["owner"], d["assigned"]["by"]) == ("team-storage@example.com", "ann@example.com")


def test_bad_decisions_are_one_line_and_write_nothing(folder: dict) -> None:
    before = (folder["reports"] / "ledger.jsonl").read_text()
    for done, words in (
        (accept(folder, folder["ann"], key="prod/verify/nothing"), "'prod/verify/nothing': no such deficiency"),
        (accept(folder, folder["ann"], until="2026-01-01"), "--until 2026-01-01: that day is past"),
        (accept(folder, folder["ann"], until="soon"), "--until 'soon': write the last day"),
    ):
        assert done.returncode == 2 and words in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert (folder["reports"] / "ledger.jsonl").read_text() == before


def test_the_pack_recipe_checks_a_risk_line_with_ssh_keygen(folder: dict, tmp_path: Path) -> None:
    assert accept(folder, folder["ann"]).returncode == 0
    out = tmp_path / "pack.zip"
    done = run("export", "--since", "2026-01-01", "--out", str(out), "--report-dir", str(folder["reports"]),
               "--key", str(folder["private"]), "--allowed-signers", str(folder["allowed"]))  # fmt: skip
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(out) as pack:
        pack.extractall(tmp_path / "pack")
        accepted = json.loads(pack.read("summary.json"))["deficiencies"]["deficiencies"][0]
    assert accepted["status"] == "open"  # the pack's summary applies no decision (its register has no signers)
    block = blocks((tmp_path / "pack" / "VERIFY.md").read_text())[3]
    checked = run_block(block, tmp_path / "pack")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "risk decision (accept) on prod/verify/docs {index} by ann@example.com, signed" in checked.stdout
    (tmp_path / "pack" / "allowed_signers").write_text(f"ann@example.com {folder['mallory'].public_line}\n")
    refused = run_block(block, tmp_path / "pack")
    assert refused.returncode != 0 and "risk decision on prod/verify/docs {index}): not signed by" in refused.stderr
