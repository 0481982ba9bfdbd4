"""Key rotation and revocation: a ledger signed by last year's key, rotated to this year's, verifies
whole with either public key; a line signed by a retired or revoked key is refused by name."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from drtests.evidence import ledger, rotate
from drtests.sign import keys
from tests.unit import drills_on_disk

DRTESTS = str(Path(sys.executable).parent / "drtests")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DRTESTS, *args], capture_output=True, text=True)


def signed_drill(tmp_path: Path, reports: Path, key_dir: Path, n: int, days_ago: float = 1.0) -> None:
    started = (datetime.now(UTC) - timedelta(days=days_ago)).isoformat(timespec="seconds").replace("+00:00", "Z")
    extra = f'[evidence]\nsigning_key_file = "{key_dir / keys.PRIVATE_NAME}"\n'
    cfg = drills_on_disk.config(tmp_path, f"t{n}", "isolated", extra)
    drills_on_disk.write(reports, drills_on_disk.drill(cfg, f"d{n}-prod", started))


def two_years(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Two drills signed by the 2026 key, a rotation to the 2027 key, one drill signed by it."""
    reports, old, new = tmp_path / "reports", tmp_path / "k2026", tmp_path / "k2027"
    keys.generate(old)
    keys.generate(new)
    signed_drill(tmp_path, reports, old, 1, 3)
    signed_drill(tmp_path, reports, old, 2, 2)
    done = run("rotate-key", "--report-dir", str(reports), "--key", str(old / keys.PRIVATE_NAME),
               "--new-key", str(new / keys.PRIVATE_NAME))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "line 3: rotated from" in done.stdout
    signed_drill(tmp_path, reports, new, 3, 1)
    return reports, old, new


def verify_all(reports: Path, *pubs: Path) -> subprocess.CompletedProcess:
    given = [a for p in pubs for a in ("--public-key", str(p / keys.PUBLIC_NAME))]
    return run("verify-evidence", "--all", "--report-dir", str(reports), *given)


def test_either_key_of_a_rotated_ledger_verifies_it_whole_and_names_which_key_signed_which_lines(
    tmp_path: Path,
) -> None:
    reports, old, new = two_years(tmp_path)
    for pub in (new, old):
        result = verify_all(reports, pub)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "VERIFIED: 3 drill(s)" in result.stdout
    old_id = keys.keyid(keys.load_public(old / keys.PUBLIC_NAME))
    new_id = keys.keyid(keys.load_public(new / keys.PUBLIC_NAME))
    assert f"key {old_id}: lines 1-2" in result.stdout and f"key {new_id}: lines 4-4" in result.stdout
    single = run("verify-evidence", str(reports / "d1-prod"), "--public-key", str(new / keys.PUBLIC_NAME))
    assert single.returncode == 0, single.stdout + single.stderr
    status = run("status", "--report-dir", str(reports), "--max-age", "30d", "--public-key",
                 str(new / keys.PUBLIC_NAME))  # fmt: skip
    assert status.returncode == 0, status.stdout + status.stderr


def test_a_key_outside_the_chain_verifies_nothing(tmp_path: Path) -> None:
    reports, _, _ = two_years(tmp_path)
    keys.generate(tmp_path / "other")
    result = verify_all(reports, tmp_path / "other")
    assert result.returncode == 1
    assert "not signed by the given key(s); the ledger's keys are" in result.stdout + result.stderr


def test_a_drill_signed_by_the_retired_key_fails_its_preflight_check_and_would_fail_verification(
    tmp_path: Path,
) -> None:
    reports, old, new = two_years(tmp_path)
    assert rotate.current_keyid(reports) == keys.keyid(keys.load_public(new / keys.PUBLIC_NAME))
    signed_drill(tmp_path, reports, old, 4)  # a runner still holding the old key
    result = verify_all(reports, new)
    assert result.returncode == 1
    assert "ledger.jsonl line 5 (drill d4-prod): not signed by" in result.stdout + result.stderr
    assert "the ledger's key from the rotation of" in result.stdout + result.stderr


def test_a_revoked_key_fails_the_lines_it_signed_from_the_revocation_time(tmp_path: Path) -> None:
    reports, old, new = two_years(tmp_path)
    old_id = keys.keyid(keys.load_public(old / keys.PUBLIC_NAME))
    since = (datetime.now(UTC) - timedelta(days=2, hours=1)).isoformat()  # the second drill's day: leaked
    done = run("revoke-key", "--report-dir", str(reports), "--key", str(new / keys.PRIVATE_NAME), "--keyid", old_id,
               "--from", since, "--reason", "laptop stolen")  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = verify_all(reports, new)
    assert result.returncode == 1
    out = result.stdout + result.stderr
    assert f"ledger.jsonl line 2 (drill d2-prod): signed by {old_id}, revoked from" in out and "laptop stolen" in out
    assert "line 1 (drill d1-prod)" not in out  # signed before the leak: still good


def test_rotation_and_revocation_refuse_the_wrong_key_and_bad_times_in_one_line(tmp_path: Path) -> None:
    reports, old, new = two_years(tmp_path)
    keys.generate(tmp_path / "k2028")
    lines_before = len(ledger.lines(reports))
    wrong = run("rotate-key", "--report-dir", str(reports), "--key", str(old / keys.PRIVATE_NAME),
                "--new-key", str(tmp_path / "k2028" / keys.PRIVATE_NAME))  # fmt: skip
    assert wrong.returncode == 2 and "but the ledger's newest lines are signed by" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    old_id = keys.keyid(keys.load_public(old / keys.PUBLIC_NAME))
    bad_time = run("revoke-key", "--report-dir", str(reports), "--key", str(new / keys.PRIVATE_NAME), "--keyid",
                   old_id, "--from", "2026-03-01", "--reason", "x")  # fmt: skip
    assert bad_time.returncode == 2 and "has no time zone" in bad_time.stderr
    same = run("rotate-key", "--report-dir", str(reports), "--key", str(new / keys.PRIVATE_NAME),
               "--new-key", str(new / keys.PRIVATE_NAME))  # fmt: skip
    assert same.returncode == 2 and "is the same key" in same.stderr
    assert len(ledger.lines(reports)) == lines_before  # nothing written


def test_an_edited_rotation_line_breaks_the_chain_of_keys(tmp_path: Path) -> None:
    reports, old, new = two_years(tmp_path)
    path = reports / ledger.LEDGER
    raws = path.read_bytes().splitlines()
    raws[2] = raws[2].replace(b'"reason":"scheduled rotation"', b'"reason":"scheduled rotatioN"')
    path.write_bytes(b"\n".join(raws) + b"\n")
    out = verify_all(reports, new)
    assert out.returncode == 1
    assert "ledger.jsonl line 3 (key rotation): a key rotation not signed by its old key" in out.stdout + out.stderr
