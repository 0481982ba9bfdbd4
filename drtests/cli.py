"""`drtests`: run a drill, or show what it would do.

    drtests run  --config drill.toml [--set section.key=value ...] [--report-dir DIR]
                 [--allow-destructive] [--keep] [-- extra pytest arguments]
    drtests plan --config drill.toml [--set section.key=value ...]

Exit codes: 0 the drill passed, 1 it failed, 2 a usage or config error (nothing was touched).
"""

from __future__ import annotations

import argparse
import signal
import sys

import pytest

from drtests import config as drill_config
from drtests.errors import ConfigError
from drtests.plan import plan
from drtests.plugin import DRILLS_DIR

USAGE_ERROR = 2


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="drtests", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = main.add_subparsers(dest="command", required=True)
    for name, text in (
        ("run", "run a drill (a pytest run of the built-in drill)"),
        ("plan", "print every step, touch nothing"),
    ):
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.add_argument("--config", required=True, metavar="TOML", help="the drill config file")
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
        if name == "run":
            cmd.add_argument("--report-dir", metavar="DIR", help="evidence folder (default: reports/)")
            cmd.add_argument("pytest_args", nargs="*", help="extra pytest arguments, after --")
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        cfg = drill_config.load(args.config, drill_config.parse_overrides(args.set))
    except ConfigError as exc:
        print(f"drtests: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    if args.command == "plan":
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `drtests plan | head` ends quietly
        print(f"Drill {cfg.drill.name!r} ({cfg.drill.mode}) on {cfg.target.url}, config {cfg.source}")
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
    if args.report_dir:
        pytest_args += ["--dr-report-dir", args.report_dir]
    if args.allow_destructive:
        pytest_args.append("--dr-allow-destructive")
    if args.keep:
        pytest_args.append("--dr-keep")
    if args.recover:
        pytest_args.append("--dr-recover")
    code = pytest.main([*pytest_args, *args.pytest_args])
    return USAGE_ERROR if code == pytest.ExitCode.USAGE_ERROR else int(code != 0)


if __name__ == "__main__":
    sys.exit(main())
