"""Export and import through the configured commands, run as the install's owner."""

from __future__ import annotations

import math
from collections.abc import Callable

from drtests.config import DrillConfig
from drtests.hosts.host import CommandResult, RunningCommand, TargetHost, pidfile_for
from drtests.hosts.logtail import LogWindow
from drtests.waiting import wait_until


# Export and import run as the install's owner (with target.sudo: sudo -n -u owner): the backup
# file must belong to the install, as the procedure says, not to root.
def export_graph(
    cfg: DrillConfig, host: TargetHost, file: str, drill_id: str, meanwhile: Callable[[], None] = lambda: None
) -> CommandResult:
    """Run the export; `meanwhile` is called while it runs (the backup phase samples the node)."""
    command = cfg.command(cfg.stackstate.export_command, file=file)
    pidfile = pidfile_for(cfg.state_dir, drill_id)
    running = host.start(command, cfg.stackstate.export_timeout, sudo=True, pidfile=pidfile, as_user=cfg.target.owner)
    return run_to_end(running, meanwhile)


def import_graph(
    cfg: DrillConfig,
    host: TargetHost,
    file: str,
    window: LogWindow,
    say: Callable[[str], None],
    drill_id: str,
    meanwhile: Callable[[], None] = lambda: None,
) -> CommandResult:
    """Run the import while following the log window; new log lines are passed to `say`;
    `meanwhile` is called while it runs (an exception from it ends the import)."""
    command = cfg.command(cfg.stackstate.import_command, file=file)

    def show_new_lines() -> None:
        for line in window.poll():
            say(f"log: {line}")

    pidfile = pidfile_for(cfg.state_dir, drill_id)
    running = host.start(command, cfg.stackstate.import_timeout, sudo=True, pidfile=pidfile, as_user=cfg.target.owner)
    result = run_to_end(running, lambda: (show_new_lines(), meanwhile()))
    show_new_lines()
    return result


def run_to_end(running: RunningCommand, every_slice: Callable[[], None]) -> CommandResult:
    """Wait for the command, calling `every_slice` meanwhile (10 times a second on a local
    target, where a look costs no process; once a second elsewhere); an interruption (Ctrl-C,
    SIGTERM) cancels the command on the target before it propagates."""
    interval = 0.1 if running.host.is_local else 1.0
    try:  # no deadline here: the command's own timeout ends it on the target
        return wait_until(lambda: running.wait(interval), math.inf, "", interval=0, on_wait=every_slice)
    except BaseException:
        running.cancel()
        raise
