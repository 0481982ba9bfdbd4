"""The commands that read or add to a report folder: status, report, export, sign-off,
verify-evidence."""

from __future__ import annotations

import sys
from pathlib import Path

from drtests.cli.codes import INFRASTRUCTURE_ERROR, USAGE_ERROR
from drtests.evidence.proven import proven
from drtests.report import history


def drill_status(root: Path, max_age: str, public_keys: list[Path]) -> int:
    """When recovery was last proven per target, from the drills the ledger holds (never from
    history.jsonl, which anyone can append to)."""
    from drtests.report.freshness import freshness
    from drtests.words import parse_age

    try:
        max_age_s = parse_age(max_age)
    except ValueError as exc:
        print(f"drtests: error: --max-age: {exc}", file=sys.stderr)
        return USAGE_ERROR
    if not root.is_dir():
        print(f"drtests: error: cannot read the report folder {root}: no such folder", file=sys.stderr)
        return INFRASTRUCTURE_ERROR
    keys_given = loaded_keys(public_keys)
    if keys_given is False:
        return USAGE_ERROR
    found = refused_in_one_line(lambda: proven(root, keys_given or None))
    if found is None:
        return 1
    targets = freshness([d.summary for d in found[0]])
    if not targets:
        print(f"OVERDUE no drill recorded in the ledger of {root}")
        return 1
    for target in targets:
        print(target.line(max_age_s))
    return 0 if all(t.fresh(max_age_s) for t in targets) else 1


def loaded_keys(paths: list[Path]):
    """The public keys named (a list), or False after printing why one cannot be read."""
    from drtests.errors import DrillError
    from drtests.sign import keys

    try:
        return [keys.load_public(p) for p in paths]
    except DrillError as exc:
        print(f"drtests: error: {exc}", file=sys.stderr)
        return False


def folder_keys(root: Path, public_keys: list[Path]):
    """The public keys named (a list), or None after printing why the report folder or a key
    cannot be read: the first thing each command that reads a report folder with keys does."""
    if not root.is_dir():
        print(f"drtests: error: {root}: no such report folder", file=sys.stderr)
        return None
    keys_given = loaded_keys(public_keys)
    return None if keys_given is False else keys_given


def keygen(out: Path) -> int:
    from drtests.sign import keys

    made = refused_in_one_line(lambda: keys.generate(out))
    if made is None:
        return USAGE_ERROR
    private, public = made
    print(f"{private}: the drill's signing key (mode 0600; name it in [evidence] signing_key_file)")
    print(f"{public}: its public key (give it to auditors: drtests verify-evidence --public-key, openssl, cosign)")
    return 0


def rotate_key(root: Path, key: Path, new_key: Path, reason: str, revoke_from: str | None) -> int:
    from drtests.evidence import rotate

    said = refused_in_one_line(lambda: rotate.rotate(root, key, new_key, reason, revoke_from))
    if said is None:
        return USAGE_ERROR
    print("\n".join(said))
    print(f"now sign drills with {new_key} ([evidence] signing_key_file) and give auditors its public key: it "
          "verifies every line before the rotation too")  # fmt: skip
    return 0


def revoke_key(root: Path, key: Path, keyid: str, since: str, reason: str) -> int:
    from drtests.evidence import rotate

    said = refused_in_one_line(lambda: rotate.revoke(root, key, keyid, since, reason))
    if said is None:
        return USAGE_ERROR
    print(said)
    return 0


def rebuild_history(root: Path) -> int:
    """history.jsonl and index.html anew, from the drills the ledger holds; refused when it is broken."""
    if not root.is_dir():
        print(f"drtests: error: {root}: no such report folder", file=sys.stderr)
        return USAGE_ERROR
    found = refused_in_one_line(lambda: proven(root))
    if found is None:
        return 1
    entries = history.rebuild(root, [d.summary for d in found[0]])
    print(f"{len(entries)} drill(s): {history.write_index(root, entries)}")
    return 0


