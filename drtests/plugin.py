"""pytest plugin (entry point pytest11: drtests).

With a drill config (``--dr-config`` or the ``dr_config`` ini key) it collects the built-in drill
(drtests/drills/phase_*.py) as ordered tests and registers one DrillSession (drtests.session),
whose hooks record the phases and write the evidence at the end. The drill's fixtures are in
drtests.fixtures; interrupt handling in drtests.interrupts.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from drtests import config as drill_config
from drtests.errors import ConfigError
from drtests.evidence import rotate
from drtests.interrupts import Interrupts, give_workers_time
from drtests.options import OPTIONS, SET_HELP, DrillOptions
from drtests.session import NAME, DrillSession

pytest_plugins = ["drtests.fixtures"]
DRILLS_DIR = Path(__file__).resolve().parent / "drills"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("drtests", "disaster-recovery drills (drtests)")
    for option in OPTIONS:
        if option.is_switch:
            group.addoption(f"--dr-{option.name}", dest=option.dest, action="store_true", default=None,
                            help=option.help)  # fmt: skip
            parser.addini(option.dest, f"as --dr-{option.name}", type="bool", default=option.ini_default)
        else:
            group.addoption(f"--dr-{option.name}", dest=option.dest, metavar=option.metavar, help=option.help)
            parser.addini(option.dest, f"{option.help} (as --dr-{option.name})", default=option.ini_default)
    group.addoption("--dr-set", action="append", default=[], metavar="SECTION.KEY=VALUE", help=SET_HELP)
    parser.addini("dr_command", "what started the run, so messages name its flags (drtests run sets drtests)",
                  default="pytest")  # fmt: skip


def option(config: pytest.Config, dest: str) -> object:
    """A command-line option wins over the ini key of the same name."""
    value = config.getoption(dest)
    return config.getini(dest) if value is None else value


def options_of(config: pytest.Config) -> DrillOptions:
    return DrillOptions(
        report_dir=str(option(config, "dr_report_dir")),
        allow_destructive=bool(option(config, "dr_allow_destructive")),
        keep=bool(option(config, "dr_keep")),
        recover=bool(option(config, "dr_recover")),
        gate=bool(option(config, "dr_gate")),
        recover_drill=str(option(config, "dr_recover_drill") or ""),
        ledger_lost=str(option(config, "dr_ledger_lost") or ""),
        command=str(config.getini("dr_command")),
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "dr_phase(name): a built-in drill phase (drtests)")
    config.addinivalue_line(
        "markers", "dr_check(phase): a user check that runs in a drill phase, after the built-in one"
    )
    source = option(config, "dr_config")
    if not source:
        return
    try:
        overrides = drill_config.parse_overrides(config.getoption("dr_set"))
        configs = drill_config.load_fleet(source, overrides)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    options = options_of(config)
    if problem := report_dir_problem(Path(options.report_dir)):  # found before the target is touched
        raise pytest.UsageError(f"{options.flag('report-dir')} {options.report_dir}: {problem}")
    for cfg in configs:  # a drill signed by a key the ledger does not trust would write a line nobody accepts
        if problem := rotate.key_problem(Path(options.report_dir), cfg.signing_key_path):
            raise pytest.UsageError(f"{cfg.target_name}: {problem}")
    config.pluginmanager.register(DrillSession(configs, options), NAME)
    if str(DRILLS_DIR) not in config.args:
        config.args.append(str(DRILLS_DIR))
    controller = bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")
    interrupts = Interrupts(controller)
    interrupts.install()
    config.add_cleanup(interrupts.uninstall)
    if controller:
        give_workers_time(configs)


def report_dir_problem(folder: Path) -> str | None:
    """Why evidence cannot be written under `folder` (created when missing), or None."""
    if folder.exists() and not folder.is_dir():
        return "is not a folder: evidence is written in a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return f"cannot write evidence there: {exc.strerror}"
    return None


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    if file_path.parent == DRILLS_DIR and file_path.name.startswith("phase_") and file_path.suffix == ".py":
        return pytest.Module.from_parent(parent, path=file_path)
    return None
