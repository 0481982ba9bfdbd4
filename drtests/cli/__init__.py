"""`drtests`: run a drill, or show what it would do.

    drtests run  --config drill.toml [--set section.key=value ...] [--report-dir DIR]
                 [--allow-destructive] [--keep] [-- extra pytest arguments]
    drtests run  --config fleet/ -- -n 4          a fleet: every *.toml in fleet/ (or a config
                                                 with [[fleet]] entries), 4 drills at a time
    drtests gate --config drill.toml ...          run's options; an isolated drill (existing-backup
                                                 drills stay so) + version check
    drtests plan --config drill.toml [--set section.key=value ...]
    drtests record-backup --config drill.toml [--file F]   after the nightly sts-backup.sh: write
                                                 F.facts.json (sha256, counts per type) beside it
    drtests report [--report-dir reports]        rebuild history.jsonl and index.html
    drtests status [--report-dir reports] [--max-age 35d]   last drill and last pass per target
    drtests keygen --out DIR                     an ed25519 key pair for signing evidence
    drtests rotate-key --key OLD.key --new-key NEW.key [--revoke-from TIME]   the ledger moves to a new key
    drtests revoke-key --key CURRENT.key --keyid SHA256:... --from TIME       an old key's lines from TIME fail
    drtests sign-off reports/<drill-id> --by ann@example.com --role reviewer --key ~/.ssh/id_ed25519
    drtests verify-evidence reports/<drill-id> --public-key drtests.pub [--allowed-signers F]
    drtests verify-evidence --all --report-dir reports --public-key drtests.pub   the whole ledger
    drtests controls --since 2026-01-01 [--format markdown|json|oscal] --public-key drtests.pub
    drtests deficiencies [--open] [--format markdown|json|oscal] --public-key drtests.pub   what is still broken
    drtests accept-risk KEY --until 2027-01-31 --reason "..." --by ann@example.com --key ~/.ssh/id_ed25519
    drtests assign KEY --owner team@example.com --by ann@example.com --key ~/.ssh/id_ed25519

Exit codes: 0 the drill passed / the evidence is intact; 1 the drill failed (a check caught a
problem) / the evidence was altered; 2 a usage or config error (nothing was touched); 3 an
infrastructure error before the drill could check anything (target, Elasticsearch or Docker
unreachable). A fleet exits 1 when any drill failed, else 3 when any could not start.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import pytest

from drtests import config as drill_config
from drtests.cli.codes import INFRASTRUCTURE_ERROR, USAGE_ERROR
from drtests.cli.compliance import add_compliance_commands
from drtests.cli.reports import (
    controls_matrix,
    deficiency_register,
    drill_status,
    export_pack,
    keygen,
    rebuild_history,
    revoke_key,
    risk_decision,
    rotate_key,
    sign_off,
    verify_all,
    verify_evidence,
)
from drtests.cli.target import prune_artifacts, record_backup
from drtests.errors import ConfigError
from drtests.options import OPTIONS, SET_HELP, DrillOptions
from drtests.plan import render
from drtests.plugin import DRILLS_DIR
from drtests.report.finish import DrillOutcome
from drtests.session import DrillSession

EXIT_CODES = """exit codes:
  0  the drill passed
  1  a check caught a problem (or a drill did not finish); the report says which
  2  a usage or config error: nothing was touched
  3  an infrastructure error before the drill could check anything (target, Elasticsearch or
     Docker unreachable)"""


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="drtests", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = main.add_subparsers(dest="command", required=True)
    config_help = next(o.help for o in OPTIONS if o.name == "config").removesuffix("; given, the built-in drill runs")
    for name, text in (
        ("run", "run a drill (a pytest run of the built-in drill)"),
        (
            "gate",
            "pre-upgrade gate: an isolated (or existing-backup) drill that also checks versions and keeps the "
            "rollback point",
        ),
        ("plan", "print every step, touch nothing"),
    ):
        cmd = sub.add_parser(name, help=text, description=text, epilog=EXIT_CODES if name != "plan" else None,
                             formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
        cmd.add_argument("--config", required=True, metavar="TOML|DIR", help=config_help)
        cmd.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help=SET_HELP)
        for option in OPTIONS:
            if not option.cli or (option.name == "report-dir" and name == "plan"):
                continue
            if option.is_switch:
                cmd.add_argument(f"--{option.name}", action="store_true", help=option.help)
            else:
                cmd.add_argument(f"--{option.name}", metavar=option.metavar, help=option.help)
        if name in ("run", "gate"):
            cmd.add_argument("pytest_args", nargs="*", help="extra pytest arguments, after --")
    add_target_commands(sub, config_help)
    add_report_commands(sub)
    add_compliance_commands(sub)
    add_key_commands(sub)
    return main


def add_target_commands(sub, config_help: str) -> None:
    """The commands that reach a target: prune, record-backup (status reads only the report folder)."""
    prune_text = (
        "Deletes the backup files and snapshots of older drills of each target, keeping the newest "
        "retention.keep_drill_artifacts and the newest passing gate's. Only what drills recorded on the target "
        "when they made it (drtests-made.jsonl beside the lock) is deleted, only inside stackstate.backup_dir and "
        "the configured repository, never a nightly backup, another snapshot or what a kept drill used. Without "
        "--yes it prints the plan."
    )
    prune = sub.add_parser("prune", help="delete what old drills left on production (prints the plan; --yes acts)",
                           description=prune_text)  # fmt: skip
    prune.add_argument("--config", required=True, metavar="TOML|DIR", help=config_help)
    prune.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help=SET_HELP)
    prune.add_argument("--report-dir", default="reports", metavar="DIR", help="where the drills' evidence is")
    prune.add_argument("--yes", action="store_true", help="delete; without it, only print what would go")
    status = sub.add_parser("status", help="when recovery was last proven, per target (for cron and monitoring)",
                            description="One line per target: its last drill, verdict and age, and its last passing "
                            "drill. Exit 0 when every target has a passing drill within --max-age, 1 otherwise, "
                            "3 when the report folder cannot be read.")  # fmt: skip
    status.add_argument("--report-dir", default="reports", metavar="DIR")
    status.add_argument("--max-age", default="35d", metavar="AGE", help="e.g. 35d, 12h, 2w (default: 35d)")
    status.add_argument("--public-key", action="append", default=[], type=Path, metavar="PEM",
                        help="count only drills whose ledger lines this key signed (repeatable; any one key "
                        "of a rotated ledger's chain verifies it whole)")  # fmt: skip
    record_text = (
        "Run right after the nightly sts-backup.sh (cron). Writes <file>.facts.json beside the backup on the target: "
        "its sha256 and size, the topology counts per type at backup time, host, time and drtests version. A drill "
        'in mode "existing" then compares the restored counts exactly with them, and the file\'s sha256 with the '
        "recorded one (a backup that rotted at rest is caught)."
    )
    record_help = "record a fresh backup's facts beside it (for existing-backup drills)"
    record = sub.add_parser("record-backup", help=record_help, description=record_text)
    record.add_argument("--config", required=True, metavar="TOML", help=config_help)
    record.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help=SET_HELP)
    record.add_argument("--file", metavar="F", help="the backup file (default: the newest existing.backup_pattern "
                        "file in stackstate.backup_dir)")  # fmt: skip


def add_report_commands(sub) -> None:
    """The commands that read or add to a report folder: report, sign-off, export, verify-evidence."""
    report = sub.add_parser("report", help="rebuild the history (history.jsonl, index.html) of a report folder")
    report.add_argument("--report-dir", default="reports", metavar="DIR")
    signoff_text = ("Signs, with your own SSH key (ssh-keygen -Y sign, namespace drtests-signoff), a record of the "
                    "drill's signed statement, who, role, when and note: signoffs/NNN.json and its .sig beside it, "
                    "and a line in the ledger. Never changes a file the drill signed; never needs the drill's "
                    "key.")  # fmt: skip
    signoff = sub.add_parser("sign-off", help="accept a drill's result, signed with your own SSH key",
                             description=signoff_text)  # fmt: skip
    signoff.add_argument("folder", type=Path, metavar="DIR", help="the drill's evidence folder (reports/<drill-id>)")
    signoff.add_argument(
        "--by",
        required=True,
        metavar="PRINCIPAL",
        help="who signs: your principal in the auditors' allowed_signers (ann@example.com)",
    )
    signoff.add_argument("--role", required=True, help="e.g. reviewer, service owner, auditor")
    signoff.add_argument("--key", required=True, type=Path, metavar="SSH_KEY", help="your private key, e.g. "
                         "~/.ssh/id_ed25519 (an ssh-agent key: its .pub file)")  # fmt: skip
    signoff.add_argument("--note", default="")
    keys_cmd = sub.add_parser("keygen", help="write an ed25519 key pair for signing drill evidence",
                              description="Writes DIR/drtests.key (PEM PKCS#8, mode 0600: name it in [evidence] "
                              "signing_key_file) and DIR/drtests.pub (PEM SubjectPublicKeyInfo: what auditors, "
                              "openssl and cosign verify with). Never overwrites a key.")  # fmt: skip
    keys_cmd.add_argument("--out", required=True, type=Path, metavar="DIR")
    pack_text = ("Packs every drill folder of the ledger that started in the period (each verified first: a folder "
                 "that does not verify, or a broken ledger, stops the export, named), the ledger, the public key(s) "
                 "and allowed_signers, VERIFY.md (checking it all with openssl, ssh-keygen and python3), "
                 "a summary page (drills per target, pass rate, RTO/RPO against objectives, "
                 "sign-offs), and pack.intoto.jsonl: the pack signed whole with --key (its files, the ledger's head, "
                 "the drills per target), so an edited summary or a cut ledger tail fails VERIFY.md.")  # fmt: skip
    pack = sub.add_parser(
        "export", help="an evidence pack for an audit period: drill folders, history, summary", description=pack_text
    )
    pack.add_argument("--since", required=True, metavar="YYYY-MM-DD")
    pack.add_argument("--until", metavar="YYYY-MM-DD", help="the first day not included (default: now)")
    pack.add_argument("--out", required=True, type=Path, metavar="PACK.zip")
    pack.add_argument("--report-dir", default="reports", metavar="DIR")
    pack.add_argument("--public-key", action="append", default=[], type=Path, metavar="PEM",
                      help="the drills' public key: checks each folder's signature, and is packed")  # fmt: skip
    pack.add_argument("--allowed-signers", type=Path, metavar="FILE", help="who may sign off: packed for the auditor")
    pack.add_argument("--key", type=Path, metavar="PEM",
                      help="the ledger's current signing key, which signs the pack whole (pack.intoto.jsonl); "
                      "needed for signed drills (default: $DRTESTS_SIGNING_KEY_FILE); without --public-key, its "
                      "public half is packed as keys/drtests.pub")  # fmt: skip
    pack.add_argument("--tsa-ca", type=Path, metavar="PEM", help="the time-stamping authority's CA certificate: "
                      "each drill's RFC 3161 timestamp is checked with it, and it is packed for VERIFY.md")  # fmt: skip
    pack.add_argument("--tsa-url", metavar="URL", help="an RFC 3161 time-stamping authority: the pack's signed "
                      "statement is timestamped (pack.intoto.tsr), so the pack provably existed then")  # fmt: skip
    check = sub.add_parser("verify-evidence", help="verify a drill folder (or --all: the ledger) with a public key",
                           description="Exit 0 only when the statement is signed by a --public-key, every file "
                           "matches it, each sign-off is a good signature by an --allowed-signers principal over it, "
                           "and the ledger beside it holds the drill and its sign-offs. Folders from before signed "
                           "statements are checked with DRTESTS_SIGNING_KEY (legacy HMAC).")  # fmt: skip
    check.add_argument("folder", type=Path, metavar="DIR", nargs="?", help="a drill's folder (reports/<drill-id>)")
    check.add_argument("--all", action="store_true", help="the ledger of --report-dir and every drill it holds")
    check.add_argument("--report-dir", default="reports", metavar="DIR")
    check.add_argument("--public-key", action="append", default=[], type=Path, metavar="PEM",
                       help="the drill runner's public key (drtests.pub; repeatable)")  # fmt: skip
    check.add_argument("--allowed-signers", type=Path, metavar="FILE",
                       help="ssh allowed_signers: who may sign off (as git's gpg.ssh.allowedSignersFile)")  # fmt: skip
    check.add_argument("--allow-unsigned", action="store_true", help="an unsigned folder exits 0 (it says UNSIGNED)")
    check.add_argument("--without-ledger", action="store_true", help="check the folder alone (no ledger beside it)")
    check.add_argument("--tsa-ca", type=Path, metavar="PEM", help="the time-stamping authority's CA: check the "
                       "statement's RFC 3161 timestamp (evidence.intoto.tsr) against it")  # fmt: skip


def add_key_commands(sub) -> None:
    """rotate-key and revoke-key: the ledger lines that change which key signs it."""
    rotate_cmd = sub.add_parser("rotate-key", help="move a report folder's ledger to a new signing key",
                                description="Appends a ledger line naming the old and the new public key, signed by "
                                "both. Drills sign with the new key from then on; either public key verifies the "
                                "whole ledger (the chain of keys is followed both ways).")  # fmt: skip
    rotate_cmd.add_argument("--report-dir", default="reports", metavar="DIR")
    rotate_cmd.add_argument("--key", required=True, type=Path, metavar="OLD.key",
                            help="the key the ledger's newest lines are signed by")  # fmt: skip
    rotate_cmd.add_argument("--new-key", required=True, type=Path, metavar="NEW.key", help="from drtests keygen")
    rotate_cmd.add_argument("--reason", default="scheduled rotation")
    rotate_cmd.add_argument("--revoke-from", metavar="TIME", help="the old key leaked: lines it signed from TIME "
                            "(ISO 8601, with zone) on fail")  # fmt: skip
    revoke_cmd = sub.add_parser(
        "revoke-key",
        help="stop trusting an earlier key's signatures from a time on",
        description="Appends a ledger line, signed by the ledger's current key, revoking "
        "an earlier key of its chain from TIME: drill lines it signed from then on fail.",
    )
    revoke_cmd.add_argument("--report-dir", default="reports", metavar="DIR")
    revoke_cmd.add_argument("--key", required=True, type=Path, metavar="CURRENT.key")
    revoke_cmd.add_argument("--keyid", required=True, metavar="SHA256:...", help="as verify-evidence --all names it")
    revoke_cmd.add_argument("--from", dest="since", required=True, metavar="TIME", help="ISO 8601, with zone")
    revoke_cmd.add_argument("--reason", required=True)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "gate" and not gate_keeps_mode(args.config, args.set):
        args.set.append("drill.mode=isolated")  # a gate never restores onto the install it protects
    if args.command == "report":
        return rebuild_history(Path(args.report_dir))
    if args.command == "status":
        return drill_status(Path(args.report_dir), args.max_age, args.public_key)
    if args.command == "controls":
        return controls_matrix(Path(args.report_dir), args.since, args.until, args.format, args.public_key,
                               args.allowed_signers)  # fmt: skip
    if args.command == "deficiencies":
        return deficiency_register(Path(args.report_dir), args.open, args.format, args.public_key,
                                   args.allowed_signers)  # fmt: skip
    if args.command in ("accept-risk", "assign"):
        return risk_decision(
            Path(args.report_dir),
            args.deficiency,
            args.command,
            args.by,
            args.key,
            reason=args.reason,
            until=getattr(args, "until", ""),
            owner=getattr(args, "owner", ""),
        )
    if args.command == "keygen":
        return keygen(args.out)
    if args.command == "rotate-key":
        return rotate_key(Path(args.report_dir), args.key, args.new_key, args.reason, args.revoke_from)
    if args.command == "revoke-key":
        return revoke_key(Path(args.report_dir), args.key, args.keyid, args.since, args.reason)
    if args.command == "verify-evidence":
        return verify_command(args)
    if args.command == "export":
        return export_pack(Path(args.report_dir), args.since, args.until, args.out, args.public_key,
                           args.allowed_signers, args.key, args.tsa_ca, args.tsa_url)  # fmt: skip
    if args.command == "sign-off":
        return sign_off(args.folder, args.by, args.role, args.key, args.note)
    try:
        configs = drill_config.load_fleet(args.config, drill_config.parse_overrides(args.set))
    except ConfigError as exc:
        print(f"drtests: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    if args.command == "prune":
        return prune_artifacts(configs, Path(args.report_dir), args.yes)
    if args.command == "record-backup":
        return record_backup(configs, args.file)
    if args.command == "plan":
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `drtests plan | head` ends quietly
        options = DrillOptions(allow_destructive=args.allow_destructive, keep=args.keep, recover=args.recover,
                               command="drtests")  # fmt: skip
        for index, cfg in enumerate(configs):
            print("\n".join(([""] if index else []) + render(cfg, options)))
        return 0
    pytest_args = [str(DRILLS_DIR), "--dr-config", args.config, "-v", "-p", "no:cacheprovider", "-o", "addopts="]
    pytest_args += ["-o", "dr_command=drtests"]  # messages name this command's flags
    pytest_args += ["--show-capture=no"]  # progress is shown live; client logs are noise here
    pytest_args += [f"--dr-set={s}" for s in args.set]
    if args.command == "gate":
        pytest_args.append("--dr-gate")
    for option in OPTIONS:
        value = getattr(args, option.dest.removeprefix("dr_"), None) if option.cli else None
        if value and option.is_switch:
            pytest_args.append(f"--dr-{option.name}")
        elif value:
            pytest_args += [f"--dr-{option.name}", value]
    outcome = Outcome()
    code = pytest.main([*pytest_args, *args.pytest_args], plugins=[outcome])
    if code == pytest.ExitCode.USAGE_ERROR:
        return USAGE_ERROR
    return exit_code(code, outcome.outcomes)


def verify_command(args: argparse.Namespace) -> int:
    if args.all == bool(args.folder):
        print("drtests: error: verify-evidence takes a drill folder, or --all (with --report-dir)", file=sys.stderr)
        return USAGE_ERROR
    if args.all:
        return verify_all(Path(args.report_dir), args.public_key, args.allowed_signers, args.allow_unsigned)
    return verify_evidence(args.folder, args.public_key, args.allowed_signers, args.allow_unsigned,
                           args.without_ledger, args.tsa_ca)  # fmt: skip


def gate_keeps_mode(path: str, sets: list[str]) -> bool:
    """A gate keeps a drill whose mode says so (existing: it restores away from the install too);
    any other mode becomes isolated. A config that does not load is left to the run to report."""
    from drtests import modes

    try:
        configs = drill_config.load_fleet(path, drill_config.parse_overrides(sets))
    except ConfigError:
        return False
    return all(modes.of(cfg).kept_by_gate for cfg in configs)


def exit_code(pytest_code: int, outcomes: list[DrillOutcome]) -> int:
    """1 when any drill failed or did not finish; 3 when those are all drills that could not start."""
    failed = [o for o in outcomes if o.verdict != "pass"]
    if pytest_code == 0 and not failed:
        return 0
    if failed and all(o.infrastructure_error for o in failed):
        return INFRASTRUCTURE_ERROR
    return 1


class Outcome:
    """A pytest plugin object that keeps the drills' outcomes (also those of xdist workers)."""

    def __init__(self) -> None:
        self.outcomes: list[DrillOutcome] = []

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        session = DrillSession.find(config)
        self.outcomes = list(session.outcomes) if session else []


if __name__ == "__main__":
    sys.exit(main())
