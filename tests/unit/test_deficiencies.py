"""The deficiency register (drtests.evidence.deficiencies): what opens a deficiency, what closes it
and what reopens it, on the register's pure logic and on report folders written as drills write
them (a forged or unsigned drill opens and closes nothing)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from drtests.errors import DrillError
from drtests.evidence import deficiencies
from drtests.evidence.deficiencies import SignedDrill, check_of, register, severity_of
from drtests.sign import keys
from tests.unit import drills_on_disk
from tests.unit.test_declarations import declarations

T0 = "2026-03-02T10:00:00Z"


def signed(drill_id: str, started: str, *checks: tuple[str, str, str], target: str = "prod",
           owner: str = "sre@example.com", days: int = 30) -> SignedDrill:  # fmt: skip
    """A drill as the register reads it: (phase, check name, verdict) per check."""
    rows = tuple({"phase": p, "name": n, "verdict": v, "message": f"{n}: {v}"} for p, n, v in checks)
    return SignedDrill(drill_id, target, started, ("DORA:Art.12",), rows, owner, days)


def one(found: list[deficiencies.Deficiency]) -> deficiencies.Deficiency:
    assert len(found) == 1, [d.key for d in found]
    return found[0]


def test_a_failed_check_opens_a_deficiency_that_a_later_pass_closes() -> None:
    found = register([
        signed("d1", T0, ("verify", "docs sts-a", "fail"), ("verify", "docs sts-b", "pass")),
        signed("d2", "2026-03-09T10:00:00Z", ("verify", "docs sts-a", "pass"), ("verify", "docs sts-b", "pass")),
    ])  # fmt: skip
    deficiency = one(found)
    assert (deficiency.key, deficiency.now.severity) == ("prod/verify/docs {index}", "data")
    assert (deficiency.now.opened_by, deficiency.now.due, deficiency.now.failed_in) == ("d1", "2026-04-01", ["d1"])
    assert (deficiency.now.closed_by, deficiency.open, deficiency.recurring) == ("d2", False, False)
    assert deficiency.owner == "sre@example.com" and deficiency.controls == ["DORA:Art.12"]


def test_it_stays_open_until_every_failed_item_has_passed_again() -> None:
    """Full verification rotates through the indices: each failed index must be passed by a later
    drill, whichever drill that is; a pass of another index closes nothing."""
    drills = [
        signed("d1", T0, ("verify", "full sts-a", "fail"), ("verify", "full sts-b", "fail")),
        signed("d2", "2026-03-03T10:00:00Z", ("verify", "full sts-a", "pass"), ("verify", "full sts-c", "pass")),
    ]
    deficiency = one(register(drills))
    assert deficiency.open and deficiency.now.items == ["sts-b"]
    drills.append(signed("d3", "2026-03-04T10:00:00Z", ("verify", "full sts-b", "pass")))
    assert one(register(drills)).now.closed_by == "d3"


def test_the_same_check_failing_again_reopens_it_as_recurring() -> None:
    found = register([
        signed("d1", T0, ("verify", "topology ids component", "fail")),
        signed("d2", "2026-03-03T10:00:00Z", ("verify", "topology ids component", "pass")),
        signed("d3", "2026-03-04T10:00:00Z", ("verify", "topology ids component", "fail")),
        signed("d4", "2026-03-05T10:00:00Z", ("verify", "topology ids component", "fail")),
    ])  # fmt: skip
    deficiency = one(found)
    assert deficiency.recurring and deficiency.open
    assert [(o.opened_by, o.closed_by, o.failed_in) for o in deficiency.occurrences] == [
        ("d1", "d2", ["d1"]), ("d3", None, ["d3", "d4"])]  # fmt: skip
    assert deficiency.now.due == "2026-04-03"  # from the drill that reopened it, not the first


def test_the_order_is_the_drills_start_not_the_order_they_are_read_in() -> None:
    found = register([
        signed("d2", "2026-03-03T10:00:00Z", ("verify", "RTO (s)", "pass")),
        signed("d1", T0, ("verify", "RTO (s)", "fail")),
    ])  # fmt: skip
    assert one(found).now.closed_by == "d2"


def evidence_of(drill: SignedDrill) -> dict:
    return {"drill_id": drill.drill_id, "target_name": drill.target, "started": drill.started,
            "controls": list(drill.controls), "checks": list(drill.checks)}  # fmt: skip


def test_a_drills_change_from_the_fold_read_ahead_is_the_change_of_the_whole_register(tmp_path: Path) -> None:
    """The final write adds the drill to the register folded while the safety steps ran; a drill
    that started before one already folded in is folded anew in order, never appended."""
    counted = [signed("d1", T0, ("verify", "docs sts-a", "fail")),
               signed("d2", "2026-03-09T10:00:00Z", ("verify", "docs sts-b", "fail"))]  # fmt: skip
    last = evidence_of(signed("d3", "2026-03-10T10:00:00Z", ("verify", "docs sts-a", "pass"),
                              ("verify", "docs sts-b", "pass")))  # fmt: skip
    change = deficiencies.change_by(tmp_path, [], last, (counted, deficiencies.folded(counted)))
    assert [d["key"] for d in change["closed"]] == ["prod/verify/docs {index}"] and not change["still_open"]
    early = evidence_of(signed("d0", "2026-03-01T10:00:00Z", ("verify", "docs sts-a", "pass")))
    change = deficiencies.change_by(tmp_path, [], early, (counted, deficiencies.folded(counted)))
    assert not change["closed"] and [d["items"] for d in change["still_open"]] == [["sts-a", "sts-b"]]  # d0 came first


def test_targets_phases_and_checks_are_separate_deficiencies() -> None:
    found = register([
        signed("d1", T0, ("verify", "docs sts-a", "fail"), ("baseline", "docs sts-a", "fail")),
        signed("e1", T0, ("verify", "docs sts-a", "fail"), target="staging"),
        signed("d2", "2026-03-03T10:00:00Z", ("verify", "docs sts-a", "pass")),
    ])  # fmt: skip
    assert {d.key: d.open for d in found} == {
        "prod/verify/docs {index}": False,
        "prod/baseline/docs {index}": True,
        "staging/verify/docs {index}": True,
    }


def test_an_unproven_check_is_a_deficiency_until_it_is_proven() -> None:
    found = register([
        signed("d1", T0, ("verify", "topology relations whole", "unproven")),
        signed("d2", "2026-03-03T10:00:00Z", ("verify", "topology relations whole", "unproven")),
    ])  # fmt: skip
    assert (one(found).now.severity, one(found).open, one(found).now.failed_in) == ("unproven", True, ["d1", "d2"])


def test_the_owner_is_the_newest_drills_and_overdue_counts_from_the_due_day() -> None:
    found = register([
        signed("d1", T0, ("restore", "snapshot state", "fail"), days=7, owner="old team"),
        signed("d2", "2026-03-05T10:00:00Z", ("verify", "RTO (s)", "pass"), owner="new team"),
    ])  # fmt: skip
    deficiency = one(found)
    assert (deficiency.owner, deficiency.now.due) == ("new team", "2026-03-09")
    assert not deficiency.overdue(datetime(2026, 3, 9, 23, tzinfo=UTC))
    assert deficiency.overdue(datetime(2026, 3, 10, 0, 1, tzinfo=UTC))
    row = deficiency.as_dict(datetime(2026, 3, 12, 10, tzinfo=UTC))
    assert (row["status"], row["overdue"], row["age_days"], row["severity"]) == ("open", True, 10.0, "data")


@pytest.mark.parametrize(("phase", "name", "verdict", "severity"), [
    ("verify", "docs sts-a", "fail", "data"),
    ("verify", "topology content component", "fail", "data"),
    ("verify", "RTO (s)", "fail", "objective"),
    ("preflight", "newest backup within the RPO objective", "fail", "objective"),
    ("preflight", "free space (MB)", "fail", "unproven"),  # refused before it started: nothing found broken
    ("safety", "every command left running is proven ours", "fail", "safety"),
    ("restore", "node active again", "fail", "safety"),
    ("verify", "full sts-a", "unproven", "unproven"),
])  # fmt: skip
def test_severity(phase: str, name: str, verdict: str, severity: str) -> None:
    assert severity_of(phase, name, verdict) == severity


def test_a_deficiency_takes_the_worst_severity_its_failures_had() -> None:
    found = register([
        signed("d1", T0, ("verify", "full sts-a", "unproven")),
        signed("d2", "2026-03-03T10:00:00Z", ("verify", "full sts-a", "fail")),
    ])  # fmt: skip
    assert one(found).now.severity == "data"


def test_every_declared_check_maps_to_one_deficiency_per_check() -> None:
    """A check made once per index or type is one deficiency (its items the indices or types); a
    check with any other placeholder, or none, is its own. A new per-item check that check_of does
    not know would open one deficiency per index: this test fails first."""
    checks = [d.template for d in declarations().values() if d.kind == "check"]
    assert len(checks) > 40
    for template in checks:
        if "{index}" in template or "{type}" in template:
            item = "sts_metrics-2026.01.01" if "{index}" in template else "component"
            name = template.format(index=item, type=item)
            assert check_of(name) == (template, item), template
        elif "{" not in template:
            assert check_of(template) == (template, ""), template


# on disk: report folders and ledger lines written as drills write them


def signing(tmp_path: Path) -> tuple[str, Ed25519PublicKey]:
    """The [evidence] lines that sign with a new key, and its public key."""
    private, public = keys.generate(tmp_path / "keys")
    return f'[evidence]\nsigning_key_file = "{private}"\n', keys.load_public(public)


def test_on_disk_a_forged_pass_is_refused_in_one_line_and_closes_nothing(tmp_path: Path) -> None:
    evidence_section, public = signing(tmp_path)
    extra = evidence_section + 'owner = "sre@example.com"\ncontrols = ["DORA:Art.12"]\n'
    cfg = drills_on_disk.config(tmp_path, "prod", extra=extra)
    reports = tmp_path / "reports"
    drills_on_disk.write(reports, drills_on_disk.drill(cfg, "d1", T0, verdict="fail"))
    forged = drills_on_disk.write(reports, drills_on_disk.drill(cfg, "d2", "2026-03-03T10:00:00Z", verdict="fail"))
    evidence = json.loads((forged / "evidence.json").read_text())
    for check in evidence["checks"]:
        if check["verdict"] == "fail":
            check.update(verdict="pass", message="")
    (forged / "evidence.json").write_text(json.dumps(evidence))
    with pytest.raises(DrillError, match=r"is broken, .*drill d2 .*evidence.json: altered"):
        deficiencies.of_folder(reports, [public])

    (forged / "evidence.json").unlink()  # removing the forged drill does not help either
    with pytest.raises(DrillError, match=r"is broken, .*drill d2"):
        deficiencies.of_folder(reports, [public])


def test_on_disk_unsigned_history_opens_nothing_and_is_named(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    (tmp_path / "unsigned").mkdir()
    unsigned = drills_on_disk.config(tmp_path / "unsigned", "prod")
    drills_on_disk.write(reports, drills_on_disk.drill(unsigned, "d0", T0, verdict="fail"))
    evidence_section, public = signing(tmp_path)
    cfg = drills_on_disk.config(tmp_path, "prod", extra=evidence_section)
    drills_on_disk.write(reports, drills_on_disk.drill(cfg, "d1", "2026-03-03T10:00:00Z", verdict="fail"))
    found = deficiencies.of_folder(reports, [public])
    assert (found.drills, found.not_counted) == (1, ["drill d0: unsigned, from before signing began"])
    assert [(d.now.opened_by, d.now.failed_in) for d in found.deficiencies] == [("d1", ["d1"])]


def test_on_disk_a_signed_clean_drill_closes_what_a_signed_failed_one_opened(tmp_path: Path) -> None:
    evidence_section, public = signing(tmp_path)
    cfg = drills_on_disk.config(tmp_path, "prod", extra=evidence_section)
    reports = tmp_path / "reports"
    failed = drills_on_disk.drill(cfg, "d1", T0, verdict="fail")
    drills_on_disk.write(reports, failed)
    clean = drills_on_disk.drill(cfg, "d2", "2026-03-03T10:00:00Z")
    clean.check("verify", "docs sts_metrics-2026.01.01", 10, 10)
    drills_on_disk.write(reports, clean)
    found = deficiencies.of_folder(reports, [public])
    assert (found.drills, found.not_counted) == (2, [])
    assert [(d.key, d.now.opened_by, d.now.closed_by) for d in found.deficiencies] == [
        ("prod/verify/docs {index}", "d1", "d2")]  # fmt: skip


# the command: drtests deficiencies


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "drtests"), "deficiencies", *args], capture_output=True,
                          text=True)  # fmt: skip


def two_targets(tmp_path: Path) -> tuple[Path, Path]:
    """prod: d1 fails an index, d2 passes it (closed); staging: e1 fails it (open, overdue by now)."""
    evidence_section, _ = signing(tmp_path)
    extra = evidence_section + 'owner = "sre@example.com"\ncontrols = ["DORA:Art.12"]\nfix_within_days = 7\n'
    reports = tmp_path / "reports"
    prod, staging = (drills_on_disk.config(tmp_path, t, extra=extra) for t in ("prod", "staging"))
    drills_on_disk.write(reports, drills_on_disk.drill(prod, "d1", T0, verdict="fail"))
    clean = drills_on_disk.drill(prod, "d2", "2026-03-03T10:00:00Z")
    clean.check("verify", "docs sts_metrics-2026.01.01", 10, 10)
    drills_on_disk.write(reports, clean)
    drills_on_disk.write(reports, drills_on_disk.drill(staging, "e1", "2026-03-04T10:00:00Z", verdict="fail"))
    return reports, tmp_path / "keys" / keys.PUBLIC_NAME


def test_the_command_shows_open_first_and_closed_after_in_words(tmp_path: Path) -> None:
    reports, public = two_targets(tmp_path)
    done = run("--report-dir", str(reports), "--public-key", str(public))
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "From 3 drill(s) of the ledger" in text and ": 1 open, 1 closed." in text and "UNVERIFIED" not in text
    opened, closed = text.split("## Open")[1].split("## Closed")
    assert "### staging: docs {index} (verify)" in opened and "prod" not in opened
    assert "- due 2026-03-11 **OVERDUE**; owner: sre@example.com" in opened
    assert "- not yet passed again: sts_metrics-2026.01.01" in opened
    assert (
        "| prod | docs {index} | verify | data | d1 (2026-03-02T10:00:00Z) | d2 (2026-03-03T10:00:00Z) | 1 |" in closed
    )
    only_open = run("--report-dir", str(reports), "--public-key", str(public), "--open")
    assert "## Closed" not in only_open.stdout and "### staging" in only_open.stdout


def test_the_command_as_json_and_as_an_oscal_poam_nist_s_models_accept(tmp_path: Path) -> None:
    from trestle.oscal.poam import Model

    reports, public = two_targets(tmp_path)
    found = json.loads(run("--report-dir", str(reports), "--public-key", str(public), "--format", "json").stdout)
    assert (found["verified"], found["drills"], found["open"]) == (True, 3, 1)
    assert [(d["key"], d["status"], d["overdue"]) for d in found["deficiencies"]] == [
        ("staging/verify/docs {index}", "open", True), ("prod/verify/docs {index}", "closed", False)]  # fmt: skip
    poam = json.loads(run("--report-dir", str(reports), "--public-key", str(public), "--format", "oscal").stdout)
    Model(**poam)
    document = poam["plan-of-action-and-milestones"]
    risks = {r["title"]: r for r in document["risks"]}
    assert {t: r["status"] for t, r in risks.items()} == {"docs {index} on staging": "open",
                                                          "docs {index} on prod": "closed"}  # fmt: skip
    assert [e["status-change"] for e in risks["docs {index} on prod"]["risk-log"]["entries"]] == ["open", "closed"]
    assert risks["docs {index} on staging"]["deadline"] == "2026-03-11T23:59:59Z"
    assert len(document["poam-items"]) == 2 and len(document["observations"]) == 2  # d1 and e1 found them
    again = json.loads(run("--report-dir", str(reports), "--public-key", str(public), "--format", "oscal").stdout)
    assert [i["uuid"] for i in again["plan-of-action-and-milestones"]["poam-items"]] == [
        i["uuid"] for i in document["poam-items"]
    ]  # stable across runs: an item is followed, not re-filed


def test_the_command_without_a_key_says_unverified_and_bad_input_is_one_line(tmp_path: Path) -> None:
    reports, _ = two_targets(tmp_path)
    unverified = run("--report-dir", str(reports))
    assert unverified.returncode == 0 and "**UNVERIFIED**: no --public-key was given" in unverified.stdout
    missing = run("--report-dir", str(tmp_path / "nowhere"))
    assert (missing.returncode, missing.stderr.strip()) == (2, f"drtests: error: {tmp_path / 'nowhere'}: no such "
                                                               "report folder")  # fmt: skip
    bad_key = run("--report-dir", str(reports), "--public-key", str(tmp_path / "no.pub"))
    assert bad_key.returncode == 2 and len(bad_key.stderr.splitlines()) == 1 and "Traceback" not in bad_key.stderr