def export_pack(root: Path, since: str, until: str | None, out: Path, public_keys: list[Path],
                allowed_signers: Path | None, key: Path | None = None, tsa_ca: Path | None = None,
                tsa_url: str | None = None) -> int:  # fmt: skip
    import os

    from drtests.errors import DrillError
    from drtests.evidence import pack
    from drtests.sign.keys import KEY_FILE_ENV

    key = key or (Path(os.environ[KEY_FILE_ENV]) if os.environ.get(KEY_FILE_ENV) else None)

    if not root.is_dir():
        print(f"drtests: error: {root}: no such report folder", file=sys.stderr)
        return USAGE_ERROR
    try:
        start, end = pack.parse_day(since), pack.parse_day(until) if until else None
    except DrillError as exc:
        print(f"drtests: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    targets = refused_in_one_line(lambda: pack.export(root, start, end, out, public_keys, allowed_signers, key,
                                                      tsa_ca, tsa_url))  # fmt: skip
    if targets is None:
        return 1
    drills = sum(t["drills"] for t in targets)
    whole = "signed whole" if key else "UNSIGNED (no --key: VERIFY.md refuses it; sign the drills, see drtests keygen)"
    print(f"{out}: {drills} drill(s) of {len(targets)} target(s), each verified; the pack {whole}; open summary.html "
          "first, and VERIFY.md to check the pack without drtests")  # fmt: skip
    return 0


def refused_in_one_line(work):
    """The value of `work`, or None after printing its DrillError as one line."""
    from drtests.errors import DrillError

    try:
        return work()
    except DrillError as exc:
        print(f"drtests: error: {exc}", file=sys.stderr)
        return None


def sign_off(folder: Path, by: str, role: str, key: Path, note: str) -> int:
    from drtests.evidence import signoff

    if not folder.is_dir():
        print(f"drtests: error: {folder}: no such evidence folder", file=sys.stderr)
        return USAGE_ERROR
    record = refused_in_one_line(lambda: signoff.sign_off(folder, by, role, key.expanduser(), note))
    if record is None:
        return 1
    print(f"{folder}: signed off by {record['by']} ({record['role']}) at {record['at']} with {record['key']}")
    return 0


def verify_evidence(folder: Path, public_keys: list[Path], allowed_signers: Path | None, allow_unsigned: bool,
                    without_ledger: bool, tsa_ca: Path | None = None) -> int:  # fmt: skip
    """One drill folder: its statement's signature, its files, its sign-offs, its ledger lines."""
    from drtests.evidence import verify

    if not folder.is_dir():
        print(f"drtests: error: {folder}: no such evidence folder", file=sys.stderr)
        return USAGE_ERROR
    keys_given = loaded_keys(public_keys)
    if keys_given is False:
        return USAGE_ERROR
    if folder.is_symlink():  # reports/latest: the drill folder it points at, under its own name
        real = folder.resolve()
        print(f"{folder} is a link to {real}: verifying that folder")
        folder = real
    return printed(folder, *verify.folder(folder, keys_given, allowed_signers, allow_unsigned, without_ledger, tsa_ca))


def verify_all(root: Path, public_keys: list[Path], allowed_signers: Path | None, allow_unsigned: bool) -> int:
    """The ledger of a report folder and every drill folder and sign-off it holds."""
    from drtests.evidence import verify

    keys_given = folder_keys(root, public_keys)
    if keys_given is None:
        return USAGE_ERROR
    return printed(root, *verify.report_folder(root, keys_given, allowed_signers, allow_unsigned))


def printed(where: Path, said: list[str], problems: list[str]) -> int:
    """What verifying found, a line each; 1 when anything does not verify."""
    for line in said:
        print(line)
    for problem in problems:
        print(f"NOT VERIFIED {where}: {problem}")
    return 1 if problems else 0


