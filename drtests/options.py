"""The drill's options, declared once: `drtests run` flags, pytest options and ini keys all come
from OPTIONS, so their names and help texts cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Option:
    name: str  # `drtests run --<name>`; pytest `--dr-<name>`; ini key `dr_<name>`
    help: str
    metavar: str = ""  # set: the option takes a value; else it is a switch
    cli: bool = True  # offered by `drtests run` (the config and --set have their own flags there)
    ini_default: str | bool | None = False

    @property
    def dest(self) -> str:
        return "dr_" + self.name.replace("-", "_")

    @property
    def is_switch(self) -> bool:
        return not self.metavar


OPTIONS = (
    Option(
        "config",
        "drill config file, or a fleet: a folder of them, or a config with [[fleet]] entries; "
        "given, the built-in drill runs",
        metavar="TOML|DIR",
        cli=False,
        ini_default=None,
    ),  # fmt: skip
    Option("report-dir", "where evidence goes (default: reports/)", metavar="DIR", ini_default="reports"),
    Option(
        "allow-destructive",
        "allow an in-place restore to overwrite the target's graph (and Elasticsearch indices in replace mode)",
    ),  # fmt: skip
    Option("keep", "keep restored indices and disposable hosts for inspection"),
    Option(
        "recover",
        "let preflight undo what an interrupted drill left: stale lock, stopped node, restore indices, "
        "a running export or import (only what is proven stale: its process gone, on this machine)",
    ),
    Option(
        "recover-drill",
        "with recover: the id of a drill whose lock may be removed though its process is not "
        "known to be gone (a drill of another runner that you know is dead)",
        metavar="DRILL_ID",
        ini_default="",
    ),
    Option(
        "ledger-lost",
        "the report folder that held this target's ledger head is truly lost (only an older copy is left): "
        "go on from the copy; the drill's signed ledger line names the lost head and this reason",
        metavar="REASON",
        ini_default="",
    ),
    Option("gate", "pre-upgrade gate: versions must be known and match; print the rollback point", cli=False),
)
SET_HELP = "override one config key (repeatable); VALUE takes the type of the key"


@dataclass(frozen=True)
class DrillOptions:
    """The options of one run, as the phases read them (CLI option over ini key)."""

    report_dir: str = "reports"
    allow_destructive: bool = False
    keep: bool = False
    recover: bool = False
    gate: bool = False
    recover_drill: str = ""
    ledger_lost: str = ""  # why the folder holding the recorded ledger head is gone (check_head goes on)
    command: str = "pytest"  # what started the run: pytest, or drtests (its flags have no --dr- prefix)

    def flag(self, name: str) -> str:
        """How the user who started this run spells an option: --keep (drtests) or --dr-keep (pytest)."""
        return f"--{name}" if self.command == "drtests" else f"--dr-{name}"
