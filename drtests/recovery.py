"""What an interrupted drill (kill -9, a lost machine) can leave on a target, and undoing it.

A preflight finds: a drill lock whose holder is gone, the node stopped by that drill, renamed
restore indices. It says what it found and recovers only when told to (--recover).
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, field

from drtests import telemetry
from drtests.config import DrillConfig
from drtests.hosts.host import TargetHost

HOLDER = re.compile(r"drill=(?P<drill>\S+) operator=(?P<user>[^@\s]+)@(?P<host>\S+) pid=(?P<pid>\d+)")


def holder_drill(holder: str) -> str:
    """The drill id a lock names ("" when the lock is not one drtests wrote)."""
    match = HOLDER.search(holder)
    return match["drill"] if match else ""


def holder_is_gone(holder: str) -> bool:
    """True when the lock's holder ran on this machine and its process no longer exists."""
    match = HOLDER.search(holder)
    if not match or match["host"] != socket.gethostname():
        return False
    try:
        os.kill(int(match["pid"]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass
class Leftovers:
    lock: str = ""
    lock_holder: str = ""  # the lock file's content, when a lock exists
    holder_gone: bool = False
    node_inactive: bool = False  # with a lock present: the drill stopped the node and died
    restore_indices: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.lock_holder or self.restore_indices)

    def describe(self) -> str:
        found = []
        if self.lock_holder:
            state = "its process is gone" if self.holder_gone else "holder not known to be gone"
            found.append(f"drill lock {self.lock} ({self.lock_holder.strip()}; {state})")
        if self.node_inactive:
            found.append("the node is inactive (stopped by that drill?)")
        if self.restore_indices:
            names = ", ".join(self.restore_indices[:3]) + (" ..." if len(self.restore_indices) > 3 else "")
            found.append(f"{len(self.restore_indices)} restore indices of an earlier drill ({names})")
        return "; ".join(found)


def find(cfg: DrillConfig, host: TargetHost, node_state: str, es) -> Leftovers:
    lock = cfg.path(cfg.target.lock_file)
    holder = host.read(lock) or ""
    found = Leftovers(lock=lock, lock_holder=holder, holder_gone=bool(holder) and holder_is_gone(holder))
    found.node_inactive = bool(holder) and node_state == "inactive"
    if es is not None and cfg.elasticsearch.restore == "rename":
        live = telemetry.index_names(es, cfg.elasticsearch.indices)
        targets = sorted(set(telemetry.renamed(cfg, live).values()) - set(live))
        found.restore_indices = telemetry.existing_indices(es, targets)
    return found