def controls_matrix(root: Path, since: str, until: str | None, form: str, public_keys: list[Path],
                    allowed_signers: Path | None) -> int:  # fmt: skip
    """Per control, every drill of the period that is evidence for it (read through the ledger)."""
    import json
    from importlib import metadata

    from drtests.errors import DrillError
    from drtests.evidence import cadence, controls, deficiencies, deficiency_report, findings, ledger, pack
    from drtests.record.clock import parse_utc, utc_now

    if not root.is_dir():
        print(f"drtests: error: {root}: no such report folder", file=sys.stderr)
        return USAGE_ERROR
    keys_given = loaded_keys(public_keys)
    try:
        start, end = pack.parse_day(since), pack.parse_day(until) if until else None
    except DrillError as exc:
        print(f"drtests: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    if keys_given is False:
        return USAGE_ERROR
    rows = refused_in_one_line(lambda: controls.matrix(root, start, end, keys_given, allowed_signers))
    if rows is None:
        return 1
    period = {"since": start.date().isoformat(), "until": end.date().isoformat() if end else None}
    gaps = findings.lost_heads(root, start, end, ledger.trusted_keys(root, keys_given or []) or None)
    gaps += cadence.of_folder(root, start, end, parse_utc(utc_now()), keys_given or [])
    if form == "markdown":
        print(controls.as_markdown(rows, period, gaps), end="")
    elif form == "json":
        print(json.dumps(controls.as_json(rows, period, gaps), indent=2))
    else:
        document = controls.as_oscal(rows, period, metadata.version("drtests"), gaps)
        try:  # the register is stricter than the matrix (an unsigned drill after signed ones breaks it)
            found = deficiencies.of_folder(root, keys_given or [], allowed_signers)
            document = deficiency_report.with_risks(document, found, start, end, parse_utc(utc_now()))
        except DrillError as exc:
            print(f"drtests: warning: no deficiency risks in the output: {exc}", file=sys.stderr)
        print(json.dumps(document, indent=2))
    return 0


def deficiency_register(root: Path, only_open: bool, form: str, public_keys: list[Path],
                        allowed_signers: Path | None = None) -> int:  # fmt: skip
    """Every deficiency the ledger's drills found, open first; exit 0 however many are open: it
    reports, a drill's own verdict is what fails a pipeline."""
    import json
    from importlib import metadata

    from drtests.evidence import deficiencies, deficiency_report
    from drtests.record.clock import utc_now

    keys_given = folder_keys(root, public_keys)
    if keys_given is None:
        return USAGE_ERROR
    if allowed_signers is not None and not allowed_signers.is_file():
        print(f"drtests: error: --allowed-signers {allowed_signers}: no such file", file=sys.stderr)
        return USAGE_ERROR
    found = refused_in_one_line(lambda: deficiencies.of_folder(root, keys_given, allowed_signers))
    if found is None:
        return 1
    at = deficiencies.when(utc_now())
    if form == "markdown":
        print(deficiency_report.as_markdown(found, at, only_open), end="")
    elif form == "json":
        print(json.dumps(deficiency_report.as_json(found, at, only_open), indent=2))
    else:
        print(json.dumps(deficiency_report.as_oscal(found, at, metadata.version("drtests"), only_open), indent=2))
    return 0


def risk_decision(root: Path, deficiency: str, command: str, by: str, key: Path, **fields: str) -> int:
    """accept-risk / assign: the decision's signed ledger line, for a deficiency the register holds."""
    from drtests.errors import DrillError
    from drtests.evidence import deficiencies, risk

    if not (root / "ledger.jsonl").is_file():
        print(f"drtests: error: {root}: no ledger.jsonl: not a report folder drills wrote", file=sys.stderr)
        return USAGE_ERROR
    found = refused_in_one_line(lambda: deficiencies.of_folder(root, []))
    if found is None:
        return 1
    if deficiency not in {d.key for d in found.deficiencies}:
        print(f"drtests: error: {deficiency!r}: no such deficiency in {root} (drtests deficiencies names each as "
              "target/phase/check)", file=sys.stderr)  # fmt: skip
        return USAGE_ERROR
    action = risk.ACCEPT if command == "accept-risk" else risk.ASSIGN
    try:
        entry = risk.decide(root, deficiency, action, by, key.expanduser(), **fields)
    except DrillError as exc:
        print(f"drtests: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    said = f"accepted until {entry['until']}" if action == risk.ACCEPT else f"assigned to {entry['owner']}"
    print(f"{deficiency}: {said} by {entry['by']} at {entry['at']} (ledger line {entry['seq'] + 1}, signed with "
          f"your SSH key); drtests deficiencies --allowed-signers F applies it")  # fmt: skip
    return 0
