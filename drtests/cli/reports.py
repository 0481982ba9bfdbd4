"""The commands that read or add to a report folder: status, report, export, sign-off,
verify-evidence."""

from __future__ import annotations

import sys
from pathlib import Path

from drtests.cli.codes import INFRASTRUCTURE_ERROR, USAGE_ERROR
from drtests.report import history, manifest, store
from drtests.report.manifest import KEY_ENV


def drill_status(root: Path, max_age: str) -> int:
    from drtests.report.freshness import freshness, parse_age

    try:
        max_age_s = parse_age(max_age)
    except ValueError as exc:
        print(f"drtests: error: --max-age: {exc}", file=sys.stderr)
        return USAGE_ERROR
    try:
        if not root.is_dir():
            raise FileNotFoundError(2, "no such folder")
        entries = store.history(root)
    except OSError as exc:
        print(f"drtests: error: cannot read the report folder {root}: {exc.strerror or exc}", file=sys.stderr)
        return INFRASTRUCTURE_ERROR
    targets = freshness(entries)
    if not targets:
        print(f"OVERDUE no drill recorded in {root}")
        return 1
    for target in targets:
        print(target.line(max_age_s))
    return 0 if all(t.fresh(max_age_s) for t in targets) else 1


def rebuild_history(root: Path) -> int:
    if not root.is_dir():
        print(f"drtests: error: {root}: no such report folder", file=sys.stderr)
        return USAGE_ERROR
    entries = history.rebuild(root)
    print(f"{len(entries)} drill(s): {history.write_index(root, entries)}")
    return 0


def export_pack(root: Path, since: str, until: str | None, out: Path) -> int:
    from drtests.errors import DrillError
    from drtests.report import pack

    if not root.is_dir():
        print(f"drtests: error: {root}: no such report folder", file=sys.stderr)
        return USAGE_ERROR
    try:
        start, end = pack.parse_day(since), pack.parse_day(until) if until else None
    except DrillError as exc:
        print(f"drtests: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    targets = refused_in_one_line(lambda: pack.export(root, start, end, out))
    if targets is None:
        return 1
    drills = sum(t["drills"] for t in targets)
    print(f"{out}: {drills} drill(s) of {len(targets)} target(s), each verified; open summary.html first")
    return 0


def refused_in_one_line(work):
    """The value of `work`, or None after printing its DrillError as one line."""
    from drtests.errors import DrillError

    try:
        return work()
    except DrillError as exc:
        print(f"drtests: error: {exc}", file=sys.stderr)
        return None


def sign_off(folder: Path, by: str, role: str, note: str) -> int:
    from drtests.report import signoff

    if not folder.is_dir():
        print(f"drtests: error: {folder}: no such evidence folder", file=sys.stderr)
        return USAGE_ERROR
    record = refused_in_one_line(lambda: signoff.sign_off(folder, by, role, note))
    if record is None:
        return 1
    print(f"{folder}: signed off by {record['by']} ({record['role']}) at {record['at']}")
    return 0


def verify_evidence(folder: Path) -> int:
    from drtests.report import signoff

    if not folder.is_dir():
        print(f"drtests: error: {folder}: no such evidence folder", file=sys.stderr)
        return USAGE_ERROR
    problems = manifest.verify(folder)
    for problem in problems:
        print(f"ALTERED {folder}/{problem}")
    chain = manifest.chain(folder)
    records = signoff.read(folder)
    if len(records) != len(chain):
        problems.append(f"{signoff.SIGNOFFS}: {len(records)} sign-off(s), but the manifest records {len(chain)}")
        print(f"ALTERED {folder}/{problems[-1]}")
    for record in records:
        note = f": {record.get('note')}" if record.get("note") else ""
        print(f"signed off by {record.get('by')} ({record.get('role')}) at {record.get('at')}{note}")
    if not problems and manifest.is_signed(folder):
        print(f"{folder}: intact (signed and every file matches manifest.json)")
    elif not problems:
        print(f"{folder}: intact, but UNSIGNED: every file matches manifest.json, and anyone who edits a file can "
              f"rebuild an unsigned manifest; set {KEY_ENV} when drills write evidence to sign it")  # fmt: skip
    return 1 if problems else 0
