"""`drtests`: run a drill, or show what it would do.

    drtests run  --config drill.toml [--set section.key=value ...] [--report-dir DIR]
                 [--allow-destructive] [--keep] [-- extra pytest arguments]
    drtests run  --config fleet/ -- -n 4          a fleet: every *.toml in fleet/ (or a config
                                                 with [[fleet]] entries), 4 drills at a time
    drtests gate --config drill.toml ...          run's options; an isolated drill + version check
    drtests plan --config drill.toml [--set section.key=value ...]
    drtests report [--report-dir reports]        rebuild history.jsonl and index.html
    drtests verify-evidence reports/<drill-id>   check the manifest (and signature)

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
from drtests.errors import ConfigError
from drtests.plan import plan
from drtests.plugin import DRILLS_DIR, RESULTS_KEY
from drtests.report import history, manifest
from drtests.report.manifest import KEY_ENV

USAGE_ERROR = 2
INFRASTRUCTURE_ERROR = 3


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="drtests", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = main.add_subparsers(dest="command", required=True)
    for name, text in (
        ("run", "run a drill (a pytest run of the built-in drill)"),
        ("gate", "pre-upgrade gate: an isolated drill that also checks versions and keeps the rollback point"),
        ("plan", "print every step, touch nothing"),
    ):
        cmd = sub.add_parser(name, help=text, description=text)
        fleet = "or a fleet: a folder of them, or a config with [[fleet]] entries"
        cmd.add_argument("--config", required=True, metavar="TOML|DIR", help=f"the drill config file, {fleet}")
        cmd.add_argument(
            "--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override a config key (repeatable)"
        )
        cmd.add_argument(
            "--allow-destructive", action="store_true", help="allow an in-place restore to overwrite the target's graph"
        )
        cmd.add_argument("--keep", action="store_true", help="keep restored indices for inspection")
        cmd.add_argument(
            "--recover",
            action="store_true",
            help="undo what an interrupted drill left (stale lock, stopped node, restore indices)",
        )
        if name in ("run", "gate"):
            cmd.add_argument("--report-dir", metavar="DIR", help="evidence folder (default: reports/)")
            cmd.add_argument("pytest_args", nargs="*", help="extra pytest arguments, after --")
    report = sub.add_parser("report", help="rebuild the history (history.jsonl, index.html) of a report folder")
    report.add_argument("--report-dir", default="reports", metavar="DIR")
    check = sub.add_parser("verify-evidence", help="check a drill folder against its manifest and signature",
                           description=f"Set {KEY_ENV} to check a signed manifest.")  # fmt: skip
    check.add_argument("folder", type=Path, metavar="DIR")
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "gate":
        args.set.append("drill.mode=isolated")  # a gate never restores onto the install it protects
    if args.command == "report":
        return rebuild_history(Path(args.report_dir))
    if args.command == "verify-evidence":
        return verify_evidence(args.folder)
    try:
        configs = drill_config.load_fleet(args.config, drill_config.parse_overrides(args.set))
    except ConfigError as exc:
        print(f"drtests: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    if args.command == "plan":
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `drtests plan | head` ends quietly
        for index, cfg in enumerate(configs):
            print(f"{chr(10) if index else ''}Drill {cfg.drill.name!r} ({cfg.drill.mode}) of {cfg.target_name} "
                  f"on {cfg.target.url}, config {cfg.source}")  # fmt: skip
            current = ""
            for number, (phase, step) in enumerate(plan(cfg, args.allow_destructive, args.keep), 1):
                if phase != current:
                    print(f"\n{phase}")
                    current = phase
                print(f"  {number:2d}. {step}")
        return 0
    pytest_args = [str(DRILLS_DIR), "--dr-config", args.config, "-v", "-p", "no:cacheprovider", "-o", "addopts="]
    pytest_args += ["--show-capture=no"]  # progress is shown live; client logs are noise here
    pytest_args += [f"--dr-set={s}" for s in args.set]
    if args.command == "gate":
        pytest_args.append("--dr-gate")
    if args.report_dir:
        pytest_args += ["--dr-report-dir", args.report_dir]
    if args.allow_destructive:
        pytest_args.append("--dr-allow-destructive")
    if args.keep:
        pytest_args.append("--dr-keep")
    if args.recover:
        pytest_args.append("--dr-recover")
    outcome = Outcome()
    code = pytest.main([*pytest_args, *args.pytest_args], plugins=[outcome])
    if code == pytest.ExitCode.USAGE_ERROR:
        return USAGE_ERROR
    return exit_code(code, outcome.results)


def exit_code(pytest_code: int, results: list[dict]) -> int:
    """1 when any drill failed or did not finish; 3 when those are all drills that could not start."""
    failed = [r for r in results if r["verdict"] != "pass"]
    if pytest_code == 0 and not failed:
        return 0
    if failed and all(r["infrastructure_error"] for r in failed):
        return INFRASTRUCTURE_ERROR
    return 1


class Outcome:
    """A pytest plugin object that keeps the drills' outcomes (also those of xdist workers)."""

    def __init__(self) -> None:
        self.results: list[dict] = []

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.results = list(config.stash.get(RESULTS_KEY, None) or [])


def rebuild_history(root: Path) -> int:
    if not root.is_dir():
        print(f"drtests: error: {root}: no such report folder", file=sys.stderr)
        return USAGE_ERROR
    entries = history.rebuild(root)
    print(f"{len(entries)} drill(s): {history.write_index(root, entries)}")
    return 0


def verify_evidence(folder: Path) -> int:
    if not folder.is_dir():
        print(f"drtests: error: {folder}: no such evidence folder", file=sys.stderr)
        return USAGE_ERROR
    problems = manifest.verify(folder)
    for problem in problems:
        print(f"ALTERED {folder}/{problem}")
    if not problems:
        signed = "signed and " if "signature" in (folder / manifest.MANIFEST).read_text() else ""
        print(f"{folder}: intact ({signed}every file matches manifest.json)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
